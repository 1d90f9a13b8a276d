"""bpfkit's own loader (bpfkit.kernel.direct) against libbpf 1.1, the loader it stands in for.

Oracles, all live: libbpf's own final instructions (``bpf_program__insns()`` after
``bpf_object__load``) and its fixed-up BTF (``btf__raw_data``) must equal the prepared ones byte
for byte; and the kernel must say the same thing about every program either way: verdict,
errno, error line, statistics and the whole level-2 log (map addresses and ids, which differ
between any two loads, masked).
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.errors import BpfkitError, ELFError
from bpfkit.kernel import load_programs
from bpfkit.kernel._libbpf import open_libbpf
from bpfkit.kernel.direct import (
    PreparedObject,
    Unsupported,
    kernel_version_code,
    prepare_object,
)
from tests.corpus import DATA_OBJECTS

PROGRAMS = Path(__file__).parent / "programs"
pytestmark = pytest.mark.usefixtures("live")


def _mask(log: str) -> str:
    """A log with what differs between any two loads of one program masked: kernel addresses
    of maps, map ids, and the verification time."""
    log = re.sub(r"0xffff[0-9a-f]{12}", "ADDR", log)
    log = re.sub(r"map\[id:\d+\]", "map[id:N]", log)
    return re.sub(r"verification time \d+ usec", "verification time N usec", log)


@contextmanager
def _libbpf_object(path: Path, program: str) -> Iterator[tuple[int, int, int]]:
    """libbpf 1.1 opens *path* and loads only *program*: ``(err, obj, prog)`` while open."""
    lib = open_libbpf()
    lb = lib.lib
    obj = lb.bpf_object__open_file(os.fsencode(path), None)
    assert obj, f"libbpf cannot open {path}"
    try:
        target = 0
        prog = lb.bpf_object__next_program(obj, None)
        while prog:
            mine = lb.bpf_program__name(prog).decode() == program
            lb.bpf_program__set_autoload(prog, mine)
            target = prog if mine else target
            prog = lb.bpf_object__next_program(obj, prog)
        with lib.capture():
            err = lb.bpf_object__load(obj)
        yield err, obj, target
    finally:
        lb.bpf_object__close(obj)


def _libbpf_final(path: Path, program: str) -> tuple[bytes, bytes]:
    """libbpf's final instructions of *program* and its fixed-up object BTF."""
    lb = open_libbpf().lib
    lb.bpf_program__insns.restype = ctypes.c_void_p
    lb.bpf_program__insns.argtypes = [ctypes.c_void_p]
    lb.bpf_object__btf.restype = ctypes.c_void_p
    lb.bpf_object__btf.argtypes = [ctypes.c_void_p]
    lb.btf__raw_data.restype = ctypes.c_void_p
    lb.btf__raw_data.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    with _libbpf_object(path, program) as (_err, obj, prog):
        n = lb.bpf_program__insn_cnt(prog)
        insns = ctypes.string_at(lb.bpf_program__insns(prog), n * 8)
        size = ctypes.c_uint32()
        raw = lb.btf__raw_data(lb.bpf_object__btf(obj), ctypes.byref(size))
        return insns, ctypes.string_at(raw, size.value)


def _without_fds(prepared: PreparedObject, name: str, libbpf_insns: bytes) -> tuple[bytes, bytes]:
    """Both instruction streams with the map fds (which differ per load) zeroed; the pseudo
    source register of those ``ld_imm64`` is kept from libbpf's, and checked separately."""
    prog = prepared.program(name)
    mine, theirs = bytearray(prog.insns), bytearray(libbpf_insns)
    for idx, _map, is_value in prog.map_relos:
        at = idx * 8
        assert theirs[at + 1] >> 4 == (2 if is_value else 1), f"insn {idx}: map pseudo src_reg"
        mine[at + 1] = theirs[at + 1]
        mine[at + 4 : at + 8] = theirs[at + 4 : at + 8] = bytes(4)
    return bytes(mine), bytes(theirs)


@pytest.fixture(scope="module")
def feature_objects(tmp_path_factory: pytest.TempPathFactory, vmlinux_h: Path) -> dict[str, Path]:
    """tests/kernel/programs/*.bpf.c compiled with clang-19 (the compile_bpf recipe)."""
    import shutil
    import subprocess

    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("needs clang-19 (apt install clang-19)")
    out = tmp_path_factory.mktemp("loader_programs")
    built = {}
    for src in sorted(PROGRAMS.glob("*.bpf.c")):
        obj = out / src.name.replace(".c", ".o")
        subprocess.run(
            [clang, "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
             "-I", str(DATA_OBJECTS[0].parent), "-I", str(vmlinux_h.parent),
             "-c", str(src), "-o", str(obj)],
            check=True,
        )  # fmt: skip
        built[src.name.split(".")[0]] = obj
    return built


def _cases(objects: list[Path]) -> list[tuple[Path, str]]:
    out = []
    for path in objects:
        prepared, fallback = prepare_object(path)
        prepared.close()
        assert not fallback, f"{path.name}: not prepared by bpfkit: {fallback}"
        out.extend((path, name) for name in prepared.program_names)
    return out


def test_data_objects_are_prepared_whole() -> None:
    """Every program of data/ is prepared by bpfkit itself (no libbpf fallback)."""
    cases = _cases(DATA_OBJECTS)
    assert len(cases) == 46


@pytest.mark.parametrize("path", DATA_OBJECTS, ids=lambda p: p.name)
def test_instructions_and_btf_equal_libbpf(path: Path) -> None:
    prepared, _ = prepare_object(path)
    with prepared:
        for name in prepared.program_names:
            insns, btf = _libbpf_final(path, name)
            assert prepared.btf == btf, f"{path.name}: BTF differs from libbpf's"
            mine, theirs = _without_fds(prepared, name, insns)
            assert len(mine) == len(theirs), f"{name}: {len(mine)} vs {len(theirs)} bytes"
            diff = [i for i in range(0, len(mine), 8) if mine[i : i + 8] != theirs[i : i + 8]]
            assert not diff, f"{name}: instructions differ at {[i // 8 for i in diff][:10]}"


@pytest.mark.parametrize("name", ["features", "refused_btf", "weak_call"])
def test_feature_instructions_and_btf_equal_libbpf(
    feature_objects: dict[str, Path], name: str
) -> None:
    path = feature_objects[name]
    prepared, fallback = prepare_object(path)
    assert not fallback
    with prepared:
        for prog in prepared.program_names:
            insns, btf = _libbpf_final(path, prog)
            assert prepared.btf == btf
            mine, theirs = _without_fds(prepared, prog, insns)
            assert mine == theirs, prog


def _same_outcome(path: Path) -> list[str]:
    """Load every program both ways at level 2; assert the kernel said the same; return the
    loader that loaded each program with bpfkit's default."""
    ours = load_programs(path, log_level=2)
    theirs = load_programs(path, log_level=2, loader="libbpf")
    assert [r.program for r in ours] == [r.program for r in theirs]
    for a, b in zip(ours, theirs, strict=True):
        what = f"{path.name}:{a.program}"
        assert (a.section, a.prog_type) == (b.section, b.prog_type), what
        assert (a.verdict, a.errno, a.error) == (b.verdict, b.errno, b.error), what
        stats = ("insns_processed", "total_states", "peak_states", "max_states_per_insn",
                 "mark_read", "stack_depth")  # fmt: skip
        assert [getattr(a, s) for s in stats] == [getattr(b, s) for s in stats], what
        assert _mask(a.log) == _mask(b.log), what
        assert b.loader == "libbpf"
    return [r.loader for r in ours]


@pytest.mark.parametrize("path", DATA_OBJECTS, ids=lambda p: p.name)
def test_kernel_says_the_same_for_data_programs(path: Path) -> None:
    assert set(_same_outcome(path)) == {"bpfkit"}


def test_kernel_says_the_same_for_loader_features(feature_objects: dict[str, Path]) -> None:
    loaders = _same_outcome(feature_objects["features"])
    assert set(loaders) == {"bpfkit"}
    assert len(loaders) == 11


def test_weak_kfuncs_as_libbpf_leaves_them(feature_objects: dict[str, Path]) -> None:
    """A weak kfunc the kernel lacks stays an unresolved call (the verifier refuses it); one
    it has resolves like any other."""
    assert _same_outcome(feature_objects["weak_call"]) == ["bpfkit", "bpfkit"]


def test_maps_the_kernel_refuses_with_btf_are_created_without(
    feature_objects: dict[str, Path],
) -> None:
    """A timer in .rodata: the kernel refuses the map's BTF (EACCES) and libbpf creates it
    again without; bpfkit's loader does the same and says so in its notes."""
    path = feature_objects["refused_btf"]
    assert set(_same_outcome(path)) == {"bpfkit"}
    (ours,) = load_programs(path, "use", log_level=1)
    (theirs,) = load_programs(path, "use", log_level=1, loader="libbpf")
    refused = [t for _, t in theirs.libbpf_messages if "Retrying without BTF" in t]
    noted = [t for _, t in ours.libbpf_messages if "created again without BTF" in t]
    assert len(refused) == len(noted) == 1
    assert "refused_.rodata" in refused[0] and "'refused_.rodata'" in noted[0]
    assert "(-13)" in refused[0] and "EACCES, -13" in noted[0]


def test_a_relocation_libbpf_poisons_sends_the_program_to_libbpf(
    feature_objects: dict[str, Path],
) -> None:
    """libbpf relocates every .text subprogram, called or not, and poisons what it cannot
    relocate; bpfkit does not reproduce poisoning (nor libbpf's log rewriting for it), so the
    program goes to libbpf, with the reason."""
    path = feature_objects["core_poison"]
    prepared, fallback = prepare_object(path)
    prepared.close()
    assert list(fallback) == ["reads_pid"]
    assert "unused_reader" in fallback["reads_pid"] and "poisons" in fallback["reads_pid"]
    assert _same_outcome(path) == ["libbpf"]


@pytest.mark.parametrize("name", ["weak", "kconfig", "kfunc_mismatch"])
def test_objects_bpfkit_does_not_prepare_go_to_libbpf(
    feature_objects: dict[str, Path], name: str
) -> None:
    path = feature_objects[name]
    with pytest.raises(Unsupported, match=r"extern|\.kconfig|does not match"):
        prepare_object(path)
    with pytest.raises(Unsupported):
        load_programs(path, loader="bpfkit")
    assert set(_same_outcome(path)) == {"libbpf"}


def test_global_data_maps_as_libbpf_names_and_flags_them(
    feature_objects: dict[str, Path],
) -> None:
    """Names, flags and contents of the global data maps, as libbpf 1.1 creates them (the
    names appear in the verifier's register states, ``map=features.bss``)."""
    prepared, _ = prepare_object(feature_objects["features"])
    data = {m.name: m for m in prepared.maps if m.map_type == 2 and m.max_entries == 1}
    assert set(data) == {
        "features.rodata", "features.data", ".data.extra", ".data.more", "features.bss"
    }  # fmt: skip
    rodata_prog, mmapable = 1 << 7, 1 << 10
    assert data["features.rodata"].map_flags == rodata_prog | mmapable
    assert data["features.rodata"].freeze
    assert data[".data.extra"].map_flags == 0  # only a static variable: not mmapable
    assert data[".data.more"].map_flags == mmapable
    assert data["features.data"].initial == struct.pack("<i", 7)
    log = next(
        r.log for r in load_programs(feature_objects["features"], "data_and_bss", log_level=2)
    )
    assert "map=features.bss" in log


def test_kernel_version_code_matches_uname() -> None:
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", os.uname().release)
    assert m is not None
    major, minor, patch = map(int, m.groups())
    assert kernel_version_code() == (major << 16) + (minor << 8) + min(patch, 255)


# --------------------------------------------------------------------------- bad input


def test_missing_and_non_elf_files(tmp_path: Path) -> None:
    with pytest.raises(ELFError, match="no such BPF object"):
        prepare_object(tmp_path / "absent.bpf.o")
    junk = tmp_path / "junk.bpf.o"
    junk.write_bytes(b"not an elf at all" * 10)
    with pytest.raises(ELFError, match=r"junk\.bpf\.o: not an ELF"):
        prepare_object(junk)
    cut = tmp_path / "cut.bpf.o"
    cut.write_bytes(DATA_OBJECTS[0].read_bytes()[:300])
    with pytest.raises(ELFError, match=r"cut\.bpf\.o: section headers"):
        prepare_object(cut)


_SEED_OBJECT = DATA_OBJECTS[0].read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(_SEED_OBJECT) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_corrupt_objects_give_bpfkit_errors(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]]
) -> None:
    """Any corruption of a real object: prepared, or a BpfkitError (ELFError for a broken ELF,
    Unsupported handing it to libbpf), never another exception."""
    data = bytearray(_SEED_OBJECT)
    for at, value in flips:
        data[at] = value
    path = tmp_path_factory.mktemp("corrupt") / "corrupt.bpf.o"
    path.write_bytes(bytes(data))
    try:
        prepared, _ = prepare_object(path)
    except BpfkitError:
        return
    prepared.close()


def test_a_freshly_compiled_program_loads_directly(compile_bpf: Callable[[str, str], Path]) -> None:
    """The shared compile fixture builds a program this loader prepares on the first try."""
    obj = compile_bpf(
        "tiny",
        '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar L[] SEC("license") = "GPL";\n'
        'SEC("tc") int tiny(struct __sk_buff *s) { return 0; }\n',
    )
    (result,) = load_programs(obj, log_level=1)
    assert (result.loader, result.verdict) == ("bpfkit", "accept")


def test_cli_load_names_the_loader(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bpfkit.cli import main

    obj = next(p for p in DATA_OBJECTS if p.name == "list.bpf.o")
    runs = {}
    for loader in ("bpfkit", "libbpf"):
        assert main(["load", str(obj), "-p", "list_pop_leak", "--json", "--loader", loader]) == 0
        (runs[loader],) = json.loads(capsys.readouterr().out)
    assert runs["bpfkit"]["loader"] == "bpfkit" and runs["libbpf"]["loader"] == "libbpf"
    for key in ("verdict", "errno", "error", "insns_processed", "total_states", "peak_states"):
        assert runs["bpfkit"][key] == runs["libbpf"][key], key


def test_nothing_stays_open_or_loaded() -> None:
    """Every map, program and BTF file descriptor the loader opens is closed again (the
    kernel frees an unpinned BPF object with its last fd), rejected programs included."""
    fd_dir = Path("/proc/self/fd")
    before = set(os.listdir(fd_dir))
    for path in DATA_OBJECTS:
        load_programs(path, log_level=1)
    assert set(os.listdir(fd_dir)) - before == set()
