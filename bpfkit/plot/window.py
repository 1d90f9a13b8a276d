"""Which steps of a big log a per-step figure shows: every step up to :data:`WINDOW_STEPS`,
beyond that a window of that many steps, the one where the error is (rejected programs) or
the busiest one (accepted programs), unless the caller names another.

The per-step figures (register lanes, scalar ranges, reference lifetimes and counts) take a
:class:`Window`; its :meth:`Window.label` is what the figure prints so that a reader knows
they see part of the log. Thresholds, documented in the README:

- :data:`WINDOW_STEPS` steps: above it, a window (``--window`` on ``bpfkit plot`` chooses);
- :data:`MAX_REF_ROWS` reference ids: above it, reference lifetimes are grouped by
  allocation site (one row per site, every lifetime a thin bar in that row);
- :data:`bpfkit.plot.figures.MAX_COLUMNS` steps in a window: above it (``--window all``),
  per-step marks are binned.

Examples
--------
>>> w = parse_window("100:400")
>>> (w.start, w.stop, w.how)
(100, 400, 'chosen')
>>> parse_window("error").how
'error'
>>> Window(0, 50, "all", 50).label()
''
>>> Window(1_000, 4_000, "busiest", 94_000).label()
'steps 1,000–4,000 of 94,000 (busiest window)'
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np

from bpfkit.errors import BpfkitError

__all__ = [
    "WINDOW_STEPS",
    "MAX_REF_ROWS",
    "WINDOW_CHOICES",
    "Window",
    "parse_window",
    "choose_window",
]

#: Logs of more steps than this are shown as a window of this many steps by default.
WINDOW_STEPS = 3000
#: Above this many reference ids, reference lifetimes are grouped by allocation site.
MAX_REF_ROWS = 30
#: The named windows ``--window`` accepts (besides ``START:STOP``).
WINDOW_CHOICES = ("auto", "all", "error", "busiest", "start", "end")


class Window(NamedTuple):
    """Steps ``start <= step < stop`` of a log of *total* steps, chosen as *how*."""

    start: int
    stop: int
    how: str
    total: int

    @property
    def whole(self) -> bool:
        """Whether the window shows every step."""
        return self.start <= 0 and self.stop >= self.total

    def label(self) -> str:
        """What the figure says about the window (empty when it shows every step)."""
        if self.whole:
            return ""
        why = {
            "error": "where the error is",
            "busiest": "busiest window",
            "start": "first steps",
            "end": "last steps",
            "chosen": "chosen with --window",
        }.get(self.how, self.how)
        return f"steps {self.start:,}–{self.stop:,} of {self.total:,} ({why})"


_RANGE = re.compile(r"^\s*(\d*)\s*:\s*(\d*)\s*$")


def parse_window(text: str | None) -> Window:
    """Parse a ``--window`` value: ``START:STOP`` (steps, either may be left out) or one of
    :data:`WINDOW_CHOICES`. The total is filled in by :func:`choose_window`."""
    if text is None or text == "":
        return Window(0, -1, "auto", -1)
    t = text.strip().lower()
    if t in WINDOW_CHOICES:
        return Window(0, -1, t, -1)
    m = _RANGE.match(t)
    if m is None:
        raise BpfkitError(
            f"--window: expected START:STOP (steps) or one of {', '.join(WINDOW_CHOICES)}, "
            f"got {text!r}"
        )
    start = int(m.group(1)) if m.group(1) else 0
    stop = int(m.group(2)) if m.group(2) else -1
    if stop != -1 and stop <= start:
        raise BpfkitError(f"--window: STOP must be greater than START, got {text!r}")
    return Window(start, stop, "chosen", -1)


def _activity(log: Any) -> np.ndarray:
    """Per step, how much happens: a reference acquired or let go, a path starting or ending."""
    from bpfkit.plot import data as D

    n = len(log.steps)
    act = np.zeros(n, dtype=np.int64)
    if not n:
        return act
    counts = D.reference_counts(log)["refs"].to_numpy(dtype=np.int64)
    if len(counts) == n:
        act[1:] += np.abs(np.diff(counts)) > 0
    path = log.steps.sort_values("step")["path"].to_numpy()
    act[1:] += path[1:] != path[:-1]
    return act


def choose_window(
    log: Any, window: Window | str | None = None, *, size: int = WINDOW_STEPS
) -> Window:
    """Resolve *window* (a :class:`Window`, a ``--window`` text, or None for ``auto``) for *log*.

    ``auto`` shows every step of a log of at most *size* steps, else ``error`` for a rejected
    program and ``busiest`` for an accepted one. ``error`` ends at the last step (where the
    verifier stopped); ``busiest`` is the *size* steps with the most reference and path
    events; ``start`` / ``end`` the first / last *size* steps; ``all`` every step.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> log = SimpleNamespace(steps=pd.DataFrame({"step": range(10), "path": [0] * 10}),
    ...                       verdict="reject")
    >>> choose_window(log, "all", size=4)
    Window(start=0, stop=10, how='all', total=10)
    >>> choose_window(log, "5:", size=4)
    Window(start=5, stop=10, how='chosen', total=10)
    >>> choose_window(log, "start", size=4)
    Window(start=0, stop=4, how='start', total=10)
    """
    w = window if isinstance(window, Window) else parse_window(window)
    total = len(log.steps)
    how = w.how
    if how == "auto":
        if total <= size:
            return Window(0, total, "all", total)
        how = "error" if getattr(log, "verdict", None) == "reject" else "busiest"
    if how == "all":
        return Window(0, total, "all", total)
    if how == "chosen":
        stop = total if w.stop == -1 else min(w.stop, total)
        start = min(w.start, max(total - 1, 0))
        return Window(start, max(stop, start + 1), "chosen", total)
    size = min(size, total)
    if how in ("error", "end"):
        return Window(total - size, total, how, total)
    if how == "start":
        return Window(0, size, how, total)
    act = _activity(log)
    if not len(act) or size >= total:
        return Window(0, total, "busiest", total)
    csum = np.concatenate(([0], np.cumsum(act)))
    sums = csum[size:] - csum[:-size]
    start = int(np.argmax(sums))  # the first of equally busy windows
    return Window(start, start + size, "busiest", total)
