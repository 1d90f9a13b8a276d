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

import json
from collections.abc import Iterable, Iterator
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

__all__ = ["format_raw", "iter_raw_lines", "format_json", "parse_json", "type_to_dict"]

_INT_ENC = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_REF_ONLY = frozenset({2, 8, 9, 10, 11, 18})  # PTR TYPEDEF VOLATILE CONST RESTRICT TYPE_TAG
_KIND_LABEL = [KIND_NAMES[k] if k < len(KIND_NAMES) else "UNKNOWN" for k in range(128)]


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
    names = _names(spec)
    n_all = len(spec)
    labels = _KIND_LABEL
    int_enc = _INT_ENC
    linkage = _LINKAGE
    ref_only = _REF_ONLY

    if ids is None:
        w = spec._w
        items: Iterable[tuple[int, int]] = zip(
            range(spec.first_id, n_all), spec._offs, strict=False
        )
        per_id = False
    else:
        items = ((tid, 0) for tid in ids)
        per_id = True
    for tid, pos in items:
        if per_id:
            owner: Spec | None = spec
            while owner is not None and tid < owner.first_id:
                owner = owner.base
            if owner is None or tid == 0:
                yield f"[{tid}] UNKNOWN '(anon)'\n"
                continue
            w, pos = owner.raw_words(tid)
        while True:  # retried when a name offset points inside a string (not a key)
            try:
                name_off = w[pos]
                info = w[pos + 1]
                st = w[pos + 2]
                k = (info >> 24) & 0x7F
                if k == 12:  # FUNC: the most common kind in a kernel
                    line = (
                        f"[{tid}] FUNC '{names[name_off]}' type_id={st} "
                        f"linkage={linkage.get(info & 0xFFFFFF, '(unknown)')}\n"
                    )
                    break
                if k in ref_only:
                    line = f"[{tid}] {labels[k]} '{names[name_off]}' type_id={st}\n"
                    break
                head = f"[{tid}] {labels[k]} '{names[name_off]}'"
                if k == 13:
                    vlen = info & 0xFFFFFF
                    parts = [f"{head} ret_type_id={st} vlen={vlen}"]
                    p = pos + 3
                    for _ in range(vlen):
                        parts.append(f"\t'{names[w[p]]}' type_id={w[p + 1]}")
                        p += 2
                    parts.append("")
                    line = "\n".join(parts)
                elif k == 4 or k == 5:
                    vlen = info & 0xFFFFFF
                    parts = [f"{head} size={st} vlen={vlen}"]
                    p = pos + 3
                    if info >> 31:
                        for _ in range(vlen):
                            off = w[p + 2]
                            bsz = off >> 24
                            if bsz:
                                parts.append(
                                    f"\t'{names[w[p]]}' type_id={w[p + 1]} bits_offset={off & 0xFFFFFF}"
                                    f" bitfield_size={bsz}"
                                )
                            else:
                                parts.append(
                                    f"\t'{names[w[p]]}' type_id={w[p + 1]} bits_offset={off}"
                                )
                            p += 3
                    else:
                        for _ in range(vlen):
                            parts.append(
                                f"\t'{names[w[p]]}' type_id={w[p + 1]} bits_offset={w[p + 2]}"
                            )
                            p += 3
                    parts.append("")
                    line = "\n".join(parts)
                elif k == 1:
                    v = w[pos + 3]
                    line = (
                        f"{head} size={st} bits_offset={(v >> 16) & 0xFF} nr_bits={v & 0xFF} "
                        f"encoding={int_enc.get((v >> 24) & 0x0F, 'UNKN')}\n"
                    )
                elif k == 6:
                    vlen = info & 0xFFFFFF
                    signed = info >> 31
                    parts = [
                        f"{head} encoding={'SIGNED' if signed else 'UNSIGNED'} size={st} vlen={vlen}"
                    ]
                    p = pos + 3
                    for _ in range(vlen):
                        val = w[p + 1]
                        if signed and val >= 0x80000000:
                            val -= 1 << 32
                        parts.append(f"\t'{names[w[p]]}' val={val}")
                        p += 2
                    parts.append("")
                    line = "\n".join(parts)
                elif k == 19:
                    vlen = info & 0xFFFFFF
                    signed = info >> 31
                    parts = [
                        f"{head} encoding={'SIGNED' if signed else 'UNSIGNED'} size={st} vlen={vlen}"
                    ]
                    p = pos + 3
                    for _ in range(vlen):
                        val = w[p + 1] | (w[p + 2] << 32)
                        if signed:
                            if val >= 1 << 63:
                                val -= 1 << 64
                            parts.append(f"\t'{names[w[p]]}' val={val}LL")
                        else:
                            parts.append(f"\t'{names[w[p]]}' val={val}ULL")
                        p += 3
                    parts.append("")
                    line = "\n".join(parts)
                elif k == 3:
                    line = f"{head} type_id={w[pos + 3]} index_type_id={w[pos + 4]} nr_elems={w[pos + 5]}\n"
                elif k == 7:
                    line = f"{head} fwd_kind={'union' if info >> 31 else 'struct'}\n"
                elif k == 14:
                    line = f"{head} type_id={st}, linkage={linkage.get(w[pos + 3], '(unknown)')}\n"
                elif k == 15:
                    vlen = info & 0xFFFFFF
                    parts = [f"{head} size={st} vlen={vlen}"]
                    p = pos + 3
                    for _ in range(vlen):
                        vt = w[p]
                        entry = f"\ttype_id={vt} offset={w[p + 1]} size={w[p + 2]}"
                        if vt < n_all:
                            v_name, v_info = _header_of(spec, vt)
                            entry += f" ({labels[(v_info >> 24) & 0x7F]} '{names[v_name]}')"
                        parts.append(entry)
                        p += 3
                    parts.append("")
                    line = "\n".join(parts)
                elif k == 16:
                    line = f"{head} size={st}\n"
                elif k == 17:
                    idx = w[pos + 3]
                    if idx >= 0x80000000:
                        idx -= 1 << 32
                    line = f"{head} type_id={st} component_idx={idx}\n"
                else:
                    line = f"{head}\n"

                break
            except KeyError as exc:
                names[exc.args[0]] = _name_at(spec, exc.args[0])
        yield line


def format_raw(spec: Spec, ids: Iterable[int] | None = None) -> str:
    """The whole of :func:`iter_raw_lines` as one string (bpftool's ``format raw`` output)."""
    return "".join(iter_raw_lines(spec, ids))


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
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BTFError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "bpfkit-btf":
        raise BTFError('not a bpfkit-btf JSON document (no "format": "bpfkit-btf")')
    return [_from_dict(d) for d in doc.get("types", [])]
