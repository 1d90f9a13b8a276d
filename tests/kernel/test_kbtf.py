"""KernelBTF decodes the running kernel's BTF (through libbpf's copy) into the same records as
bpfkit's own parser of the same file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfkit.btf import load_btf
from bpfkit.errors import KernelError
from bpfkit.kernel.kbtf import KernelBTF

SYS_VMLINUX = Path("/sys/kernel/btf/vmlinux")


def test_every_vmlinux_type_decodes_as_the_spec_decodes_it() -> None:
    if not SYS_VMLINUX.exists():
        pytest.skip(f"needs the kernel's BTF at {SYS_VMLINUX}")
    try:
        kbtf = KernelBTF.vmlinux()
    except KernelError as exc:
        pytest.skip(f"needs libbpf: {exc}")
    spec = load_btf(SYS_VMLINUX)
    assert len(kbtf) == len(spec)
    differ = [tid for tid in range(1, len(spec)) if kbtf[tid] != spec[tid]]
    assert differ == [], f"{len(differ)} types differ, first {differ[:5]}"
