"""struct_layout against pahole, run live on this kernel's BTF.

pahole's text is parsed (top-level member lines, its "XXX ... hole" comments, the summary
block) and compared number by number with :func:`struct_layout`; for structs without
inferred ``__aligned__`` attributes the whole text of :func:`format_layout` must equal
pahole's.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bpfkit.btf import load_btf, load_vmlinux
from bpfkit.btf.layout import CACHELINE_SIZE, format_layout, struct_layout
from bpfkit.btf.spec import Spec
from bpfkit.btf.types import Struct, Union
from bpfkit.errors import BTFError
from tests.btf.conftest import PAHOLE
from tests.corpus import KINDS_EL

VMLINUX = Path("/sys/kernel/btf/vmlinux")
NAMED = (
    "task_struct",
    "kioctx",
    "sk_buff",
    "bpf_map",
    "bpf_prog_aux",
    "bpf_prog",
    "file",
    "inode",
    "bpf_list_head",
    "bpf_list_node",
    "bpf_rb_node",
    "bpf_rb_root",
    "bpf_refcount",
    "bpf_spin_lock",
    "mm_struct",
    "sock",
    "net_device",
    "page",
    "bpf_insn",
    "btf_type",
    "xdp_md",
)


@dataclass
class PaholeStruct:
    members: list[tuple[str, int, int, int | None, int | None]] = field(default_factory=list)
    holes: dict[int, int] = field(default_factory=dict)  # member index -> bytes after it
    bit_holes: dict[int, int] = field(default_factory=dict)
    summary: dict[str, int] = field(default_factory=dict)
    text: str = ""


_MEMBER = re.compile(
    r"^(?P<decl>.*?);\s*/\*\s*(?P<off>\d+)(?::\s*(?P<bit>\d+))?\s+(?P<size>\d+)\s*\*/$"
)
_HOLE = re.compile(r"/\* XXX (\d+) (byte|bit)s? hole, try to pack \*/")
_SUMMARY = re.compile(
    r"(sum members|holes|sum holes|size|cachelines|members|padding|paddings|"
    r"sum paddings|bit holes|sum bit holes|bit_padding|last cacheline|"
    r"sum bitfield members): (\d+)"
)


def _member_name(decl: str) -> str:
    decl = re.sub(r"__attribute__\(\(.*\)\)", "", decl).strip()
    if decl.startswith("}"):
        rest = re.sub(r"(\[\d*\])+$|:\d+$", "", decl[1:].strip())
        m = re.search(r"(\w+)$", rest)  # "} name", "} * name" (pointer to an anonymous struct)
        return m.group(1) if m else ""
    m = re.search(r"\(\*(\w+)\)", decl)
    if m:
        return m.group(1)
    decl = re.sub(r":\d+$", "", decl)
    decl = re.sub(r"(\[\d*\])+$", "", decl)
    m = re.search(r"(\w+)$", decl)
    return m.group(1) if m else ""


def parse_pahole(text: str) -> dict[str, PaholeStruct]:
    """Structs/unions of pahole's output, by name."""
    out: dict[str, PaholeStruct] = {}
    cur: PaholeStruct | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if cur is None:
            m = re.match(r"^(struct|union) (\w+) \{$", line)
            if m:
                cur = out.setdefault(m.group(2), PaholeStruct())
                lines = [line]
            continue
        lines.append(line)
        if line.startswith("}"):
            cur.text = "\n".join(lines)
            cur = None
            continue
        depth = len(line) - len(line.lstrip("\t"))
        body = line.strip()
        if depth != 1:
            continue
        mm = _MEMBER.match(body)
        if mm:
            bit = mm.group("bit")
            cur.members.append(
                (
                    _member_name(mm.group("decl")),
                    int(mm.group("off")),
                    int(mm.group("size")),
                    int(bit) if bit is not None else None,
                    int(m.group(1)) if (m := re.search(r":(\d+)$", mm.group("decl"))) else None,
                )
            )
            continue
        hm = _HOLE.search(body)
        if hm:
            where = cur.bit_holes if hm.group(2) == "bit" else cur.holes
            where[len(cur.members) - 1] = int(hm.group(1))
            continue
        fm = re.match(
            r"/\* forced alignments: (\d+)(?:, forced holes: (\d+), sum forced holes: (\d+))?", body
        )
        if fm:
            cur.summary["forced alignments"] = int(fm.group(1))
            cur.summary["forced holes"] = int(fm.group(2) or 0)
            cur.summary["sum forced holes"] = int(fm.group(3) or 0)
            continue
        if body.startswith("/* ") and not any(w in body for w in ("XXX", "---", "forced")):
            for key, value in _SUMMARY.findall(body):
                cur.summary[key] = int(value)
    return out


def _pahole(names: list[str]) -> dict[str, PaholeStruct]:
    if PAHOLE is None:
        pytest.skip("needs pahole (apt: dwarves) to compare struct layouts")
    if not VMLINUX.exists():
        pytest.skip("needs /sys/kernel/btf/vmlinux for pahole to read")
    res = subprocess.run(
        [PAHOLE, "-C", ",".join(names), str(VMLINUX)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return parse_pahole(res.stdout)


def _sample(spec: Spec) -> list[str]:
    """The named structs plus every 40th struct/union whose name is unique."""
    counts: dict[str, int] = {}
    for t in spec.all_types():
        if t.name:
            counts[t.name] = counts.get(t.name, 0) + 1
    unique = [
        t.name
        for t in spec.all_types()
        if isinstance(t, (Struct, Union)) and t.name and counts[t.name] == 1
    ]
    return sorted(set(NAMED) | set(unique[::40]))


@pytest.fixture(scope="module")
def kernel() -> Spec:
    if not VMLINUX.exists():
        pytest.skip("needs /sys/kernel/btf/vmlinux")
    return load_btf(VMLINUX)


@pytest.fixture(scope="module")
def pahole_sample(kernel: Spec) -> dict[str, PaholeStruct]:
    return _pahole(_sample(kernel))


def _compare(spec: Spec, name: str, ref: PaholeStruct) -> None:
    lay = struct_layout(spec, name)
    ours = [
        (
            m.name,
            m.offset,
            m.size,
            m.bitfield_offset if m.bitfield_size else None,
            m.bitfield_size or None,
        )
        for m in lay.members
    ]
    assert ours == ref.members, name
    holes = {i: m.hole for i, m in enumerate(lay.members) if m.hole > 0}
    bit_holes = {i: m.bit_hole for i, m in enumerate(lay.members) if m.bit_hole}
    if lay.pre_hole > 0:
        holes[-1] = lay.pre_hole  # before the first member
    if lay.pre_bit_hole:
        bit_holes[-1] = lay.pre_bit_hole
    assert holes == ref.holes, name
    assert bit_holes == ref.bit_holes, name
    s = ref.summary
    if lay.kind == "union":
        assert s == {}, name  # pahole prints no statistics for unions
        return
    assert (lay.size, lay.cachelines, len(lay.members)) == (
        s["size"],
        s["cachelines"],
        s["members"],
    )
    assert lay.padding == s.get("padding", 0), name
    assert lay.bit_padding == s.get("bit_padding", 0), name
    assert (lay.paddings, lay.sum_paddings) == (s.get("paddings", 0), s.get("sum paddings", 0))
    assert lay.last_cacheline == s.get("last cacheline", 0), name
    forced = (lay.forced_alignments, lay.forced_holes, lay.sum_forced_holes)
    assert forced == (
        s.get("forced alignments", 0),
        s.get("forced holes", 0),
        s.get("sum forced holes", 0),
    ), name
    if lay.kind == "struct" and (lay.sum_holes > 0 or lay.sum_bit_holes > 0):
        if lay.sum_members:
            assert lay.sum_members == s["sum members"], name
        assert (lay.holes, lay.sum_holes) == (s.get("holes", 0), s.get("sum holes", 0)), name
        if lay.sum_bitfield_bits:
            assert lay.sum_bitfield_bits == s["sum bitfield members"], name
            assert (lay.bit_holes, lay.sum_bit_holes) == (
                s.get("bit holes", 0),
                s.get("sum bit holes", 0),
            )
    else:
        assert "holes" not in s and "sum holes" not in s, name


@pytest.mark.parametrize("name", NAMED)
def test_named_structs_match_pahole(
    kernel: Spec, pahole_sample: dict[str, PaholeStruct], name: str
) -> None:
    assert name in pahole_sample
    _compare(kernel, name, pahole_sample[name])


def test_sample_of_all_structs_matches_pahole(
    kernel: Spec, pahole_sample: dict[str, PaholeStruct]
) -> None:
    checked = 0
    for name, ref in pahole_sample.items():
        if name in NAMED:
            continue
        _compare(kernel, name, ref)
        checked += 1
    assert checked > 100


@pytest.mark.slow
def test_every_struct_matches_pahole(kernel: Spec) -> None:
    """All of this kernel's uniquely named structs and unions (pahole run once on all)."""
    if PAHOLE is None:
        pytest.skip("needs pahole (apt: dwarves) to compare struct layouts")
    res = subprocess.run([PAHOLE, str(VMLINUX)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    ref = parse_pahole(res.stdout)
    counts: dict[str, int] = {}
    for t in kernel.all_types():
        if t.name:
            counts[t.name] = counts.get(t.name, 0) + 1
    checked = 0
    for name, want in ref.items():
        if counts.get(name) == 1:
            _compare(kernel, name, want)
            checked += 1
    assert checked > 9000


def _squash(text: str) -> str:
    """Text modulo spacing: runs of blanks, and blanks around ``*``."""
    return re.sub(r" ?\* ?", "*", re.sub(r"[ \t]+", " ", text))


#: pahole spellings format_layout does not reproduce: inline anonymous enums, qualified
#: anonymous aggregates, its doubled "const const"/"const  *" for const pointers, packed
#: nested aggregates, flexible arrays inside nested aggregates, const arrays.
PAHOLE_QUIRKS = re.compile(
    r"\benum \{|\b(const|volatile) (struct|union) \{|const const|\* const|const  \*"
    r"|\t\} __attribute__\(\(__packed__\)\) |\t\t.*\[\];|const \w+ +\w+\[\d*\];"
)


def test_text_equals_pahole(kernel: Spec, pahole_sample: dict[str, PaholeStruct]) -> None:
    """The same lines, comments, inferred ``__aligned__`` attributes and summary as pahole,
    up to spacing (and exactly the same text for a few structs)."""
    same = 0
    for name, ref in pahole_sample.items():
        if PAHOLE_QUIRKS.search(ref.text):
            continue
        ours = format_layout(struct_layout(kernel, name), kernel)
        assert _squash(ours) == _squash(ref.text), name
        same += 1
    assert same > 200
    for name in ("bpf_map", "bpf_list_head", "bpf_prog_aux", "task_struct", "kioctx"):
        assert format_layout(struct_layout(kernel, name), kernel) == pahole_sample[name].text


def test_size_accounting_holds_for_every_struct(kernel: Spec) -> None:
    """pahole's own consistency check ("BRAIN FART ALERT"), over all of vmlinux."""
    n = 0
    for t in kernel.all_types():
        if isinstance(t, Struct) and t.members:
            lay = struct_layout(kernel, t.id)
            bits = 8 * (lay.sum_members + lay.sum_holes + lay.padding)
            bits += lay.sum_bitfield_bits + lay.sum_bit_holes + lay.bit_padding
            assert bits == 8 * t.size or lay.members[-1].size == 0, (t.id, t.name)
            n += 1
    assert n > 5000


def test_layout_records_and_nested() -> None:
    spec = load_vmlinux()
    lay = struct_layout(spec, "sk_buff")
    first = lay.members[0]
    assert first.name == "" and first.nested is not None and first.nested.kind == "union"
    assert lay.cachelines == -(-lay.size // CACHELINE_SIZE)
    assert struct_layout(spec, "struct sk_buff") == lay
    assert struct_layout(spec, lay.type_id) == lay


def test_kinds_bitfields() -> None:
    """struct bits of kinds.c: u32 a:3; u32 b:5; s8 c:2; u64 d:40 (from its bpftool dump)."""
    lay = struct_layout(load_btf(KINDS_EL), "bits")
    got = [(m.name, m.offset, m.size, m.bitfield_offset, m.bitfield_size) for m in lay.members]
    assert got == [("a", 0, 4, 0, 3), ("b", 0, 4, 3, 5), ("c", 1, 1, 0, 2), ("d", 0, 8, 10, 40)]
    assert lay.sum_bitfield_bits == 50


def test_errors() -> None:
    spec = load_btf(KINDS_EL)
    with pytest.raises(BTFError, match="no struct or union named 'nope'"):
        struct_layout(spec, "nope")
    with pytest.raises(BTFError, match="is not a struct or union"):
        struct_layout(spec, 1)
    with pytest.raises(BTFError, match="no type id"):
        struct_layout(spec, 10**6)
