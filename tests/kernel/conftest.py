"""Shared fixtures of tests/kernel: can this machine load BPF programs?"""

from __future__ import annotations

import pytest

from bpfkit.errors import KernelError


def live_skip_reason() -> str | None:
    """Why live loads cannot run here (None when they can)."""
    from bpfkit.kernel.load import check_environment

    try:
        check_environment()
    except KernelError as exc:
        return f"needs a kernel that can load BPF programs: {exc}"
    return None


@pytest.fixture(scope="session")
def live() -> None:
    """Skip unless root/CAP_BPF, /sys/kernel/btf/vmlinux and libbpf.so.1 are all present."""
    reason = live_skip_reason()
    if reason:
        pytest.skip(reason)
