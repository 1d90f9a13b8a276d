"""Test oracle: the running kernel, through libbpf's low-level API (ctypes).

Compiles small BPF C sources with clang-19, loads their raw ``.BTF`` with BPF_BTF_LOAD and
creates maps with BPF_MAP_CREATE (``btf_fd`` / ``btf_key_type_id`` / ``btf_value_type_id``),
so the kernel's own ``btf_parse_fields()`` judges each value type. Type ids come from
``bpftool btf dump file X format raw`` (an independent reader of the same BTF).
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
import re
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "CLANG",
    "BPFTOOL",
    "have_toolchain",
    "have_bpf",
    "compile_bpf",
    "raw_btf",
    "bpftool_ids",
    "btf_load",
    "map_create",
    "MAP_TYPES",
]

CLANG = shutil.which("clang-19") or shutil.which("clang")
BPFTOOL = shutil.which("bpftool")
LIBBPF = "libbpf.so.1"

MAP_TYPES = {"hash": 1, "array": 2, "percpu_hash": 5, "percpu_array": 6, "lru_hash": 9}

HEADER = r"""
typedef unsigned int __u32;
typedef unsigned long long __u64;
struct bpf_spin_lock { __u32 val; };
struct bpf_res_spin_lock { __u32 val; };
struct bpf_timer { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_wq { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_list_head { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_list_node { __u64 __opaque[3]; } __attribute__((aligned(8)));
struct bpf_rb_root { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_rb_node { __u64 __opaque[4]; } __attribute__((aligned(8)));
struct bpf_refcount { __u32 __opaque[1]; } __attribute__((aligned(4)));
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))
#define SEC(x) __attribute__((section(x), used))
"""


def have_toolchain() -> bool:
    return CLANG is not None and BPFTOOL is not None


def have_bpf() -> bool:
    """True when we may call bpf() (root) and libbpf is present."""
    if os.geteuid() != 0:
        return False
    try:
        ctypes.CDLL(LIBBPF, use_errno=True)
    except OSError:
        return False
    return True


def compile_bpf(body: str, out: Path, *, types: tuple[str, ...] = ()) -> Path:
    """Compile HEADER + *body* + a tc program whose parameters mention *types* and every struct
    *body* defines at the start of a line (so their BTF is complete, and emitted without any
    DATASEC, which raw BPF_BTF_LOAD would reject as unfinalized)."""
    names = list(dict.fromkeys([*types, *re.findall(r"^struct (\w+) \{", body, re.M)]))
    funcs = []
    for k in range(0, max(len(names), 1), 5):  # BPF functions take at most 5 arguments
        chunk = names[k : k + 5]
        params = ", ".join(f"struct {t} *p{i}" for i, t in enumerate(chunk)) or "void *ctx"
        sec = 'SEC("tc") ' if k == 0 else ""
        funcs.append(f"{sec}int prog{k}({params}) {{ return 0; }}")
    src = HEADER + body + "\n" + "\n".join(funcs) + "\n"
    c = out.with_suffix(".c")
    c.write_text(src)
    assert CLANG is not None
    subprocess.run(
        [CLANG, "-g", "-O2", "-target", "bpf", "-c", str(c), "-o", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def raw_btf(path: Path) -> bytes:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        sec = ELFFile(f).get_section_by_name(".BTF")
        assert sec is not None, f"{path} has no .BTF"
        return bytes(sec.data())


def bpftool_ids(path: Path) -> dict[str, int]:
    """STRUCT/INT name -> id, as bpftool reads the object's BTF."""
    assert BPFTOOL is not None
    out = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(path), "format", "raw"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ids: dict[str, int] = {}
    for m in re.finditer(r"^\[(\d+)\] (STRUCT|INT|UNION) '([^']+)'", out, re.M):
        ids.setdefault(m.group(3), int(m.group(1)))
    return ids


class _BtfLoadOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("log_buf", ctypes.c_char_p),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
    ]


class _MapCreateOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("btf_fd", ctypes.c_uint32),
        ("btf_key_type_id", ctypes.c_uint32),
        ("btf_value_type_id", ctypes.c_uint32),
        ("btf_vmlinux_value_type_id", ctypes.c_uint32),
        ("inner_map_fd", ctypes.c_uint32),
        ("map_flags", ctypes.c_uint32),
        ("map_extra", ctypes.c_uint64),
        ("numa_node", ctypes.c_uint32),
        ("map_ifindex", ctypes.c_uint32),
    ]


def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(LIBBPF, use_errno=True)
    lib.bpf_btf_load.restype = ctypes.c_int
    lib.bpf_btf_load.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(_BtfLoadOpts)]
    lib.bpf_map_create.restype = ctypes.c_int
    lib.bpf_map_create.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.POINTER(_MapCreateOpts),
    ]
    return lib


def _errname(ret: int) -> str:
    code = -ret if ret < 0 else ctypes.get_errno()
    if code == errno_mod.EOPNOTSUPP:
        return "EOPNOTSUPP"  # Linux: ENOTSUP is the same number; the kernel spells it so
    return errno_mod.errorcode.get(code, str(code))


def btf_load(data: bytes) -> tuple[int | None, str | None, str]:
    """Load raw BTF: (fd, None, log) on success, (None, errno name, log) on failure."""
    lib = _lib()
    buf = ctypes.create_string_buffer(1 << 16)
    opts = _BtfLoadOpts(ctypes.sizeof(_BtfLoadOpts), ctypes.cast(buf, ctypes.c_char_p), 1, 1 << 16)
    blob = ctypes.create_string_buffer(data, len(data))
    fd = lib.bpf_btf_load(blob, len(data), ctypes.byref(opts))
    log = buf.value.decode(errors="replace")
    if fd < 0:
        # libbpf retries without a log buffer on failure; the errno is the kernel's.
        return None, _errname(fd), log
    return fd, None, log


def map_create(
    btf_fd: int, key_id: int, value_id: int, value_size: int, map_type: str = "hash"
) -> str | None:
    """Create (and close) a map with BTF key/value: None when accepted, else the errno name."""
    lib = _lib()
    opts = _MapCreateOpts(ctypes.sizeof(_MapCreateOpts), btf_fd, key_id, value_id)
    fd = lib.bpf_map_create(MAP_TYPES[map_type], b"bpfkit_t", 4, value_size, 1, ctypes.byref(opts))
    if fd < 0:
        return _errname(fd)
    os.close(fd)
    return None
