"""Two corpus datasets side by side, as ``veristat -C`` does, and more.

:func:`compare_runs` joins the ``programs`` tables of two datasets on ``(object, program)``
and gives, per program, ``verdict_a``, ``verdict_b``, ``verdict_changed``, ``side`` (``both``,
``A`` or ``B``: programs in one run only) and for each stat ``<stat>_a``, ``<stat>_b``,
``<stat>_diff`` (B - A) and ``<stat>_pct`` (100 * (B - A) / A; NA when A is 0 or missing).
Rows with a verdict change come first. :func:`filter_frame` applies veristat-style filters
(``insns_pct>10``, ``verdict_b=reject``, ``!states_diff=0``) and :func:`sort_frame` sort
keys; :func:`format_compare` renders a table, CSV or Markdown.

Stat names take veristat's short forms too: ``insns`` (insns_processed), ``states``
(total_states), ``peak_states``, ``max_states_per_insn``, ``mark_read``, ``duration``
(verification_time_usec), ``stack`` (stack_depth_total).

Examples
--------
>>> import pandas as pd
>>> a = pd.DataFrame({"object": ["o", "o"], "program": ["p", "q"], "status": ["ok", "ok"],
...                   "verdict": ["accept", "accept"], "insns_processed": [100, 7]})
>>> b = pd.DataFrame({"object": ["o", "o"], "program": ["p", "r"], "status": ["ok", "ok"],
...                   "verdict": ["reject", "accept"], "insns_processed": [150, 9]})
>>> c = compare_runs(a, b, stats=["insns_processed"])
>>> c[["program", "side", "verdict_changed", "insns_processed_pct"]].values.tolist()
[['p', 'both', True, 50.0], ['q', 'A', False, <NA>], ['r', 'B', False, <NA>]]
>>> filter_frame(c, ["insns_pct>10"])["program"].tolist()
['p']
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bpfkit.corpus.dataset import STATS, Corpus, CorpusError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "compare_runs",
    "filter_frame",
    "sort_frame",
    "format_compare",
    "resolve_column",
    "STAT_ALIASES",
    "STAT_LABELS",
]

#: veristat's short stat names.
STAT_ALIASES: dict[str, str] = {
    "insns": "insns_processed",
    "states": "total_states",
    "peak": "peak_states",
    "peak_states": "peak_states",
    "max_states": "max_states_per_insn",
    "max_states_per_insn": "max_states_per_insn",
    "mark_read": "mark_read",
    "duration": "verification_time_usec",
    "time": "verification_time_usec",
    "stack": "stack_depth_total",
}

#: Column headers of the table output (veristat's where it has one).
STAT_LABELS: dict[str, str] = {
    "insns_processed": "Insns",
    "total_states": "States",
    "peak_states": "Peak states",
    "max_states_per_insn": "Max states/insn",
    "mark_read": "Mark read",
    "verification_time_usec": "Duration (us)",
    "stack_depth_total": "Stack depth",
}

_KEY = ["object", "program"]


def _programs(run: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(run, pd.DataFrame):
        return run
    if isinstance(run, (str, os.PathLike)):
        run = Corpus(run)
    if isinstance(run, Corpus):
        df = run.programs
        out: pd.DataFrame = df.compute() if run.use_dask else df
        return out
    raise CorpusError(f"expected a corpus dataset path, Corpus or DataFrame, not {type(run)}")


def compare_runs(a: Any, b: Any, *, stats: Sequence[str] = STATS) -> pd.DataFrame:
    """Join two runs on ``(object, program)``; see the module docstring for the columns.

    *a* and *b* are dataset paths, :class:`~bpfkit.corpus.Corpus` objects or ``programs``
    DataFrames. Failed inputs with no program do not take part (see ``Corpus.failures``);
    a program present twice in one run keeps its first row.
    """
    import pandas as pd

    fa, fb = _programs(a), _programs(b)
    stats = [STAT_ALIASES.get(s, s) for s in stats]
    cols = ["verdict", *[s for s in stats]]
    parts = []
    for f in (fa, fb):
        f = f[f["program"].notna()]
        f = f.drop_duplicates(_KEY, keep="first")
        missing = [c for c in cols if c not in f.columns]
        if missing:
            f = f.assign(**{str(c): None for c in missing})
        parts.append(f[_KEY + cols])
    merged = parts[0].merge(parts[1], on=_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    out = merged[_KEY].copy()
    out["side"] = merged["_merge"].map({"both": "both", "left_only": "A", "right_only": "B"})
    out["side"] = out["side"].astype(str)
    out["verdict_a"] = merged["verdict_a"].astype(object)
    out["verdict_b"] = merged["verdict_b"].astype(object)
    out["verdict_changed"] = (out["side"] == "both") & (out["verdict_a"] != out["verdict_b"])
    for s in stats:
        va = pd.to_numeric(merged[f"{s}_a"], errors="coerce").astype("Int64")
        vb = pd.to_numeric(merged[f"{s}_b"], errors="coerce").astype("Int64")
        out[f"{s}_a"] = va
        out[f"{s}_b"] = vb
        out[f"{s}_diff"] = vb - va
        pct = (vb - va).astype("Float64") * 100.0 / va.astype("Float64")
        out[f"{s}_pct"] = pct.where(va != 0).round(2)
    order = out["side"].map({"both": 0, "A": 1, "B": 2})
    out = out.assign(_changed=~out["verdict_changed"], _side=order)
    out = out.sort_values(["_changed", "_side", *_KEY], kind="stable")
    return out.drop(columns=["_changed", "_side"]).reset_index(drop=True)


def resolve_column(df: pd.DataFrame, name: str) -> str:
    """A column of a comparison from a veristat-style name: ``insns_pct`` ->
    ``insns_processed_pct``, ``insns`` -> ``insns_processed_b``; CorpusError naming the
    choices when there is none."""
    if name in df.columns:
        return name
    base, suffix = name, "_b"
    m = re.fullmatch(r"(.+?)(_a|_b|_diff|_pct)", name)
    if m:
        base, suffix = m.group(1), m.group(2)
    full = STAT_ALIASES.get(base, base) + suffix
    if full in df.columns:
        return full
    stats = sorted({c.rsplit("_", 1)[0] for c in df.columns if c.endswith("_diff")})
    raise CorpusError(
        f"unknown column {name!r}; use <stat>[_a|_b|_diff|_pct] with stat one of "
        f"{', '.join(stats)} (or {', '.join(sorted(STAT_ALIASES))}), or one of "
        f"object, program, side, verdict_a, verdict_b, verdict_changed"
    )


_FILTER_RE = re.compile(r"^\s*(!?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|!=|==|=|<|>)\s*(.*?)\s*$")


def filter_frame(df: pd.DataFrame, filters: Sequence[str]) -> pd.DataFrame:
    """Keep the rows that pass every filter ``[!]NAME OP VALUE`` (OP one of ``< <= > >= = ==
    !=``; VALUE a number, or text for ``object``, ``program``, ``side`` and verdicts; ``!``
    negates). A comparison with a missing value is false."""
    import operator

    import pandas as pd

    ops = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
        "=": operator.eq,
        "==": operator.eq,
        "!=": operator.ne,
    }
    keep = pd.Series(True, index=df.index)
    for f in filters:
        m = _FILTER_RE.match(f)
        if m is None:
            raise CorpusError(f"bad filter {f!r}: expected [!]NAME OP VALUE, e.g. 'insns_pct>10'")
        neg, name, op, raw = m.groups()
        col = df[resolve_column(df, name)]
        value: Any = raw.strip("'\"")
        if col.dtype == bool or str(col.dtype) == "boolean":
            if value.lower() not in ("true", "false", "1", "0"):
                raise CorpusError(f"bad filter {f!r}: {name} is true or false")
            value = value.lower() in ("true", "1")
        elif pd.api.types.is_numeric_dtype(col.dtype):
            try:
                value = float(value)
            except ValueError:
                raise CorpusError(f"bad filter {f!r}: {name} is numeric, not {raw!r}") from None
        elif op not in ("=", "==", "!="):
            raise CorpusError(f"bad filter {f!r}: {name} is text; use = or !=")
        res = ops[op](col, value)
        res = pd.Series(res, index=df.index).astype("boolean").fillna(False).astype(bool)
        keep &= ~res if neg else res
    return df[keep]


def sort_frame(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Sort by *keys* (``NAME`` ascending, ``NAME:desc`` or ``-NAME`` descending; ``abs(NAME)``
    for the magnitude), verdict changes still first; missing values last."""
    if not keys:
        return df
    cols, asc = [], []
    tmp = df.copy()
    for i, k in enumerate(keys):
        desc = k.endswith(":desc") or k.startswith("-")
        k = k.removesuffix(":desc").removesuffix(":asc").removeprefix("-")
        absolute = k.startswith("abs(") and k.endswith(")")
        name = resolve_column(df, k[4:-1] if absolute else k)
        key = f"_k{i}"
        tmp[key] = tmp[name].abs() if absolute else tmp[name]
        cols.append(key)
        asc.append(not desc)
    tmp["_changed"] = ~tmp["verdict_changed"]
    tmp = tmp.sort_values(
        ["_changed", *cols], ascending=[True, *asc], kind="stable", na_position="last"
    )
    return tmp.drop(columns=["_changed", *cols])


def _cell(v: Any) -> str:
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return "N/A"
    if isinstance(v, float):
        return f"{v:+.2f}%"
    return str(v)


def _display(df: pd.DataFrame, stats: Sequence[str]) -> pd.DataFrame:
    """veristat -C's columns: File, Program, Verdict (A/B/DIFF), <stat> (A/B/DIFF)."""
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    out["File"] = df["object"]
    out["Program"] = df["program"]
    out["Verdict (A)"] = df["verdict_a"].map(_cell)
    out["Verdict (B)"] = df["verdict_b"].map(_cell)
    out["Verdict (DIFF)"] = [
        "MISMATCH" if ch else ("only A" if s == "A" else "only B" if s == "B" else "MATCH")
        for ch, s in zip(df["verdict_changed"], df["side"], strict=True)
    ]
    for s in stats:
        if f"{s}_a" not in df.columns:
            continue
        label = STAT_LABELS.get(s, s)
        out[f"{label} (A)"] = df[f"{s}_a"].map(_cell)
        out[f"{label} (B)"] = df[f"{s}_b"].map(_cell)
        out[f"{label} (DIFF)"] = [
            "N/A" if pd.isna(d) else f"{int(d):+d}" + ("" if pd.isna(p) else f" ({float(p):+.2f}%)")
            for d, p in zip(df[f"{s}_diff"], df[f"{s}_pct"], strict=True)
        ]
    return out.reset_index(drop=True)


def format_compare(
    df: pd.DataFrame,
    fmt: str = "table",
    *,
    stats: Sequence[str] = (
        "insns_processed",
        "total_states",
        "peak_states",
        "verification_time_usec",
    ),
) -> str:
    """Render a comparison: ``table`` (aligned text like veristat), ``csv`` (every column of
    :func:`compare_runs`) or ``md`` (a Markdown table of the table's columns)."""
    stats = [STAT_ALIASES.get(s, s) for s in stats]
    if fmt == "csv":
        return str(df.to_csv(index=False))
    disp = _display(df, stats)
    if fmt == "md":

        def esc(v: Any) -> str:
            return str(v).replace("|", "\\|").replace("\n", " ")

        head = "| " + " | ".join(esc(c) for c in disp.columns) + " |"
        sep = "| " + " | ".join("---" if i < 2 else "---:" for i in range(len(disp.columns))) + " |"
        body = [
            "| " + " | ".join(esc(v) for v in row) + " |" for row in disp.itertuples(index=False)
        ]
        return "\n".join([head, sep, *body]) + "\n"
    if fmt != "table":
        raise CorpusError(f"unknown output format {fmt!r}; choose table, csv or md")
    if disp.empty:
        return "(no programs)\n"
    widths = [max(len(str(c)), *(len(str(v)) for v in disp[c])) for c in disp.columns]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(disp.columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in disp.itertuples(index=False):
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
