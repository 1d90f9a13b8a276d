"""Tables of load results: one row per program, and a veristat ``-C`` style comparison."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bpfkit.kernel.load import LoadResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["results_frame", "compare_frame", "RESULT_COLUMNS", "COMPARE_METRICS"]

#: Columns of :func:`results_frame`, in order (``LoadResult`` without the log and messages).
RESULT_COLUMNS: tuple[str, ...] = (
    "object",
    "program",
    "section",
    "prog_type",
    "verdict",
    "errno",
    "error",
    "insns_processed",
    "total_states",
    "peak_states",
    "max_states_per_insn",
    "mark_read",
    "verification_time_usec",
    "stack_depth",
    "log_level",
    "log_lines",
    "kernel_release",
)

#: Numeric columns that :func:`compare_frame` puts side by side.
COMPARE_METRICS: tuple[str, ...] = (
    "insns_processed",
    "total_states",
    "peak_states",
    "max_states_per_insn",
    "mark_read",
    "verification_time_usec",
)


def _row(r: LoadResult | Mapping[str, Any]) -> dict[str, Any]:
    d = r.to_dict(with_log=True) if isinstance(r, LoadResult) else dict(r)
    log = d.get("log")
    row = {c: d.get(c) for c in RESULT_COLUMNS}
    if row["log_lines"] is None and isinstance(log, str):
        row["log_lines"] = log.count("\n")
    return row


def results_frame(results: Iterable[LoadResult | Mapping[str, Any]]) -> pd.DataFrame:
    """One row per program: verdict, error line and the verifier's stats.

    Parameters
    ----------
    results : iterable of LoadResult or dict
        Results of :func:`bpfkit.kernel.load_programs`, or their ``to_dict()`` / JSON form.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESULT_COLUMNS`; stats are nullable integers (``Int64``).

    Examples
    --------
    >>> df = results_frame([{"object": "a.bpf.o", "program": "p", "verdict": "accept",
    ...                      "insns_processed": 12, "log": "x\\ny\\n"}])
    >>> int(df.loc[0, "insns_processed"]), int(df.loc[0, "log_lines"])
    (12, 2)
    """
    import pandas as pd

    df = pd.DataFrame([_row(r) for r in results], columns=list(RESULT_COLUMNS))
    for col in (*COMPARE_METRICS, "errno", "log_level", "log_lines"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


def compare_frame(
    a: Sequence[LoadResult | Mapping[str, Any]] | pd.DataFrame,
    b: Sequence[LoadResult | Mapping[str, Any]] | pd.DataFrame,
    metrics: Sequence[str] = COMPARE_METRICS,
) -> pd.DataFrame:
    """Two runs side by side, like ``veristat -C``: per program A, B and B - A.

    Programs are matched on ``(object, program)``; a program in one run only has ``NA`` on
    the other side.

    Returns
    -------
    pandas.DataFrame
        Index ``(object, program)``; columns ``verdict_a``, ``verdict_b``, ``verdict_same`` and
        for each metric ``<metric>_a``, ``<metric>_b``, ``<metric>_diff`` (B - A) and
        ``<metric>_pct`` (100 * (B - A) / A, ``NA`` when A is 0 or missing).

    Examples
    --------
    >>> a = [{"object": "o", "program": "p", "verdict": "accept", "insns_processed": 100}]
    >>> b = [{"object": "o", "program": "p", "verdict": "accept", "insns_processed": 150}]
    >>> c = compare_frame(a, b, metrics=["insns_processed"])
    >>> row = c.loc[("o", "p")]
    >>> int(row["insns_processed_diff"]), float(row["insns_processed_pct"])
    (50, 50.0)
    """
    import pandas as pd

    fa = a if isinstance(a, pd.DataFrame) else results_frame(a)
    fb = b if isinstance(b, pd.DataFrame) else results_frame(b)
    key = ["object", "program"]
    cols = ["verdict", *metrics]
    merged = fa[key + cols].merge(fb[key + cols], on=key, how="outer", suffixes=("_a", "_b"))
    out = merged[key].copy()
    out["verdict_a"] = merged["verdict_a"]
    out["verdict_b"] = merged["verdict_b"]
    out["verdict_same"] = merged["verdict_a"] == merged["verdict_b"]
    for m in metrics:
        va = pd.to_numeric(merged[f"{m}_a"], errors="coerce").astype("Int64")
        vb = pd.to_numeric(merged[f"{m}_b"], errors="coerce").astype("Int64")
        out[f"{m}_a"] = va
        out[f"{m}_b"] = vb
        out[f"{m}_diff"] = vb - va
        pct = (vb - va).astype("Float64") * 100.0 / va.astype("Float64")
        out[f"{m}_pct"] = pct.where(va != 0).round(2)
    return out.set_index(key).sort_index()
