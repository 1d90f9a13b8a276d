"""Captured verifier logs: write them with a manifest, read them back without a kernel.

``capture_logs`` loads every program of some objects at log level 1 and at level 2 (both with
the stats bit), writes ``<out>/<object stem>/<program>.l1.log`` and ``.l2.log`` (``.l2.log.xz``
when larger than :data:`COMPRESS_OVER` bytes) and ``<out>/MANIFEST.tsv`` with one row per program.
``read_manifest`` and ``read_captured_log`` give the same data back on any machine.
"""

from __future__ import annotations

import lzma
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bpfkit.errors import ELFError, LogError
from bpfkit.kernel.load import LoadResult, load_programs

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ManifestRow",
    "MANIFEST_COLUMNS",
    "COMPRESS_OVER",
    "MAX_LOG_BYTES",
    "DEFAULT_LOGS_DIR",
    "capture_logs",
    "write_manifest",
    "read_manifest",
    "read_captured_log",
    "manifest_frame",
    "object_compiler",
    "log_file_name",
]

#: Level-2 logs larger than this many bytes are stored xz-compressed.
COMPRESS_OVER = 1 << 20
#: The repository's captured logs (present in a source checkout).
DEFAULT_LOGS_DIR = Path(__file__).resolve().parents[2] / "data" / "logs"


class ManifestRow(NamedTuple):
    """One program's row of ``MANIFEST.tsv`` (stats from the level-1 load)."""

    object: str
    program: str
    section: str
    prog_type: str
    kernel_release: str
    clang_version: str
    verdict: str
    errno: int
    error: str
    insns_processed: int | None
    total_states: int | None
    peak_states: int | None
    max_states_per_insn: int | None
    mark_read: int | None
    stack_depth: str
    l1_log: str
    l1_lines: int
    l2_log: str
    l2_lines: int


#: Column names of ``MANIFEST.tsv``, in order.
MANIFEST_COLUMNS: tuple[str, ...] = ManifestRow._fields
_INT_COLUMNS = {"errno", "l1_lines", "l2_lines"}
_OPT_INT_COLUMNS = {
    "insns_processed",
    "total_states",
    "peak_states",
    "max_states_per_insn",
    "mark_read",
}


def object_compiler(obj_path: str | os.PathLike[str]) -> str:
    """The compiler that built a BPF object: ``.comment`` or else the DWARF ``DW_AT_producer``
    of its first compile unit (e.g. ``Debian clang version 19.1.7 (3~deb12u1)``); ``""`` if
    neither is present.

    Raises
    ------
    ELFError
        When the file is not a readable ELF object.
    """
    from elftools.common.exceptions import DWARFError
    from elftools.common.exceptions import ELFError as PyELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(obj_path, "rb") as f:
            elf = ELFFile(f)
            sec = elf.get_section_by_name(".comment")
            if sec is not None:
                parts = [p.decode("utf-8", "replace").strip() for p in sec.data().split(b"\0")]
                found = next((p for p in parts if p), "")
                if found:
                    return found
            if not elf.has_dwarf_info():
                return ""
            dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
            for cu in dwarf.iter_CUs():
                attr = cu.get_top_DIE().attributes.get("DW_AT_producer")
                if attr is not None:
                    value = attr.value
                    return (
                        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    )
            return ""
    except (OSError, PyELFError, DWARFError, ValueError, KeyError, IndexError) as exc:
        raise ELFError(
            f"{obj_path}: cannot read the compiler name (.comment/DWARF): {exc}"
        ) from exc


def log_file_name(program: str, level: str, *, compressed: bool = False) -> str:
    """``<program>.<level>.log`` (``.xz`` appended when compressed).

    >>> log_file_name("obj_new_leak", "l2", compressed=True)
    'obj_new_leak.l2.log.xz'
    """
    return f"{program}.{level}.log" + (".xz" if compressed else "")


def _object_stem(name: str) -> str:
    return name.removesuffix(".o").removesuffix(".bpf")


def _write_log(path: Path, log: str, compress_over: int) -> Path:
    data = log.encode()
    if len(data) > compress_over:
        path = path.with_name(path.name + ".xz")
        data = lzma.compress(data, preset=9, check=lzma.CHECK_CRC64)
    path.write_bytes(data)
    return path


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def capture_logs(
    objects: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    compress_over: int = COMPRESS_OVER,
    libbpf_path: str | None = None,
) -> list[ManifestRow]:
    """Load every program at level 1 and level 2; write the logs and ``MANIFEST.tsv``.

    Parameters
    ----------
    objects : iterable of path
        BPF ELF objects.
    out_dir : path
        Directory for ``<object stem>/<program>.l1.log`` etc. and ``MANIFEST.tsv``.

    Returns
    -------
    list of ManifestRow
        The rows written, in object then program order.

    Raises
    ------
    KernelError, ELFError
        As :func:`bpfkit.kernel.load_programs`.
    """
    out = Path(out_dir)
    rows: list[ManifestRow] = []
    for obj in objects:
        clang = object_compiler(obj)
        l1 = load_programs(obj, log_level=1, libbpf_path=libbpf_path)
        l2 = {r.program: r for r in load_programs(obj, log_level=2, libbpf_path=libbpf_path)}
        sub = out / _object_stem(Path(obj).name)
        sub.mkdir(parents=True, exist_ok=True)
        for stale in [*sub.glob("*.log"), *sub.glob("*.log.xz")]:
            stale.unlink()  # logs of programs that no longer exist must not linger
        for r in l1:
            r2 = l2[r.program]
            p1 = _write_log(sub / log_file_name(r.program, "l1"), r.log, 1 << 62)
            p2 = _write_log(sub / log_file_name(r.program, "l2"), r2.log, compress_over)
            rows.append(_manifest_row(r, r2, clang, p1.relative_to(out), p2.relative_to(out)))
    write_manifest(rows, out / "MANIFEST.tsv")
    return rows


def _manifest_row(r: LoadResult, r2: LoadResult, clang: str, p1: Path, p2: Path) -> ManifestRow:
    return ManifestRow(
        object=r.object,
        program=r.program,
        section=r.section,
        prog_type=r.prog_type,
        kernel_release=r.kernel_release,
        clang_version=clang,
        verdict=r.verdict,
        errno=r.errno,
        error=_clean(r.error),
        insns_processed=r.insns_processed,
        total_states=r.total_states,
        peak_states=r.peak_states,
        max_states_per_insn=r.max_states_per_insn,
        mark_read=r.mark_read,
        stack_depth=r.stack_depth or "",
        l1_log=p1.as_posix(),
        l1_lines=r.log.count("\n"),
        l2_log=p2.as_posix(),
        l2_lines=r2.log.count("\n"),
    )


def write_manifest(rows: Sequence[ManifestRow], path: str | os.PathLike[str]) -> None:
    """Write rows as a tab-separated file with a header line (empty cell for ``None``)."""
    lines = ["\t".join(MANIFEST_COLUMNS)]
    for row in rows:
        lines.append("\t".join("" if v is None else _clean(str(v)) for v in row))
    Path(path).write_text("\n".join(lines) + "\n")


def read_manifest(path: str | os.PathLike[str] | None = None) -> list[ManifestRow]:
    """Read a ``MANIFEST.tsv`` written by :func:`capture_logs`.

    Parameters
    ----------
    path : path, optional
        The manifest, or a directory holding one; default :data:`DEFAULT_LOGS_DIR`.

    Raises
    ------
    LogError
        When the file is missing, its header is not :data:`MANIFEST_COLUMNS`, or a row has the
        wrong number of cells or a non-integer count (naming the line).
    """
    p = Path(path) if path is not None else DEFAULT_LOGS_DIR
    if p.is_dir():
        p = p / "MANIFEST.tsv"
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LogError(f"{p}: cannot read manifest: {exc}") from exc
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != MANIFEST_COLUMNS:
        raise LogError(
            f"{p}:1: expected header {' '.join(MANIFEST_COLUMNS)!r}, "
            f"found {lines[0] if lines else ''!r}"
        )
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != len(MANIFEST_COLUMNS):
            raise LogError(
                f"{p}:{lineno}: expected {len(MANIFEST_COLUMNS)} tab-separated cells, "
                f"found {len(cells)}"
            )
        values: list[object] = []
        for name, cell in zip(MANIFEST_COLUMNS, cells, strict=True):
            if name in _INT_COLUMNS or name in _OPT_INT_COLUMNS:
                if cell == "" and name in _OPT_INT_COLUMNS:
                    values.append(None)
                    continue
                try:
                    values.append(int(cell))
                except ValueError:
                    raise LogError(
                        f"{p}:{lineno}: column {name} expects an integer, found {cell!r}"
                    ) from None
            else:
                values.append(cell)
        rows.append(ManifestRow(*values))  # type: ignore[arg-type]
    return rows


#: The largest decompressed log :func:`read_captured_log` accepts (the kernel's own cap on a
#: log buffer is UINT_MAX >> 2, about 1 GiB).
MAX_LOG_BYTES = 1 << 30


def read_captured_log(path: str | os.PathLike[str], *, max_bytes: int = MAX_LOG_BYTES) -> str:
    """The text of a captured log, decompressing ``.xz``.

    ``path`` may also be relative to :data:`DEFAULT_LOGS_DIR` (as in the manifest).

    Raises
    ------
    LogError
        Missing file, corrupt xz data, a log over ``max_bytes`` once decompressed, or text
        that is not UTF-8 (naming the file).
    """
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = DEFAULT_LOGS_DIR / p
    from bpfkit.verifier.log import MAX_EXPANSION, XZ_MEMLIMIT

    try:
        data = p.read_bytes()
        if p.suffix == ".xz":
            # the same caps as every log reader: the decoder's memory (an xz header may
            # claim a 1.5 GiB dictionary) and the expansion of a decompression bomb
            limit = min(max_bytes, MAX_EXPANSION * len(data) + (1 << 20))
            dec = lzma.LZMADecompressor(memlimit=XZ_MEMLIMIT)
            data = dec.decompress(data, max_length=limit)
            if not dec.eof:
                raise LogError(
                    f"{p}: cannot read captured log: truncated xz data, or more than "
                    f"{limit:,} bytes once decompressed (at most {MAX_EXPANSION}x the "
                    f"compressed size, and at most {max_bytes:,})"
                )
        return data.decode("utf-8")
    except lzma.LZMAError as exc:
        if "Memory usage limit" in str(exc):
            raise LogError(
                f"{p}: cannot read captured log: its xz header asks for more than "
                f"{XZ_MEMLIMIT >> 20} MiB of decoder memory"
            ) from None
        raise LogError(f"{p}: cannot read captured log: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LogError(f"{p}: cannot read captured log: {exc}") from exc


def manifest_frame(rows: Iterable[ManifestRow] | None = None) -> pd.DataFrame:
    """The manifest as a DataFrame (default: the repository's ``data/logs``)."""
    import pandas as pd

    data = list(rows) if rows is not None else read_manifest()
    df = pd.DataFrame.from_records(data, columns=list(MANIFEST_COLUMNS))
    for col in _OPT_INT_COLUMNS:
        df[col] = df[col].astype("Int64")
    return df
