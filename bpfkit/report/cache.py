"""Figures of the report reused when their inputs did not change.

Each figure written by ``bpfkit report`` gets a key file beside it (``summary.svg.key``): the
SHA-256 of what the figure is drawn from — the program's log and object files (their bytes),
the figure's name and style, and the source of the code that draws it (``bpfkit/plot``, the
report's figure list) and reads its tables (``bpfkit/ownership``, ``bpfkit/verifier``). A second run finds the same key and keeps the file, so only figures
whose inputs or drawing code changed are drawn again.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> (d / "in.log").write_text("0: (b7) r0 = 0")
14
>>> key = figure_key("lanes", "paper", [d / "in.log"])
>>> fresh(d / "lanes.svg", key)
False
>>> _ = (d / "lanes.svg").write_text("<svg/>"); remember(d / "lanes.svg", key)
>>> fresh(d / "lanes.svg", key), fresh(d / "lanes.svg", figure_key("lanes", "talk", []))
(True, False)
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["figure_key", "fresh", "remember", "code_digest"]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.cache
def code_digest() -> str:
    """SHA-256 over the source of the drawing code (``bpfkit/plot`` and the report's figures)
    and of the code that reads what they draw (``bpfkit/ownership``, ``bpfkit/verifier``)."""
    import bpfkit

    root = Path(bpfkit.__file__).parent
    h = hashlib.sha256()
    files = sorted((root / "plot").rglob("*.py")) + sorted((root / "plot").rglob("*.mplstyle"))
    files += [root / "report" / "figures.py", *sorted((root / "ownership").rglob("*.py"))]
    files += sorted((root / "verifier").rglob("*.py"))  # what the figures' tables come from
    for p in files:
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def figure_key(name: str, style: str, inputs: Iterable[Path], *, extra: str = "") -> str:
    """The key of figure *name* in *style* drawn from the files *inputs*."""
    h = hashlib.sha256()
    h.update(f"{name}\0{style}\0{extra}\0{code_digest()}\0".encode())
    for p in inputs:
        h.update(_file_digest(Path(p)).encode())
    return h.hexdigest()


def _key_path(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def fresh(path: Path, key: str) -> bool:
    """Whether *path* exists and was drawn from inputs with this *key*."""
    kp = _key_path(path)
    try:
        return path.is_file() and kp.read_text().strip() == key
    except OSError:
        return False


def remember(path: Path, key: str) -> None:
    """Record that *path* was drawn from inputs with this *key*."""
    _key_path(path).write_text(key + "\n")
