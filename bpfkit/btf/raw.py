"""Render a :class:`~bpfkit.btf.spec.Spec` as bpftool's raw text, or as JSON.

:func:`format_raw` is byte-for-byte ``bpftool btf dump file FILE format raw`` (bpftool 7.1,
``dump_btf_type`` in ``tools/bpf/bpftool/btf.c``); for split BTF only the split's own types
are printed, as with ``bpftool -B BASE``. It reads the type words directly (it needs
``name_off``, which the records do not keep: bpftool prints ``(anon)`` only for offset 0),
so it does not build a record per type.

JSON schema (:func:`format_json`, version 1)::

    {"format": "bpfkit-btf", "version": 1, "name": str, "byte_order": "little"|"big",
     "first_id": int, "types": [TYPE, ...]}

    TYPE: {"id": int, "kind": "INT"|"PTR"|..., "name": str, <the record's fields>}

The fields are those of the record in :mod:`bpfkit.btf.types` with the same names; nested
records (``members``, ``values``, ``params``, ``vars``) are lists of objects with their fields;
``encoding`` (INT) is the number of ``IntEncoding``; ``linkage`` is the number of ``Linkage``;
flags (``kind_flag``, ``signed``, ``union``, ``attr``) are booleans. :func:`parse_json` reads
it back into the same records.

Examples
--------
>>> from tests.corpus import KINDS_EL
>>> from bpfkit.btf import load_btf
>>> print(format_raw(load_btf(KINDS_EL)).splitlines()[0])
[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from bpfkit.btf.spec import KIND_NAMES, Spec
from bpfkit.btf.types import (
    AnyType,
    Array,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Linkage,
    Member,
    Param,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Void,
    Volatile,
)
from bpfkit.errors import BTFError

__all__ = [
    "format_raw",
    "iter_raw_lines",
    "iter_raw_chunks",
    "format_json",
    "parse_json",
    "type_to_dict",
]

_INT_ENC = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_LINKAGE = ("static", "global", "extern")  # FUNC/VAR linkage: checked to be < 3 at parse time
_REF_ONLY = frozenset({2, 8, 9, 10, 11, 18})  # PTR TYPEDEF VOLATILE CONST RESTRICT TYPE_TAG
_KIND_LABEL = [KIND_NAMES[k] if k < len(KIND_NAMES) else "UNKNOWN" for k in range(128)]
_CHUNK = 4096  # types per chunk of text


def _names(spec: Spec) -> dict[int, str]:
    """Offset -> name as bpftool prints it (``(anon)`` for offset 0), base strings included.

    Only offsets where a string starts are in it; :func:`_name_at` handles the others."""
    names = dict(spec.names_by_offset())
    names[0] = "(anon)"
    return names


def _name_at(spec: Spec, off: int) -> str:
    try:
        return spec.string(off)
    except BTFError:
        return "(invalid)"


def _header_of(spec: Spec, tid: int) -> tuple[int, int]:
    """(name_off, info) of any id of *spec* or its bases; (0, 0) for void."""
    s: Spec | None = spec
    while s is not None:
        if tid >= s.first_id:
            w, pos = s.raw_words(tid)
            return w[pos], w[pos + 1]
        s = s.base
    return 0, 0


def _format_types(
    spec: Spec,
    w: Sequence[int],
    items: Iterable[tuple[int, int]],
    names: dict[int, str],
) -> list[str]:
    """bpftool's text of each type in *items*, (type id, word offset in *w*) pairs: one
    string per type, its member/param/value lines included.

    *names* is :func:`_names`, extended here when a name offset points inside a string."""
    out: list[str] = []
    append = out.append
    labels = _KIND_LABEL
    for tid, pos in items:
        while True:  # retried when a name offset points inside a string (not a key)
            try:
                info = w[pos + 1]
                k = info >> 24 & 0x7F
                if k == 12:  # FUNC: the most common kind in a kernel
                    append(
                        f"[{tid}] FUNC '{names[w[pos]]}' type_id={w[pos + 2]} "
                        f"linkage={_LINKAGE[info & 0xFFFFFF]}\n"
                    )
                elif k == 13:
                    vlen = info & 0xFFFFFF
                    text = (
                        f"[{tid}] FUNC_PROTO '{names[w[pos]]}' ret_type_id={w[pos + 2]} "
                        f"vlen={vlen}\n"
                    )
                    for p in range(pos + 3, pos + 3 + 2 * vlen, 2):
                        text += f"\t'{names[w[p]]}' type_id={w[p + 1]}\n"
                    append(text)
                elif k in _REF_ONLY:
                    append(f"[{tid}] {labels[k]} '{names[w[pos]]}' type_id={w[pos + 2]}\n")
                elif k == 4 or k == 5:
                    vlen = info & 0xFFFFFF
                    text = f"[{tid}] {labels[k]} '{names[w[pos]]}' size={w[pos + 2]} vlen={vlen}\n"
                    end = pos + 3 + 3 * vlen
                    if info >> 31:  # kind_flag: bitfield size in the top 8 bits of the offset
                        for p in range(pos + 3, end, 3):
                            off = w[p + 2]
                            text += f"\t'{names[w[p]]}' type_id={w[p + 1]} bits_offset="
                            if off >> 24:
                                text += f"{off & 0xFFFFFF} bitfield_size={off >> 24}\n"
                            else:
                                text += f"{off}\n"
                    else:
                        for p in range(pos + 3, end, 3):
                            text += f"\t'{names[w[p]]}' type_id={w[p + 1]} bits_offset={w[p + 2]}\n"
                    append(text)
                else:
                    append(_format_other(spec, w, tid, pos, names))
                break
            except KeyError as exc:
                names[exc.args[0]] = _name_at(spec, exc.args[0])
    return out


def _format_other(spec: Spec, w: Sequence[int], tid: int, pos: int, names: dict[int, str]) -> str:
    """The rarer kinds (a tenth of a kernel's types); KeyError for a name not in *names*."""
    info, st = w[pos + 1], w[pos + 2]
    k = info >> 24 & 0x7F
    vlen = info & 0xFFFFFF
    head = f"[{tid}] {_KIND_LABEL[k]} '{names[w[pos]]}'"
    if k == 1:
        v = w[pos + 3]
        return (
            f"{head} size={st} bits_offset={v >> 16 & 0xFF} nr_bits={v & 0xFF} "
            f"encoding={_INT_ENC.get(v >> 24 & 0x0F, 'UNKN')}\n"
        )
    if k == 3:
        return f"{head} type_id={w[pos + 3]} index_type_id={w[pos + 4]} nr_elems={w[pos + 5]}\n"
    if k == 6 or k == 19:
        signed = info >> 31
        text = f"{head} encoding={'SIGNED' if signed else 'UNSIGNED'} size={st} vlen={vlen}\n"
        if k == 6:
            for p in range(pos + 3, pos + 3 + 2 * vlen, 2):
                val = w[p + 1]
                if signed and val >= 0x80000000:
                    val -= 1 << 32
                text += f"\t'{names[w[p]]}' val={val}\n"
            return text
        for p in range(pos + 3, pos + 3 + 3 * vlen, 3):
            val = w[p + 1] | w[p + 2] << 32
            if signed and val >= 1 << 63:
                val -= 1 << 64
            text += f"\t'{names[w[p]]}' val={val}{'LL' if signed else 'ULL'}\n"
        return text
    if k == 7:
        return f"{head} fwd_kind={'union' if info >> 31 else 'struct'}\n"
    if k == 14:
        return f"{head} type_id={st}, linkage={_LINKAGE[w[pos + 3]]}\n"
    if k == 15:
        text = f"{head} size={st} vlen={vlen}\n"
        for p in range(pos + 3, pos + 3 + 3 * vlen, 3):
            vt = w[p]
            text += f"\ttype_id={vt} offset={w[p + 1]} size={w[p + 2]}"
            if vt < len(spec):
                v_name, v_info = _header_of(spec, vt)
                text += f" ({_KIND_LABEL[v_info >> 24 & 0x7F]} '{names[v_name]}')"
            text += "\n"
        return text
    if k == 16:
        return f"{head} size={st}\n"
    if k == 17:
        idx = w[pos + 3]
        if idx >= 0x80000000:
            idx -= 1 << 32
        return f"{head} type_id={st} component_idx={idx}\n"
    return f"{head}\n"


def _chunks(spec: Spec, ids: Iterable[int] | None) -> Iterator[list[str]]:
    """The text of each type (one string per type), in lists of up to :data:`_CHUNK`."""
    names = _names(spec)
    if ids is None:
        offs, first = spec._offs, spec.first_id
        for start in range(0, len(offs), _CHUNK):
            end = start + _CHUNK
            items = zip(range(first + start, first + end), offs[start:end], strict=False)
            yield _format_types(spec, spec._w, items, names)
        return
    chunk: list[str] = []
    for tid in ids:
        owner: Spec | None = spec
        while owner is not None and tid < owner.first_id:
            owner = owner.base
        if owner is None or tid == 0:
            chunk.append(f"[{tid}] UNKNOWN '(anon)'\n")
        else:
            w, pos = owner.raw_words(tid)  # BTFError beyond the last id
            chunk += _format_types(spec, w, [(tid, pos)], names)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def iter_raw_lines(spec: Spec, ids: Iterable[int] | None = None) -> Iterator[str]:
    """Yield bpftool's raw text for each type, one string per type ending in ``"\\n"``
    (members/params/values on ``"\\n\\t"``-separated lines inside it).

    Parameters
    ----------
    spec
        The spec; without *ids*, all of its own types (not its base's) in id order.
    ids
        Only these type ids (of this spec or its base), in this order.
    """
    for chunk in _chunks(spec, ids):
        yield from chunk


def iter_raw_chunks(spec: Spec, ids: Iterable[int] | None = None) -> Iterator[str]:
    """:func:`iter_raw_lines` joined into strings of a few thousand types each: what a
    writer wants (one ``write`` per chunk instead of one per type)."""
    for chunk in _chunks(spec, ids):
        yield "".join(chunk)


def format_raw(spec: Spec, ids: Iterable[int] | None = None) -> str:
    """The whole of :func:`iter_raw_lines` as one string (bpftool's ``format raw`` output)."""
    return "".join(iter_raw_chunks(spec, ids))


# ------------------------------------------------------------------------- JSON

_CLASSES: dict[str, type[Any]] = {
    cls.kind.name: cls
    for cls in (
        Void,
        Int,
        Ptr,
        Array,
        Struct,
        Union,
        Enum,
        Fwd,
        Typedef,
        Volatile,
        Const,
        Restrict,
        Func,
        FuncProto,
        Var,
        Datasec,
        Float,
        DeclTag,
        TypeTag,
        Enum64,
    )
}
_NESTED: dict[str, type[Any]] = {
    "members": Member,
    "values": EnumValue,
    "params": Param,
    "vars": VarSecinfo,
}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return value


def type_to_dict(t: AnyType) -> dict[str, Any]:
    """One type as the JSON object described in this module's docstring."""
    d: dict[str, Any] = {"id": t.id, "kind": t.kind.name, "name": t.name}
    for f in fields(t):
        if f.name not in d:
            d[f.name] = _plain(getattr(t, f.name))
    return d


def format_json(
    spec: Spec, names: Iterable[str] | None = None, *, indent: int | None = None
) -> str:
    """*spec*'s own types (or those named *names*, base included) as JSON (schema above)."""
    if names is None:
        types: Iterable[AnyType] = spec
    else:
        types = [t for n in names for t in spec.find(n)]
    doc = {
        "format": "bpfkit-btf",
        "version": 1,
        "name": spec.name,
        "byte_order": spec.byte_order,
        "first_id": spec.first_id,
        "types": [type_to_dict(t) for t in types],
    }
    # ASCII-only: a name with bytes that are not UTF-8 (kept as surrogates) still round-trips.
    import json

    return json.dumps(doc, indent=indent) + "\n"


def _from_dict(d: dict[str, Any]) -> AnyType:
    try:
        cls = _CLASSES[d["kind"]]
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            value = d[f.name]
            if f.name in _NESTED:
                value = tuple(_NESTED[f.name](**item) for item in value)
            elif f.name == "encoding":
                value = IntEncoding(value)
            elif f.name == "linkage":
                value = Linkage(value)
            kwargs[f.name] = value
        t: AnyType = cls(**kwargs)
        return t
    except (KeyError, TypeError, ValueError) as exc:
        raise BTFError(f"bad bpfkit-btf JSON type {d.get('id', '?')}: {exc!r}") from None


def parse_json(text: str) -> list[AnyType]:
    """The records of a :func:`format_json` document, in document order.

    Examples
    --------
    >>> from tests.corpus import KINDS_EL
    >>> from bpfkit.btf import load_btf
    >>> spec = load_btf(KINDS_EL)
    >>> parse_json(format_json(spec)) == list(spec)
    True
    """
    import json

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BTFError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "bpfkit-btf":
        raise BTFError('not a bpfkit-btf JSON document (no "format": "bpfkit-btf")')
    return [_from_dict(d) for d in doc.get("types", [])]
