"""The explorer widget in a running JupyterLab, driven by headless Chromium: the notebook
creates ``bpfkit.explore(log)``, the widget renders through anywidget, Python selects a
step, a click selects another, and the values shown match the log's tables.

With ``BPFKIT_SCREENSHOTS=docs`` the test also writes ``docs/explorer-jupyterlab.png``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfkit.verifier import load_log
from tests.corpus import DATA_LOGS
from tests.explorer.browser import open_page
from tests.explorer.test_browser import _check_state

LOG = DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log"
TOKEN = "bpfkit-test"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(path: Path, log: Path, step: int) -> None:
    cells = [
        f"import bpfkit\nw = bpfkit.explore({str(log)!r})\nw",
        f"w.step = {step}",
        'print(f"selected step {w.step}")',
    ]
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },  # fmt: skip
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": src,
            }  # fmt: skip
            for i, src in enumerate(cells)
        ],
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    pytest.importorskip("jupyterlab", reason="needs jupyterlab (pip install -e .[notebook])")
    pytest.importorskip("anywidget", reason="needs anywidget (pip install -e .[notebook])")
    root = tmp_path_factory.mktemp("lab")
    work = root / "work"
    work.mkdir()
    # no "get notified about Jupyter news?" prompt
    news = root / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(root / "runtime"))  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=True", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=(root / "lab.log").open("w"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter lab did not start: {(root / 'lab.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield base, work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_widget_in_jupyterlab(browser: Any, lab: tuple[str, Path]) -> None:
    base, root = lab
    log = load_log(LOG)[0]
    step = 7
    _notebook(root / "explore.ipynb", LOG.resolve(), step)
    p = open_page(browser, f"{base}/lab/tree/explore.ipynb?token={TOKEN}", allow=(base,))
    page = p.page
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')",
                           timeout=120_000)  # fmt: skip
    # run every cell once the kernel is up
    page.wait_for_function(
        "(() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session &&"
        " w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'; })()",
        timeout=120_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("window.bpfkitExplorers && window.bpfkitExplorers.length > 0",
                           timeout=120_000)  # fmt: skip
    # Python set w.step: the widget follows
    page.wait_for_function(f"window.bpfkitExplorers[0].step === {step}", timeout=60_000)
    _check_state(p, log)
    # a click in the widget selects a step, shown as the log's tables say
    page.click('.bpfkit-explorer .bpfx-insn[data-insn="9"]')
    assert p.explorer("x.insn") == 9
    _check_state(p, log)
    page.click('.bpfkit-explorer button[data-action="next"]')
    selected = _check_state(p, log)
    # ... and Python sees the selection: run the last cell again
    page.evaluate(
        "(() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = 2; return window.jupyterapp.commands.execute('notebook:run-cell'); })()"
    )
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.jp-OutputArea-output'))"
        f".some(o => o.textContent.includes('selected step {selected}'))",
        timeout=60_000,
    )
    shots = os.environ.get("BPFKIT_SCREENSHOTS")  # write docs/explorer-jupyterlab.png
    if shots:
        from PIL import Image

        raw = root / "lab.png"
        page.set_viewport_size({"width": 1300, "height": 1100})
        page.screenshot(path=str(raw))
        with Image.open(raw) as img:
            img.convert("RGB").quantize(colors=128).save(
                Path(shots) / "explorer-jupyterlab.png", optimize=True
            )
    assert p.errors == []
