"""The ownership timeline: who owns each program-allocated or referenced object at each step.

Built from the verifier's own view (:func:`bpfkit.ownership.dynamic.ref_events`): one row per
object (``ref_obj_id``), one bar per stretch of steps with one owner:

- a **register** or a **stack slot** (``r0`` after the call that made it, then each register
  or slot the program copies it into: the bar is labelled with the latest);
- a **collection** after a transfer: ``bpf_list_push_*`` into a ``bpf_list_head``,
  ``bpf_rbtree_add`` into a ``bpf_rb_root``, ``bpf_kptr_xchg`` into a ``__kptr`` field. The
  collection or field is named from the C source of the call (``&q_jobs``, ``&v->sess``).
  A transfer is not a release: the object lives on, owned by the collection.

Markers say how a stretch begins and ends: acquire, pop / remove / xchg out (the object
comes back out of a collection or field: a new reference), ``refcount +1``
(``bpf_refcount_acquire``: another holder of the same object), push / add / xchg in, release,
NULL branch, leak, and a **second release** the kernel rejected (``bpf_obj_drop`` of what was
already dropped: the error instruction, on the row of the object dropped before). For a leak,
the figure names the branch that led to the leaking path (the ``if`` at the fork, taken or not,
with its C line).

Big logs: more objects than the panel can label are grouped by allocation site (one row per
site; every object from it, one per loop iteration, a thin bar in that row); the steps are
windowed as in :mod:`bpfkit.plot.window`.

Examples
--------
>>> from pathlib import Path
>>> import bpfkit
>>> from bpfkit.verifier import load_log
>>> data = Path(bpfkit.__file__).parents[1] / "data/logs"
>>> log = load_log(data / "list/list_push_pop_ok.l2.log")[0]
>>> tl = ownership_timeline(log)
>>> tl.segments[["ref_obj_id", "owner", "kind"]].drop_duplicates().to_dict("records")
... # doctest: +NORMALIZE_WHITESPACE
[{'ref_obj_id': 2, 'owner': 'r0', 'kind': 'register'},
 {'ref_obj_id': 2, 'owner': 'r6', 'kind': 'register'},
 {'ref_obj_id': 2, 'owner': 'r2', 'kind': 'register'},
 {'ref_obj_id': 2, 'owner': 'list q_jobs', 'kind': 'list'},
 {'ref_obj_id': 4, 'owner': 'r0', 'kind': 'register'},
 {'ref_obj_id': 4, 'owner': 'r6', 'kind': 'register'},
 {'ref_obj_id': 4, 'owner': 'r1', 'kind': 'register'}]
>>> list(tl.marks["mark"])
['acquire', 'push', 'pop', 'release']
>>> log = load_log(data / "alloc/obj_drop_twice.l2.log")[0]
>>> list(ownership_timeline(log).marks["mark"])
['acquire', 'release', 'second release']
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfkit.plot.palette import OKABE_ITO
from bpfkit.plot.style import new_axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "OWNER_STYLES",
    "MARK_STYLES",
    "Timeline",
    "ownership_timeline",
    "plot_ownership_timeline",
]

_O = OKABE_ITO
#: Owner kind -> (color, hatch, legend label).
OWNER_STYLES: dict[str, tuple[str, str, str]] = {
    "register": (_O["blue"], "", "register"),
    "stack": (_O["sky_blue"], "..", "stack slot"),
    "list": (_O["vermillion"], "//", "in a bpf_list_head"),
    "rbtree": (_O["orange"], "\\\\", "in a bpf_rb_root"),
    "kptr": (_O["reddish_purple"], "xx", "in a __kptr field"),
}
#: Mark -> (marker, color, legend label).
MARK_STYLES: dict[str, tuple[str, str, str]] = {
    "acquire": ("o", "black", "acquire"),
    "pop": ("^", "black", "pop / remove / xchg out"),
    "refcount +1": ("P", "black", "refcount +1 (another holder)"),
    "push": ("D", "black", "push / add / xchg in (transfer)"),
    "release": ("s", "black", "release"),
    "null": ("o", "#888888", "NULL branch (gone)"),
    "leak": ("X", _O["vermillion"], "leak"),
    "second release": ("X", _O["black"], "second release (rejected)"),
}
_TRANSFER_KIND = {"list_push": "list", "rbtree_add": "rbtree", "kptr_xchg": "kptr"}
_TAKE_OUT = ("bpf_list_pop", "bpf_rbtree_remove", "bpf_kptr_xchg")
_FIRST_ARG = re.compile(r"\(\s*&?\s*([A-Za-z_][\w.\->\[\]]*)")


class Timeline(NamedTuple):
    """What :func:`ownership_timeline` returns."""

    #: One row per stretch with one owner: ``ref_obj_id, path, start_step, end_step, owner,
    #: kind`` (a key of :data:`OWNER_STYLES`), ``btf_type, site_insn, site_src_line``.
    segments: pd.DataFrame
    #: One row per event drawn: ``ref_obj_id, path, step, insn_idx, src_line, mark`` (a key of
    #: :data:`MARK_STYLES`), ``detail``.
    marks: pd.DataFrame
    #: Sentences the figure prints under its axis (the branch that led to a leak).
    notes: tuple[str, ...]


def _collection_name(src_text: str | None, call: str | None) -> str | None:
    """The collection or field a transfer call names in C: ``&q_jobs`` -> ``q_jobs``."""
    if not src_text or not call:
        return None
    base = call.split("#", 1)[0].removesuffix("_impl")
    for name in (base, base.replace("bpf_", "", 1)):
        i = src_text.find(name)
        if i >= 0:
            m = _FIRST_ARG.match(src_text[i + len(name) :])
            if m:
                return m.group(1)
    m = _FIRST_ARG.search(src_text)
    return m.group(1) if m else None


def _insn_info(log: Any) -> tuple[dict[int, str], dict[int, str], dict[int, int]]:
    from bpfkit.plot.data import present

    ins = log.instructions
    asm: dict[int, str] = {}
    src: dict[int, str] = {}
    line: dict[int, int] = {}
    if not len(ins):
        return asm, src, line
    for idx, a, t, ln in zip(
        ins["insn_idx"].tolist(),
        ins["asm"].tolist(),
        ins["src_text"].tolist() if "src_text" in ins else [None] * len(ins),
        ins["src_line"].tolist(),
        strict=False,
    ):
        if not present(idx):
            continue
        i = int(idx)
        asm.setdefault(i, str(a or ""))
        if isinstance(t, str):
            src.setdefault(i, t)
        if present(ln):
            line.setdefault(i, int(ln))
    return asm, src, line


def _path_ends(log: Any) -> dict[int, int]:
    st = log.steps
    if not len(st):
        return {}
    return {int(p): int(s) for p, s in st.groupby("path")["step"].max().items()}


def _leak_condition(log: Any, path: int, asm: dict[int, str], src: dict[int, str],
                    line: dict[int, int]) -> str | None:  # fmt: skip
    """The branch that led to the leaking *path*: the fork it started at (``from X to Y``)
    or, for the first path, the last conditional jump on it."""
    st = log.steps.sort_values("step")
    mine = st[st["path"] == path]
    if not len(mine):
        return None
    jump: int | None = None
    taken = False
    br = log.branches
    if path > 0 and len(br):
        first_line = int(mine["line"].iloc[0])
        lines = sorted(int(x) for x in br["line"].tolist())
        k = bisect.bisect_right(lines, first_line)
        if k:
            row = br[br["line"] == lines[k - 1]].iloc[0]
            if row["from_insn"] == row["from_insn"]:
                jump = int(row["from_insn"])
                taken = int(row["to_insn"]) != jump + 1
    if jump is None:
        insns = mine["insn_idx"].tolist()
        for a, b in zip(insns[::-1][1:], insns[::-1], strict=False):
            if asm.get(int(a), "").startswith("if "):
                jump, taken = int(a), int(b) != int(a) + 1
                break
    if jump is None:
        return None
    where = f" (L{line[jump]}: {src[jump].strip()})" if jump in line and jump in src else ""
    return (
        f"leak on the path where insn {jump} `{asm.get(jump, '?')}` was "
        f"{'taken' if taken else 'not taken'}{where}"
    )


def ownership_timeline(log: Any) -> Timeline:
    """Who owns each object at each step, with how each stretch began and ended (see the
    module docstring)."""
    import pandas as pd

    from bpfkit.ownership.dynamic import ref_events, sink_of_call

    events = ref_events(log)
    asm, src, line = _insn_info(log)
    ends = _path_ends(log)
    seg_rows: list[tuple[Any, ...]] = []
    mark_rows: list[tuple[Any, ...]] = []
    notes: list[str] = []
    open_: dict[tuple[int, int], tuple[int, str, str]] = {}  # (path, rid) -> start, owner, kind
    site: dict[int, tuple[int, int | None]] = {}
    btf: dict[int, str | None] = {}
    holders: dict[int, set[str]] = {}
    released: list[tuple[int, int, int]] = []  # (step, rid, path)

    def close(path: int, rid: int, step: int) -> None:
        cur = open_.pop((path, rid), None)
        if cur is not None:
            s_insn, s_line = site.get(rid, (-1, None))
            seg_rows.append(
                (rid, path, cur[0], max(step, cur[0]), cur[1], cur[2], btf.get(rid), s_insn,
                 s_line)
            )  # fmt: skip

    def mark(ev: Any, kind: str, detail: str | None = None) -> None:
        mark_rows.append(
            (ev.ref_obj_id, ev.path, ev.step, ev.insn_idx, ev.src_line, kind, detail or ev.detail)
        )

    for ev in events:
        rid, path, step = ev.ref_obj_id, ev.path, ev.step
        if ev.btf_type:
            btf.setdefault(rid, ev.btf_type)
        key = (path, rid)
        if ev.event == "acquire":
            site.setdefault(rid, (ev.insn_idx, ev.src_line))
            call = str(ev.detail or "")
            if "refcount_acquire" in call:
                mark(ev, "refcount +1")
            elif call.startswith(_TAKE_OUT):
                mark(ev, "pop")
            else:
                mark(ev, "acquire")
            close(path, rid, step)
            open_[key] = (step, "r0", "register")
            holders.setdefault(rid, set()).add("r0")
        elif ev.event == "inherited":
            site.setdefault(rid, (ev.insn_idx, ev.src_line))
            if key not in open_:
                open_[key] = (step, "held", "register")
        elif ev.event == "copy" and ev.detail:
            holders.setdefault(rid, set()).add(str(ev.detail))
            cur = open_.get(key)
            if cur is not None and cur[2] in ("register", "stack") and cur[1] != ev.detail:
                close(path, rid, step)
                kind = "stack" if str(ev.detail).startswith("fp") else "register"
                open_[key] = (step, str(ev.detail), kind)
        elif ev.event == "transfer":
            close(path, rid, step)
            kind = _TRANSFER_KIND.get(str(ev.sink), "list")
            name = _collection_name(src.get(ev.insn_idx), ev.detail)
            owner = {"list": "list", "rbtree": "rbtree", "kptr": "kptr"}[kind]
            owner = f"{owner} {name}" if name else owner
            mark(ev, "push", owner)
            open_[key] = (step, owner, kind)
        elif ev.event in ("release", "null", "unreleased", "held_at_end"):
            cur = open_.get(key)
            if cur is not None and cur[2] in ("list", "rbtree", "kptr"):
                continue  # the collection keeps it; its stretch ends with the path
            close(path, rid, step)
            if ev.event == "release":
                mark(ev, "release")
                released.append((step, rid, path))
            elif ev.event == "null":
                mark(ev, "null")
            elif ev.event == "unreleased":
                mark(ev, "leak")
                cond = _leak_condition(log, path, asm, src, line)
                if cond and cond not in notes:
                    notes.append(cond)
    last_step = max(ends.values()) if ends else 0
    for (path, rid), _cur in sorted(open_.items()):
        close(path, rid, ends.get(path, last_step))
    # the second release of a double release: the error is a release call whose argument
    # register held an object already released
    err = getattr(log, "error_insn", None)
    if getattr(log, "verdict", None) == "reject" and err is not None and released:
        m = re.search(r"call ([A-Za-z_]\w*)", asm.get(int(err), ""))
        if m and sink_of_call(m.group(1)) in ("drop", "release"):
            arg = "r1"
            hit = [r for r in released if arg in holders.get(r[1], set())] or released
            step_r, rid, path = hit[-1]
            s_line = line.get(int(err))
            err_step = int(log.steps["step"].max()) if len(log.steps) else step_r
            mark_rows.append((rid, path, err_step, int(err), s_line, "second release", m.group(1)))
            seg_rows.append(
                (rid, path, step_r, err_step, "released", "released", btf.get(rid),
                 site.get(rid, (-1, None))[0], site.get(rid, (-1, None))[1])
            )  # fmt: skip
    seg_cols = ["ref_obj_id", "path", "start_step", "end_step", "owner", "kind", "btf_type",
                "site_insn", "site_src_line"]  # fmt: skip
    mark_cols = ["ref_obj_id", "path", "step", "insn_idx", "src_line", "mark", "detail"]
    segments = pd.DataFrame.from_records(seg_rows, columns=seg_cols)
    segments = segments.sort_values(["ref_obj_id", "path", "start_step"], kind="stable")
    marks = pd.DataFrame.from_records(mark_rows, columns=mark_cols)
    marks = marks.sort_values(["step", "ref_obj_id"], kind="stable")
    return Timeline(segments.reset_index(drop=True), marks.reset_index(drop=True), tuple(notes))


def plot_ownership_timeline(
    log: Any, ax: Axes | None = None, *, window: Any = None, max_rows: int | None = None
) -> Axes:
    """Draw :func:`ownership_timeline` of *log*: a row per object (or per allocation site for
    many objects), bars colored and hatched by owner, markers for how ownership changed."""
    from bpfkit.plot import figures as F
    from bpfkit.plot.window import MAX_REF_ROWS, choose_window

    tl = ownership_timeline(log)
    own = ax is None
    ax = new_axes(ax, figsize=F.figure_size("single"))
    win = choose_window(log, window)
    seg, marks = tl.segments, tl.marks
    if not win.whole:
        seg = seg[(seg["end_step"] >= win.start) & (seg["start_step"] < win.stop)]
        marks = marks[(marks["step"] >= win.start) & (marks["step"] < win.stop)]
    F._title(ax, "ownership timeline", log)
    if not len(seg):
        ax.text(0.5, 0.5, "no owned objects in the log" if win.whole else
                "no owned objects in this window", transform=ax.transAxes, ha="center",
                va="center")  # fmt: skip
        ax.set_yticks([])
        F._window_note(ax, win)
        return ax
    ids = sorted(seg["ref_obj_id"].unique().tolist())
    root = ax.get_figure(root=True)
    narrow = root is not None and root.get_figwidth() < 5
    fit = F.rows_that_fit(ax)
    limit = min(max_rows if max_rows is not None else MAX_REF_ROWS, fit)
    by_site = len(ids) > limit
    if by_site:
        from bpfkit.plot.data import call_names, present

        calls = call_names(log)
        keys = sorted(seg["site_insn"].unique().tolist())
        row = {k: i for i, k in enumerate(keys)}
        y_seg = seg["site_insn"].map(row).to_numpy()
        site_of = dict(zip(seg["ref_obj_id"], seg["site_insn"], strict=False))
        y_mark = marks["ref_obj_id"].map(site_of).map(row).to_numpy()
        labels = []
        for k in keys:
            n = int(seg.loc[seg["site_insn"] == k, "ref_obj_id"].nunique())
            ln = seg.loc[seg["site_insn"] == k, "site_src_line"].dropna()
            lt = f" · L{int(ln.iloc[0])}" if len(ln) else ""
            call = calls.get(int(k), "").removesuffix("_impl") if present(k) else ""
            head = f"{call} @{k}" if call else f"insn {k}"
            if narrow:  # a paper column: the shortest that still names the site
                labels.append(f"{head.removeprefix('bpf_')}: {n:,}")
            else:  # two short lines: the data keeps the width of the slide
                labels.append(f"{head}{lt}\n{n:,} object{'s' if n != 1 else ''}")
    else:
        keys = ids
        row = {k: i for i, k in enumerate(keys)}
        y_seg = seg["ref_obj_id"].map(row).to_numpy()
        y_mark = marks["ref_obj_id"].map(row).to_numpy()
        labels = []
        for k in keys:
            sub = seg[seg["ref_obj_id"] == k].iloc[0]
            t = f" {sub['btf_type']}" if isinstance(sub["btf_type"], str) else ""
            lt = f" · L{int(sub['site_src_line'])}" if sub["site_src_line"] == sub[
                "site_src_line"] and sub["site_src_line"] is not None else ""  # fmt: skip
            # the owners are the bars' colours and the legend: the label names the object
            if narrow:  # a paper column
                labels.append(f"id={k}{t} @{sub['site_insn']}")
            else:  # two short lines: the data keeps the width of the slide
                labels.append(f"id={k}{t}\n@insn {sub['site_insn']}{lt}")
    for kind, (marker, color, label) in MARK_STYLES.items():
        sel = (marks["mark"] == kind).to_numpy()
        if not sel.any():
            continue
        if by_site and kind not in ("leak", "second release"):
            continue  # a mark per object would be a smear; the bars carry the owners
        x = marks.loc[sel, "step"].to_numpy(dtype=float)
        x = x + (1.0 if kind in ("release", "push", "leak", "second release", "null") else 0.0)
        ax.scatter(x, y_mark[sel], marker=marker, color=color, s=F._msize(1.0 if kind not in (
            "leak", "second release") else 1.6), zorder=4, label=label,
            edgecolors="white" if kind in ("leak", "second release") else "none",
            linewidths=0.5)  # fmt: skip
    # the bars under the marks (zorder), after them in the legend
    start = seg["start_step"].to_numpy(dtype=float)
    end = seg["end_step"].to_numpy(dtype=float) + 1
    h = 0.6
    for kind, (color, hatch, label) in OWNER_STYLES.items():
        sel = (seg["kind"] == kind).to_numpy()
        if not sel.any():
            continue
        names = sorted(set(seg.loc[sel, "owner"]))
        if kind in ("list", "rbtree", "kptr") and len(names) <= 3:
            label = ", ".join(names)
        F._bars(ax, start[sel], end[sel], y_seg[sel] - h / 2, y_seg[sel] + h / 2, color=color,
                hatch=hatch if not by_site else None, edgecolor="#333333" if not by_site
                else color, linewidth=0.4 if not by_site else 0, alpha=1.0 if not by_site
                else 0.5, label=label)  # fmt: skip
    sel = (seg["kind"] == "released").to_numpy()
    if sel.any():
        F._bars(ax, start[sel], end[sel], y_seg[sel] - 0.075, y_seg[sel] + 0.075,
                color="#999999", label="already released")  # fmt: skip
    ax.set_yticks(range(len(keys)), labels)
    pad = max(0.0, (3 - len(keys)) / 2)  # one or two rows: bars of a usual thickness
    ax.set_ylim(len(keys) - 0.5 + pad, -0.7 - pad)
    ax.set_xlim(win.start, max(win.stop, win.start + 1) + 1)
    ax.grid(False, axis="y")
    F.set_xlabel(ax, "step (verification order)")
    if by_site:
        F._note(ax, f"{len(ids):,} objects: one row per allocation site, a bar per object")
    for note in tl.notes:
        F._note(ax, note)
    F._window_note(ax, win)
    _legend_below(ax, own)
    return ax


def _legend_below(ax: Axes, own: bool) -> None:
    """The legend under the figure, in columns (a figure of its own), so the bars keep the
    width; beside the panel when it shares a figure."""
    from bpfkit.plot import figures as F

    fig = ax.get_figure(root=True)
    handles, labels = ax.get_legend_handles_labels()
    if not own or fig is None or not handles:
        F.side_legend(ax, own)
        return
    import matplotlib
    from matplotlib.font_manager import FontProperties

    # as many columns as fit the figure's width (an entry: its handle and its label)
    size = FontProperties(size=matplotlib.rcParams["legend.fontsize"]).get_size_in_points()
    entry_pt = (max(len(t) for t in labels) * 0.55 + 5.0) * size
    ncols = max(1, min(len(handles), 4, int(0.95 * fig.get_figwidth() * 72 // entry_pt)))
    if ncols == 1 and fig.get_figheight() < 3.5:  # one column under a short figure: taller
        fig.set_figheight(fig.get_figheight() + 0.13 * len(handles) * size / 7)
    fig.legend(handles=handles, labels=labels, loc="outside lower center", ncols=ncols)
