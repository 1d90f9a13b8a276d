"""The interactive verifier-log explorer: one front end, two hosts.

The front end (``explorer.js``, ``explorer.css``; plain JavaScript, no third-party code, no
network) shows a verifier :class:`~bpfkit.verifier.Log`: C source and instructions side by
side with a visit heatmap; every register and stack slot as the verifier saw it at the
selected step, changes highlighted; stepping through the verifier's steps across paths, loop
iterations and subprogram frames; jump targets and prune points; precision backtracking
chains; references linked to where they were acquired and released or leaked, with the
ownership model's events; search; and a timeline of register lanes and reference lifetimes
linked to the selection.

It runs in a notebook as an anywidget (:func:`explore`, :class:`Explorer`) and in each program
page of ``bpfkit report`` (:func:`explorer_html`), from data made by :func:`explorer_data`.

Examples
--------
>>> import bpfkit
>>> bpfkit.explore("data/logs/alloc/obj_new_leak.l2.log")  # doctest: +SKIP
"""

from __future__ import annotations

from bpfkit.explorer.data import FORMAT_VERSION, explorer_data, jump_target
from bpfkit.explorer.front import (
    data_json,
    explore,
    explorer_html,
    front_end,
    write_assets,
    write_data_script,
)

__all__ = [
    "FORMAT_VERSION",
    "explorer_data",
    "jump_target",
    "explore",
    "explorer_html",
    "front_end",
    "data_json",
    "write_assets",
    "write_data_script",
]
