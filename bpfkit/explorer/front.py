"""The explorer's two hosts: a notebook widget (anywidget) and a static report page.

Both run the same front end, ``explorer.js`` with ``explorer.css`` (shipped in this package,
plain JavaScript written for bpfkit, no third-party code and no network at run time): as an
ES module for anywidget, and as a classic script for pages opened from ``file://``.

Examples
--------
>>> js, css = front_end()
>>> "export default" in js, "export default" in front_end(module=False)[0]
(True, False)
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfkit.errors import BpfkitError

if TYPE_CHECKING:
    from bpfkit.verifier import Log

__all__ = [
    "front_end",
    "explore",
    "explorer_html",
    "write_assets",
    "write_data_script",
    "data_json",
]


@functools.cache
def front_end(*, module: bool = True) -> tuple[str, str]:
    """The front end's (JavaScript, CSS); ``module=False`` gives a classic script."""
    pkg = resources.files("bpfkit.explorer")
    js = pkg.joinpath("explorer.js").read_text("utf-8")
    css = pkg.joinpath("explorer.css").read_text("utf-8")
    if not module:
        head, sep, _tail = js.partition("//@export")
        if not sep:
            raise BpfkitError("explorer.js: the //@export marker is missing")
        js = head
    return js, css


def data_json(log: Log) -> str:
    """:func:`~bpfkit.explorer.explorer_data` of *log* as compact JSON."""
    from bpfkit.explorer.data import explorer_data

    return json.dumps(explorer_data(log), separators=(",", ":"), allow_nan=False)


def _script_json(text: str) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def write_assets(out_dir: str | os.PathLike[str]) -> Path:
    """Write the classic-script front end to ``out_dir/explorer.js``; return its path."""
    js, _css = front_end(module=False)
    path = Path(out_dir) / "explorer.js"
    path.write_text(js, encoding="utf-8")
    return path


def write_data_script(log: Log, path: str | os.PathLike[str], key: str) -> Path:
    """Write *log*'s explorer data as a script that files it under *key* (works from
    ``file://``, where a page may not fetch JSON)."""
    p = Path(path)
    p.write_text(
        "(window.bpfkitExplorerData = window.bpfkitExplorerData || {})"
        f"[{json.dumps(key)}] = {_script_json(data_json(log))};\n",
        encoding="utf-8",
    )
    return p


def explorer_html(key: str, *, data_src: str, script_src: str = "explorer.js") -> str:
    """The HTML of an explorer in a static page: a host element, the stylesheet, the data
    script (*data_src*, written by :func:`write_data_script`) and the front end
    (*script_src*, written by :func:`write_assets`), both relative to the page."""
    from html import escape

    _js, css = front_end()
    host = f"bpfkit-explorer-{key}"
    return (
        f"<style>{css}</style>"
        f'<div class="bpfkit-explorer-host" id="{escape(host)}"></div>'
        f'<script src="{escape(data_src)}"></script>'
        f'<script src="{escape(script_src)}"></script>'
        "<script>bpfkitExplorerStatic(document.getElementById("
        f"{_script_json(json.dumps(host))}), window.bpfkitExplorerData[{_script_json(json.dumps(key))}]);"
        "</script>"
    )


@functools.cache
def _widget_class() -> Any:
    import anywidget
    import traitlets

    js, css = front_end()

    class Explorer(anywidget.AnyWidget):  # type: ignore[misc]
        """The explorer as a notebook widget; ``step`` follows the selection both ways."""

        _esm = js
        _css = css
        data = traitlets.Unicode("").tag(sync=True)
        step = traitlets.Int(-1).tag(sync=True)

    return Explorer


def explore(
    log: Log | str | os.PathLike[str], *, program: str | None = None, step: int = -1
) -> Any:
    """The explorer of *log* as a notebook widget (anywidget; JupyterLab, Notebook, VS Code).

    Parameters
    ----------
    log
        A parsed :class:`~bpfkit.verifier.Log`, or a path to a verifier log (its first
        program, or *program*).
    step
        The step selected at first (default: the last one, where an error is). The widget's
        ``step`` attribute follows the selection; set it to select a step from Python.
    """
    from bpfkit.verifier import Log as LogClass
    from bpfkit.verifier import load_log

    if not isinstance(log, LogClass):
        logs = load_log(log, program=program)
        if not logs:
            raise BpfkitError(f"no program in verifier log {os.fspath(log)!r}")
        log = logs[0]
    return _widget_class()(data=data_json(log), step=step)
