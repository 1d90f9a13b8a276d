"""The figures of a program page, drawn through :mod:`bpfkit.plot` and written as SVG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["PAGE_FIGURES", "STYLE", "program_figures", "ownership_graph_figure"]

#: The verifier-state figures of a page: (figure name in ``bpfkit.plot.FIGURES``, caption).
PAGE_FIGURES: tuple[tuple[str, str], ...] = (
    (
        "summary",
        "One-page summary: verdict, register lanes, references, visits, effort, paths, CFG",
    ),
    ("lanes", "Register types over verification steps (hatched: owning references)"),
    ("references", "References held: lifetimes per explored path and count over steps"),
    (
        "ownership",
        "Ownership timeline: who owns each object at each step (register, stack slot, list, "
        "rbtree, kptr field); acquire, transfer, pop, release, leak",
    ),
    (
        "chain",
        "Ownership flows as the verifier saw them: allocation site, the list, rbtree or kptr "
        "field it is handed to, where it is taken back out, how it ends",
    ),
)
#: The style of the report's figures.
STYLE = "paper"


def _close(fig: Any) -> None:
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def _log_figure(log: Any, name: str) -> Callable[[Path], bool]:
    def draw(path: Path) -> bool:
        from bpfkit.plot import render_figure, savefig, style
        from bpfkit.plot.output import NothingToDraw

        with style(STYLE):
            try:
                fig = render_figure(log, name)
            except NothingToDraw:  # nothing to show: no figure on the page
                path.unlink(missing_ok=True)
                return False
            savefig(fig, path)
        _close(fig)
        return True

    return draw


def _flows_figure(flows: Any, title: str) -> Callable[[Path], bool]:
    def draw(path: Path) -> bool:
        from bpfkit.plot import savefig, style
        from bpfkit.plot.ownership import plot_flow_sankey

        with style(STYLE):
            ax = plot_flow_sankey(flows, title=title)
            fig = ax.get_figure(root=True)
            assert fig is not None
            savefig(fig, path)
        _close(fig)
        return True

    return draw


def program_figures(
    log: Any | None, flows: Any | None = None, *, program: str = ""
) -> list[tuple[str, str, Callable[[Path], bool]]]:
    """Return ``(caption, file stem, draw)`` for each figure of a program page.

    The verifier-state figures need a log with instructions; the flow diagram needs a
    non-empty static flows frame (``bpfkit.ownership.static.flows_frame``). ``draw(path)``
    writes the SVG to *path* and returns True, or False when the figure would have
    nothing to show (no reference, no owned object): then nothing is written.
    """
    out: list[tuple[str, str, Callable[[Path], bool]]] = []
    if log is not None and len(log.steps):
        for name, caption in PAGE_FIGURES:
            out.append((caption, name, _log_figure(log, name)))
    if flows is not None and len(flows):
        out.append(
            (
                "Static ownership flows: allocation/acquire sites to sinks, width = paths",
                "flows",
                _flows_figure(flows, f"{program}: static flows"),
            )
        )
    return out


def ownership_graph_figure(graph: Any, path: Path, *, title: str) -> Path:
    """Write the type-level ownership graph (``bpfkit.ownership`` model graph) to *path*."""
    from bpfkit.plot import savefig, style
    from bpfkit.plot.ownership import plot_ownership_graph

    with style(STYLE):
        ax = plot_ownership_graph(graph, title=title)
        fig = ax.get_figure(root=True)
        assert fig is not None
        out = savefig(fig, path)
    _close(fig)
    return out
