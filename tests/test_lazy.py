"""The lazy package exports (:mod:`bpfkit._lazy`) stay honest: what a package imports under
``TYPE_CHECKING`` (what mypy sees) is exactly what its ``_LAZY`` table hands out at run time,
and importing a package imports none of its submodules."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import bpfkit

PACKAGES = sorted(
    p.parent.name
    for p in Path(bpfkit.__file__).parent.glob("*/__init__.py")
    if "_LAZY" in p.read_text()
)


def _type_checking_imports(package: str) -> dict[str, tuple[str, ...]]:
    tree = ast.parse(Path(bpfkit.__file__).parent.joinpath(package, "__init__.py").read_text())
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                module = imp.module.removeprefix(f"bpfkit.{package}.")
                found.setdefault(module, []).extend(a.name for a in imp.names)
    return {m: tuple(sorted(n)) for m, n in found.items()}


def test_packages_are_found() -> None:
    assert {"btf", "plot", "report", "verifier"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_lazy_table_is_what_mypy_sees(package: str) -> None:
    module = importlib.import_module(f"bpfkit.{package}")
    table = {m: tuple(sorted(n)) for m, n in module._LAZY.items()}
    assert table == _type_checking_imports(package)
    for names in table.values():
        for name in names:
            assert name in module.__all__, f"bpfkit.{package}.{name} is not in __all__"


@pytest.mark.parametrize("package", PACKAGES)
def test_import_loads_no_submodule(package: str) -> None:
    code = (
        f"import sys, bpfkit.{package}; "
        f"print(sorted(m for m in sys.modules if m.startswith('bpfkit.{package}.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    eager = {"plot": ["bpfkit.plot.style"]}  # `style` is both a submodule and a function
    assert ast.literal_eval(out) == eager.get(package, [])
