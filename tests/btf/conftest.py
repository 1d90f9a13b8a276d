"""Shared helpers for the BTF tests: running bpftool / pahole live."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

BPFTOOL = shutil.which("bpftool") or next(
    (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if Path(p).exists()), None
)
PAHOLE = shutil.which("pahole")


def bpftool_raw(path: Path, base: Path | None = None) -> str:
    """`bpftool btf dump file PATH format raw` (with `-B BASE`), run live."""
    if BPFTOOL is None:
        pytest.skip("needs bpftool (apt: bpftool / linux-tools) for the live golden dump")
    cmd = [BPFTOOL]
    if base is not None:
        cmd += ["-B", str(base)]
    cmd += ["btf", "dump", "file", str(path), "format", "raw"]
    res = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape")
    assert res.returncode == 0, res.stderr
    return res.stdout


def kernel_btf_load(data: bytes) -> tuple[bool, str]:
    """Hand *data* to the kernel (BPF_BTF_LOAD through libbpf's bpf_btf_load) and return
    (accepted, last line of the kernel's BTF log). Skips without root or libbpf."""
    import ctypes
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_BPF) for BPF_BTF_LOAD")
    try:
        lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError:
        pytest.skip("needs libbpf.so.1 to call BPF_BTF_LOAD")

    class Opts(ctypes.Structure):  # struct bpf_btf_load_opts (libbpf 1.1)
        _fields_ = [
            ("sz", ctypes.c_size_t),
            ("log_buf", ctypes.c_char_p),
            ("log_level", ctypes.c_uint32),
            ("log_size", ctypes.c_uint32),
        ]

    lib.bpf_btf_load.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(Opts)]
    lib.bpf_btf_load.restype = ctypes.c_int
    log = ctypes.create_string_buffer(1 << 16)
    opts = Opts(ctypes.sizeof(Opts), ctypes.cast(log, ctypes.c_char_p), 1, 1 << 16)
    buf = ctypes.create_string_buffer(data, len(data))
    fd = lib.bpf_btf_load(buf, len(data), ctypes.byref(opts))
    if fd >= 0:
        os.close(fd)
    lines = log.value.decode(errors="replace").strip().splitlines()
    return fd >= 0, lines[-1] if lines else ""


def iter_loaded_programs(path: Path):  # type: ignore[no-untyped-def]
    """Load each program of the BPF object at *path* on its own (libbpf through ctypes, the
    others' autoload off) and yield ``(program name, ELF section, kernel prog id)`` while it
    is loaded; programs the kernel rejects are skipped (some objects hold deliberately bad
    ones). Skips the test without root or libbpf."""
    import ctypes
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_BPF) to load programs")
    try:
        lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError:
        pytest.skip("needs libbpf.so.1 to load programs")
    vp = ctypes.c_void_p
    lib.bpf_object__open_file.restype = vp
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, vp]
    lib.bpf_object__next_program.restype = vp
    lib.bpf_object__next_program.argtypes = [vp, vp]
    lib.bpf_program__name.restype = ctypes.c_char_p
    lib.bpf_program__name.argtypes = [vp]
    lib.bpf_program__section_name.restype = ctypes.c_char_p
    lib.bpf_program__section_name.argtypes = [vp]
    lib.bpf_program__set_autoload.argtypes = [vp, ctypes.c_bool]
    lib.bpf_program__fd.argtypes = [vp]
    lib.bpf_object__load.argtypes = [vp]
    lib.bpf_object__close.argtypes = [vp]
    lib.bpf_obj_get_info_by_fd.argtypes = [ctypes.c_int, vp, ctypes.POINTER(ctypes.c_uint32)]
    lib.libbpf_set_print.restype = vp
    lib.libbpf_set_print.argtypes = [vp]
    lib.libbpf_set_print(None)  # silence libbpf's own messages

    def programs(obj: int) -> list[int]:
        out, prog = [], None
        while True:
            prog = lib.bpf_object__next_program(obj, prog)
            if not prog:
                return out
            out.append(prog)

    probe = lib.bpf_object__open_file(str(path).encode(), None)
    if not probe:
        pytest.skip(f"libbpf 1.1 cannot open {path.name}")
    count = len(programs(probe))
    lib.bpf_object__close(probe)
    for index in range(count):
        obj = lib.bpf_object__open_file(str(path).encode(), None)
        try:
            progs = programs(obj)
            for j, prog in enumerate(progs):
                lib.bpf_program__set_autoload(prog, j == index)
            target = progs[index]
            if lib.bpf_object__load(obj) != 0:
                continue
            info = ctypes.create_string_buffer(256)
            size = ctypes.c_uint32(256)
            fd = lib.bpf_program__fd(target)
            assert lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) == 0
            prog_id = int.from_bytes(info.raw[4:8], "little")
            yield (
                lib.bpf_program__name(target).decode(),
                lib.bpf_program__section_name(target).decode(),
                prog_id,
            )
        finally:
            lib.bpf_object__close(obj)


def libbpf_resolve_sizes(path: Path, base: Path | None = None) -> dict[int, int]:
    """libbpf's ``btf__resolve_size`` for every type id of the BTF at *path* (negative:
    libbpf's error code), through ctypes on ``libbpf.so.1``."""
    import ctypes

    try:
        lib = ctypes.CDLL("libbpf.so.1")
    except OSError:
        pytest.skip("needs libbpf.so.1 for btf__resolve_size")
    vp = ctypes.c_void_p
    lib.btf__parse.restype = vp
    lib.btf__parse.argtypes = [ctypes.c_char_p, vp]
    lib.btf__parse_split.restype = vp
    lib.btf__parse_split.argtypes = [ctypes.c_char_p, vp]
    lib.btf__type_cnt.restype = ctypes.c_uint32
    lib.btf__type_cnt.argtypes = [vp]
    lib.btf__resolve_size.restype = ctypes.c_int64
    lib.btf__resolve_size.argtypes = [vp, ctypes.c_uint32]
    lib.btf__free.argtypes = [vp]
    base_btf = lib.btf__parse(str(base).encode(), None) if base is not None else None
    btf = lib.btf__parse_split(str(path).encode(), base_btf)
    assert btf, f"libbpf could not parse {path}"
    try:
        return {tid: lib.btf__resolve_size(btf, tid) for tid in range(1, lib.btf__type_cnt(btf))}
    finally:
        lib.btf__free(btf)
        if base_btf:
            lib.btf__free(base_btf)
