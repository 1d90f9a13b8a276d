"""Colors, hatches and markers for register types, reference ends and marks.

Colors come from the Okabe-Ito palette (colorblind-safe); two categories with the same hatch
differ in lightness by at least 0.08 (relative luminance), so that a figure still reads when
printed in grayscale.

The register categories, most specific first (a register is put in the first that applies):

``or_null``
    any ``*_or_null`` type (may be NULL; the verifier wants a check before use)
``non_own_ref``
    a non-owning reference into a collection (``non_own_ref`` in the state)
``alloc``
    a pointer to a program-allocated object (``MEM_ALLOC``, ``bpf_obj_new``)
``untrusted_ptr`` / ``percpu_ptr`` / ``rcu_ptr``
    kernel pointers carrying that flag
``kernel_ptr``
    other pointers to kernel BTF types (``ptr_task_struct``, ``trusted_ptr_``, sockets)
``ctx``, ``fp`` (stack), ``pkt`` (packet data, end, meta), ``map_ptr``, ``map_value``,
``mem`` (helper memory, ring buffer records, dynptr, buffers), ``func``
    the base pointer types
``const`` / ``scalar``
    a scalar of a single known value / any other scalar
``not_init``
    a register the state does not list
``other``
    a type this table does not know

Examples
--------
>>> register_category("ptr_", flags="alloc", btf_type="node_data")
'alloc'
>>> register_category("map_value", or_null=True)
'or_null'
>>> register_category("scalar", smin=7, smax=7)
'const'
>>> TYPE_STYLES["or_null"].hatch
'////'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "OKABE_ITO",
    "TypeStyle",
    "TYPE_STYLES",
    "CATEGORIES",
    "END_MARKERS",
    "register_category",
    "category_codes",
]

#: The Okabe-Ito palette, by name.
OKABE_ITO: Mapping[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}


class TypeStyle(NamedTuple):
    """How one register category is drawn."""

    #: Category key (see the module docstring).
    key: str
    #: Legend label.
    label: str
    #: Face color.
    color: str
    #: Matplotlib hatch pattern ("" for none).
    hatch: str


_O = OKABE_ITO
_STYLES: tuple[TypeStyle, ...] = (
    TypeStyle("not_init", "not init", "#FFFFFF", ""),
    TypeStyle("scalar", "scalar", _O["sky_blue"], ""),
    TypeStyle("const", "known constant", "#C9E7F8", ""),
    TypeStyle("ctx", "ctx", _O["bluish_green"], "++++"),
    TypeStyle("fp", "stack (fp)", "#BBBBBB", ""),
    TypeStyle("pkt", "packet", _O["yellow"], "...."),
    TypeStyle("map_ptr", "map pointer", _O["blue"], "\\\\\\\\"),
    TypeStyle("map_value", "map value", _O["blue"], "||||"),
    TypeStyle("mem", "memory / ringbuf", _O["reddish_purple"], ""),
    TypeStyle("func", "function", _O["reddish_purple"], "----"),
    TypeStyle("kernel_ptr", "ptr to kernel type", _O["orange"], "||||"),
    TypeStyle("rcu_ptr", "rcu ptr", _O["orange"], "\\\\\\\\"),
    TypeStyle("percpu_ptr", "percpu ptr", _O["orange"], "...."),
    TypeStyle("untrusted_ptr", "untrusted ptr", _O["orange"], "xxxx"),
    TypeStyle("alloc", "allocated object (owning)", _O["vermillion"], ""),
    TypeStyle("non_own_ref", "non-owning ref", _O["vermillion"], "...."),
    TypeStyle("or_null", "maybe NULL (or_null)", "#F2C7AE", "////"),
    TypeStyle("other", "other", "#DDDDDD", "++"),
)

#: Category key -> style, in legend order.
TYPE_STYLES: Mapping[str, TypeStyle] = {s.key: s for s in _STYLES}
#: Category keys in a fixed order; a category's code is its index here.
CATEGORIES: tuple[str, ...] = tuple(s.key for s in _STYLES)

#: Marker for each way a reference lifetime ends (and "acquire" for its start).
END_MARKERS: Mapping[str, str] = {
    "acquire": "o",
    "release": "s",
    "transfer": "D",
    "leak": "X",
    "path_end": "|",
    "open": ">",
}

_PKT = ("pkt", "pkt_end", "pkt_meta")
_MEM = ("mem", "ringbuf_mem", "rdonly_buf", "rdwr_buf", "buf", "dynptr", "dynptr_ptr", "rdonly_mem")
_KERNEL = (
    "ptr_",
    "trusted_ptr_",
    "sock",
    "sock_common",
    "tcp_sock",
    "xdp_sock",
    "btf_id",
    "percpu_ptr_",
    "rcu_ptr_",
)


def register_category(
    type: str | None,
    *,
    or_null: bool = False,
    flags: str | None = None,
    btf_type: str | None = None,
    non_own_ref: bool = False,
    smin: Any = None,
    smax: Any = None,
) -> str:
    """Return the category key (see the module docstring) of one register's type.

    Parameters follow the columns of :attr:`bpfkit.verifier.Log.registers`.

    Examples
    --------
    >>> register_category(None)
    'not_init'
    >>> register_category("ptr_", flags="rcu", btf_type="task_struct")
    'rcu_ptr'
    >>> register_category("ringbuf_mem")
    'mem'
    """
    del btf_type
    if type is None or type == "" or type == "not_init":
        return "not_init"
    t = str(type)
    if or_null or t.endswith("_or_null"):
        return "or_null"
    if non_own_ref:
        return "non_own_ref"
    flag_set = {f.strip() for f in flags.split(",")} if isinstance(flags, str) and flags else set()
    if "alloc" in flag_set:
        return "alloc"
    if t == "scalar" or t == "inv":
        try:
            if smin is not None and smax is not None and smin == smax:
                return "const"
        except (TypeError, ValueError):  # pragma: no cover - odd values from a parser
            pass
        return "scalar"
    if t == "ctx":
        return "ctx"
    if t == "fp":
        return "fp"
    if t in _PKT:
        return "pkt"
    if t in ("map_ptr", "const_ptr_to_map"):
        return "map_ptr"
    if t in ("map_value", "map_key"):
        return "map_value"
    if t in _MEM or t.endswith("_mem"):
        return "mem"
    if t == "func":
        return "func"
    if "untrusted" in flag_set or t.startswith("untrusted_"):
        return "untrusted_ptr"
    if "percpu" in flag_set or t.startswith("percpu_"):
        return "percpu_ptr"
    if "rcu" in flag_set or t.startswith("rcu_"):
        return "rcu_ptr"
    if t in _KERNEL or t.startswith(("ptr_", "trusted_ptr_")):
        return "kernel_ptr"
    return "other"


def category_codes(keys: list[str]) -> list[int]:
    """Return the code (index in :data:`CATEGORIES`) of each category key.

    Examples
    --------
    >>> category_codes(["not_init", "scalar"])
    [0, 1]
    """
    index = {k: i for i, k in enumerate(CATEGORIES)}
    return [index[k] for k in keys]
