"""The figures of a program page, drawn through :mod:`bpfkit.plot` and written as SVG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["program_figures"]


def program_figures(log: Any) -> list[tuple[str, str, Callable[[Path], bool]]]:
    """Return ``(title, file stem, draw)`` for each figure of *log*'s page.

    ``draw(path)`` writes the SVG and returns True, or returns False when the log holds
    nothing to draw (e.g. no register states in a level-0 log).
    """
    del log
    return []
