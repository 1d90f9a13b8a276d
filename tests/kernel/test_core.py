"""CO-RE relocation (bpfkit.kernel.core) and the kernel BTF view (bpfkit.kernel.kbtf) against
libbpf 1.1 itself: for every CO-RE relocation of real objects (the committed data/programs and
programs compiled here with clang-19), bpfkit's patched instructions are the instructions
libbpf hands to the kernel (``bpf_program__insns`` after ``bpf_object__load``), and bpfkit's
debug lines are libbpf's own, line for line (candidate search, specs, matching, patching).
Where libbpf fails a load, bpfkit refuses. Decoded kernel types are checked against
bpftool's raw dump of the same BTF."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.btf import BTFKind, CoreRelo, CoreReloKind, Spec, Struct
from bpfkit.errors import KernelError
from bpfkit.kernel._libbpf import open_libbpf
from bpfkit.kernel.core import (
    POISON_IMM,
    CoreReloSite,
    CoreUnsupported,
    apply_core_relos,
    libbpf_relo_order,
    program_relo_sites,
)
from bpfkit.kernel.kbtf import KernelBTF
from bpfkit.obj import load_object
from tests.corpus import (
    DATA_OBJECTS,
    DATA_PROGRAMS,
    RELOCS_EB,
    RELOCS_EL,
    RELOCS_ENUM_EL,
    RELOCS_READ_EL,
    RELOCS_READ_TGT_EL,
)

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("live")]

_RELO_LINE = re.compile(r"^(prog '[^']*': relo #|CO-RE relocating )")

# Programs compiled by the tests: one per aspect, each loaded on its own (raw_tp, verifiable).
CORE_SRC = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";
long sink;

struct task_struct___old {
    int pid;
    long bpfkit_no_such_field;
} __attribute__((preserve_access_index));

struct bpfkit_local_only { int a; } __attribute__((preserve_access_index));

struct pt_regs___mismatch { int bpfkit_nope; } __attribute__((preserve_access_index));

enum bpf_map_type___local { BPF_MAP_TYPE_ARRAY___local = 2, BPFKIT_NOT_IN_KERNEL___local = 99 };

typedef void (*work_func_t___same)(struct work_struct *);
typedef int (*work_func_t___args)(struct work_struct *, int);
typedef void (*perf_overflow_handler_t___same)(struct perf_event *, struct perf_sample_data *,
                                               struct pt_regs *);

SEC("raw_tp/sys_enter")
int core_reads(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    long v = 0;

    v += BPF_CORE_READ(t, pid);
    v += BPF_CORE_READ(t, real_parent, tgid);
    v += BPF_CORE_READ(t, comm[3]);
    v += BPF_CORE_READ(t, mm, mmap_base);
    v += BPF_CORE_READ(t, signal, rlim[2].rlim_cur);
    sink = v;
    return 0;
}

SEC("tp_btf/sched_switch")
int core_direct(u64 *ctx)
{
    struct task_struct *prev = (void *)ctx[1];
    sink = prev->pid + prev->tgid + prev->comm[1] + prev->real_parent->pid;
    return 0;
}

SEC("raw_tp/sys_enter")
int core_bitfields(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();

    sink = BPF_CORE_READ_BITFIELD_PROBED(t, in_iowait)
           + BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork)
           + BPF_CORE_READ_BITFIELD_PROBED(t, in_execve);
    return 0;
}

SEC("raw_tp/sys_enter")
int core_queries(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    long v = 0;

    v += bpf_core_field_exists(t->pid);
    v += bpf_core_field_size(t->comm);
    v += bpf_core_field_offset(t->tgid);
    v += bpf_core_type_exists(struct task_struct);
    v += bpf_core_type_size(struct task_struct);
    v += bpf_core_type_id_kernel(struct task_struct);
    v += bpf_core_type_id_local(struct task_struct);
    v += bpf_core_type_exists(struct bpfkit_local_only);
    v += bpf_core_type_size(struct bpfkit_local_only);
    v += bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_ARRAY);
    v += bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
    v += bpf_core_enum_value_exists(enum bpf_map_type___local, BPFKIT_NOT_IN_KERNEL___local);
    v += bpf_core_enum_value(enum bpf_map_type___local, BPF_MAP_TYPE_ARRAY___local);
    sink = v;
    return 0;
}

SEC("raw_tp/sys_enter")
int core_func_protos(void *ctx)
{
    long v = 0;

    v += bpf_core_type_exists(work_func_t___same);
    v += bpf_core_type_exists(work_func_t___args) * 10;
    v += bpf_core_type_exists(perf_overflow_handler_t___same) * 100;
    v += bpf_core_type_matches(work_func_t___same) * 1000;
    v += bpf_core_type_matches(work_func_t___args) * 10000;
    v += bpf_core_type_size(work_func_t___same) * 100000;
    sink = v;
    return 0;
}

SEC("raw_tp/sys_enter")
int core_matches(void *ctx)
{
    sink = bpf_core_type_matches(struct task_struct) + bpf_core_type_matches(struct pt_regs___mismatch)
           + bpf_core_type_matches(struct pt_regs);
    return 0;
}

SEC("raw_tp/sys_enter")
int core_flavors(void *ctx)
{
    struct task_struct___old *t = (void *)bpf_get_current_task();

    sink = bpf_core_field_exists(t->bpfkit_no_such_field) * 10 + bpf_core_field_exists(t->pid)
           + BPF_CORE_READ(t, pid);
    return 0;
}

SEC("raw_tp/sys_enter")
int core_poison_guarded(void *ctx)
{
    struct task_struct___old *t = (void *)bpf_get_current_task();
    long v = 1;

    if (bpf_core_field_exists(t->bpfkit_no_such_field))
        v = BPF_CORE_READ(t, bpfkit_no_such_field);
    sink = v;
    return 0;
}

SEC("raw_tp/sys_enter")
int core_fail_anon(void *ctx)
{
    struct { int bpfkit_x; } __attribute__((preserve_access_index)) *p = (void *)bpf_get_current_task();

    sink = bpf_core_field_exists(p->bpfkit_x);
    return 0;
}

static __noinline long sub_read(struct task_struct *t)
{
    return BPF_CORE_READ(t, tgid) + bpf_core_field_size(t->pid);
}

SEC("raw_tp/sys_enter")
int core_with_subprog(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();

    sink = sub_read(t) + BPF_CORE_READ(t, pid);
    return 0;
}
"""

#: The compiled programs that libbpf relocates without poisoning or failing.
CLEAN = [
    "core_reads",
    "core_direct",
    "core_bitfields",
    "core_queries",
    "core_matches",
    "core_func_protos",
    "core_flavors",
    "core_with_subprog",
]


# ----------------------------------------------------------------------------- the oracle


class _OpenOpts(ctypes.Structure):
    """libbpf 1.1's ``struct bpf_object_open_opts`` (80 bytes, btf_custom_path at 48)."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("object_name", ctypes.c_char_p),
        ("relaxed_maps", ctypes.c_bool),
        ("pin_root_path", ctypes.c_char_p),
        ("_attach_prog_fd", ctypes.c_uint32),
        ("kconfig", ctypes.c_char_p),
        ("btf_custom_path", ctypes.c_char_p),
        ("kernel_log_buf", ctypes.c_char_p),
        ("kernel_log_size", ctypes.c_size_t),
        ("kernel_log_level", ctypes.c_uint32),
    ]


def _libbpf_load(
    path: Path, program: str, btf_custom_path: Path | None = None
) -> tuple[list[str], bytes | None, int]:
    """Load *program* alone through libbpf 1.1 with debug messages on: (libbpf's CO-RE lines
    without the ``libbpf: `` prefix, the instructions it gave the kernel, load result).
    With *btf_custom_path*, libbpf relocates against that BTF instead of the kernel's."""
    lib = open_libbpf()
    lb = lib.lib
    lb.bpf_program__insns.restype = ctypes.c_void_p
    lb.bpf_program__insns.argtypes = [ctypes.c_void_p]
    opts = None
    if btf_custom_path is not None:
        opts = _OpenOpts(sz=ctypes.sizeof(_OpenOpts))
        opts.btf_custom_path = os.fsencode(btf_custom_path)
        assert ctypes.sizeof(_OpenOpts) == 80 and _OpenOpts.btf_custom_path.offset == 48
    with lib.capture(debug=True) as messages:
        obj = lb.bpf_object__open_file(
            os.fsencode(path), ctypes.byref(opts) if opts is not None else None
        )
        assert obj, f"libbpf cannot open {path}: {messages}"
        try:
            target = None
            prog = lb.bpf_object__next_program(obj, None)
            while prog:
                name = lb.bpf_program__name(prog).decode()
                lb.bpf_program__set_autoload(prog, name == program)
                if name == program:
                    target = prog
                prog = lb.bpf_object__next_program(obj, prog)
            assert target is not None, f"{path} has no program {program}"
            err = lb.bpf_object__load(obj)
            ptr = lb.bpf_program__insns(target)
            n = lb.bpf_program__insn_cnt(target)
            insns = ctypes.string_at(ptr, 8 * n) if ptr and n else None
        finally:
            lb.bpf_object__close(obj)
    lines = [t.removeprefix("libbpf: ").rstrip() for _, t in messages]
    return lines, insns, err


def _function_bytes(path: Path, name: str) -> bytearray:
    obj = load_object(path)
    prog = obj.program(name)
    last = prog.insns[-1]
    with path.open("rb") as f:
        section = ELFFile(f).get_section_by_name(prog.section)
        assert section is not None
        data = section.data()
    return bytearray(data[prog.start * 8 : (prog.start + last.idx + last.nslots) * 8])


def _bpfkit(
    path: Path, program: str, *, allow_poison: bool = False, target: KernelBTF | None = None
) -> tuple[list[str], dict[str, bytearray], list[tuple[str, list[CoreReloSite]]]]:
    """bpfkit's relocation of what libbpf relocates for *program*: (lines, buffers, sites)."""
    obj = load_object(path)
    assert obj.btf is not None
    lines: list[str] = []
    bufs: dict[str, bytearray] = {}
    cands: dict[int, list[int]] = {}
    groups = libbpf_relo_order(obj, program)
    for name, sites in groups:
        buf = bufs.setdefault(name, _function_bytes(path, name))
        lines += apply_core_relos(
            buf,
            sites,
            obj.btf,
            target or KernelBTF.vmlinux(),
            name,
            cand_cache=cands,
            allow_poison=allow_poison,
        )
    return lines, bufs, groups


#: libbpf's load result of the last program compared (0: the kernel accepted it).
_LAST_ERR: dict[str, int] = {}


def _assert_same_as_libbpf(
    path: Path, program: str, *, allow_poison: bool = False, custom: Path | None = None
) -> list[str]:
    lib_lines, lib_insns, err = _libbpf_load(path, program, custom)
    _LAST_ERR[program] = err
    target = KernelBTF(custom) if custom is not None else None
    mine, bufs, groups = _bpfkit(path, program, allow_poison=allow_poison, target=target)
    assert [ln for ln in lib_lines if _RELO_LINE.match(ln)] == mine
    assert lib_insns is not None
    # The program's own instructions lead libbpf's final buffer: every relocated slot agrees.
    own = [s for name, sites in groups if name == program for s in sites]
    buf = bufs.get(program)
    for s in own:
        assert buf is not None
        n = 16 if buf[s.insn_idx * 8] == 0x18 else 8
        got = bytes(buf[s.insn_idx * 8 : s.insn_idx * 8 + n])
        want = lib_insns[s.insn_idx * 8 : s.insn_idx * 8 + n]
        assert got == want, f"{program} insn {s.insn_idx}: {got.hex()} != libbpf {want.hex()}"
    return mine


# ----------------------------------------------------------------------------- real objects


def _data_cases() -> list[tuple[Path, str]]:
    cases = []
    for path in DATA_OBJECTS:
        obj = load_object(path)
        for prog in obj.programs:
            if not prog.subprog and program_relo_sites(obj, prog.name):
                cases.append((path, prog.name))
    return cases


@pytest.mark.parametrize("case", _data_cases(), ids=lambda c: f"{c[0].stem}:{c[1]}")
def test_data_programs_relocate_as_libbpf(case: tuple[Path, str]) -> None:
    path, program = case
    mine = _assert_same_as_libbpf(path, program)
    assert any("patched insn" in ln for ln in mine)


_COMPILED: dict[str, Path] = {}


@pytest.fixture
def core_obj(compile_bpf: Callable[[str, str], Path]) -> Path:
    """CORE_SRC compiled once per session (the first test's tmp_path outlives the session)."""
    if "core" not in _COMPILED:
        _COMPILED["core"] = compile_bpf("core", CORE_SRC)
    return _COMPILED["core"]


@pytest.mark.parametrize("program", CLEAN)
def test_compiled_programs_relocate_as_libbpf(core_obj: Path, program: str) -> None:
    _assert_same_as_libbpf(core_obj, program)
    assert _LAST_ERR[program] == 0  # and the kernel verified those instructions


def test_compiled_programs_cover_every_kind(core_obj: Path) -> None:
    obj = load_object(core_obj)
    assert obj.ext is not None
    kinds = {r.kind for relos in obj.ext.core_relos.values() for r in relos}
    assert kinds == set(CoreReloKind)


def test_local_flavor_without_the_field(core_obj: Path) -> None:
    mine, bufs, groups = _bpfkit(core_obj, "core_flavors")
    obj = load_object(core_obj)
    assert obj.btf is not None
    name, sites = next(g for g in groups if g[0] == "core_flavors")
    exists = [
        s
        for s in sites
        if s.relo.kind == CoreReloKind.FIELD_EXISTS
        and obj.btf[s.relo.type_id].name == "task_struct___old"
    ]
    values = {}
    for s in exists:
        _, _, _, imm = struct.unpack_from("<BBhi", bufs[name], s.insn_idx * 8)
        values[s.relo.access_str] = imm
    assert values == {"0:0": 1, "0:1": 0}  # pid exists, bpfkit_no_such_field does not
    assert any("found target candidate" in ln and "task_struct___old" in ln for ln in mine)


def test_poisoned_relocation_refused_or_poisoned_like_libbpf(core_obj: Path) -> None:
    with pytest.raises(CoreUnsupported, match=r"core_poison_guarded.*poison"):
        _bpfkit(core_obj, "core_poison_guarded")
    mine = _assert_same_as_libbpf(core_obj, "core_poison_guarded", allow_poison=True)
    assert any("substituting insn" in ln for ln in mine)
    _, bufs, _ = _bpfkit(core_obj, "core_poison_guarded", allow_poison=True)
    imms = [
        int.from_bytes(bufs["core_poison_guarded"][i + 4 : i + 8], "little")
        for i in range(0, len(bufs["core_poison_guarded"]), 8)
    ]
    assert POISON_IMM in imms
    # libbpf's program verifies: the poisoned read is dead code once exists() is 0.
    _, _, err = _libbpf_load(core_obj, "core_poison_guarded")
    assert err == 0


def test_relocation_libbpf_fails_is_refused(core_obj: Path) -> None:
    lines, _, err = _libbpf_load(core_obj, "core_fail_anon")
    assert err < 0
    assert any("failed to relocate" in ln for ln in lines)
    with pytest.raises(
        CoreUnsupported, match=r"core_fail_anon.*relo #\d+ at insn #\d+ \(FIELD_EXISTS"
    ):
        _bpfkit(core_obj, "core_fail_anon")


# ------------------------------------------------- a crafted target BTF (libbpf's btf_custom_path)

# Local types relocated against TARGET_TYPES below: duplicate and flavored targets (pruning,
# ambiguity), ENUM64 and signed enums, kind_flag bitfields, load size adjustment.
CUSTOM_SRC = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";
volatile long sink;

struct bk_dup { int a; int c; int d; } __attribute__((preserve_access_index));
struct bk_amb { int a; int b; } __attribute__((preserve_access_index));
struct bk_flav___local { long x; } __attribute__((preserve_access_index));
struct bk_bits { unsigned int lo: 3; int hi: 5; } __attribute__((preserve_access_index));
struct bk_size { unsigned int v; } __attribute__((preserve_access_index));
struct bk_size_bad { int v; } __attribute__((preserve_access_index));
union bk_un { int a; } __attribute__((preserve_access_index));
struct bk_match { int a; } __attribute__((preserve_access_index));
struct bk_nomatch { unsigned int a; } __attribute__((preserve_access_index));
enum bk_e64 { BK_BIG = 1 };
enum bk_sgn { BK_NEG = -1, BK_MISSING = 7 };
typedef unsigned int bk_td;

SEC("raw_tp/sys_enter")
int p_prune(void *ctx)
{
    struct bk_dup *p = ctx;

    sink = bpf_core_field_exists(p->a);
    sink = bpf_core_field_exists(p->c);
    sink = bpf_core_field_exists(p->d);
    return 0;
}

SEC("raw_tp/sys_enter")
int p_amb(void *ctx)
{
    struct bk_amb *p = ctx;

    sink = bpf_core_field_offset(p->b);
    return 0;
}

SEC("raw_tp/sys_enter")
int p_values(void *ctx)
{
    struct bk_flav___local *f = ctx;
    union bk_un *u = ctx;

    sink = bpf_core_field_offset(f->x);
    sink = bpf_core_field_size(f->x);
    sink = bpf_core_enum_value(enum bk_e64, BK_BIG);
    sink = bpf_core_enum_value(enum bk_sgn, BK_NEG);
    sink = bpf_core_enum_value_exists(enum bk_sgn, BK_NEG);
    sink = bpf_core_type_exists(bk_td);
    sink = bpf_core_type_size(bk_td);
    sink = bpf_core_type_id_kernel(bk_td);
    sink = bpf_core_field_offset(u->a);
    sink = bpf_core_type_matches(struct bk_match);
    sink = bpf_core_type_matches(struct bk_nomatch);
    sink = bpf_core_type_size(union bk_un);
    return 0;
}

SEC("raw_tp/sys_enter")
int p_bits(void *ctx)
{
    struct bk_bits *b = ctx;

    sink = BPF_CORE_READ_BITFIELD_PROBED(b, lo);
    sink = BPF_CORE_READ_BITFIELD_PROBED(b, hi);
    sink = BPF_CORE_READ_BITFIELD(b, hi);
    return 0;
}

SEC("raw_tp/sys_enter")
int p_size(void *ctx)
{
    struct bk_size *p = ctx;

    sink = p->v;
    return 0;
}

SEC("raw_tp/sys_enter")
int p_poison_ld64(void *ctx)
{
    if (bpf_core_enum_value_exists(enum bk_sgn, BK_MISSING))
        sink = bpf_core_enum_value(enum bk_sgn, BK_MISSING);
    return 0;
}

SEC("raw_tp/sys_enter")
int p_size_bad(void *ctx)
{
    struct bk_size_bad *p = ctx;

    sink = p->v;
    return 0;
}
"""


def _target_types() -> list[object]:
    from bpfkit.btf import (
        Enum,
        Enum64,
        EnumValue,
        Int,
        IntEncoding,
        Member,
        Typedef,
        Union,
    )

    signed, plain = IntEncoding.SIGNED, IntEncoding.NONE
    return [
        Int(1, "int", 4, signed, 0, 32),
        Int(2, "unsigned int", 4, plain, 0, 32),
        Int(3, "unsigned short", 2, plain, 0, 16),
        Int(4, "long", 8, signed, 0, 64),
        # two bk_dup: both have a (same offset); only 5 has d, only 6 has c
        Struct(5, "bk_dup", 12, (Member("a", 1, 0), Member("b", 1, 32), Member("d", 1, 64))),
        Struct(6, "bk_dup", 12, (Member("a", 1, 0), Member("b", 1, 32), Member("c", 1, 64))),
        # b at 4 in one candidate, at 8 in the other: libbpf refuses (offset ambiguity)
        Struct(7, "bk_amb", 8, (Member("a", 1, 0), Member("b", 1, 32))),
        Struct(8, "bk_amb___v2", 12, (Member("a", 1, 0), Member("x", 1, 32), Member("b", 1, 64))),
        Struct(9, "bk_flav", 16, (Member("pad", 4, 0), Member("x", 4, 64))),
        Enum64(10, "bk_e64", 8, (EnumValue("BK_BIG", 1 << 40),)),
        Enum(11, "bk_sgn", 4, (EnumValue("BK_ZERO", 0), EnumValue("BK_NEG", -5)), True),
        Struct(12, "bk_bits", 4, (Member("lo", 2, 5, 3), Member("hi", 1, 12, 5)), kind_flag=True),
        Struct(13, "bk_size", 4, (Member("v", 3, 0),)),
        Struct(14, "bk_size_bad", 8, (Member("v", 4, 0),)),
        Union(15, "bk_un", 8, (Member("b", 4, 0), Member("a", 1, 0))),
        Struct(16, "bk_match", 16, (Member("z", 4, 0), Member("a", 1, 64))),
        Struct(17, "bk_nomatch", 4, (Member("a", 1, 0),)),
        Typedef(18, "bk_td", 3),
    ]


@pytest.fixture
def custom(compile_bpf: Callable[[str, str], Path], tmp_path: Path) -> tuple[Path, Path]:
    """(the object compiled from CUSTOM_SRC, the crafted target BTF file)."""
    from bpfkit.btf.encode import encode_btf

    if "custom" not in _COMPILED:
        _COMPILED["custom"] = compile_bpf("custom", CUSTOM_SRC)
    btf = tmp_path / "target.btf"
    btf.write_bytes(encode_btf(_target_types()))  # type: ignore[arg-type]
    return _COMPILED["custom"], btf


@pytest.mark.parametrize("program", ["p_prune", "p_values", "p_bits", "p_size"])
def test_custom_target_relocates_as_libbpf(custom: tuple[Path, Path], program: str) -> None:
    obj, btf = custom
    mine = _assert_same_as_libbpf(obj, program, custom=btf)
    if program == "p_prune":  # d is found only when the candidate list was not pruned
        assert any("no matching targets found" in ln for ln in mine)
    if program == "p_size":
        assert any("mem_sz 4 -> 2" in ln for ln in mine)


def test_custom_target_poison_and_failure(custom: tuple[Path, Path]) -> None:
    obj, btf = custom
    target = KernelBTF(btf)
    with pytest.raises(CoreUnsupported, match="field size mismatch"):
        _bpfkit(obj, "p_size_bad", target=target)
    mine = _assert_same_as_libbpf(obj, "p_size_bad", custom=btf, allow_poison=True)
    assert any("accesses field incorrectly" in ln for ln in mine)
    mine = _assert_same_as_libbpf(obj, "p_poison_ld64", custom=btf, allow_poison=True)
    assert sum("substituting insn" in ln for ln in mine) == 2  # both slots of the ld_imm64
    # several candidates (bk_dup) without the object's shared cache: refused, not guessed
    loaded = load_object(obj)
    assert loaded.btf is not None
    sites = program_relo_sites(loaded, "p_prune")
    with pytest.raises(CoreUnsupported, match="2 candidates for local type"):
        apply_core_relos(_function_bytes(obj, "p_prune"), sites, loaded.btf, target, "p_prune")
    lines, _, err = _libbpf_load(obj, "p_amb", btf)
    assert err < 0 and any("field offset ambiguity" in ln for ln in lines)
    with pytest.raises(CoreUnsupported, match=r"p_amb.*field offset ambiguity: 64 != 32"):
        _bpfkit(obj, "p_amb", target=target)


# ------------------------------------------- cilium/ebpf's CO-RE test objects (shared corpus)

#: (object, target BTF, program): cilium/ebpf relocates each against the BTF named here.
CILIUM_CASES = [
    *((RELOCS_EL, RELOCS_EL, p) for p in ("type_ids", "types", "enums", "fields")),
    (RELOCS_READ_EL, RELOCS_READ_TGT_EL, "reads"),
    (RELOCS_ENUM_EL, RELOCS_ENUM_EL, "core_ld64imm"),
]


@pytest.mark.parametrize("case", CILIUM_CASES, ids=lambda c: f"{c[0].stem}:{c[2]}")
def test_cilium_objects_relocate_as_libbpf(case: tuple[Path, Path, str]) -> None:
    obj, target, program = case
    if not obj.exists() or not target.exists():
        pytest.skip(f"shared corpus file missing: {obj} / {target}")
    mine = _assert_same_as_libbpf(obj, program, custom=target, allow_poison=True)
    assert sum("patched insn" in ln for ln in mine) >= 2


@pytest.mark.parametrize("program", ["err_ambiguous", "err_ambiguous_flavour"])
def test_cilium_ambiguous_relocations_are_refused(program: str) -> None:
    if not RELOCS_EL.exists():
        pytest.skip(f"shared corpus file missing: {RELOCS_EL}")
    lines, _, err = _libbpf_load(RELOCS_EL, program, RELOCS_EL)
    assert err < 0 and any("relocation decision ambiguity" in ln for ln in lines)
    with pytest.raises(
        CoreUnsupported, match="relocation decision ambiguity: success 35 != success 32"
    ):
        _bpfkit(RELOCS_EL, program, target=KernelBTF(RELOCS_EL))


# ----------------------------------------------------------------------------- contract


def test_type_id_local_needs_no_kernel_btf(monkeypatch: pytest.MonkeyPatch) -> None:
    path = DATA_PROGRAMS / "alloc.bpf.o"
    obj = load_object(path)
    assert obj.btf is not None
    name = "obj_new_drop_ok"
    sites = [s for s in program_relo_sites(obj, name) if s.relo.kind == CoreReloKind.TYPE_ID_LOCAL]
    assert sites

    def boom() -> KernelBTF:
        raise AssertionError("kernel BTF opened for TYPE_ID_LOCAL")

    monkeypatch.setattr(KernelBTF, "vmlinux", staticmethod(boom))
    buf = _function_bytes(path, name)
    lines = apply_core_relos(buf, sites, obj.btf, boom, name)
    assert sum("(LDIMM64) imm64" in ln for ln in lines) == len(sites)
    monkeypatch.undo()
    lib_lines, _, _ = _libbpf_load(path, name)
    assert set(lines) <= set(lib_lines)


def test_bad_sites_are_refused() -> None:
    obj = load_object(DATA_PROGRAMS / "alloc.bpf.o")
    assert obj.btf is not None
    relo = CoreRelo(0, 1, "0:x", CoreReloKind.FIELD_BYTE_OFFSET)
    with pytest.raises(CoreUnsupported, match=r"relo #0 at insn #5"):
        apply_core_relos(bytearray(16), [(5, relo)], obj.btf, None, "p")
    with pytest.raises(CoreUnsupported, match="access '0:x'"):
        apply_core_relos(bytearray(16), [(0, relo)], obj.btf, None, "p")
    if RELOCS_EB.exists():
        be = load_object(RELOCS_EB)
        assert be.btf is not None
        with pytest.raises(CoreUnsupported, match="big-endian"):
            apply_core_relos(bytearray(16), [(0, relo)], be.btf, None, "p")


# ----------------------------------------------------------------------------- KernelBTF


@cache
def _bpftool_raw() -> dict[int, list[str]]:
    bpftool = shutil.which("bpftool")
    if bpftool is None:
        pytest.skip("needs bpftool (apt install bpftool)")
    text = subprocess.run(
        [bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out: dict[int, list[str]] = {}
    cur: list[str] = []
    for line in text.splitlines():
        m = re.match(r"\[(\d+)\] ", line)
        if m:
            cur = out.setdefault(int(m.group(1)), [])
        cur.append(line)
    return out


@pytest.mark.parametrize(
    "name,kind",
    [
        ("task_struct", BTFKind.STRUCT),
        ("sk_buff", BTFKind.STRUCT),
        ("pt_regs", BTFKind.STRUCT),
        ("bpf_map_type", BTFKind.ENUM),
        ("pid_t", BTFKind.TYPEDEF),
        ("u64", BTFKind.TYPEDEF),
    ],
)
def test_find_and_decode_agree_with_bpftool(name: str, kind: BTFKind) -> None:
    raw = _bpftool_raw()
    kbtf = KernelBTF.vmlinux()
    tid = kbtf.find(name, kind)
    first = next(
        i
        for i, lines in sorted(raw.items())
        if re.match(rf"\[\d+\] {kind.name} '{name}' ", lines[0])
    )
    assert tid == first
    t = kbtf[tid]
    head = raw[tid][0]
    assert t.name == name and head.startswith(f"[{tid}] {kind.name} '{name}'")
    if isinstance(t, Struct):
        assert f"size={t.size} vlen={len(t.members)}" in head
        for m, line in zip(t.members, raw[tid][1:], strict=True):
            want = f"\t'{m.name or '(anon)'}' type_id={m.type} bits_offset={m.bit_offset}"
            if m.bitfield_size:
                want += f" bitfield_size={m.bitfield_size}"
            assert line == want


@pytest.mark.parametrize(
    "name,kind",
    [
        ("task_struct___old", BTFKind.STRUCT),
        ("file", BTFKind.STRUCT),
        ("u32", BTFKind.TYPEDEF),
        ("bpf_map_type___x", BTFKind.ENUM64),
        ("list_head", BTFKind.STRUCT),
        ("no_such_type_here", BTFKind.UNION),
        ("a___b___c", BTFKind.STRUCT),
    ],
)
def test_candidates_equal_a_scan_of_every_type(name: str, kind: BTFKind) -> None:
    kbtf = KernelBTF.vmlinux()
    assert kbtf.candidates(name, kind) == kbtf.all_candidates_slow(name, kind)


def test_kernel_btf_errors(tmp_path: Path) -> None:
    with pytest.raises(KernelError, match="cannot read this BTF"):
        KernelBTF(tmp_path / "missing.btf")
    bad = tmp_path / "bad.btf"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(KernelError, match="bad.btf"):
        KernelBTF(bad)
    with KernelBTF("/sys/kernel/btf/vmlinux") as kbtf:
        assert kbtf.find("task_struct", BTFKind.STRUCT) > 0
    with pytest.raises(KernelError, match="closed"):
        kbtf.find("pt_regs", BTFKind.STRUCT)
    with pytest.raises(KernelError, match="cannot load libbpf"):
        KernelBTF(libbpf_path=str(tmp_path / "libbpf.so.1"))


def test_no_kernel_btf_is_a_kernel_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import bpfkit.kernel.kbtf as kbtf_mod

    lb = open_libbpf().lib
    real = lb.btf__load_vmlinux_btf

    def missing() -> None:
        ctypes.set_errno(2)

    monkeypatch.setattr(lb, "btf__load_vmlinux_btf", missing)
    monkeypatch.setattr(kbtf_mod, "SYS_KERNEL_BTF", tmp_path)
    try:
        with pytest.raises(KernelError, match=r"kernel's BTF.*vmlinux is missing"):
            KernelBTF()
    finally:
        monkeypatch.undo()
    assert lb.btf__load_vmlinux_btf is real


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    type_id=st.integers(0, 40),
    access=st.text("0123:x-", min_size=0, max_size=8),
    kind=st.sampled_from(list(CoreReloKind)),
    code=st.binary(min_size=16, max_size=16),
    insn_idx=st.integers(-1, 2),
    allow_poison=st.booleans(),
)
def test_any_relocation_gives_lines_or_core_unsupported(
    type_id: int, access: str, kind: CoreReloKind, code: bytes, insn_idx: int, allow_poison: bool
) -> None:
    local, target = _fuzz_pair()
    relo = CoreRelo(0, type_id, access, kind)
    buf = bytearray(code)
    try:
        lines = apply_core_relos(
            buf, [(insn_idx, relo)], local, target, "fuzz", allow_poison=allow_poison
        )
    except CoreUnsupported as exc:
        assert "prog 'fuzz'" in str(exc)
    else:
        assert isinstance(lines, list) and len(buf) == 16


@cache
def _fuzz_pair() -> tuple[Spec, KernelBTF]:
    """The crafted target types as both the local BTF and (through libbpf) the target."""
    import tempfile

    from bpfkit.btf import parse_btf
    from bpfkit.btf.encode import encode_btf

    data = encode_btf(_target_types())  # type: ignore[arg-type]
    path = Path(tempfile.mkdtemp()) / "fuzz.btf"
    path.write_bytes(data)
    return parse_btf(data), KernelBTF(path)
