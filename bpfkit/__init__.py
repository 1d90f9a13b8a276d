"""bpfkit: an analysis toolkit for Linux eBPF.

Three pillars, one pipeline: BTF into networkx (:mod:`bpfkit.btf`), ownership flows of
program-allocated objects (:mod:`bpfkit.ownership`), and verifier state evolution
(:mod:`bpfkit.verifier`, :mod:`bpfkit.plot`).
"""

from __future__ import annotations

from bpfkit.errors import BpfkitError, BTFError, ELFError, KernelError, LogError

__all__ = [
    "BpfkitError",
    "BTFError",
    "ELFError",
    "KernelError",
    "LogError",
    "__version__",
    "explore",
]

__version__ = "0.1.0"


def explore(log: object, **kwargs: object) -> object:
    """Open the interactive verifier-log explorer on *log* (a notebook widget).

    A shortcut for :func:`bpfkit.explorer.explore`; *log* is a :class:`bpfkit.verifier.Log`
    or a path to a verifier log. Imports the explorer (and anywidget) only when called.
    """
    from bpfkit.explorer import explore as _explore

    return _explore(log, **kwargs)  # type: ignore[arg-type]
