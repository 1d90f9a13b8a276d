"""Benchmark: what a user waits for, whole process (issue #16).

Every ``bpfkit --help`` and ``bpfkit X [Y] --help`` (found by walking the parser, so new
commands are timed too), beside a bare ``python -c pass`` (the floor of any Python command)
and ``bpftool help``; and ``bpfkit btf dump VMLINUX --format raw`` beside ``bpftool btf dump
file VMLINUX format raw``, all measured in this run, in turn, as new processes. Wall and CPU
(user + system of the child) are the best of REPEAT runs; output goes to /dev/null.
Children may write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped for them), as an
installed bpfkit has: otherwise every run would compile bpfkit anew.

Run: .venv/bin/python tests/bench/bench_startup.py [--repeat N]

Targets: every --help under 0.15 s wall; the raw dump <= 1.5x bpftool (whole process).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bpfkit.btf.spec import EMBEDDED_VMLINUX  # noqa: E402
from bpfkit.cli import _parser  # noqa: E402
from tests.test_cli_imports import _commands  # noqa: E402

# the console script a user runs (python -m bpfkit.cli pays for runpy as well)
_SCRIPT = Path(sys.executable).with_name("bpfkit")
BPFKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bpfkit.cli"]
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of *cmd* as a new process."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=CHILD_ENV
    )
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def best(cmds: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best (wall, cpu) per command, the commands run in turn so load changes hit all alike."""
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for k, cmd in cmds.items():
            runs[k].append(run(cmd))
    return {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bpftool = shutil.which("bpftool") or shutil.which("bpftool", path="/usr/sbin:/sbin")
    vmlinux = "/sys/kernel/btf/vmlinux"
    if not os.access(vmlinux, os.R_OK):
        vmlinux = str(EMBEDDED_VMLINUX)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat}, whole process\n")  # fmt: skip

    helps = {"python -c pass": [sys.executable, "-c", "pass"]}
    if bpftool:
        helps["bpftool help"] = [bpftool, "help"]
    for command in [(), *_commands(_parser())]:
        helps[" ".join(["bpfkit", *command, "--help"])] = [*BPFKIT, *command, "--help"]
    got = best(helps, args.repeat)
    floor = got["python -c pass"][0]
    width = max(map(len, got))
    print(f"{'':{width}}  {'wall':>8} {'cpu':>8}   over python -c pass")
    for name, (wall, cpu) in got.items():
        print(
            f"{name:{width}}  {wall * 1e3:6.0f}ms {cpu * 1e3:6.0f}ms   {(wall - floor) * 1e3:+5.0f}ms"
        )
    worst = max(v[0] for k, v in got.items() if k.startswith("bpfkit"))
    print(f"\nslowest --help {worst * 1e3:.0f} ms: target < 150 ms "
          f"{'met' if worst < 0.15 else 'MISSED'}\n")  # fmt: skip

    dumps = {"bpfkit btf dump --format raw": [*BPFKIT, "btf", "dump", vmlinux, "--format", "raw"]}
    if bpftool:
        dumps["bpftool btf dump format raw"] = [bpftool, "btf", "dump", "file", vmlinux, "format", "raw"]  # fmt: skip
    got = best(dumps, args.repeat)
    print(f"raw dump of {vmlinux}")
    for name, (wall, cpu) in got.items():
        print(f"{name:{width}}  {wall * 1e3:6.0f}ms {cpu * 1e3:6.0f}ms")
    if bpftool:
        (bw, bc), (rw, rc) = got["bpfkit btf dump --format raw"], got["bpftool btf dump format raw"]
        print(f"ratio bpfkit / bpftool: {bw / rw:.2f}x wall, {bc / rc:.2f}x cpu: target <= 1.5x "
              f"{'met' if bw / rw <= 1.5 else 'MISSED'} (wall)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
