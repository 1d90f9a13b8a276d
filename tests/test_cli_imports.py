"""Start-up promises of the ``bpfkit`` command (issue #16): which heavy modules each command
imports.

- ``bpfkit --help`` and ``bpfkit X [Y] --help`` for every command registered in
  :mod:`bpfkit.cli` at test time (found by walking the parser, so a command added later is
  checked too) import none of :data:`HEAVY`;
- a command run on real input imports only what it needs: :data:`RUNS` lists, per command,
  exactly the heavy modules it is allowed (``btf dump`` none at all).

Each case runs in a fresh interpreter, as a user's command would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpfkit.cli import _parser
from tests.corpus import DATA_LOGS, DATA_PROGRAMS, KINDS_EL, KINDS_EL_BTF, ROOT, VMLINUX_618_XZ

#: Top-level packages a command must not import before it needs them.
HEAVY = ("pandas", "numpy", "matplotlib", "networkx", "elftools", "pyarrow", "dask", "jinja2")

# Runs bpfkit.cli.main(argv) for each argv given as JSON, then prints, per argv, the heavy
# packages it brought into sys.modules (a --help ends in SystemExit, which is expected).
_CHILD = r"""
import contextlib, io, json, sys
from bpfkit.cli import main
heavy = json.loads(sys.argv[1])
out = []
for argv in json.loads(sys.argv[2]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    out.append({"argv": argv, "code": code,
                "heavy": sorted(h for h in heavy if h in sys.modules)})
print(json.dumps(out))
"""


def _imports(*argvs: list[str]) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(HEAVY), json.dumps(list(argvs))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, object]] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command path of *parser*: ``("btf",)``, ``("btf", "dump")``, ``("load",)``..."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found += _commands(sub, (*prefix, name))
    return found


COMMANDS = _commands(_parser())


def test_commands_are_found() -> None:
    assert {("btf", "dump"), ("log", "parse"), ("plot",), ("report",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", [(), *COMMANDS], ids=lambda c: " ".join(c) or "bpfkit")
def test_help_imports_nothing_heavy(command: tuple[str, ...]) -> None:
    [got] = _imports([*command, "--help"])
    assert got["code"] == 0
    assert got["heavy"] == [], f"`bpfkit {' '.join(command)} --help` imports {got['heavy']}"


def _vmlinux() -> str:
    live = Path("/sys/kernel/btf/vmlinux")
    return str(live) if os.access(live, os.R_OK) else str(VMLINUX_618_XZ)


_OBJ = str(DATA_PROGRAMS / "list.bpf.o")
_LOG = str(DATA_LOGS / "alloc" / "obj_new_leak.l2.log")

#: A kernel-sized BTF is checked at parse time with numpy only when the process has numpy
#: already (bpfkit.btf.spec.Spec._check_refs): importing it costs more than the plain-Python
#: scan, so a vmlinux dump imports nothing heavy.
_KERNEL_SIZED: set[str] = set()

#: (argv, the heavy packages it may import, and must: nothing is imported for nothing).
RUNS: list[tuple[list[str], set[str]]] = [
    (["btf", "dump", _vmlinux(), "--format", "raw"], _KERNEL_SIZED),
    (["btf", "dump", _vmlinux(), "--format", "json", "--type", "bpf_spin_lock"], _KERNEL_SIZED),
    (["btf", "dump", _vmlinux(), "--format", "c", "--type", "bpf_list_head"], _KERNEL_SIZED),
    (["btf", "layout", _vmlinux(), "--type", "task_struct"], _KERNEL_SIZED),
    (["btf", "dump", str(KINDS_EL_BTF), "--format", "raw"], set()),
    (["btf", "dump", str(KINDS_EL_BTF), "--format", "c"], set()),
    (["btf", "layout", str(KINDS_EL_BTF), "--type", "node"], set()),
    (["btf", "dump", str(KINDS_EL)], {"elftools"}),
    (
        ["btf", "graph", _OBJ, "--root", "queue_value", "-o", "{tmp}/g.graphml"],
        {"elftools", "networkx", "numpy"},  # networkx's GraphML writer imports numpy
    ),
    (["log", "parse", _LOG], set()),
    (["log", "stats", _LOG], set()),
    (["log", "parse", _LOG, "--out", "{tmp}/tables", "--csv"], {"numpy", "pandas"}),
    (["own", _OBJ, "--json"], {"elftools", "networkx", "numpy", "pandas"}),
    (
        ["plot", _LOG, "--figure", "lanes", "-o", "{tmp}/fig"],
        {"matplotlib", "networkx", "numpy", "pandas"},
    ),
]


@pytest.mark.parametrize("argv, allowed", RUNS, ids=[" ".join(a[:2]) for a, _ in RUNS])
def test_command_imports_what_it_needs(argv: list[str], allowed: set[str], tmp_path: Path) -> None:
    missing = [a for a in argv if a.startswith("/") and not Path(a).exists()]
    if missing:
        pytest.skip(f"{missing[0]} is missing (shared corpus not beside the checkout?)")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    [got] = _imports(argv)
    assert got["code"] == 0, f"`bpfkit {' '.join(argv)}` exited {got['code']}"
    heavy = set(got["heavy"])  # type: ignore[call-overload]
    if "pandas" in allowed:
        heavy.discard("pyarrow")  # pandas itself imports pyarrow when it is installed
    assert heavy == allowed, f"`bpfkit {' '.join(argv)}` imports {sorted(heavy)}"
