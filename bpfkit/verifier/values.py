"""Register and stack-slot states of a verifier log: text -> frozen record -> the same text.

The kernel prints a register as ``R<n>[_<live>]=<state>`` (``print_verifier_state`` and
``print_reg_state`` in ``kernel/bpf/log.c``) and a stack slot as ``fp-<off>[_<live>]=<slots>``.
:func:`parse_reg` decodes the part after ``=`` into a :class:`RegState` with every field the
kernel prints (type and its flags, pointee BTF type, ids, map, offsets, all eight ranges,
``var_off``); :meth:`RegState.render` prints it back the way kernels since 6.6 do (ranges merged
as ``smin=smin32=0``, numbers in decimal up to 16 bits and in hex beyond, commit "bpf: print
full ranges"/"bpf: smarter verifier log number printing"). Older spellings (``inv``,
``umax_value=``, ``(id=0,off=0,imm=0)``) are still decoded; such a value keeps its original
text in :attr:`RegState.legacy` because the modern printer cannot produce it.

Examples
--------
>>> r = parse_reg("scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))")
>>> r.type, r.umax, r.smin32, r.var_off_mask
('scalar', 255, 0, 255)
>>> r.render()
'scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))'
>>> p = parse_reg("ptr_or_null_node_data(id=2,ref_obj_id=2)")
>>> p.type, p.or_null, p.btf_type, p.ref_obj_id
('ptr_', True, 'node_data', 2)
>>> parse_slot("mmmmscalar(id=10)").slot_types
'mmmmrrrr'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from bpfkit.errors import LogError

__all__ = [
    "RegState",
    "StackSlot",
    "StateLine",
    "parse_reg",
    "parse_slot",
    "parse_state",
    "parse_token",
    "render_state",
    "REG_TYPES",
    "TYPE_FLAGS",
]

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1
U32_MAX = (1 << 32) - 1
_U64 = 1 << 64

#: Base register types as ``reg_type_str`` spells them (6.18), plus old spellings.
REG_TYPES: tuple[str, ...] = (
    "scalar",
    "ctx",
    "map_ptr",
    "map_value",
    "fp",
    "pkt",
    "pkt_meta",
    "pkt_end",
    "flow_keys",
    "sock",
    "sock_common",
    "tcp_sock",
    "tp_buffer",
    "xdp_sock",
    "ptr_",
    "mem",
    "arena",
    "buf",
    "func",
    "map_key",
    "dynptr_ptr",
    # spellings of older kernels
    "inv",
    "imm",
    "map_value_or_null",
    "map_value_adj",
    "rdonly_buf",
    "rdwr_buf",
    "percpu_btf_id",
    "alloc_mem",
)
_KNOWN_BASES = frozenset(REG_TYPES)
#: Type prefixes in the order ``reg_type_str`` prints them; each becomes a flag.
TYPE_FLAGS: tuple[str, ...] = (
    "rdonly",
    "ringbuf",
    "user",
    "percpu",
    "rcu",
    "untrusted",
    "trusted",
)
_PREFIXES = tuple(f + "_" for f in TYPE_FLAGS)
_BASES_LONGEST_FIRST = tuple(sorted(REG_TYPES, key=len, reverse=True))
_SLOT_CHARS = frozenset("?rm0dif")
_SPILL_PREFIX_CHARS = frozenset("?m0")

_RANGE_NAMES = ("smin", "smax", "umin", "umax", "smin32", "smax32", "umin32", "umax32")
_RANGE_ALIASES = {
    # 4.9-4.13 printed "R1=inv,min_value=0,max_value=255" (s64 min_value, u64 max_value)
    "min_value": "smin",
    "max_value": "umax",
    "smin_value": "smin",
    "smax_value": "smax",
    "umin_value": "umin",
    "umax_value": "umax",
    "s32_min_value": "smin32",
    "s32_max_value": "smax32",
    "u32_min_value": "umin32",
    "u32_max_value": "umax32",
}
_RANGE_DEFAULTS = (S64_MIN, S64_MAX, 0, U64_MAX, S32_MIN, S32_MAX, 0, U32_MAX)
_NUM_RE = re.compile(r"-?(?:0x[0-9a-fA-F]+|\d+)")
# [P] then: a type followed by a number (fp-8, fp[1]-64, and 4.x inv1 / invP5 where P marks
# a precise scalar), or a bare number (a known scalar), or a type name (BTF names may end in
# digits: ptr_node2); then the attributes in parentheses
_HEAD_RE = re.compile(
    r"(P?)(?:(invP|immP|inv|imm|fp)(\[\d+\])?(-?(?:0x[0-9a-f]+|\d+))"
    r"|(-?(?:0x[0-9a-f]+|\d+))|(invP|immP|[a-z_][a-z0-9_]*)(\[\d+\])?)?(\(.*\))?"
)
_VAR_OFF_RE = re.compile(r"\((-?(?:0x[0-9a-fA-F]+|\d+)); ?(-?(?:0x[0-9a-fA-F]+|\d+))\)")


def _s64(v: int) -> int:
    v &= U64_MAX
    return v - _U64 if v >> 63 else v


def _s32(v: int) -> int:
    v &= U32_MAX
    return v - (1 << 32) if v >> 31 else v


def _snum(v: int) -> str:
    """``verbose_snum``: decimal within s16, else ``%#llx`` of the 64-bit pattern."""
    if -32768 <= v <= 32767:
        return str(v)
    return hex(v & U64_MAX)


def _unum(v: int) -> str:
    """``verbose_unum``: decimal up to u16, else ``%#llx``."""
    if 0 <= v <= 65535:
        return str(v)
    return hex(v & U64_MAX)


class RegState(NamedTuple):
    """One register's state as the verifier printed it.

    Attributes follow ``struct bpf_reg_state``: ``type`` is the base type spelled as in
    ``reg_type_str`` (``"scalar"``, ``"ctx"``, ``"map_value"``, ``"ptr_"`` for
    PTR_TO_BTF_ID, ``"fp"``, ``"mem"``, ...), ``flags`` the printed prefixes (``"rcu"``,
    ``"percpu"``, ``"untrusted"``, ``"trusted"``, ``"rdonly"``, ``"ringbuf"``, ``"user"``),
    ``btf_type`` the pointee type of a ``ptr_``. Ranges are filled in with the kernel's
    defaults where the text omits them (``None`` for a pointer with a constant offset).
    ``live`` is the 6.15-era liveness suffix (``"r"``, ``"w"``, ``"rw"``, ``"D"``).
    """

    type: str
    flags: tuple[str, ...] = ()
    or_null: bool = False
    btf_type: str | None = None
    precise: bool = False
    live: str = ""
    frameno: int | None = None
    id: int = 0
    add_const: bool = False
    ref_obj_id: int = 0
    non_own_ref: bool = False
    map_name: str | None = None
    ks: int | None = None
    vs: int | None = None
    off: int = 0
    range: int | None = None
    mem_size: int | None = None
    dynptr_type: str | None = None
    smin: int | None = None
    smax: int | None = None
    umin: int | None = None
    umax: int | None = None
    smin32: int | None = None
    smax32: int | None = None
    umin32: int | None = None
    umax32: int | None = None
    var_off_value: int | None = None
    var_off_mask: int | None = None
    legacy: str | None = None

    @property
    def written(self) -> bool:
        """The ``_w`` liveness mark (kernels before 6.17)."""
        return "w" in self.live

    @property
    def is_const(self) -> bool:
        """``var_off`` is a known constant."""
        return self.var_off_mask == 0

    @property
    def type_name(self) -> str:
        """The full type as printed, e.g. ``"rcu_ptr_or_null_task_struct"``."""
        prefix = "".join(f + "_" for f in self.flags)
        if self.type == "ptr_":
            return prefix + "ptr_" + ("or_null_" if self.or_null else "") + (self.btf_type or "")
        return prefix + self.type + ("_or_null" if self.or_null else "")

    def render(self) -> str:
        """The text after ``R<n>=`` exactly as the kernel prints it."""
        if self.legacy is not None:
            return self.legacy
        out = "P" if self.precise else ""
        if self.type == "scalar" and self.var_off_mask == 0:
            return out + _snum(_s64(self.var_off_value or 0))
        out += self.type_name
        if self.type == "arena":
            return out
        if self.type == "fp":
            if self.frameno is not None:
                out += f"[{self.frameno}]"
            if self.var_off_mask == 0:
                return out + _snum(_s64((self.var_off_value or 0) + self.off))
        parts: list[str] = []
        if self.id:
            parts.append(f"id={self.id}" + (f"{self.off:+d}" if self.add_const else ""))
        if self.ref_obj_id:
            parts.append(f"ref_obj_id={self.ref_obj_id}")
        if self.non_own_ref:
            parts.append("non_own_ref")
        if self.ks is not None:
            if self.map_name:
                parts.append(f"map={self.map_name}")
            parts.append(f"ks={self.ks},vs={self.vs}")
        if self.type != "scalar" and self.off:
            parts.append("off=" + _snum(self.off))
        if self.range is not None:
            parts.append("r=" + _unum(self.range))
        if self.mem_size is not None:
            parts.append("sz=" + _unum(self.mem_size))
        if self.dynptr_type is not None:
            parts.append(f"type={self.dynptr_type}")
        if self.var_off_mask == 0:
            if self.var_off_value:
                parts.append("imm=" + _snum(_s64(self.var_off_value)))
        else:
            parts.extend(self._ranges())
            mask = self.var_off_mask if self.var_off_mask is not None else U64_MAX
            value = self.var_off_value or 0
            if not (value == 0 and mask == U64_MAX):
                parts.append(f"var_off=({hex(value)}; {hex(mask)})")
        return out + "(" + ",".join(parts) + ")"

    def _ranges(self) -> list[str]:
        vals = [
            self.smin if self.smin is not None else S64_MIN,
            self.smax if self.smax is not None else S64_MAX,
            self.umin if self.umin is not None else 0,
            self.umax if self.umax is not None else U64_MAX,
            self.smin32 if self.smin32 is not None else S32_MIN,
            self.smax32 if self.smax32 is not None else S32_MAX,
            self.umin32 if self.umin32 is not None else 0,
            self.umax32 if self.umax32 is not None else U32_MAX,
        ]
        # print_scalar_ranges(): 32-bit signed values go out sign-extended only when decimal
        table: list[int] = []
        for i, v in enumerate(vals):
            if i in (4, 5):
                table.append(v if -32768 <= v <= 32767 else v & U32_MAX)
            elif i in (0, 1):
                table.append(v & U64_MAX)
            else:
                table.append(v)
        omit = [v == d for v, d in zip(vals, _RANGE_DEFAULTS, strict=True)]
        parts: list[str] = []
        for i in range(8):
            if omit[i]:
                continue
            name = _RANGE_NAMES[i]
            neg1 = name[0] == "s" and _s64(table[i]) < 0
            text = name + "="
            for j in range(i + 2, 8, 2):
                if omit[j] or table[j] != table[i]:
                    continue
                neg2 = _RANGE_NAMES[j][0] == "s" and _s64(table[j]) < 0
                if neg2 != neg1:
                    continue
                omit[j] = True
                text += _RANGE_NAMES[j] + "="
            text += _snum(_s64(table[i])) if name[0] == "s" else _unum(table[i])
            parts.append(text)
        return parts


class StackSlot(NamedTuple):
    """One 8-byte stack slot ``fp<off>=...``.

    ``slot_types`` has one character per byte as the kernel's ``slot_type_char``
    (``?`` invalid, ``r`` spill, ``m`` misc, ``0`` zero, ``d`` dynptr, ``i`` iter, ``f`` irq
    flag); ``spilled`` is the spilled register; ``special`` is ``"dynptr_<type>"`` or
    ``"iter_<type>"`` with ``attrs`` its ``key=value`` pairs.
    """

    off: int
    slot_types: str
    live: str = ""
    prefix: str = ""
    spilled: RegState | None = None
    special: str | None = None
    attrs: tuple[tuple[str, str], ...] = ()

    @property
    def written(self) -> bool:
        """The ``_w`` liveness mark (kernels before 6.17)."""
        return "w" in self.live

    def render(self) -> str:
        """The text after ``fp<off>=`` exactly as the kernel prints it."""
        if self.special is not None:
            return self.special + "(" + ",".join(f"{k}={v}" for k, v in self.attrs) + ")"
        if self.spilled is not None:
            return self.prefix + self.spilled.render()
        return self.slot_types


@dataclass(frozen=True, slots=True)
class StateLine:
    """A whole printed verifier state: frame, registers, stack slots, held references.

    ``regs`` and ``slots`` pair the register number / stack offset with the decoded state
    and the raw token (``"R1_w=ctx()"``).
    """

    frame: int | None
    regs: tuple[tuple[int, RegState, str], ...]
    slots: tuple[tuple[StackSlot, str], ...]
    refs: tuple[int, ...] = ()
    cb: bool = False
    async_cb: bool = False
    frame_text: str = ""


def _int(text: str, what: str, lo: int = S64_MIN, hi: int = U64_MAX) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise LogError(f"expected a number for {what}, found {text!r}") from None
    if not lo <= v <= hi:
        raise LogError(f"{what} {text!r} is out of range [{lo}, {hi}]")
    return v


def _soff(text: str, what: str) -> int:
    """An s32 offset printed by verbose_snum(): decimal, or the 64-bit pattern in hex."""
    v = _int(text, what)
    if v > S64_MAX:
        v -= _U64
    if not -(1 << 32) <= v < (1 << 32):
        raise LogError(f"{what} {text!r} is out of range")
    return v


def _small(text: str, what: str) -> int:
    """A number the kernel keeps in an int/u32 (ids, offsets, sizes)."""
    return _int(text, what, -(1 << 32), (1 << 32) - 1)


def _split_type(name: str) -> tuple[str, tuple[str, ...], bool, str | None]:
    """Split a printed type name into (base, flags, or_null, btf_type)."""
    flags: list[str] = []
    rest = name
    for p in _PREFIXES:
        if rest.startswith(p) and rest != p[:-1]:
            flags.append(p[:-1])
            rest = rest[len(p) :]
    if rest.startswith("ptr_"):
        rest = rest[4:]
        or_null = rest.startswith("or_null_")
        if or_null:
            rest = rest[8:]
        return "ptr_", tuple(flags), or_null, rest
    or_null = False
    if rest.endswith("_or_null") and rest != "map_value_or_null":
        or_null = True
        rest = rest[:-8]
    if rest == "map_value_or_null":
        rest, or_null = "map_value", True
    return rest, tuple(flags), or_null, None


def _split_attrs(body: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [p for p in parts if p]


_OLD_NUMBERED_RE = re.compile(r"^(invP?|immP?)-?\d+$")
_OLD_COMMAS_RE = re.compile(r"([A-Za-z_]\w*(?:\([^()]*\))?),(\w+=[^,()]*(?:,\w+=[^,()]*)*)")


def parse_reg(text: str, live: str = "") -> RegState:
    """Decode a register state (the text after ``R<n>=``); raise LogError if it is not one.

    Examples
    --------
    >>> parse_reg("fp-8").off
    -8
    >>> parse_reg("map_value(map=arr,ks=4,vs=8,off=4)").map_name
    'arr'
    >>> parse_reg("0xffffffff").umax
    4294967295
    """
    m = _HEAD_RE.fullmatch(text)
    if m is None and "," in text:
        om = _OLD_COMMAS_RE.fullmatch(text)
        if om is not None:  # 4.9-4.13: "inv,min_value=0,max_value=255", "map_value_adj(...),..."
            head, rest = om.groups()
            # 4.9: "imm2,min_value=2,max_value=2" (a constant with its range) and
            # "inv60,min_value=0,max_value=15" (60 known-zero upper bits, printed as the
            # number): the range says all the number does
            head = _OLD_NUMBERED_RE.sub(r"\1", head)
            body = f"{head[:-1]},{rest})" if head.endswith(")") else f"{head}({rest})"
            return _with_legacy(parse_reg(body, live), text)
    if m is None or not text:
        raise LogError(f"cannot decode register state {text!r}")
    precise_s, num_name, frame_s, num_s, bare_num, plain_name, frame2_s, body = m.groups()
    precise = bool(precise_s)
    name = num_name or plain_name
    frame_s = frame_s or frame2_s
    if bare_num is not None:
        num_s = bare_num
    if not name:
        if num_s is None or body is not None or frame_s is not None:
            raise LogError(f"cannot decode register state {text!r}")
        return _const_scalar(_int(num_s, "constant"), precise, live, text)
    fields: dict[str, object] = {}
    legacy = False
    if name in ("invP", "immP"):
        name = name[:-1]
        precise = True
    if name in ("inv", "imm"):
        name = "scalar"
        legacy = True
    base, flags, or_null, btf_type = _split_type(name)
    if base not in _KNOWN_BASES:
        raise LogError(f"cannot decode register state {text!r}: unknown type {name!r}")
    if base == "scalar" and num_s is not None and body is None:
        r = _const_scalar(_int(num_s, "constant"), precise, live, text)
        return r if not legacy else _with_legacy(r, text)
    frameno = None
    if frame_s is not None:
        frameno = _int(frame_s[1:-1], "frame", 0, 64)
    off = 0
    var_off: tuple[int, int] | None = None
    ranges: dict[str, int] = {}
    if num_s is not None:
        if base != "fp":
            raise LogError(f"cannot decode register state {text!r}: number after {name!r}")
        off = _soff(num_s, "stack offset")
        var_off = (0, 0)
    if body is not None:
        for item in _split_attrs(body[1:-1]):
            if item == "non_own_ref":
                fields["non_own_ref"] = True
                continue
            keys = item.split("=")
            if len(keys) < 2:
                raise LogError(f"cannot decode attribute {item!r} in {text!r}")
            if keys[0] == "var_off":
                vm = _VAR_OFF_RE.fullmatch(item[8:])
                if vm is None:
                    raise LogError(f"cannot decode var_off in {text!r}")
                var_off = (
                    _int(vm.group(1), "var_off") & U64_MAX,
                    _int(vm.group(2), "var_off") & U64_MAX,
                )
                continue
            value = keys[-1]
            for key in keys[:-1]:
                key = _RANGE_ALIASES.get(key, key)
                if key in ("smin", "smax", "umin", "umax", "smin32", "smax32", "umin32", "umax32"):
                    v = _int(value, key)
                    if key in ("smin", "smax"):
                        v = _s64(v)
                    elif key in ("smin32", "smax32"):
                        v = _s32(v)
                    ranges[key] = v
                elif key == "id":
                    if "+" in value[1:] or "-" in value[1:]:
                        sm = re.fullmatch(r"(\d+)([+-]\d+)", value)
                        if sm is None:
                            raise LogError(f"cannot decode id in {text!r}")
                        fields["id"] = _small(sm.group(1), "id")
                        fields["add_const"] = True
                        off = _small(sm.group(2), "id offset")
                    else:
                        fields["id"] = _small(value, "id")
                elif key == "ref_obj_id":
                    fields["ref_obj_id"] = _small(value, key)
                elif key == "map":
                    fields["map_name"] = value
                elif key in ("ks", "vs"):
                    fields[key] = _small(value, key)
                elif key == "off":
                    off = _soff(value, key)
                elif key == "r":
                    fields["range"] = _int(value, key)
                elif key == "sz":
                    fields["mem_size"] = _int(value, key)
                elif key == "type":
                    fields["dynptr_type"] = value
                elif key == "imm":
                    var_off = (_int(value, key) & U64_MAX, 0)
                else:
                    legacy = True  # attribute unknown to the modern printer
    if var_off is None:
        var_off = (0, U64_MAX) if ranges or base == "scalar" else (0, 0)
    vo_value, vo_mask = var_off
    rng: list[int | None]
    if vo_mask == 0 and not ranges:
        # a known offset: the ranges are those of var_off (a pointer's fixed part is ``off``)
        rng = _const_ranges(vo_value)
    else:
        rng = [ranges.get(n, d) for n, d in zip(_RANGE_NAMES, _RANGE_DEFAULTS, strict=True)]
    reg = RegState(
        type=base,
        flags=flags,
        or_null=or_null,
        btf_type=btf_type,
        precise=precise,
        live=live,
        frameno=frameno,
        off=off,
        var_off_value=vo_value,
        var_off_mask=vo_mask,
        smin=rng[0],
        smax=rng[1],
        umin=rng[2],
        umax=rng[3],
        smin32=rng[4],
        smax32=rng[5],
        umin32=rng[6],
        umax32=rng[7],
        **fields,  # type: ignore[arg-type]
    )
    if legacy or reg.render() != text:
        return _with_legacy(reg, text)
    return reg


def _with_legacy(reg: RegState, text: str) -> RegState:
    return reg._replace(legacy=text)


def _const_ranges(v: int) -> list[int | None]:
    s = _s64(v)
    u = v & U64_MAX
    s32 = _s32(v)
    u32 = v & U32_MAX
    return [s, s, u, u, s32, s32, u32, u32]


def _const_scalar(v: int, precise: bool, live: str, text: str) -> RegState:
    u = v & U64_MAX
    s = u - _U64 if u >> 63 else u
    canonical = str(s) if -32768 <= s <= 32767 else hex(u)
    u32 = v & U32_MAX
    s32 = u32 - (1 << 32) if u32 >> 31 else u32
    # positionally, with the tuple's own constructor (a NamedTuple's _make and __new__ are
    # Python functions around it): the most frequent state, decoded fast
    reg = tuple.__new__(
        RegState,
        (
            "scalar", (), False, None, precise, live, None, 0, False, 0, False, None, None,
            None, 0, None, None, None, s, s, u, u, s32, s32, u32, u32, u, 0, None,
        )
    )
    if ("P" if precise else "") + canonical != text:
        return _with_legacy(reg, text)
    return reg


def parse_slot(text: str, off: int = 0, live: str = "") -> StackSlot:
    """Decode a stack slot (the text after ``fp<off>=``); raise LogError if it is not one.

    Examples
    --------
    >>> parse_slot("0000????").slot_types
    '0000????'
    >>> s = parse_slot("????P0")
    >>> s.slot_types, s.spilled.precise, s.spilled.umax
    ('????rrrr', True, 0)
    >>> parse_slot("dynptr_skb(id=1,dynptr_id=1)").special
    'dynptr_skb'
    """
    if len(text) == 8 and all(c in _SLOT_CHARS for c in text):
        return StackSlot(off=off, slot_types=text, live=live)
    # a dynptr's or iterator's main slot; "dynptr_ptr(...)" is a spilled CONST_PTR_TO_DYNPTR
    special = text.startswith("iter_") or (
        text.startswith("dynptr_") and not text.startswith("dynptr_ptr")
    )
    if special and text.endswith(")"):
        p = text.find("(")
        attrs: list[tuple[str, str]] = []
        for item in _split_attrs(text[p + 1 : -1]):
            k, sep, v = item.partition("=")
            if not sep:
                raise LogError(f"cannot decode stack slot {text!r}")
            attrs.append((k, v))
        ch = "d" if text[0] == "d" else "i"
        return StackSlot(
            off=off, slot_types=ch * 8, live=live, special=text[:p], attrs=tuple(attrs)
        )
    for n in (7, 6, 4, 0):
        prefix = text[:n]
        if len(text) > n and all(c in _SPILL_PREFIX_CHARS for c in prefix):
            try:
                reg = parse_reg(text[n:])
            except LogError:
                continue
            return StackSlot(
                off=off,
                slot_types=prefix + "r" * (8 - n),
                live=live,
                prefix=prefix,
                spilled=reg,
            )
    raise LogError(f"cannot decode stack slot {text!r}")


_KEY_RE = re.compile(r"(?:R(\d+)|fp(-?\d+))(?:_([rwD]+))?")
_CONST_REG_RE = re.compile(r"R(10|\d)(?:_([rwD]+))?=(P?)(-?(?:0x[0-9a-f]+|\d+))")


def parse_token(tok: str) -> tuple[int, RegState] | tuple[None, StackSlot]:
    """Decode one state token: ``R1_w=ctx()`` -> (1, RegState); ``fp-8=m...`` -> (None, StackSlot).

    Examples
    --------
    >>> parse_token("R7=ptr_mynode(ref_obj_id=2)")[1].ref_obj_id
    2
    >>> parse_token("fp-8=0000????")[1].off
    -8
    """
    cm = _CONST_REG_RE.fullmatch(tok)
    if cm is not None:
        # a known scalar, the commonest token: what parse_reg would do, without its regexes
        regno, live, precise, num = cm.groups()
        value = tok[cm.start(3) :]
        return int(regno), _const_scalar(_int(num, "constant"), precise == "P", live or "", value)
    key, eq, value = tok.partition("=")
    km = _KEY_RE.fullmatch(key)
    if not eq or km is None:
        raise LogError(f"cannot decode state token {tok!r}")
    if km.group(1) is not None:
        regno = int(km.group(1)[:3])
        if regno > 10 or len(km.group(1)) > 2:
            raise LogError(f"no register R{km.group(1)} in BPF (R0..R10): {tok!r}")
        return regno, parse_reg(value, km.group(3) or "")
    slot_off = _small(km.group(2), "stack offset")
    return None, parse_slot(value, slot_off, km.group(3) or "")


def parse_state(text: str) -> StateLine:
    """Decode a printed state: ``[frameN:] R1=.. fp-8=.. [refs=1,2] [cb] [async_cb]``.

    Examples
    --------
    >>> s = parse_state(" frame1: R1=ctx() R10=fp0 fp-8=mmmmmmmm refs=2,4 cb")
    >>> s.frame, [r for r, _, _ in s.regs], s.refs, s.cb
    (1, [1, 10], (2, 4), True)
    >>> render_state(s)
    ' frame1: R1=ctx() R10=fp0 fp-8=mmmmmmmm refs=2,4 cb'
    """
    tokens = text.replace("; 0x", ";0x").split(" ")
    frame: int | None = None
    frame_text = ""
    regs: list[tuple[int, RegState, str]] = []
    slots: list[tuple[StackSlot, str]] = []
    refs: tuple[int, ...] = ()
    cb = async_cb = False
    lead = ""
    for i, tok in enumerate(tokens):
        if not tok:
            if i == 0:
                lead = " "
            continue
        if tok.startswith("frame") and tok.endswith(":") and not regs and not slots:
            frame = _int(tok[5:-1], "frame", 0, 64)
            frame_text = lead + tok
            continue
        if tok == "cb":
            cb = True
            continue
        if tok == "async_cb":
            async_cb = True
            continue
        if tok.startswith("refs="):
            refs = tuple(_small(x, "refs") for x in tok[5:].split(","))
            continue
        raw = tok.replace(";0x", "; 0x")
        regno, item = parse_token(raw)
        if regno is not None:
            assert isinstance(item, RegState)
            regs.append((regno, item, raw))
        else:
            assert isinstance(item, StackSlot)
            slots.append((item, raw))
    return StateLine(frame, tuple(regs), tuple(slots), refs, cb, async_cb, frame_text)


def render_state(state: StateLine) -> str:
    """Print a :class:`StateLine` back as ``print_verifier_state`` does (leading space)."""
    out = [state.frame_text] if state.frame_text else []
    for regno, reg, raw in state.regs:
        key = raw.partition("=")[0]
        if key != f"R{regno}" + (f"_{reg.live}" if reg.live else ""):
            raise LogError(f"register key {key!r} does not match R{regno}")
        out.append(f" {key}={reg.render()}")
    for slot, _raw in state.slots:
        out.append(f" fp{slot.off}" + (f"_{slot.live}" if slot.live else "") + "=" + slot.render())
    if state.refs:
        out.append(" refs=" + ",".join(str(r) for r in state.refs))
    if state.cb:
        out.append(" cb")
    if state.async_cb:
        out.append(" async_cb")
    return "".join(out)
