"""bpfkit: an analysis toolkit for Linux eBPF.

Three pillars, one pipeline: BTF into networkx (:mod:`bpfkit.btf`), ownership flows of
program-allocated objects (:mod:`bpfkit.ownership`), and verifier state evolution
(:mod:`bpfkit.verifier`, :mod:`bpfkit.plot`).
"""

from __future__ import annotations

from bpfkit.errors import BpfkitError, BTFError, ELFError, KernelError, LogError

__all__ = ["BpfkitError", "BTFError", "ELFError", "KernelError", "LogError", "__version__"]

__version__ = "0.1.0"
