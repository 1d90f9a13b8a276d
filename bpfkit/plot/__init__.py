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
"""

from bpfkit.plot.cfg import cfg_from_instructions, cfg_graph, cfg_layout, decode_jump, plot_cfg
from bpfkit.plot.compare import plot_compare, plot_stats_table, plot_summary, plot_visit_difference
from bpfkit.plot.data import (
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
from bpfkit.plot.output import FIGURES, render_figure, write_figures
from bpfkit.plot.palette import CATEGORIES, TYPE_STYLES, register_category
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
]
