"""C declarations from BTF, like ``bpftool btf dump file X format c`` (``vmlinux.h``).

:func:`format_c` writes compilable C for all types of a spec, or for the named types and
everything they need. The ordering follows libbpf's ``btf_dump`` idea: a struct or union
that is *embedded* (directly, in an array, or behind typedefs/qualifiers) must be complete
before its container, while one reached through a pointer only needs a forward
declaration, which is how pointer cycles are broken. Layout is reproduced exactly:

* a struct whose member offsets or size cannot come from natural alignment is written
  ``__attribute__((packed))`` (the check of libbpf's ``btf_is_struct_packed``, plus
  bitfields that straddle their storage unit);
* gaps the compiler would not leave by itself (forced alignment, trailing padding) are
  filled with unnamed bitfields (``long: 64;``), which do not change a struct's alignment
  (a gap of more than 64 bytes: one ``char __bpfkit_pad_OFFSET[N]`` array);
* an enum whose BTF size differs from the size C would choose gets
  ``__attribute__((mode(..)))``.

An unnamed member of a named type (which C would silently drop) is written as
``__bpfkit_anonN`` (N its index) and an empty enum (distilled base BTF) gets one
``__bpfkit_empty_enum_NAME`` enumerator, so the layout survives. Names that C would see twice (two distinct ``struct foo``, two typedefs or enumerators of
one name) get ``___2``, ``___3`` suffixes, as libbpf does. DECL_TAGs become
``__attribute__((btf_decl_tag("..")))``, TYPE_TAGs ``__attribute__((btf_type_tag("..")))``;
a tag with kind_flag set (kernel 6.13+, "attribute" tags) is written as the plain C
attribute it names, e.g. ``__attribute__((address_space(1)))``.

The output targets a 64-bit BPF compile (``clang -target bpf``), like ``vmlinux.h``.

Examples
--------
>>> from bpfkit.btf import load_vmlinux
>>> text = format_c(load_vmlinux(), ["bpf_list_head"])
>>> print(text[text.index("typedef") : text.index("#ifndef", 10)].strip())
typedef long long unsigned int __u64;
<BLANKLINE>
struct bpf_list_head {
    __u64 __opaque[2];
};
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bpfkit.btf.types import (
    AnyType,
    Array,
    BTFKind,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Member,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    Void,
    Volatile,
)
from bpfkit.errors import BTFError

#: Longest array/modifier chain walked (the kernel's MAX_RESOLVE_DEPTH).
_MAX_CHAIN = 32

if TYPE_CHECKING:
    from bpfkit.btf.spec import Spec

__all__ = ["format_c", "c_alignof", "is_packed", "member_bitfield"]

#: Unnamed-bitfield types used for padding, widest first: (bits, C type).
_PAD_TYPES: tuple[tuple[int, str], ...] = ((64, "long"), (32, "int"), (16, "short"), (8, "char"))
#: Compiler built-ins: declaring them again is an error (libbpf skips them too).
_BUILTIN_TYPEDEFS = frozenset({"__builtin_va_list"})
_ENUM_MODES = {1: "QI", 2: "HI", 4: "SI", 8: "DI"}
_PTR_SIZE = 8
_HEADER = """\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif
"""
_FOOTER = """\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif
"""


def member_bitfield(spec: Spec, member: Member) -> tuple[int, int]:
    """``(bit_offset, bitfield_size)`` of *member*; ``bitfield_size`` 0 if not a bitfield.

    Handles both encodings: kind_flag structs carry the size in the member, older BTF
    (kind_flag 0) in the INT's ``bits``/``offset``.
    """
    if member.bitfield_size:
        return member.bit_offset, member.bitfield_size
    t = spec.resolve(member.type)
    if isinstance(t, Int) and (t.offset or t.bits != t.size * 8):
        return member.bit_offset + t.offset, t.bits
    return member.bit_offset, 0


def _size(spec: Spec, tid: int) -> int:
    try:
        return spec.sizeof(tid)
    except BTFError:
        return 0


class _Align:
    """Natural alignment and packedness, memoized, with cycle protection."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.align: dict[int, int] = {}
        self.packed: dict[int, bool] = {}
        self.busy: set[int] = set()

    def alignof(self, tid: int) -> int:
        got = self.align.get(tid)
        if got is not None:
            return got
        if tid in self.busy:
            return 1
        self.busy.add(tid)
        try:
            a = self._alignof(tid)
        finally:
            self.busy.discard(tid)
        self.align[tid] = a
        return a

    def _alignof(self, tid: int) -> int:
        t = self.spec.resolve(tid)
        for _ in range(_MAX_CHAIN):
            if not isinstance(t, Array):
                break
            t = self.spec.resolve(t.type)
        else:
            self.spec.check_no_loop(tid)
        if isinstance(t, (Int, Float, Enum, Enum64)):
            size = t.size
            return size if size in (1, 2, 4, 8, 16) else 1
        if isinstance(t, Ptr):
            return _PTR_SIZE
        if isinstance(t, (Struct, Union)):
            if self.is_packed(t.id):
                return 1
            return self._natural(t)
        return 1

    def _natural(self, t: Struct | Union) -> int:
        a = 1
        for m in t.members:
            a = max(a, self.alignof(m.type))
        return a

    def is_packed(self, tid: int) -> bool:
        got = self.packed.get(tid)
        if got is not None:
            return got
        t = self.spec[tid]
        if not isinstance(t, (Struct, Union)) or tid in self.busy:
            return False
        self.busy.add(tid)
        try:
            packed = self._is_packed(t)
        finally:
            self.busy.discard(tid)
        self.packed[tid] = packed
        return packed

    def _is_packed(self, t: Struct | Union) -> bool:
        align = self._natural(t)
        if t.size % align:
            return True
        for m in t.members:
            off, bits = member_bitfield(self.spec, m)
            if bits:
                unit = _size(self.spec, m.type) * 8
                if unit and (off % unit) + bits > unit:
                    return True
            elif off % (8 * self.alignof(m.type)):
                return True
        return False


def c_alignof(spec: Spec, type_id: int) -> int:
    """Natural alignment of *type_id* on a 64-bit target, 1 for a struct that must be packed.

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> spec = load_vmlinux()
    >>> c_alignof(spec, spec.find_one("task_struct").id)
    8
    """
    spec.check_no_loop(type_id)
    return _Align(spec).alignof(type_id)


def _alignof_loop_free(spec: Spec, type_id: int) -> int:
    """:func:`c_alignof` of a type already checked for loops (the struct layout's members)."""
    return _Align(spec).alignof(type_id)


def is_packed(spec: Spec, type_id: int) -> bool:
    """Whether struct/union *type_id* cannot be laid out without ``__attribute__((packed))``.

    True when a member sits at an offset its natural alignment forbids, a bitfield
    straddles its storage unit, or the size is not a multiple of the natural alignment.

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> spec = load_vmlinux()
    >>> is_packed(spec, spec.find_one("task_struct").id)
    False
    """
    spec.check_no_loop(type_id)
    return _Align(spec).is_packed(type_id)


def _roundup(x: int, a: int) -> int:
    return -(-x // a) * a if a > 1 else x


#: Gaps of more than this many bits are filled with one ``char`` array, not a line per
#: ``long: 64`` (a struct claiming a size of 4 GiB must not become 67 million lines).
_PAD_ARRAY_BITS = 8 * 64


def _pad_lines(cur: int, target: int, ind: str) -> list[str]:
    """Unnamed bitfields (or, for a long gap, one ``char`` array) that move the layout
    position from bit *cur* to bit *target*."""
    out: list[str] = []
    while cur < target:
        if cur % 8 == 0 and target - cur > _PAD_ARRAY_BITS:
            nbytes = (target - cur) // 8
            out.append(f"{ind}char __bpfkit_pad_{cur // 8}[{nbytes}];")
            cur += nbytes * 8
            continue
        best_n, best_t = 0, "char"
        for bits, ctype in _PAD_TYPES:
            boundary = (cur // bits + 1) * bits
            n = min(target, boundary) - cur
            if n > best_n:
                best_n, best_t = n, ctype
        out.append(f"{ind}{best_t}: {best_n};")
        cur += best_n
    return out


def _tag_attr(t: DeclTag | TypeTag) -> str:
    kind = "btf_decl_tag" if isinstance(t, DeclTag) else "btf_type_tag"
    if t.attr:
        return f"__attribute__(({t.name}))"
    text = t.name.replace("\\", "\\\\").replace('"', '\\"')
    return f'__attribute__(({kind}("{text}")))'


def _join(base: str, inner: str) -> str:
    return f"{base} {inner}" if inner else base


def _enum_literal(value: int, is64: bool, signed: bool) -> str:
    if not is64:
        return str(value)
    if signed and value == -(1 << 63):
        return "(-9223372036854775807LL - 1)"
    return f"{value}{'LL' if signed else 'ULL'}"


class _Writer:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.al = _Align(spec)
        self.out: list[str] = []
        self.done: set[int] = set()  # definitions (and typedefs) written
        self.declared: set[int] = set()  # forward declarations written
        self.busy: set[int] = set()  # definitions in progress
        self.stack: list[int] = []  # the same, innermost last
        self.satisfied: set[int] = set()  # 2 * id + strong, for requirements fully met
        self.fallbacks = 0  # requirements cut short by a cycle (not to be remembered)
        self.tags: dict[tuple[int, int], list[DeclTag]] | None = None
        self.inline: set[int] = set()  # anonymous aggregates being written inline
        self.inlined_enums: set[int] = set()
        self.tag_names: dict[int, str] = {}
        self.tag_registry: dict[str, tuple[str, bool]] = {}  # name -> (keyword, defined)
        self.ident_names: dict[int, str] = {}
        self.idents: set[str] = set()

    # ------------------------------------------------------------------ names

    def _keyword(self, t: AnyType) -> str:
        if isinstance(t, Fwd):
            return "union" if t.union else "struct"
        if isinstance(t, Union):
            return "union"
        if isinstance(t, (Enum, Enum64)):
            return "enum"
        return "struct"

    def tag_name(self, t: AnyType) -> str:
        got = self.tag_names.get(t.id)
        if got is not None:
            return got
        kw = self._keyword(t)
        base = t.name
        cand, n = base, 1
        reg = self.tag_registry
        if isinstance(t, Fwd):
            while cand in reg and reg[cand][0] != kw:
                n += 1
                cand = f"{base}___{n}"
            reg.setdefault(cand, (kw, False))
        else:
            while cand in reg and not (reg[cand][0] == kw and not reg[cand][1]):
                n += 1
                cand = f"{base}___{n}"
            reg[cand] = (kw, True)
        self.tag_names[t.id] = cand
        return cand

    def ident(self, name: str) -> str:
        cand, n = name, 1
        while cand in self.idents:
            n += 1
            cand = f"{name}___{n}"
        self.idents.add(cand)
        return cand

    def typedef_name(self, t: Typedef) -> str:
        got = self.ident_names.get(t.id)
        if got is None:
            got = self.ident_names[t.id] = self.ident(t.name)
        return got

    # ------------------------------------------------------------ dependencies

    def require(self, tid: int, strong: bool) -> None:
        """Emit what must precede a use of *tid*: its definition if *strong* (embedded),
        else a declaration (behind a pointer)."""
        key = 2 * tid + strong
        if key in self.satisfied:
            return
        before = self.fallbacks
        self._require(tid, strong)
        if self.fallbacks == before:  # fully met, not cut short by a cycle: remember
            self.satisfied.add(key)

    def _require(self, tid: int, strong: bool) -> None:
        t = self.spec[tid]
        if isinstance(t, (Void, Int, Float, Datasec, DeclTag)):
            return
        if isinstance(t, Ptr):
            self.require(t.type, False)
        elif isinstance(t, Array):
            self.require(t.type, True)
        elif isinstance(t, (Const, Volatile, Restrict, TypeTag)):
            self.require(t.type, strong)
        elif isinstance(t, Typedef):
            self.emit_typedef(t)
            if strong:
                self.require(t.type, True)
        elif isinstance(t, (Struct, Union)):
            if not t.name:
                if tid in self.inline:
                    self.fallbacks += 1
                    return
                self.inline.add(tid)
                try:
                    for m in t.members:
                        self.require(m.type, True)
                finally:
                    self.inline.discard(tid)
            elif strong and tid not in self.busy:
                self.emit_composite(t)
            else:
                if strong or (self.stack and self.stack[-1] == tid):
                    self.fallbacks += 1
                if not (self.stack and self.stack[-1] == tid):  # not a self-reference
                    self.emit_fwd(t)
        elif isinstance(t, (Enum, Enum64)):
            if t.name:
                self.emit_enum(t)
        elif isinstance(t, Fwd):
            self.emit_fwd(t)
        elif isinstance(t, FuncProto):
            self.require(t.type, False)
            for p in t.params:
                self.require(p.type, False)
        elif isinstance(t, (Func, Var)):
            self.require(t.type, False)

    # ------------------------------------------------------------- emitters

    def emit_fwd(self, t: Struct | Union | Fwd) -> None:
        if t.id in self.done or t.id in self.declared:
            return
        self.declared.add(t.id)
        self.out.append(f"{self._keyword(t)} {self.tag_name(t)};\n\n")

    def emit_enum(self, t: Enum | Enum64) -> None:
        if t.id in self.done:
            return
        self.done.add(t.id)
        self.out.append(self.enum_text(t, "") + ";\n\n")

    def emit_typedef(self, t: Typedef) -> None:
        if t.id in self.done or t.name in _BUILTIN_TYPEDEFS:
            return
        if t.id in self.busy:
            self.fallbacks += 1
            return
        self.busy.add(t.id)
        self.stack.append(t.id)
        try:
            self.require(t.type, False)
        finally:
            self.busy.discard(t.id)
            self.stack.pop()
        if t.id in self.done:
            return
        self.done.add(t.id)
        text = "typedef " + self.decl(t.type, self.typedef_name(t), "")
        text += self.decl_tags(t.id, -1)
        self.out.append(text + ";\n\n")

    def emit_composite(self, t: Struct | Union) -> None:
        if t.id in self.done:
            return
        if t.id in self.busy:
            self.fallbacks += 1
            return
        self.busy.add(t.id)
        self.stack.append(t.id)
        try:
            for m in t.members:
                self.require(m.type, True)
        finally:
            self.busy.discard(t.id)
            self.stack.pop()
        if t.id in self.done:
            return
        self.done.add(t.id)
        self.out.append(self.composite_text(t, "") + ";\n\n")

    def emit_extern(self, t: Func | Var) -> None:
        if t.id in self.done:
            return
        self.require(t.id, False)
        self.done.add(t.id)
        name = self.ident(t.name)
        if isinstance(t, Func):
            proto = self.spec[t.type]
            if isinstance(proto, FuncProto):
                text = self.decl(proto.type, f"{name}({self.params(proto, t.id)})", "")
            else:
                text = self.decl(t.type, name, "")
        else:
            text = self.decl(t.type, name, "")
        self.out.append(f"extern {text}{self.decl_tags(t.id, -1)};\n\n")

    # ---------------------------------------------------------------- text

    def decl_tags(self, tid: int, component: int) -> str:
        if self.tags is None:  # one pass instead of a lookup per member
            self.tags = {}
            for t in self.spec.all_types():
                if isinstance(t, DeclTag):
                    self.tags.setdefault((t.type, t.component_idx), []).append(t)
        tags = self.tags.get((tid, component))
        return "".join(" " + _tag_attr(tag) for tag in tags) if tags else ""

    def enum_text(self, t: Enum | Enum64, ind: str) -> str:
        is64 = isinstance(t, Enum64)
        head = f"enum {self.tag_name(t)} {{" if t.name else "enum {"
        lines = [head]
        for v in t.values:
            lit = _enum_literal(v.value, is64, t.signed)
            lines.append(f"{ind}\t{self.ident(v.name)} = {lit},")
        if not t.values:  # C has no empty enums (distilled base BTF has them)
            lines.append(f"{ind}\t{self.ident(f'__bpfkit_empty_enum_{t.name or t.id}')} = 0,")
        text = "\n".join(lines) + f"\n{ind}}}"
        if _enum_natural_size(t) != t.size and t.size in _ENUM_MODES:
            text += f" __attribute__((mode({_ENUM_MODES[t.size]})))"
        return text

    def composite_text(self, t: Struct | Union, ind: str) -> str:
        is_struct = isinstance(t, Struct)
        kw = "struct" if is_struct else "union"
        head = f"{kw} {self.tag_name(t)} {{" if t.name else f"{kw} {{"
        packed = self.al.is_packed(t.id)
        inner = ind + "\t"
        lines = [head]
        cur = 0
        end = 0
        self.inline.add(t.id)
        try:
            for i, m in enumerate(t.members):
                off, bits = member_bitfield(self.spec, m)
                size_bits = bits or _size(self.spec, m.type) * 8
                if is_struct:
                    if bits:
                        unit = _size(self.spec, m.type) * 8 or 8
                        fits = packed or (cur % unit) + bits <= unit
                        natural = cur if fits else _roundup(cur, unit)
                    else:
                        a = 1 if packed else self.al.alignof(m.type)
                        natural = _roundup(cur, 8 * a)
                    if natural != off and off > cur:
                        lines.extend(_pad_lines(cur, off, inner))
                    cur = max(cur, off + size_bits)
                else:
                    end = max(end, size_bits)
                name = m.name
                if not name and not bits and not self._inlines(m.type):
                    # C would drop an unnamed member of a named type; keep its bytes
                    name = f"__bpfkit_anon{i}"
                text = self.decl(m.type, name, inner)
                if bits:
                    text += f": {bits}"
                text += self.decl_tags(t.id, i)
                lines.append(f"{inner}{text};")
        finally:
            self.inline.discard(t.id)
        size = t.size * 8
        align = 1 if packed else self.al._natural(t)
        if is_struct:
            if _roundup(cur, 8 * align) < size:
                lines.extend(_pad_lines(cur, size, inner))
        elif _roundup(end, 8 * align) < size:
            lines.append(f"{inner}struct {{")
            lines.extend(_pad_lines(0, size, inner + "\t"))
            lines.append(f"{inner}}};")
        text = "\n".join(lines) + f"\n{ind}}}"
        if packed:
            text += " __attribute__((packed))"
        text += self.decl_tags(t.id, -1)
        return text

    def params(self, proto: FuncProto, func_id: int | None) -> str:
        args: list[str] = []
        for i, p in enumerate(proto.params):
            if p.type == 0 and not p.name:
                args.append("...")
                continue
            name = p.name if func_id is not None else ""
            text = self.decl(p.type, name, "")
            if func_id is not None:
                text += self.decl_tags(func_id, i)
            args.append(text)
        return ", ".join(args) or "void"

    def decl(self, tid: int, inner: str, ind: str) -> str:
        """C text declaring *inner* (a declarator, maybe empty) with type *tid*."""
        t = self.spec[tid]
        if isinstance(t, Void):
            return _join("void", inner)
        if isinstance(t, (Int, Float)):
            return _join(t.name, inner)
        if isinstance(t, (Struct, Union)):
            if t.name:
                return _join(f"{self._keyword(t)} {self.tag_name(t)}", inner)
            if t.id in self.inline:  # an anonymous aggregate reaching itself: not C
                return _join("void", inner)
            return _join(self.composite_text(t, ind), inner)
        if isinstance(t, (Enum, Enum64)):
            if t.name:
                return _join(f"enum {self.tag_name(t)}", inner)
            self.inlined_enums.add(t.id)
            return _join(self.enum_text(t, ind), inner)
        if isinstance(t, Fwd):
            return _join(f"{self._keyword(t)} {self.tag_name(t)}", inner)
        if isinstance(t, Typedef):
            return _join(self.typedef_name(t), inner)
        if isinstance(t, Ptr):
            target = self._skip_quals(t.type)
            star = "*" + inner
            if isinstance(target, (Array, FuncProto)):
                star = f"(*{inner})"
            return self.decl(t.type, star, ind)
        if isinstance(t, (Const, Volatile, Restrict)):
            q = {Const: "const", Volatile: "volatile", Restrict: "restrict"}[type(t)]
            if isinstance(self._skip_quals(t.type), Ptr):
                return self.decl(t.type, _join(q, inner), ind)
            text = self.decl(t.type, inner, ind)
            # C moves a qualifier of an array to its elements: `const` twice is noise
            return text if text.startswith(q + " ") else f"{q} {text}"
        if isinstance(t, TypeTag):
            return self.decl(t.type, _join(_tag_attr(t), inner), ind)
        if isinstance(t, Array):
            if inner.startswith("*"):
                inner = f"({inner})"
            return self.decl(t.type, f"{inner}[{t.nelems}]", ind)
        if isinstance(t, FuncProto):
            return self.decl(t.type, f"{inner}({self.params(t, None)})", ind)
        # FUNC, VAR, DATASEC, DECL_TAG are not types a declaration can use
        raise BTFError(f"{self.spec.name}: type [{tid}] {t.kind.name} cannot be declared in C")

    def _inlines(self, tid: int) -> bool:
        """Whether *tid* is written as an anonymous struct/union body."""
        t = self.spec[tid]
        return isinstance(t, (Struct, Union)) and not t.name

    def _skip_quals(self, tid: int) -> AnyType:
        t = self.spec[tid]
        for _ in range(64):
            if not isinstance(t, (Const, Volatile, Restrict, TypeTag)):
                return t
            t = self.spec[t.type]
        return t


def _enum_natural_size(t: Enum | Enum64) -> int:
    if not t.values:
        return 4
    lo = min(v.value for v in t.values)
    hi = max(v.value for v in t.values)
    if lo >= -(1 << 31) and hi < (1 << 31):
        return 4
    if lo >= 0 and hi < (1 << 32):
        return 4
    return 8


def _targets(spec: Spec, names: Sequence[str | int]) -> list[AnyType]:
    found: list[AnyType] = []
    for name in names:
        if isinstance(name, int):
            if not 0 < name < len(spec):
                raise BTFError(f"{spec.name}: no type id {name} (highest is {len(spec) - 1})")
            found.append(spec[name])
            continue
        kind: BTFKind | None = None
        word, _, rest = name.partition(" ")
        if rest and word in ("struct", "union", "enum"):
            kind = {"struct": BTFKind.STRUCT, "union": BTFKind.UNION, "enum": BTFKind.ENUM}[word]
            name = rest.strip()
        matches = spec.find(name, kind)
        if kind == BTFKind.ENUM:
            matches += spec.find(name, BTFKind.ENUM64)
        if not matches:
            raise BTFError(f"{spec.name}: no type named {name!r}")
        found.extend(matches)
    return found


def format_c(spec: Spec, names: Sequence[str | int] | None = None) -> str:
    """C declarations of *names* (and what they need), or of every type of *spec*.

    Parameters
    ----------
    spec : Spec
        The BTF. For a split spec, "every type" means the spec's own types; the base types
        they use are written too.
    names : sequence of str or int, optional
        Type names (``"task_struct"``, or ``"struct foo"`` to pick a kind) or type ids.
        Each named struct/union/enum/typedef is written complete, after everything it
        embeds; types it only points to are forward-declared. A named FUNC or VAR is
        written as an ``extern`` declaration (with its decl tags), a named DATASEC
        (``".bss"``, ``".ksyms"``) as those of its entries. ``None``: all types,
        like ``vmlinux.h`` (FUNCs and VARs are left out, as bpftool does).

    Returns
    -------
    str
        The declarations, wrapped in the ``preserve_access_index`` pragma of ``vmlinux.h``.

    Raises
    ------
    BTFError
        A name that matches no type, or a reference chain that is cyclic or too deep.

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> text = format_c(load_vmlinux(), ["bpf_rb_node"])
    >>> "struct bpf_rb_node {" in text and "__opaque[4];" in text
    True
    """
    w = _Writer(spec)
    try:
        if names is None:
            for tid in range(spec.first_id, len(spec)):
                spec.check_no_loop(tid)  # the kernel rejects BTF with a loop: so do we
            _all(w, spec)
        else:
            for t in _targets(spec, names):
                if isinstance(t, (Func, Var)):
                    w.emit_extern(t)
                elif isinstance(t, Datasec):  # a section: its variables and functions
                    for v in t.vars:
                        entry = spec[v.type]
                        if isinstance(entry, (Func, Var)):
                            w.emit_extern(entry)
                else:
                    spec.check_no_loop(t.id)
                    w.require(t.id, True)
    except RecursionError:
        raise BTFError(
            f"{spec.name}: type references nested too deeply (a reference cycle?)"
        ) from None
    return _HEADER + "\n" + "".join(w.out) + _FOOTER


def _all(w: _Writer, spec: Spec) -> None:
    types: Iterable[AnyType] = iter(spec)
    anon_enums: list[Enum | Enum64] = []
    for t in types:
        if isinstance(t, (Struct, Union)):
            if t.name:
                w.require(t.id, True)
        elif isinstance(t, (Enum, Enum64)):
            if t.name:
                w.emit_enum(t)
            else:
                anon_enums.append(t)
        elif isinstance(t, (Typedef, Fwd)):
            w.require(t.id, False)
    # anonymous enums no written type used: standalone, so their constants exist
    for t in anon_enums:
        if t.id not in w.inlined_enums:
            w.out.append(w.enum_text(t, "") + ";\n\n")
