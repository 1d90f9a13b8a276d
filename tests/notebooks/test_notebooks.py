"""Every notebook in ``notebooks/`` runs top to bottom on ``data/`` alone.

The committed notebooks carry no outputs; this executes them with nbclient in a fresh kernel
(with ``BPFKIT_LIVE`` unset, so they use only ``data/``) and fails on the first cell that raises.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.corpus import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ.pop("BPFKIT_LIVE", None)
    os.environ["BPFKIT_OUTPUT_DIR"] = str(tmp_path)
    os.environ["MPLBACKEND"] = "Agg"
    try:
        client = nbclient.NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_with_its_percent_source(path: Path) -> None:
    """Each .ipynb is a jupytext pair with its py:percent source, and both hold the same cells."""
    jupytext = pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    source = path.with_suffix(".py")
    assert source.is_file(), f"{path.name}: no paired {source.name}"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    text = source.read_text(encoding="utf-8")
    assert text.startswith("# ---\n# jupyter:") and "# %%" in text
    py = jupytext.reads(text, fmt="py:percent")
    ours = [(c.cell_type, c.source) for c in nb.cells]
    theirs = [(c.cell_type, c.source) for c in py.cells]
    assert ours == theirs, (
        f"{path.name} and {source.name} differ: run `jupytext --sync notebooks/*.py`"
    )


def test_the_four_notebooks_exist() -> None:
    names = {p.stem for p in NOTEBOOKS}
    expected = {"01-btf-type-graph", "02-ownership", "03-verifier-states", "04-talk-figures"}
    assert expected <= names, f"missing notebooks: {sorted(expected - names)}"


def test_python3_kernel_is_this_interpreter() -> None:
    """The harness runs kernel "python3": it must start the interpreter running the tests
    (the venv's), else the notebooks would import another bpfkit or none."""
    jupyter_client = pytest.importorskip("jupyter_client")
    cmd = jupyter_client.KernelManager(kernel_name="python3").format_kernel_cmd()
    assert Path(cmd[0]).resolve() == Path(sys.executable).resolve(), cmd
