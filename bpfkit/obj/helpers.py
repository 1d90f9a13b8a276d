"""Helper names by id, read from ``enum bpf_func_id`` of the kernel BTF.

The UAPI enum (``__BPF_FUNC_MAPPER`` in ``include/uapi/linux/bpf.h``) is in every vmlinux BTF as
``enum bpf_func_id { BPF_FUNC_unspec, BPF_FUNC_map_lookup_elem, ... }``;
:func:`bpfkit.btf.load_vmlinux` gives this machine's (``/sys/kernel/btf/vmlinux``) or the
embedded copy, so the table always matches a real kernel rather than a list typed in here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from bpfkit.errors import BpfkitError

__all__ = ["helper_names", "helper_name"]


@functools.cache
def _table() -> dict[int, str]:
    from bpfkit.btf import load_vmlinux  # lazy: only calls need it
    from bpfkit.btf.types import BTFKind

    spec = load_vmlinux()
    out: dict[int, str] = {}
    for enum in spec.find("bpf_func_id", BTFKind.ENUM):
        for value in getattr(enum, "values", ()):
            if value.name.startswith("BPF_FUNC_") and value.name != "BPF_FUNC_unspec":
                out[value.value] = "bpf_" + value.name.removeprefix("BPF_FUNC_")
    return out


def helper_names() -> Mapping[int, str]:
    """``{helper id: "bpf_map_lookup_elem", ...}`` from the kernel BTF (empty when none loads).

    Examples
    --------
    >>> helper_names()[1]
    'bpf_map_lookup_elem'
    """
    try:
        return _table()
    except (BpfkitError, ImportError, OSError):  # no kernel BTF at all: names fall back to ids
        return {}


def helper_name(helper_id: int) -> str:
    """The helper's name, or ``"helper#<id>"`` when the kernel BTF does not know it."""
    return helper_names().get(helper_id, f"helper#{helper_id}")
