"""format_c: the C it writes compiles, and clang lays it out exactly as the BTF says.

Oracles: clang-19 itself (the header is compiled; for BPF objects the result's own BTF is
read back and every struct/union compared with the original, bitfields included; for the
kernel, `_Static_assert`s on every struct's size and member offsets), and bpftool's
`format c` (the corpus golden for kinds-el.o, and bpftool run live on the kernel BTF),
compiled the same way and compared type by type.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.btf import load_btf, load_vmlinux, parse_btf
from bpfkit.btf.cformat import format_c, is_packed
from bpfkit.btf.graph import members_frame, type_graph, types_frame
from bpfkit.btf.layout import format_layout, struct_layout
from bpfkit.btf.spec import Spec
from bpfkit.btf.types import AnyType, Enum, Enum64, Fwd, Struct, Union
from bpfkit.errors import BpfkitError, BTFError
from tests.btf.conftest import BPFTOOL
from tests.corpus import (
    CILIUM_ELFS,
    DATA_OBJECTS,
    KINDS_EB,
    KINDS_EL,
    KINDS_EL_BTF,
    KINDS_EL_C_HEADER,
    TESTMOD_BASE,
    TESTMOD_SPLIT,
    VMLINUX_71_GZ,
)

CLANG = shutil.which("clang-19") or shutil.which("clang")
VMLINUX = Path("/sys/kernel/btf/vmlinux")
SAMPLE = ("task_struct", "sk_buff", "bpf_map", "bpf_prog_aux", "file", "inode", "mm_struct")


def _clang(src: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CLANG is None:
        pytest.skip("needs clang (clang-19) to compile the generated C")
    path = tmp / "out.c"
    path.write_text(src)
    return subprocess.run([CLANG, *args, str(path)], capture_output=True, text=True)


def _compile_btf(src: str, tmp: Path) -> Spec:
    """Compile *src* for BPF with -g and return the object's BTF."""
    obj = tmp / "out.o"
    res = _clang(src, tmp, "-target", "bpf", "-g", "-O0", "-c", "-o", str(obj))
    assert res.returncode == 0, res.stderr[-4000:]
    return load_btf(obj)


def _tag_counts(spec: Spec) -> collections.Counter[str]:
    return collections.Counter(
        t.name
        for t in spec.all_types()
        if isinstance(t, (Struct, Union, Enum, Enum64, Fwd)) and t.name
    )


def _unique_aggregates(spec: Spec) -> list[Struct | Union]:
    """Named structs/unions whose tag name no other struct/union/enum/fwd shares (so the
    C text names them without a ___N suffix)."""
    counts = _tag_counts(spec)
    return [
        t
        for t in spec.all_types()
        if isinstance(t, (Struct, Union)) and t.name and counts[t.name] == 1
    ]


def _shape(spec: Spec, t: Struct | Union) -> tuple[object, ...]:
    return (
        t.kind.name,
        t.size,
        tuple(
            ("" if m.name.startswith("__bpfkit_anon") else m.name, m.bit_offset, m.bitfield_size)
            for m in t.members
            if not m.name.startswith("__bpfkit_pad_")  # padding arrays of long gaps
        ),
    )


def _uses(types: list[Struct | Union]) -> str:
    """Globals that make clang emit BTF for each type (BTF has only what is used)."""
    out = ["int __bpfkit_anchor;"]
    for t in types:
        kw = "struct" if isinstance(t, Struct) else "union"
        out.append(f"{kw} {t.name} __bpfkit_use_{t.id};")
    return "\n".join(out) + "\n"


def _compare_compiled(original: Spec, compiled: Spec, types: list[Struct | Union]) -> int:
    got: dict[tuple[str, str], AnyType] = {}
    for t in compiled:
        if isinstance(t, (Struct, Union)) and t.name:
            got[(t.kind.name, t.name)] = t
    checked = 0
    for t in types:
        c = got.get((t.kind.name, t.name))
        assert c is not None, f"{t.name} missing from the compiled BTF"
        assert isinstance(c, (Struct, Union))
        assert _shape(compiled, c) == _shape(original, t), t.name
        checked += 1
    return checked


@pytest.mark.parametrize(
    "path", [KINDS_EL, KINDS_EB, *CILIUM_ELFS, *DATA_OBJECTS], ids=lambda p: p.name
)
def test_objects_compile_to_the_same_layouts(path: Path, tmp_path: Path) -> None:
    spec = load_btf(path)
    types = _unique_aggregates(spec)
    counts = _tag_counts(spec)
    want = {
        t.name: t for t in spec if isinstance(t, (Enum, Enum64)) and t.name and counts[t.name] == 1
    }
    enum_uses = "".join(f"enum {name} __bpfkit_enum_{t.id};\n" for name, t in want.items())
    compiled = _compile_btf(format_c(spec) + _uses(types) + enum_uses, tmp_path)
    _compare_compiled(spec, compiled, types)
    # enums: the same values and sizes
    got = {t.name: t for t in compiled if isinstance(t, (Enum, Enum64)) and t.name}
    assert set(got) >= set(want)
    for name, t in want.items():
        if name in got:
            assert [(v.name, v.value) for v in got[name].values] == [
                (v.name, v.value) for v in t.values
            ]
            assert got[name].size == t.size


def test_kinds_matches_bpftool_golden_header(tmp_path: Path) -> None:
    spec = load_btf(KINDS_EL)
    types = _unique_aggregates(spec)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours = _compile_btf(format_c(spec) + _uses(types), tmp_path / "a")
    theirs = _compile_btf(KINDS_EL_C_HEADER.read_text() + _uses(types), tmp_path / "b")
    assert _compare_compiled(spec, ours, types) == _compare_compiled(spec, theirs, types) >= 3


def test_kinds_text_features() -> None:
    text = format_c(load_btf(KINDS_EL))
    # bitfields, type tag, qualifiers, 2-D array, 64-bit enums, function pointer with varargs
    for needle in (
        "\tu64 d: 40;",
        'int __attribute__((btf_type_tag("user"))) *uptr;',
        "const volatile int *restrict rp;",
        "char arr[3][4];",
        "BIGGER = 18446744073709551615ULL,",
        "NEG64 = -4294967296LL,",
        "typedef int (*varfn_t)(int, ...);",
        '} __attribute__((btf_decl_tag("struct_tag")));',
        'struct node *next __attribute__((btf_decl_tag("member_tag")));',
    ):
        assert needle in text, needle
    # the pointer cycle node -> node needs no forward declaration; fwd_only gets one
    assert "struct fwd_only;" in text
    assert text.index("struct bits {") < text.index("struct node {")


def test_named_funcs_and_vars_are_extern_with_decl_tags(tmp_path: Path) -> None:
    spec = load_btf(KINDS_EL)
    text = format_c(spec, ["sub_fn", "global_node", "bpf_some_kfunc", "some_ksym_var"])
    assert (
        'extern int sub_fn(struct node *n __attribute__((btf_decl_tag("arg_tag"))), int x);' in text
    )
    assert 'extern struct node global_node __attribute__((btf_decl_tag("var_tag")));' in text
    assert "extern const int some_ksym_var;" in text
    res = _clang(text, tmp_path, "-target", "bpf", "-fsyntax-only")
    assert res.returncode == 0, res.stderr
    # a DATASEC: its entries (kinds.c's .ksyms holds the kfunc and the ksym variable)
    ksyms = format_c(spec, [".ksyms"])
    assert "extern int bpf_some_kfunc(struct node *, int);" in ksyms
    assert "extern const int some_ksym_var;" in ksyms


def test_unknown_name_is_an_error() -> None:
    with pytest.raises(BTFError, match="no type named 'no_such_type'"):
        format_c(load_btf(KINDS_EL), ["no_such_type"])


def test_split_btf_writes_the_base_types_it_needs(tmp_path: Path) -> None:
    base = load_btf(TESTMOD_BASE)
    split = load_btf(TESTMOD_SPLIT, base=base)
    types = [t for t in _unique_aggregates(split) if t.id >= split.first_id]
    compiled = _compile_btf(format_c(split) + _uses(types), tmp_path)
    assert _compare_compiled(split, compiled, types) == len(types) > 10


def _require_vmlinux() -> Spec:
    if not VMLINUX.exists():
        pytest.skip("needs /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")
    return load_btf(VMLINUX)


def _static_assert_all(spec: Spec, tmp_path: Path) -> str:
    """format_c of all *spec*, compiled for x86-64 with a ``_Static_assert`` on the size of
    every uniquely named struct/union and the offset of each of its named members."""
    text = format_c(spec)
    asserts = []
    for t in _unique_aggregates(spec):
        kw = "struct" if isinstance(t, Struct) else "union"
        asserts.append(f'_Static_assert(sizeof({kw} {t.name}) == {t.size}, "{t.name}");')
        names = collections.Counter(m.name for m in t.members)
        for m in t.members:
            if m.name and not m.bitfield_size and names[m.name] == 1:
                asserts.append(
                    f"_Static_assert(__builtin_offsetof({kw} {t.name}, {m.name}) == "
                    f'{m.bit_offset // 8}, "{t.name}.{m.name}");'
                )
    assert len(asserts) > 50000
    res = _clang(
        text + "\n".join(asserts) + "\n",
        tmp_path,
        "-target",
        "x86_64-linux-gnu",
        "-DBPF_NO_PRESERVE_ACCESS_INDEX",
        "-fsyntax-only",
        "-ferror-limit=20",
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return text


@pytest.mark.slow
def test_all_of_vmlinux_compiles_with_the_kernels_layouts(tmp_path: Path) -> None:
    """Every struct/union of this kernel: clang agrees on sizeof and every offsetof.

    Compiled for x86-64 (the kernel's own target: ``__builtin_va_list`` is 24 bytes
    there, not 8 as on BPF)."""
    text = _static_assert_all(_require_vmlinux(), tmp_path)
    assert "___2" in text  # duplicate names were renamed, and it still compiled
    assert "__attribute__((packed))" in text
    assert "__attribute__((mode(QI)))" in text  # 1-byte enums such as enum rw_hint


@pytest.mark.slow
def test_kernel_71_corpus_btf_compiles_with_its_layouts(tmp_path: Path) -> None:
    """The corpus's 7.1 kernel BTF (32-byte header, types sorted by name)."""
    _static_assert_all(load_btf(VMLINUX_71_GZ), tmp_path)


def test_task_struct_and_what_it_needs(tmp_path: Path) -> None:
    spec = _require_vmlinux()
    text = format_c(spec, ["task_struct"])
    assert text.count("struct task_struct {") == 1
    counts = _tag_counts(spec)
    embedded = [
        t
        for t in _unique_aggregates(spec)
        if f"\n{t.kind.name.lower()} {t.name} {{" in text and counts[t.name] == 1
    ]
    assert len(embedded) > 20
    compiled = _compile_btf(text + _uses(embedded), tmp_path)
    _compare_compiled(spec, compiled, embedded)


def test_sample_matches_live_bpftool_header(tmp_path: Path) -> None:
    """bpftool's vmlinux.h and ours give clang the same layouts for a sample of types."""
    spec = _require_vmlinux()
    if BPFTOOL is None:
        pytest.skip("needs bpftool to dump the kernel BTF as C")
    res = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(VMLINUX), "format", "c"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    types = [t for t in _unique_aggregates(spec) if t.name in SAMPLE]
    assert len(types) == len(SAMPLE)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours = _compile_btf(format_c(spec, list(SAMPLE)) + _uses(types), tmp_path / "a")
    theirs = _compile_btf(res.stdout + _uses(types), tmp_path / "b")
    agree = []
    for t in types:
        a = next(x for x in ours if isinstance(x, (Struct, Union)) and x.name == t.name)
        b = next(x for x in theirs if isinstance(x, (Struct, Union)) and x.name == t.name)
        assert _shape(ours, a) == _shape(spec, t), t.name
        if _shape(theirs, b) == _shape(spec, t):
            agree.append(t.name)
    # bpftool 7.1 (libbpf 1.1) writes 1-byte enums (enum rw_hint) as int-sized, which
    # moves inode's members; where bpftool gets the kernel's layout, so do we.
    assert {"task_struct", "sk_buff", "bpf_map"} <= set(agree)


# --------------------------------------------------------------- tiny hand-made BTF


def _btf(types: list[tuple[int, int, int, list[int]]], strings: bytes) -> bytes:
    """Raw little-endian BTF from (name_off, info, size_or_type, extra words) records."""
    body = b"".join(
        struct.pack("<III", n, info, st) + b"".join(struct.pack("<I", w) for w in extra)
        for n, info, st, extra in types
    )
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(strings))
    return hdr + body + strings


def _info(kind: int, vlen: int = 0, kind_flag: bool = False) -> int:
    return (kind << 24) | vlen | (int(kind_flag) << 31)


def test_attribute_type_tag_and_odd_layouts(tmp_path: Path) -> None:
    """kind_flag TYPE_TAG/DECL_TAG are plain attributes; a packed struct, a forced hole
    and trailing padding come out with the right offsets; a 1-byte enum keeps its size."""
    strings = b"\0int\0p\0address_space(1)\0s\0a\0b\0c\0e\0X\0Y\0deprecated\0q\0char\0"
    off = {
        s: strings.index(b"\0" + s.encode() + b"\0") + 1
        for s in (
            "int",
            "p",
            "address_space(1)",
            "s",
            "a",
            "b",
            "c",
            "e",
            "X",
            "Y",
            "deprecated",
            "q",
            "char",
        )
    }
    types = [
        (off["int"], _info(1), 4, [(1 << 24) | 32]),  # [1] int
        (off["address_space(1)"], _info(18, kind_flag=True), 1, []),  # [2] type_tag attr -> int
        (0, _info(2), 2, []),  # [3] ptr -> [2]
        (off["e"], _info(6, 2), 1, [off["X"], 0, off["Y"], 3]),  # [4] enum e, size 1
        (off["char"], _info(1), 1, [(0 << 24) | 8]),  # [5] char
        # [6] struct s { char a; int b /* at 1: packed */; enum e c /* at 9: hole */; int *p
        # at 16 } size 32 (trailing padding)
        (
            off["s"],
            _info(4, 4),
            32,
            [off["a"], 5, 0, off["b"], 1, 8, off["c"], 4, 72, off["p"], 3, 128],
        ),
        (off["deprecated"], _info(17, kind_flag=True), 6, [0xFFFFFFFF]),  # [7] decl tag attr
    ]
    spec = parse_btf(_btf(types, strings))
    assert is_packed(spec, 6)
    text = format_c(spec)
    assert "int __attribute__((address_space(1))) *p;" in text
    assert "} __attribute__((packed)) __attribute__((deprecated));" in text
    assert "__attribute__((mode(QI)))" in text
    res = _clang(
        text + '_Static_assert(sizeof(struct s) == 32, "size");\n'
        '_Static_assert(__builtin_offsetof(struct s, b) == 1, "b");\n'
        '_Static_assert(__builtin_offsetof(struct s, c) == 9, "c");\n'
        '_Static_assert(__builtin_offsetof(struct s, p) == 16, "p");\n'
        '_Static_assert(sizeof(enum e) == 1, "e");\n',
        tmp_path,
        "-target",
        "bpf",
        "-fsyntax-only",
        "-Wno-ignored-attributes",
    )
    assert res.returncode == 0, res.stderr


def test_deep_chain_is_a_btf_error() -> None:
    """A const chain longer than the recursion limit: an error, not a crash."""
    n = 5000
    strings = b"\0int\0s\0m\0"
    types = [(1, _info(1), 4, [(1 << 24) | 32])]
    types += [(0, _info(10), i + 1, []) for i in range(n)]  # [i+2] const -> [i+1]
    types.append((5, _info(4, 1), 4, [7, n + 1, 0]))  # struct s { const...int m; }
    spec = parse_btf(_btf(types, strings))
    try:
        text = format_c(spec, ["s"])
    except BTFError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert "struct s {" in text


def test_vmlinux_embedded_doctest_free_path() -> None:
    """format_c works on the embedded/kernel BTF through load_vmlinux."""
    text = format_c(load_vmlinux(), ["bpf_rb_root", "bpf_refcount"])
    assert "struct bpf_rb_root {" in text and "struct bpf_refcount {" in text


# ------------------------------------------------------------------ mutated input

SEED = KINDS_EL_BTF.read_bytes() if KINDS_EL_BTF.exists() else b""


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(24, max(len(SEED) - 1, 24)), st.integers(0, 255)), max_size=4)
)
def test_mutated_btf_renders_or_errors(edits: list[tuple[int, int]]) -> None:
    """Byte edits in the type section of a real blob: format_c, every graph mode, every
    layout and both tables give a result or a BpfkitError, nothing else, never a hang."""
    if not SEED:
        pytest.skip("corpus kinds-el.BTF.bin missing")
    data = bytearray(SEED)
    for i, v in edits:
        data[i] = v
    try:
        spec = parse_btf(bytes(data), name="<mutated>")
    except BpfkitError:
        return
    calls = [
        lambda: format_c(spec),
        lambda: type_graph(spec),
        lambda: type_graph(spec, fold_modifiers=True),
        lambda: type_graph(spec, aggregates_only=True),
        lambda: types_frame(spec),
        lambda: members_frame(spec),
    ]
    for call in calls:
        with contextlib.suppress(BpfkitError):
            call()
    for tid in range(1, len(spec)):
        with contextlib.suppress(BpfkitError):
            if isinstance(spec[tid], (Struct, Union)):
                format_layout(struct_layout(spec, tid), spec)
