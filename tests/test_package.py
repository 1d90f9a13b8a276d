"""Package-wide promises: every module has an honest ``__all__``, the layers only import downward,
and the ``bpfkit`` command answers ``--help``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import bpfkit
from bpfkit.cli import main

PACKAGE_DIR = Path(bpfkit.__file__).parent

# Lower stages never import higher ones (STYLE.md: one pipeline, one direction).
LAYER = {
    "errors": 0,
    "btf": 1,
    "obj": 2,
    "verifier": 2,
    "kernel": 3,
    "ownership": 4,
    "plot": 5,
    "explorer": 5,
    "report": 6,
    "cli": 7,
}


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="bpfkit."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "bpfkit" or len(parts) < 2:
        return None
    return LAYER.get(parts[1])


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.rglob("*.py")), ids=lambda p: str(p.name))
def test_imports_only_go_down(path: Path) -> None:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    module = ".".join(rel.parts).removesuffix(".__init__")
    own = _layer_of(module)
    if own is None or module.endswith(".cli") or module == "bpfkit":
        return  # the package root and the CLI layers may import anything below them
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module]
        for target in targets:
            layer = _layer_of(target)
            assert layer is None or layer <= own, f"{module} imports higher layer {target}"
            if target.split(".")[0] == "matplotlib":
                assert module.startswith(("bpfkit.plot", "bpfkit.report")), (
                    f"{module} imports matplotlib; only bpfkit.plot and bpfkit.report may"
                )


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: bpfkit" in out


def test_cli_without_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: bpfkit" in capsys.readouterr().out
