"""Struct layouts from BTF, like ``pahole``: offsets, holes, padding, cachelines.

:func:`struct_layout` computes, for a struct or union, where each member sits, which bytes
(and bits, between bitfields) are holes, and the trailing padding, with pahole's
definitions so the numbers can be checked against it (``pahole -C NAME
/sys/kernel/btf/vmlinux``):

* a bitfield is placed in its *storage unit*: ``offset`` is the unit's byte offset
  (``bit_offset`` rounded down to the unit's size), ``bitfield_offset`` the bit within;
* ``hole``/``bit_hole`` on a member are the bytes/bits unused after it (before the next);
* ``sum_members`` adds the sizes of the non-bitfield members, ``sum_bitfield_bits`` the
  widths of the bitfields; ``padding`` is the bytes after the last member; so
  ``size * 8 == 8 * (sum_members + sum_holes + padding) + sum_bitfield_bits +
  sum_bit_holes + bit_padding``;
* ``paddings``/``sum_paddings`` count members whose type is directly a struct that has
  trailing padding itself (pahole's "XXX last struct has N bytes of padding").

Unions get member offsets and sizes; holes and padding are only computed for structs, as
pahole does. Anonymous struct/union members carry their own nested :class:`Layout`.

Examples
--------
>>> from bpfkit.btf import load_vmlinux
>>> lay = struct_layout(load_vmlinux(), "bpf_spin_lock")
>>> (lay.size, lay.members[0].name, lay.members[0].size, lay.holes, lay.padding)
(4, 'val', 4, 0, 0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpfkit.btf.cformat import _alignof_loop_free, member_bitfield
from bpfkit.btf.types import (
    Array,
    BTFKind,
    Const,
    Enum,
    Enum64,
    EnumValue,
    FuncProto,
    Ptr,
    Struct,
    Union,
    Volatile,
)
from bpfkit.errors import BTFError

#: Longest array/modifier chain walked (the kernel's MAX_RESOLVE_DEPTH).
_MAX_CHAIN = 32

if TYPE_CHECKING:
    from bpfkit.btf.spec import Spec

__all__ = ["LayoutMember", "Layout", "struct_layout", "format_layout", "CACHELINE_SIZE"]

#: Cacheline size used for ``cachelines`` and the boundary markers (x86-64, arm64).
CACHELINE_SIZE = 64


@dataclass(frozen=True, slots=True)
class LayoutMember:
    """One member of a :class:`Layout`.

    ``offset``/``size`` are bytes (for a bitfield: its storage unit); ``bit_offset`` is
    the member's offset in bits from the start of the struct; ``bitfield_offset`` the bit
    within the unit (0 unless a bitfield); ``hole``/``bit_hole`` what is unused after the
    member; ``padding`` the trailing padding of the member's own struct type (0 unless the
    type is directly a struct); ``nested`` the layout of an anonymous struct/union member
    (or of the element of an array of one); ``forced_alignment`` the alignment pahole infers
    for a member placed later than its natural alignment needs (0: none), printed by pahole
    as ``__attribute__((__aligned__(N)))``.
    """

    index: int
    name: str
    type_id: int
    type_name: str
    offset: int
    size: int
    bit_offset: int
    bitfield_offset: int
    bitfield_size: int
    alignment: int
    hole: int
    bit_hole: int
    cacheline: int
    padding: int
    nested: Layout | None = None
    forced_alignment: int = 0


@dataclass(frozen=True, slots=True)
class Layout:
    """The layout of one struct or union (pahole's summary numbers as fields)."""

    type_id: int
    name: str
    kind: str  # "struct" | "union"
    size: int
    alignment: int
    packed: bool
    members: tuple[LayoutMember, ...]
    sum_members: int
    sum_bitfield_bits: int
    holes: int
    sum_holes: int
    bit_holes: int
    sum_bit_holes: int
    pre_hole: int
    pre_bit_hole: int
    padding: int
    bit_padding: int
    paddings: int
    sum_paddings: int
    cachelines: int
    last_cacheline: int
    forced_alignments: int = 0
    forced_holes: int = 0
    sum_forced_holes: int = 0
    inferred_alignment: int = 0


def _find(spec: Spec, type_id_or_name: int | str) -> Struct | Union:
    if isinstance(type_id_or_name, int):
        if not 0 < type_id_or_name < len(spec):
            raise BTFError(f"{spec.name}: no type id {type_id_or_name}")
        t = spec[type_id_or_name]
    else:
        name = type_id_or_name
        word, _, rest = name.partition(" ")
        if rest and word in ("struct", "union"):
            found = spec.find(rest.strip(), BTFKind.STRUCT if word == "struct" else BTFKind.UNION)
        else:
            found = [x for x in spec.find(name) if isinstance(x, (Struct, Union))]
            if not found:
                found = [spec.resolve(x.id) for x in spec.find(name) if x.kind == BTFKind.TYPEDEF]
                found = [x for x in found if isinstance(x, (Struct, Union))]
        if not found:
            raise BTFError(f"{spec.name}: no struct or union named {name!r}")
        t = found[0]
    if not isinstance(t, (Struct, Union)):
        raise BTFError(
            f"{spec.name}: type [{t.id}] {t.kind.name} {t.name!r} is not a struct or union"
        )
    return t


def struct_layout(spec: Spec, type_id_or_name: int | str) -> Layout:
    """The layout of a struct or union, by type id or name.

    Parameters
    ----------
    spec : Spec
        Parsed BTF.
    type_id_or_name : int or str
        A type id, a name (``"task_struct"``, ``"struct foo"``, or a typedef of one). With
        several types of that name, the first (lowest id) is used.

    Raises
    ------
    BTFError
        No such struct/union.
    """
    t = _find(spec, type_id_or_name)
    spec.check_no_loop(t.id)  # a struct that contains itself has no layout (kernel: a loop)
    return _layout(spec, t, {})


def _layout(spec: Spec, t: Struct | Union, memo: dict[int, Layout]) -> Layout:
    got = memo.get(t.id)
    if got is not None:
        return got
    memo[t.id] = _placeholder(t)  # an anonymous aggregate that contains itself: stop
    is_struct = isinstance(t, Struct)
    rows = []
    for i, m in enumerate(t.members):
        bit_off, bits = member_bitfield(spec, m)
        try:
            size = spec.sizeof(m.type)
        except BTFError:
            size = 0
        offset = bit_off // (size * 8) * size if bits and size else bit_off // 8
        rows.append((i, m, bit_off, bits, size, offset))

    holes = [0] * len(rows)
    bit_holes = [0] * len(rows)
    pre_hole = pre_bit_hole = 0
    padding = bit_padding = 0
    if is_struct:
        bf_end, bf_size, seen, in_bf = t.size * 8, 0, 0, False
        for k, (_, _, start, bits, size, offset) in enumerate(rows):
            end = start + (bits or size * 8)
            bh = h = 0
            if in_bf:
                stop = min(start, bf_end)
                bh = stop - seen
                seen = stop
            if bits:
                aligned = offset * 8
                if seen < aligned <= start:
                    h = offset - seen // 8
                    seen = aligned
                bh += start - seen
            else:
                h = start // 8 - seen // 8
            seen = end
            if bits:
                in_bf = True
                unit = size * 8
                if end > bf_end or unit > bf_size:
                    bf_size = unit
                    bf_end = offset * 8 + unit
                    if end > bf_end:
                        bf_end += unit
            else:
                in_bf, bf_size, bf_end = False, 0, end
            if k:
                holes[k - 1], bit_holes[k - 1] = h, bh
            else:
                pre_hole, pre_bit_hole = h, bh
        if in_bf:
            stop = min(t.size * 8, bf_end)
            bit_padding = stop - seen
            seen = stop
        padding = t.size - seen // 8

    forced, data_end = _forced_alignments(spec, rows) if is_struct else ([0] * len(rows), 0)
    members = []
    sum_members = sum_bits = paddings = sum_paddings = 0
    for k, (i, m, bit_off, bits, size, offset) in enumerate(rows):
        mt = spec[m.type]
        nested = None
        mpad = 0
        inner = mt
        for _ in range(32):  # an array of an anonymous struct is expanded too
            if not isinstance(inner, Array):
                break
            inner = spec[inner.type]
        if isinstance(inner, (Struct, Union)) and not inner.name:
            nested = _layout(spec, inner, memo)
        if isinstance(mt, Struct):
            mpad = _layout(spec, mt, memo).padding
            if mpad > 0:
                paddings += 1
                sum_paddings += mpad
        if bits:
            sum_bits += bits
        else:
            sum_members += size
        try:
            tname = spec.type_name(m.type)
        except BTFError:
            tname = "?"
        members.append(
            LayoutMember(
                index=i,
                name=m.name,
                type_id=m.type,
                type_name=tname,
                offset=offset,
                size=size,
                bit_offset=bit_off,
                bitfield_offset=bit_off - offset * 8 if bits else 0,
                bitfield_size=bits,
                alignment=_alignof_loop_free(spec, m.type),
                hole=holes[k],
                bit_hole=bit_holes[k],
                cacheline=offset // CACHELINE_SIZE,
                padding=mpad,
                nested=nested,
                forced_alignment=forced[k],
            )
        )
    all_holes = [pre_hole, *holes]
    all_bit_holes = [pre_bit_hole, *bit_holes]
    before = all_holes[: len(rows)]  # the hole just before member k
    lay = Layout(
        type_id=t.id,
        name=t.name,
        kind="struct" if is_struct else "union",
        size=t.size,
        alignment=_alignof_loop_free(spec, t.id),
        packed=is_struct
        and padding == 0
        and not any(h for h in all_holes)
        and _looks_packed(spec, t, [r[5] for r in rows]),
        members=tuple(members),
        sum_members=sum_members,
        sum_bitfield_bits=sum_bits,
        holes=sum(1 for h in all_holes if h),
        sum_holes=sum(h for h in all_holes if h > 0),
        bit_holes=sum(1 for h in all_bit_holes if h),
        sum_bit_holes=sum(h for h in all_bit_holes if h),
        pre_hole=pre_hole,
        pre_bit_hole=pre_bit_hole,
        padding=padding,
        bit_padding=bit_padding,
        paddings=paddings,
        sum_paddings=sum_paddings,
        cachelines=-(-t.size // CACHELINE_SIZE),
        last_cacheline=t.size % CACHELINE_SIZE,
        inferred_alignment=_gap_alignment(t.size, t.size - data_end, _natural_alignment(spec, t.id))
        if is_struct
        else 0,
        forced_alignments=sum(1 for a in forced if a),
        forced_holes=sum(1 for a, h in zip(forced, before, strict=True) if a and h),
        sum_forced_holes=sum(h for a, h in zip(forced, before, strict=True) if a and h),
    )
    memo[t.id] = lay
    return lay


def _forced_alignments(spec: Spec, rows: list[tuple[Any, ...]]) -> tuple[list[int], int]:
    """The alignment each member seems to have been forced to (0 if none), and where the
    last non-empty member ends.

    BTF keeps no alignment, so (as pahole does) it is inferred from a gap: a member that
    starts further after the end of the previous non-empty member than its natural
    alignment explains gets the power of two just above the gap (an odd offset: none),
    raised to the cacheline size when the member starts on a cacheline. Bitfields and
    empty members never get one. A struct's own alignment is the one the gap after its
    last non-empty member suggests (pahole does not raise it to its members'). Checked against pahole on vmlinux.
    """
    out = [0] * len(rows)
    prev_end: int | None = None
    for k, (_, m, _, bits, size, offset) in enumerate(rows):
        if size == 0:
            continue
        if not bits and prev_end is not None and offset > prev_end:
            out[k] = _gap_alignment(offset, offset - prev_end, _natural_alignment(spec, m.type))
        end = offset + size
        prev_end = end if prev_end is None else max(prev_end, end)
    return out, prev_end or 0


def _gap_alignment(offset: int, gap: int, natural: int) -> int:
    """The alignment a *gap* of bytes before *offset* suggests beyond *natural*, or 0."""
    if gap <= 0 or offset % 2:
        return 0
    align = 1 << gap.bit_length()
    if align <= natural or align == 1:
        return 0
    if align < CACHELINE_SIZE and offset % CACHELINE_SIZE == 0:
        return CACHELINE_SIZE
    return align


def _natural_alignment(
    spec: Spec, tid: int, depth: int = 0, memo: dict[int, int] | None = None
) -> int:
    """pahole's natural alignment: pointers 8, scalars their size, aggregates the largest
    of their members (packed or not), arrays their element's. *tid* reaches no loop
    (:meth:`Spec.check_no_loop` ran), so the walk ends; *memo* keeps it linear."""
    if memo is None:
        memo = {}
    got = memo.get(tid)
    if got is not None:
        return got
    t = spec.resolve(tid)
    for _ in range(_MAX_CHAIN):
        if not isinstance(t, Array):
            break
        t = spec.resolve(t.type)
    a = 1
    if isinstance(t, Ptr):
        a = 8
    elif isinstance(t, (Struct, Union)):
        if depth <= _MAX_CHAIN:
            a = max(
                (_natural_alignment(spec, m.type, depth + 1, memo) for m in t.members), default=1
            )
    else:
        size = getattr(t, "size", 1)
        a = size if isinstance(size, int) and size > 0 else 1
    memo[tid] = a
    return a


def _looks_packed(spec: Spec, t: Struct | Union, offsets: list[int]) -> bool:
    """pahole's inference for a struct without holes or padding: a member at an offset
    its natural alignment forbids, or a size that is not a multiple of it."""
    biggest = 1
    for m, off in zip(t.members, offsets, strict=True):
        a = _natural_alignment(spec, m.type)
        if a == 1:
            continue
        biggest = max(biggest, a)
        if off % a:
            return True
    return t.size % biggest != 0


def _placeholder(t: Struct | Union) -> Layout:
    return Layout(
        t.id, t.name, "struct", t.size, 1, False, (), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    )


# ------------------------------------------------------------------------- text


def _split_decl(spec: Spec, m: LayoutMember, last: bool) -> tuple[str, str]:
    """(type column, name column) of a member, pahole-style (a flexible array member at
    the end is ``name[]``, a zero-length one elsewhere ``name[0]``; qualifiers of an array
    or a function pointer are written in front, as pahole does)."""
    dims = ""
    quals = ""
    tid = m.type_id
    t = spec[tid]
    for _ in range(64):
        if isinstance(t, Array):
            dims += f"[{t.nelems}]" if t.nelems or not last else "[]"
        elif isinstance(t, (Const, Volatile)) and isinstance(
            spec.resolve(t.type, typedefs=False), (Array, Ptr)
        ):
            word = "const " if isinstance(t, Const) else "volatile "
            if isinstance(spec.resolve(t.type, typedefs=False), Ptr) and not isinstance(
                _pointee(spec, t.type), FuncProto
            ):
                break  # `T * const p`: spelled by type_name
            quals += word
        else:
            break
        tid = t.type
        t = spec[tid]
    if isinstance(t, Ptr) and isinstance(_pointee(spec, tid), FuncProto):
        full = spec.type_name(tid)  # "ret (*)(args)"
        head, _, tail = full.partition("(*)")
        return quals + head.rstrip(), f"(*{m.name}){tail}{dims}"
    name = spec.type_name(tid)
    if quals and not name.startswith(quals):
        name = quals + name
    return name, m.name + dims


def _pointee(spec: Spec, tid: int) -> object:
    t = spec.resolve(tid, typedefs=False)
    return spec.resolve(t.type, typedefs=False) if isinstance(t, Ptr) else None


def format_layout(layout: Layout, spec: Spec | None = None) -> str:
    """pahole-style text of *layout* (member lines, holes, cacheline marks, summary).

    With *spec*, member types are spelled as pahole does (arrays as ``name[N]``,
    function pointers as ``(*name)(args)``); without it, the C type name is printed
    whole. Anonymous struct/union members are expanded inline.

    Parameters
    ----------
    layout : Layout
        From :func:`struct_layout`.
    spec : Spec, optional
        The spec the layout came from, for pahole's spelling of member types.

    Returns
    -------
    str
        The text, without a trailing newline: the same as pahole's (inferred
        ``__aligned__`` attributes, ``:0`` bitfields and all) for 9144 of the 9499
        uniquely named structs of the 6.18 vmlinux; the rest differ in spelling only
        (pahole writes anonymous enums inline, doubles ``const`` on const pointers, ...).

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> spec = load_vmlinux()
    >>> print(format_layout(struct_layout(spec, "bpf_list_head"), spec))
    struct bpf_list_head {
        __u64                      __opaque[2];          /*     0    16 */
    <BLANKLINE>
        /* size: 16, cachelines: 1, members: 1 */
        /* last cacheline: 16 bytes */
    };
    """
    lines = [f"{layout.kind} {layout.name} {{".replace("  ", " ")]
    _body(layout, spec, 1, lines, narrow=2 if layout.kind == "union" else 0)
    if layout.kind == "struct":  # pahole prints no statistics for a union
        if lines[-1]:
            lines.append("")
        _summary(layout, "\t", lines)
    tail = "}"
    if layout.packed:
        tail += " __attribute__((__packed__))"
    else:
        tail += _aligned(_own_alignment(layout))
    lines.append(tail + ";")
    return "\n".join(lines)


def _body(
    layout: Layout,
    spec: Spec | None,
    depth: int,
    lines: list[str],
    base: int = 0,
    narrow: int = 0,
) -> None:
    ind = "\t" * depth
    tw = max(26 - 8 * (depth - 1), 0)  # pahole narrows its columns by a tab per level
    aw = max(48 - narrow - 8 * (depth - 1), 0)
    pre = []
    if layout.pre_bit_hole > 0:
        pre.append(f"{ind}/* XXX {_plural(layout.pre_bit_hole, 'bit')} hole, try to pack */")
    if layout.pre_hole > 0:
        pre.append(f"{ind}/* XXX {_plural(layout.pre_hole, 'byte')} hole, try to pack */")
    if pre:
        lines.extend(["", *pre, ""])
    # each struct body marks the cacheline boundaries its members cross (unions do not)
    cur = base // CACHELINE_SIZE if depth > 1 else -1
    prev: LayoutMember | None = None
    last_size = 0  # pahole's notion of the previous storage unit's size
    for m in layout.members:
        shared = prev is not None and last_size != 0 and layout.kind == "struct"
        if shared and prev is not None and prev.bit_hole and m.bitfield_size:
            # pahole writes the bits a bitfield skips as an unnamed bitfield, or `:0`
            # when the next bitfield starts a new storage unit
            tname = _member_type(spec, m)
            if lines and not lines[-1]:
                lines.pop()
            if prev.offset != m.offset:
                lines.extend(["", f"{ind}/* Force alignment to the next boundary: */"])
                lines.append(f"{ind}{tname:<{tw}} :0;")
            else:
                lines.append(f"{ind}{tname:<{tw}} :{prev.bit_hole};")
            lines.append("")
        if shared and prev is not None:
            note = ""
            if m.offset < prev.offset or (
                m.offset == prev.offset and not prev.bitfield_size and m.bitfield_size
            ):
                note = "Bitfield combined with previous fields"
            elif 0 < m.offset - prev.offset < last_size:
                note = "Bitfield combined with next fields"
            if note:
                if lines and not lines[-1]:
                    lines.pop()
                lines.extend(["", f"{ind}/* {note} */", ""])
        if (
            prev is None
            or last_size == 0
            or prev.offset != m.offset
            or (not prev.bitfield_size and m.bitfield_size)
        ):
            last_size = m.size
        prev = m
        line = (base + m.offset) // CACHELINE_SIZE
        if layout.kind == "struct" and line > cur:
            if cur >= 0 or depth > 1:
                boundary = line * CACHELINE_SIZE
                ago = base + m.offset - boundary
                extra = f" was {_plural(ago, 'byte')} ago" if ago else ""
                lines.append(
                    f"{ind}/* --- cacheline {line} boundary ({boundary} bytes){extra} --- */"
                )
            cur = line
        off = base + m.offset
        where = (
            f"/* {off:5d}:{m.bitfield_offset:2d} {m.size:2d} */"
            if m.bitfield_size
            else f"/* {off:5d} {m.size:5d} */"
        )
        if m.nested is not None:
            lines.append(f"{ind}{m.nested.kind} {{")
            _body(m.nested, spec, depth + 1, lines, off, narrow)
            dims = "".join(re.findall(r"\[\d*\]", m.type_name.rpartition(")")[2]))
            last = len(layout.members) > 1 and m is layout.members[-1]
            if dims == "[0]" and depth == 1 and last:
                dims = "[]"
            attrs = _aligned(_own_alignment(m.nested)) + _aligned(m.forced_alignment)
            name = f"}}{attrs} {m.name}{dims};" if m.name else f"}}{attrs};"
            # pahole does not align an array's closing line, and widens it by one attribute
            first = _aligned(_own_alignment(m.nested)) or _aligned(m.forced_alignment)
            width = 0 if dims else aw + len(first)
            lines.append(f"{ind}{name:<{width}} {where}")
        elif spec is not None and _anon_enum(spec, m.type_id) is not None:
            values = _anon_enum(spec, m.type_id) or ()
            longest = max((len(v.name) for v in values), default=0)
            lines.append(f"{ind}enum {{")
            lines.extend(f"{ind}\t{v.name:<{longest}} = {v.value}," for v in values)
            bits = f":{m.bitfield_size}" if m.bitfield_size else ""
            name = f"}} {m.name}{bits};"
            lines.append(f"{ind}{name:<{aw + len(bits)}} {where}")
        else:
            if spec is not None:
                tcol, ncol = _split_decl(
                    spec, m, depth == 1 and len(layout.members) > 1 and m is layout.members[-1]
                )
            else:
                tcol, ncol = m.type_name, m.name
            if m.bitfield_size:
                ncol += f":{m.bitfield_size}"
            while "**" in tcol:  # pahole spells pointers to pointers "T * *"
                tcol = tcol.replace("**", "* *")
            if tcol.startswith("const ") and tcol.endswith(" *"):
                tcol = tcol[:-1] + " *"  # pahole spells a pointer to const this way
            left = f"{tcol:<{tw}} {ncol}{_aligned(m.forced_alignment)};"
            lines.append(f"{ind}{left:<{aw}} {where}")
        notes = []
        if m.padding > 0 and layout.kind == "struct":
            notes.append(f"{ind}/* XXX last struct has {_plural(m.padding, 'byte')} of padding */")
        if m.bit_hole:
            notes.append(f"{ind}/* XXX {_plural(m.bit_hole, 'bit')} hole, try to pack */")
        if m.hole > 0:
            notes.append(f"{ind}/* XXX {_plural(m.hole, 'byte')} hole, try to pack */")
        if notes:
            lines.extend(["", *notes, ""])


def _anon_enum(spec: Spec, tid: int) -> tuple[EnumValue, ...] | None:
    """The values of *tid* if it is directly an anonymous enum (pahole writes it inline)."""
    t = spec[tid]
    if isinstance(t, (Enum, Enum64)) and not t.name:
        return t.values
    return None


def _member_type(spec: Spec | None, m: LayoutMember) -> str:
    if spec is None:
        return m.type_name
    return _split_decl(spec, m, False)[0]


def _summary(lay: Layout, ind: str, lines: list[str]) -> None:
    lines.append(
        f"{ind}/* size: {lay.size}, cachelines: {lay.cachelines}, members: {len(lay.members)} */"
    )
    if lay.sum_holes > 0 or lay.sum_bit_holes > 0:
        if lay.sum_members > 0:
            text = f"{ind}/* sum members: {lay.sum_members}"
            if lay.sum_holes > 0:
                text += f", holes: {lay.holes}, sum holes: {lay.sum_holes}"
            lines.append(text + " */")
        if lay.sum_bitfield_bits > 0:
            text = f"{ind}/* sum bitfield members: {lay.sum_bitfield_bits} bits"
            if lay.sum_bit_holes > 0:
                text += f", bit holes: {lay.bit_holes}, sum bit holes: {lay.sum_bit_holes} bits"
            else:
                text += f" ({lay.sum_bitfield_bits // 8} bytes)"
            lines.append(text + " */")
    if lay.padding > 0:
        lines.append(f"{ind}/* padding: {lay.padding} */")
    if lay.paddings > 0:
        lines.append(f"{ind}/* paddings: {lay.paddings}, sum paddings: {lay.sum_paddings} */")
    if lay.bit_padding > 0:
        lines.append(f"{ind}/* bit_padding: {lay.bit_padding} bits */")
    if lay.forced_alignments:
        text = f"{ind}/* forced alignments: {lay.forced_alignments}"
        if lay.forced_holes:
            text += f", forced holes: {lay.forced_holes}, sum forced holes: {lay.sum_forced_holes}"
        lines.append(text + " */")
    if lay.last_cacheline:
        lines.append(f"{ind}/* last cacheline: {lay.last_cacheline} bytes */")


def _own_alignment(lay: Layout) -> int:
    """The alignment pahole prints after a struct's closing brace."""
    return lay.inferred_alignment


def _aligned(n: int) -> str:
    return f" __attribute__((__aligned__({n})))" if n else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"
