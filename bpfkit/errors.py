"""The errors bpfkit raises: one base class and one subclass per kind of input.

Every message says what was expected, what was found, and where (byte offset, type id,
line number, file name). Low-level failures (``struct.error``, ``IndexError``, ``KeyError``,
``UnicodeDecodeError``) are caught at the boundary of each parser and re-raised as one of these.
"""

from __future__ import annotations

__all__ = ["BpfkitError", "BTFError", "ELFError", "LogError", "KernelError"]


class BpfkitError(Exception):
    """Base class of every error bpfkit raises on bad input or an unusable environment."""


class BTFError(BpfkitError):
    """BTF bytes that are not valid: truncated, out of range, dangling ids or string offsets."""


class ELFError(BpfkitError):
    """An ELF object that is not a usable BPF object: corrupt, truncated, missing sections."""


class LogError(BpfkitError):
    """A verifier log that cannot be read (only raised in strict mode or for unreadable files)."""


class KernelError(BpfkitError):
    """The live kernel cannot be used: no root/CAP_BPF, no libbpf, no kernel BTF, a failed syscall."""
