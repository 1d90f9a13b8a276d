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
