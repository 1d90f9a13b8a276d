"""The on-disk layout shared by ``bpfkit corpus run`` and ``bpfkit corpus parse``, and reading it.

A corpus dataset is a directory::

    RUN/
      manifest.json              what made it: kind, bpfkit version, kernel release, clang
                                 version(s), log level, the inputs with their SHA-256, counts
      programs/part-<id>.parquet one row per program (or per input that failed), see
                                 :data:`PROGRAM_COLUMNS`
      logs/part-<id>.parquet     [object, program, log]: the verifier log text (``run`` only)
      <table>/part-<id>.parquet  per-instruction tables of :class:`bpfkit.verifier.Log`
                                 (``instructions``, ``steps`` by default), each row keyed by
                                 ``object`` and ``program``

Each table directory is a partitioned Parquet dataset: one part per unit of work (an object
for ``run``, a batch of logs for ``parse``), readable by ``pandas.read_parquet(RUN/programs)``,
``pyarrow.dataset`` or ``dask.dataframe.read_parquet``. A unit's parts are written under
temporary names and renamed when complete, ``programs`` last: a part present in ``programs``
means the unit is done, which is what makes a run resumable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfkit.errors import BpfkitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CorpusError",
    "Corpus",
    "open_corpus",
    "PROGRAM_COLUMNS",
    "INT_COLUMNS",
    "STATS",
    "DEFAULT_TABLES",
    "TABLES",
    "MANIFEST",
    "FORMAT",
    "sha256_file",
    "write_manifest",
    "read_manifest",
    "PartWriter",
    "done_parts",
    "programs_frame",
    "program_schema",
    "read_table",
]


class CorpusError(BpfkitError):
    """A corpus dataset that cannot be read or written (missing manifest, not a dataset)."""


#: Name of the manifest file in a dataset directory.
MANIFEST = "manifest.json"
#: ``format`` field of the manifest.
FORMAT = "bpfkit-corpus/1"

#: Columns of the ``programs`` table, in order.
PROGRAM_COLUMNS: tuple[str, ...] = (
    "object",
    "program",
    "source",
    "part",
    "section",
    "prog_type",
    "status",
    "verdict",
    "errno",
    "error",
    "error_insn",
    "insns_processed",
    "insn_limit",
    "max_states_per_insn",
    "total_states",
    "peak_states",
    "mark_read",
    "verification_time_usec",
    "stack_depth",
    "stack_depth_total",
    "log_level",
    "log_lines",
    "unrecognized_lines",
    "truncated",
    "loader",
    "kernel_release",
    "predicted_verdict",
    "predicted_mistakes",
    "predicted_reason",
)

#: Nullable integer columns of ``programs``.
INT_COLUMNS: tuple[str, ...] = (
    "errno",
    "error_insn",
    "insns_processed",
    "insn_limit",
    "max_states_per_insn",
    "total_states",
    "peak_states",
    "mark_read",
    "verification_time_usec",
    "stack_depth_total",
    "log_level",
    "log_lines",
    "unrecognized_lines",
)

#: The verifier's numbers that ``compare`` puts side by side (all that the kernel reports).
STATS: tuple[str, ...] = (
    "insns_processed",
    "total_states",
    "peak_states",
    "max_states_per_insn",
    "mark_read",
    "verification_time_usec",
    "stack_depth_total",
)

#: Per-instruction tables written by default, and all that can be asked for.
DEFAULT_TABLES: tuple[str, ...] = ("instructions", "steps")
TABLES: tuple[str, ...] = (
    "instructions",
    "steps",
    "registers",
    "stack",
    "refs",
    "branches",
    "prunes",
    "backtracking",
    "lines",
)

_PART_RE = re.compile(r"^part-[0-9A-Za-z_.-]+\.parquet$")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, hex; ``""`` when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def write_manifest(out: str | os.PathLike[str], manifest: Mapping[str, Any]) -> None:
    """Write ``out/manifest.json`` atomically."""
    path = Path(out) / MANIFEST
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(manifest), indent=1, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a dataset directory; :class:`CorpusError` when it is not one."""
    p = Path(path)
    m = p / MANIFEST
    if not p.is_dir():
        raise CorpusError(f"{str(p)!r} is not a corpus dataset: not a directory")
    try:
        data = json.loads(m.read_text())
    except FileNotFoundError:
        raise CorpusError(
            f"{str(p)!r} is not a corpus dataset: no {MANIFEST} (made by `bpfkit corpus run` "
            "or `bpfkit corpus parse`)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorpusError(f"{str(m)!r}: unreadable manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CorpusError(f"{str(m)!r}: not a {FORMAT} manifest")
    return data


def done_parts(out: str | os.PathLike[str]) -> set[str]:
    """The ids of the units already written (their ``programs`` part exists)."""
    d = Path(out) / "programs"
    if not d.is_dir():
        return set()
    return {
        p.name.removeprefix("part-").removesuffix(".parquet")
        for p in d.iterdir()
        if _PART_RE.match(p.name)
    }


def _part_path(out: Path, table: str, part: str) -> Path:
    return out / table / f"part-{part}.parquet"


@dataclass
class PartWriter:
    """Writes one unit's parts: tables stream in row groups, ``programs`` is written last.

    Use as a context manager; :meth:`commit` renames the temporary files into place (the
    ``programs`` part last). Leaving the block without ``commit`` removes them.
    """

    out: Path
    part: str
    _writers: dict[str, Any] = field(default_factory=dict)
    _tmp: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        for tmp in self._tmp.values():
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()

    def write(self, table: str, df: pd.DataFrame, keys: Mapping[str, str] | None = None) -> None:
        """Append *df* (a chunk of *table*) as a row group, with constant text columns
        *keys* (``object``, ``program``) in front."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        df = _arrow_ready(df)
        w = self._writers.get(table)
        if table == "programs":
            t = pa.Table.from_pandas(df, schema=program_schema(), preserve_index=False)
        else:
            t = pa.Table.from_pandas(df, preserve_index=False)
            for i, (k, v) in enumerate((keys or {}).items()):
                t = t.add_column(i, k, pa.array([v] * len(t), pa.string()))
        if w is None:
            # a column with no value in the first chunk is text (every such column of the
            # Log tables is), not Arrow's null type that nothing else casts to
            schema = pa.schema(
                [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in t.schema]
            )
            t = t.cast(schema)
            final = _part_path(self.out, table, self.part)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            self._tmp[table] = tmp
            w = self._writers[table] = pq.ParquetWriter(tmp, schema)
        elif t.schema != w.schema:
            try:
                t = t.cast(w.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise CorpusError(
                    f"table {table!r}: a chunk does not match the part's schema: {exc}"
                ) from None
        w.write_table(t)
        self.rows[table] = self.rows.get(table, 0) + len(df)

    def commit(self, programs: pd.DataFrame) -> None:
        """Write the ``programs`` part and move every part into place (``programs`` last)."""
        self.write("programs", programs)
        self._close()
        order = sorted(self._tmp, key=lambda t: t == "programs")
        for table in order:
            os.replace(self._tmp[table], _part_path(self.out, table, self.part))
        self._tmp.clear()


def _arrow_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as strings and mixed object columns as text, so every part agrees."""
    import pandas as pd

    fixed: dict[str, Any] = {}
    for name, col in df.items():
        name = str(name)
        if isinstance(col.dtype, pd.CategoricalDtype):
            fixed[name] = col.astype(str)
        elif col.dtype == object:
            sample = col.dropna()
            if len(sample) and not all(isinstance(v, str) for v in sample.iloc[:64]):
                fixed[name] = col.map(lambda v: None if v is None else str(v))
    return df.assign(**fixed) if fixed else df


def program_schema() -> Any:
    """The Arrow schema of the ``programs`` table (the same in every part)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(
                c,
                pa.int64() if c in INT_COLUMNS else pa.bool_() if c == "truncated" else pa.string(),
            )
            for c in PROGRAM_COLUMNS
        ]
    )


def programs_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (dicts) as a ``programs`` table: :data:`PROGRAM_COLUMNS`, typed."""
    import pandas as pd

    df = pd.DataFrame(list(rows), columns=list(PROGRAM_COLUMNS))
    for c in INT_COLUMNS:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
    df["truncated"] = df["truncated"].astype("boolean")
    for c in PROGRAM_COLUMNS:
        if c not in INT_COLUMNS and c != "truncated":
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


class Corpus:
    """A corpus dataset opened for reading (see :func:`open_corpus`).

    Attributes
    ----------
    path : Path
        The dataset directory.
    manifest : dict
        ``manifest.json``: ``kind`` (``run`` or ``parse``), ``bpfkit_version``,
        ``kernel_release``, ``clang_version``, ``log_level``, ``inputs`` (path, SHA-256, size
        and, for objects, the compiler), ``counts``.
    """

    def __init__(self, path: str | os.PathLike[str], *, use_dask: bool = False) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.use_dask = use_dask
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        c = self.manifest.get("counts", {})
        return (
            f"<Corpus {self.manifest.get('kind')} {str(self.path)!r} programs={c.get('programs')} "
            f"failed={c.get('failed')} kernel={self.manifest.get('kernel_release')!r}>"
        )

    @property
    def tables(self) -> list[str]:
        """The tables present (directories with at least one part)."""
        return sorted(
            d.name
            for d in self.path.iterdir()
            if d.is_dir() and any(_PART_RE.match(p.name) for p in d.iterdir())
        )

    def table(self, name: str, columns: list[str] | None = None) -> Any:
        """One table as a pandas DataFrame (a Dask DataFrame when opened with ``dask=True``).

        An absent table gives an empty frame (a run where every object failed has no
        ``steps``)."""
        key = f"{name}:{columns}"
        if key not in self._cache:
            self._cache[key] = read_table(self.path, name, columns, use_dask=self.use_dask)
        return self._cache[key]

    @property
    def programs(self) -> Any:
        """One row per program (:data:`PROGRAM_COLUMNS`), failed inputs included."""
        return self.table("programs")

    @property
    def failures(self) -> pd.DataFrame:
        """The rows whose input failed (``status == "failed"``): object, source, error."""
        df = self.programs
        if self.use_dask:
            df = df.compute()
        out: pd.DataFrame = df[df["status"] == "failed"][["object", "program", "source", "error"]]
        return out

    def log_text(self, object: str, program: str) -> str | None:
        """The verifier log of a program: from the ``logs`` table (``run``) or read again
        from its source file (``parse``); None when neither has it."""
        import pyarrow.dataset as ds

        d = self.path / "logs"
        if d.is_dir():
            dataset = ds.dataset(str(d), format="parquet")
            t = dataset.to_table(
                filter=(ds.field("object") == object) & (ds.field("program") == program)
            )
            if t.num_rows:
                return str(t.column("log")[0].as_py())
        progs = self.programs
        if self.use_dask:
            progs = progs.compute()
        row = progs[(progs["object"] == object) & (progs["program"] == program)]
        if not len(row) or row.iloc[0]["source"] is None:
            return None
        return _source_log_text(str(row.iloc[0]["source"]), program)

    def log(self, object: str, program: str) -> Any:
        """The program's :class:`bpfkit.verifier.Log` (None when the dataset has no log)."""
        from bpfkit.verifier import parse_log

        text = self.log_text(object, program)
        if text is None:
            return None
        logs = parse_log(text, name=program)
        return next((lg for lg in logs if lg.name == program), logs[0])


def _source_log_text(source: str, program: str) -> str | None:
    from bpfkit.errors import LogError
    from bpfkit.verifier import iter_logs

    path, _, index = source.partition("#")
    try:
        for i, lg in enumerate(iter_logs(path)):
            if (index and str(i) == index) or (not index and lg.name == program):
                return str(lg.text)
    except LogError:
        return None
    return None


def read_table(
    path: str | os.PathLike[str],
    name: str,
    columns: list[str] | None = None,
    *,
    use_dask: bool = False,
) -> Any:
    """Read table *name* of the dataset at *path* (all its parts): pandas, or Dask."""
    d = Path(path) / name
    parts = sorted(p for p in d.glob("part-*.parquet")) if d.is_dir() else []
    if use_dask:
        import dask.dataframe as dd

        if not parts:
            raise CorpusError(f"{str(path)!r} has no table {name!r}")
        return dd.read_parquet([str(p) for p in parts], columns=columns)
    import pandas as pd

    if not parts:
        if name == "programs":
            df = programs_frame([])
            return df[columns] if columns else df
        return pd.DataFrame(columns=columns or [])
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p, columns=columns) for p in parts]
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    )


def open_corpus(path: str | os.PathLike[str], *, dask: bool = False) -> Corpus:
    """Open a dataset written by ``bpfkit corpus run`` or ``bpfkit corpus parse``.

    ``dask=True`` gives Dask DataFrames (lazy, partition per part file) for datasets too
    large for memory; the default gives pandas DataFrames.

    Raises
    ------
    CorpusError
        When *path* is not a corpus dataset.
    """
    return Corpus(path, use_dask=dask)
