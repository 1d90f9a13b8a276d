"""Figures of verifier state evolution, per program, in the shipped ``talk`` and ``paper`` styles.

The data behind each figure comes from :mod:`bpfkit.plot.data` (DataFrames and graphs,
tested on their own); the ``plot_*`` functions draw it on ``ax=None`` and return the Axes (or
the Figure for multi-panel ones); :func:`savefig` writes SVG, PDF or PNG with the same bytes
on every run; :func:`write_figures` writes every figure of every program of a log.

Examples
--------
>>> from bpfkit.plot import register_category, TYPE_STYLES
>>> TYPE_STYLES[register_category("ptr_", flags="alloc")].label
'allocated object (owning)'

A program from data/logs that leaks its ``bpf_obj_new`` object: the lifetime starts at the
allocating instruction and ends in the leak the kernel reports.

>>> from pathlib import Path
>>> import bpfkit
>>> from bpfkit.verifier import load_log
>>> from bpfkit.plot import reference_lifetimes, visit_counts
>>> log = load_log(Path(bpfkit.__file__).parents[1] / "data/logs/alloc/obj_new_leak.l2.log")[0]
>>> log.error.splitlines()[0]
'Unreleased reference id=2 alloc_insn=4'
>>> life = reference_lifetimes(log)
>>> life[["ref_obj_id", "start_insn", "start_src_line", "end_kind", "object"]].to_dict("records")
[{'ref_obj_id': 2, 'start_insn': 4, 'start_src_line': 44, 'end_kind': 'leak', 'object': 'counter'}]
>>> int(visit_counts(log)["visits"].sum()) == log.stats.insns_processed
True
>>> from bpfkit.plot import plot_references, savefig, style
>>> with style("paper"):
...     fig = plot_references(log)
...     path = savefig(fig, "obj_new_leak-references.svg")  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.plot.cfg import cfg_from_instructions, cfg_graph, cfg_layout, decode_jump, plot_cfg
    from bpfkit.plot.chain import flow_chain_frame, plot_flow_chain
    from bpfkit.plot.compare import (
        plot_compare,
        plot_stats_table,
        plot_summary,
        plot_visit_difference,
    )
    from bpfkit.plot.data import (
        compare_lines,
        compare_logs,
        compare_stats,
        effort_series,
        lane_state,
        leaked_references,
        lock_held,
        non_owning_refs,
        path_tree,
        range_series,
        reference_counts,
        reference_lifetimes,
        register_lanes,
        register_marks,
        visit_counts,
    )
    from bpfkit.plot.figures import (
        plot_effort,
        plot_effort_series,
        plot_non_owning,
        plot_path_tree,
        plot_range,
        plot_ranges,
        plot_reference_counts,
        plot_reference_lifetimes,
        plot_references,
        plot_register_lanes,
        plot_visits,
    )
    from bpfkit.plot.layout import LayoutProblem, check_layout, tidy_ticks
    from bpfkit.plot.output import FIGURES, render_figure, write_figures
    from bpfkit.plot.palette import CATEGORIES, TYPE_STYLES, register_category
    from bpfkit.plot.timeline import Timeline, ownership_timeline, plot_ownership_timeline
    from bpfkit.plot.window import MAX_REF_ROWS, WINDOW_STEPS, Window, choose_window, parse_window

# `style` is also the name of a submodule: imported here, so that the name is the function
# whatever is imported later (bpfkit.plot.style imports matplotlib only when a function runs).
from bpfkit.plot.style import STYLES, savefig, style, use_style

__all__ = [
    "STYLES",
    "style",
    "use_style",
    "savefig",
    "CATEGORIES",
    "TYPE_STYLES",
    "register_category",
    "cfg_graph",
    "cfg_from_instructions",
    "cfg_layout",
    "decode_jump",
    "plot_cfg",
    "lane_state",
    "register_lanes",
    "register_marks",
    "range_series",
    "reference_lifetimes",
    "reference_counts",
    "leaked_references",
    "lock_held",
    "non_owning_refs",
    "visit_counts",
    "effort_series",
    "path_tree",
    "compare_logs",
    "compare_lines",
    "compare_stats",
    "plot_register_lanes",
    "plot_range",
    "plot_ranges",
    "plot_reference_lifetimes",
    "plot_reference_counts",
    "plot_non_owning",
    "plot_references",
    "plot_visits",
    "plot_effort_series",
    "plot_path_tree",
    "plot_effort",
    "plot_visit_difference",
    "plot_stats_table",
    "plot_compare",
    "plot_summary",
    "FIGURES",
    "render_figure",
    "write_figures",
    "LayoutProblem",
    "check_layout",
    "tidy_ticks",
    "WINDOW_STEPS",
    "MAX_REF_ROWS",
    "Window",
    "choose_window",
    "parse_window",
    "Timeline",
    "ownership_timeline",
    "plot_ownership_timeline",
    "flow_chain_frame",
    "plot_flow_chain",
]

# Imported on first use (bpfkit._lazy), so that `import bpfkit.plot` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "cfg": ("cfg_from_instructions", "cfg_graph", "cfg_layout", "decode_jump", "plot_cfg"),
    "compare": ("plot_compare", "plot_stats_table", "plot_summary", "plot_visit_difference"),
    "data": (
        "compare_lines",
        "compare_logs",
        "compare_stats",
        "effort_series",
        "lane_state",
        "leaked_references",
        "lock_held",
        "non_owning_refs",
        "path_tree",
        "range_series",
        "reference_counts",
        "reference_lifetimes",
        "register_lanes",
        "register_marks",
        "visit_counts",
    ),
    "figures": (
        "plot_effort",
        "plot_effort_series",
        "plot_non_owning",
        "plot_path_tree",
        "plot_range",
        "plot_ranges",
        "plot_reference_counts",
        "plot_reference_lifetimes",
        "plot_references",
        "plot_register_lanes",
        "plot_visits",
    ),
    "output": ("FIGURES", "render_figure", "write_figures"),
    "palette": ("CATEGORIES", "TYPE_STYLES", "register_category"),
    "chain": ("flow_chain_frame", "plot_flow_chain"),
    "layout": ("LayoutProblem", "check_layout", "tidy_ticks"),
    "timeline": ("Timeline", "ownership_timeline", "plot_ownership_timeline"),
    "window": ("MAX_REF_ROWS", "WINDOW_STEPS", "Window", "choose_window", "parse_window"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
