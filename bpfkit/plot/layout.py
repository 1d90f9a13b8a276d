"""Layout checks: after a figure is drawn, no two texts overlap, no text leaves the figure,
no text or legend sits on the data of its panel.

:func:`check_layout` draws the figure (``fig.canvas.draw()`` through a non-interactive Agg
canvas) and reads the window extents matplotlib computed for every visible text, legend and
data artist. It returns one :class:`LayoutProblem` per collision, so a test can assert that
there are none and a person can read what is wrong:

``overlap``
    two texts share more than :data:`TOLERANCE_PX` in both directions (tick labels of one
    axis against each other, a note against a tick label, a title against a subtitle, ...);
``outside``
    a text reaches beyond the figure's edge (it would be cut on the slide or the page);
``on_data``
    a text placed inside a panel (a note, an annotation) or a legend inside a panel covers a
    data artist of that panel (a line, a marker, a bar, a band).

Texts inside opaque legend or table boxes are compared as one box each. Data artists are the
lines, collections, patches and images an axes draws, minus grid lines and the axes frame.

Examples
--------
>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(3, 2), layout="constrained")
>>> ax = fig.add_subplot()
>>> _ = ax.plot([0, 1], [0, 1])
>>> _ = ax.text(0.5, 0.5, "on the line", transform=ax.transAxes, ha="center")
>>> [p.kind for p in check_layout(fig)]
['on_data']
>>> fig = Figure(figsize=(3, 2))  # default margins: the tick labels are cut at 3 x 2 in
>>> _ = fig.add_subplot().plot([0, 1], [0, 1])
>>> sorted({p.kind for p in check_layout(fig)})
['outside']
>>> fig = Figure(figsize=(3, 2), layout="constrained")
>>> ax = fig.add_subplot()
>>> _ = ax.plot([0, 1], [0, 1], label="line")
>>> _ = ax.set_title("a title")
>>> _ = ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
>>> check_layout(fig)
[]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

__all__ = [
    "TOLERANCE_PX",
    "LayoutProblem",
    "check_layout",
    "text_boxes",
    "tidy_ticks",
    "format_problems",
]

#: Collisions smaller than this many pixels (at the figure's dpi) in either direction are
#: anti-aliasing, not overlap.
TOLERANCE_PX = 1.0


class LayoutProblem(NamedTuple):
    """One collision found by :func:`check_layout`."""

    #: ``overlap``, ``outside`` or ``on_data``.
    kind: str
    #: The text (or ``legend``) concerned.
    what: str
    #: The other text, ``figure`` or the data artist it covers.
    other: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.what!r} / {self.other!r}"


def _renderer(fig: Figure) -> Any:
    """Lay out and draw *fig* on an Agg canvas with the drawing primitives turned off: every
    position, tick and text extent is computed as for a real draw, no pixel is painted (a
    layout check needs the extents, not the image; this halves the time of a draw). The
    tick labels drawn are recorded on the figure for :func:`_tick_labels`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas
    if not hasattr(canvas, "get_renderer"):
        canvas = FigureCanvasAgg(fig)
    r = canvas.get_renderer()
    metrics = _font_height_metrics(r.dpi) if not hasattr(r, "_get_font_height_metrics") else None
    if metrics is not None:
        r._get_font_height_metrics = metrics
    with (
        remembered_ticks(fig) as drawn,
        reused_text_layouts(),
        undrawn_data(fig),
        r._draw_disabled(),
    ):
        fig.draw(r)
    ticks: dict[int, list[tuple[Any, list[Any]]]] = {}
    for ax in _axes_of(fig):
        if id(ax.xaxis) in drawn and id(ax.yaxis) in drawn:
            ticks[id(ax)] = [
                (axis, _labels_of(drawn[id(axis)]) if axis.get_visible() else [])
                for axis in (ax.xaxis, ax.yaxis)
            ]
        else:
            ticks[id(ax)] = _visible_tick_labels(ax)
    fig._bpfkit_ticks = ticks  # type: ignore[attr-defined]
    fig._bpfkit_drawn = None  # type: ignore[attr-defined]
    return r


def _shrink(b: Bbox, px: float) -> Bbox:
    from matplotlib.transforms import Bbox as B

    return B.from_extents(b.x0 + px, b.y0 + px, b.x1 - px, b.y1 - px)


def _hits(a: Bbox, b: Bbox, px: float = TOLERANCE_PX) -> bool:
    return bool(min(a.x1, b.x1) - max(a.x0, b.x0) > px and min(a.y1, b.y1) - max(a.y0, b.y0) > px)


def _visible(artist: Any) -> bool:
    a = artist
    while a is not None:
        if not a.get_visible():
            return False
        a = getattr(a, "axes", None) if a is not getattr(a, "axes", None) else None
    return True


def text_boxes(fig: Figure, renderer: Any | None = None) -> list[tuple[str, Bbox, Any]]:
    """Every visible, non-empty text of *fig* as ``(text, window extent, owner)``; a legend
    or a table counts as one box (``owner`` is the legend / table, its text ``legend`` /
    ``table``), other texts have their Axes (or None for figure texts) as owner."""
    return [(t, bb, owner) for t, bb, owner, _a in _boxes(fig, renderer)]


def _boxes(fig: Figure, renderer: Any | None = None) -> list[tuple[str, Bbox, Any, Any]]:
    """:func:`text_boxes` with the artist of each box as a fourth element."""
    from matplotlib.legend import Legend
    from matplotlib.table import Table
    from matplotlib.text import Text

    r = renderer if renderer is not None else _renderer(fig)
    boxes: list[tuple[str, Bbox, Any, Any]] = []
    grouped: set[int] = set()
    drawn, every = _tick_sets(fig)
    found = fig.findobj(lambda a: isinstance(a, (Legend, Table, Text)))  # one walk, not three
    for leg in found:
        if isinstance(leg, Legend) and leg.get_visible() and leg.get_texts():
            boxes.append(("legend", leg.get_window_extent(r), leg, leg))
            grouped.update(id(t) for t in leg.findobj(Text))
    for tab in found:
        if isinstance(tab, Table) and tab.get_visible():
            boxes.append(("table", tab.get_window_extent(r), tab, tab))
            grouped.update(id(t) for t in tab.findobj(Text))
    for t in found:
        if not isinstance(t, Text):
            continue
        if id(t) in grouped or not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        if not _drawn(t, drawn, every):
            continue
        bb = t.get_window_extent(r)
        if bb.width <= 0 or bb.height <= 0:
            continue
        boxes.append((t.get_text(), bb, t.axes, t))
    return boxes


@contextlib.contextmanager
def remembered_ticks(fig: Figure) -> Iterator[dict[int, list[Any]]]:
    """While inside, each axis of *fig* computes its ticks once for as long as nothing they
    depend on changes (see :func:`_recorder`); yields ``{id(axis): ticks drawn last}``."""
    drawn: dict[int, list[Any]] = {}
    axes = _axes_of(fig)
    for ax in axes:  # the ticks each axis draws, as Axis.draw asks for them (the last call)
        for axis in (ax.xaxis, ax.yaxis):
            axis._update_ticks = _recorder(axis, drawn)
            axis._get_ticklabel_bboxes = _remembered_label_boxes(axis)
    try:
        yield drawn
    finally:
        for ax in axes:
            for axis in (ax.xaxis, ax.yaxis):
                axis.__dict__.pop("_update_ticks", None)
                axis.__dict__.pop("_get_ticklabel_bboxes", None)


@contextlib.contextmanager
def undrawn_data(fig: Figure) -> Iterator[None]:
    """While inside, the data artists of the axes of *fig* (lines, collections, patches
    other than spines, images), the ticks (their marks, grid lines and labels) and the
    legends are not drawn: for a draw that only lays the figure out (:func:`_renderer`,
    drawing disabled), where drawing them would compute their paths for nothing: drawing
    them places nothing (the layout engine measures them without drawing them; an axis
    still computes its ticks and places its label and offset text around them; a legend's
    extent is computed when asked for). The other texts and the spines are drawn: their
    draw places them."""
    from matplotlib.axis import Tick
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.spines import Spine

    data = (Line2D, Collection, Patch, AxesImage)
    skipped: list[Any] = [
        art
        for ax in _axes_of(fig)
        for art in ax.get_children()
        if isinstance(art, data) and not isinstance(art, Spine) and art is not ax.patch
    ]
    for art in skipped:
        art.draw = _no_draw
    draws = {cls: cls.__dict__["draw"] for cls in (Tick, Legend)}
    for cls in draws:  # every Tick, made before or during the draw
        setattr(cls, "draw", _no_draw_method)  # noqa: B010
    try:
        yield
    finally:
        for cls, draw in draws.items():
            setattr(cls, "draw", draw)  # noqa: B010
        for art in skipped:
            art.__dict__.pop("draw", None)


def _no_draw(_renderer: Any) -> None:
    return None


def _no_draw_method(_self: Any, _renderer: Any) -> None:
    return None


@contextlib.contextmanager
def reused_text_layouts() -> Iterator[None]:
    """While inside, a text laid out once (its lines measured, its box aligned) is not laid
    out again for another text of the same string, font, rotation, alignment and renderer:
    one draw asks for the extent of each tick label, title and legend entry many times
    (layout margins, title and axis label positions, the draw itself)."""
    from matplotlib.text import Text

    layout = Text.__dict__["_get_layout"]
    done: dict[tuple[Any, ...], Any] = {}
    keep: list[Any] = []  # the renderers keyed by id stay alive while their layouts are kept

    def get_layout(self: Any, renderer: Any) -> Any:
        if self.get_wrap() or self.get_usetex():
            return layout(self, renderer)
        prop = self._fontproperties
        key = (id(renderer), self.get_figure(root=True).dpi, self.get_text(),
               tuple(prop.get_family()), prop.get_style(), prop.get_variant(),
               prop.get_weight(), prop.get_stretch(), prop.get_size_in_points(),
               prop.get_file(), prop.get_math_fontfamily(), self.get_rotation(),
               self.get_rotation_mode(), self._horizontalalignment,
               self._verticalalignment, self._multialignment, self._linespacing,
               self.get_parse_math())  # fmt: skip
        got = done.get(key)
        if got is None:
            got = done[key] = layout(self, renderer)
            keep.append(renderer)
        return got

    setattr(Text, "_get_layout", get_layout)  # noqa: B010 (a private method, untyped)
    try:
        yield
    finally:
        setattr(Text, "_get_layout", layout)  # noqa: B010


def _font_height_metrics(dpi: float) -> Any | None:
    """The ascent, descent and line gap of a font at *dpi* as matplotlib's ``Text`` computes
    them for every line it lays out (two font table reads and a font lookup each time),
    computed once per font and size: a renderer's ``_get_font_height_metrics``, which
    ``Text._get_layout`` (matplotlib 3.10+) asks first when the renderer has one."""
    from matplotlib.font_manager import fontManager, get_font

    seen: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}

    def metrics(prop: Any) -> tuple[Any, Any, Any]:
        key = (tuple(prop.get_family()), prop.get_style(), prop.get_variant(),
               prop.get_weight(), prop.get_stretch(), prop.get_size_in_points(),
               prop.get_file(), prop.get_math_fontfamily())  # fmt: skip
        got = seen.get(key)
        if got is None:
            got = (None, None, None)
            font: Any = get_font(fontManager._find_fonts_by_props(prop))
            for name, gap, ascent, descent in (
                ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                ("hhea", "lineGap", "ascent", "descent"),
            ):
                table = font.get_sfnt_table(name)
                if table is None:
                    continue
                units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
                scale = 1 / units_per_em * prop.get_size_in_points() * dpi / 72  # as matplotlib
                got = (table[ascent] * scale, -table[descent] * scale, table[gap] * scale)
                break
            seen[key] = got
        return got

    return metrics


def _recorder(axis: Any, drawn: dict[int, list[Any]]) -> Any:
    """``axis._update_ticks`` for one draw: it records the ticks drawn in *drawn*, and while
    nothing it depends on changed (the view interval, the axes' place on the figure, the
    scale, locators and formatters) hands back the ticks it computed last time instead of
    locating and formatting them again (one draw asks for them a dozen times: layout,
    title and label positions, the siblings' tick boxes)."""
    update = type(axis)._update_ticks
    last: list[Any] = [None, None]

    def record() -> list[Any]:
        key = _tick_state(axis)
        if last[0] == key:
            ticks: list[Any] = last[1]
        else:
            ticks = update(axis)
            last[0], last[1] = key, ticks
        drawn[id(axis)] = ticks
        return ticks

    return record


def _remembered_label_boxes(axis: Any) -> Any:
    """``axis._get_ticklabel_bboxes`` that measures the tick labels again only when the
    ticks, what they depend on (:func:`_tick_state`), the renderer or which labels are
    visible changed: matplotlib measures them for every extent of the axis and again to
    place the axis label (a draw and each layout pass ask several times)."""
    measure = type(axis)._get_ticklabel_bboxes
    last: list[Any] = [None, None, None]  # the ticks, what else the boxes depend on, boxes

    def boxes(ticks: list[Any], renderer: Any) -> Any:
        key = (
            id(renderer),
            _tick_state(axis),
            [(t.label1.get_visible(), t.label2.get_visible()) for t in ticks],
        )
        if last[0] is not ticks or last[1] != key:
            last[:] = [ticks, key, measure(axis, ticks, renderer)]
        return last[2]

    return boxes


def _tick_state(axis: Any) -> tuple[Any, ...]:
    """What :meth:`matplotlib.axis.Axis._update_ticks` computes its ticks from."""
    major, minor = axis.major, axis.minor
    return (
        tuple(axis.get_view_interval()),
        axis.axes.bbox.bounds,
        axis.get_scale(),
        id(major.locator),
        id(major.formatter),
        id(minor.locator),
        id(minor.formatter),
        len(axis.majorTicks),
        len(axis.minorTicks),
    )


def _labels_of(ticks: list[Any]) -> list[Any]:
    labels: list[Any] = []
    for tick in ticks:
        for lab in (tick.label1, tick.label2):
            if lab.get_visible() and lab.get_text().strip():
                labels.append(lab)
    return labels


def _visible_tick_labels(ax: Any) -> list[tuple[Any, list[Any]]]:
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        labels: list[Any] = []
        if axis.get_visible():
            for tick in axis._update_ticks():
                for lab in (tick.label1, tick.label2):
                    if lab.get_visible() and lab.get_text().strip():
                        labels.append(lab)
        out.append((axis, labels))
    return out


def _tick_labels(ax: Any) -> list[tuple[Any, list[Any]]]:
    """(axis, tick label texts drawn) for the x and y axis of *ax*, in tick order, as the
    last :func:`_renderer` draw left them (tick labels hidden since then left out)."""
    fig = ax.get_figure(root=True)
    cached = getattr(fig, "_bpfkit_ticks", {}).get(id(ax))
    if cached is None:
        return _visible_tick_labels(ax)
    return [(axis, [lab for lab in labels if lab.get_visible()]) for axis, labels in cached]


def _drawn(t: Any, drawn_ticks: set[int], all_ticks: set[int]) -> bool:
    """Whether matplotlib drew text *t* on the last draw (tick labels of ticks outside the
    view and texts of an axis turned off are not drawn)."""
    if id(t) in all_ticks:
        return id(t) in drawn_ticks
    ax = t.axes
    if ax is not None and not ax.axison:
        return t in (ax.title, ax._left_title, ax._right_title) or t in ax.texts
    if ax is not None:
        for axis in (ax.xaxis, ax.yaxis):
            if t is axis.label or t is axis.offsetText:
                return bool(axis.get_visible())
    return True


def _tick_sets(fig: Figure) -> tuple[set[int], set[int]]:
    drawn: set[int] = set()
    every: set[int] = set()
    for ax in _axes_of(fig):
        for axis in (ax.xaxis, ax.yaxis):
            for tick in [*axis.majorTicks, *axis.minorTicks]:
                every.update((id(tick.label1), id(tick.label2)))
        if ax.axison:
            for _axis, labels in _tick_labels(ax):
                drawn.update(id(x) for x in labels)
    return drawn, every


def _rewrap(label: str, chars: int) -> str:
    """Rewrap the ``[note]`` lines of an x label (see ``bpfkit.plot.figures._note``)."""
    import textwrap

    lines = label.split("\n")
    base = [x for x in lines if not x.startswith("[")][:1] if not lines[0].startswith("[") else []
    notes = " ".join(lines[len(base) :])
    out = list(base)
    for part in notes.replace("] [", "]\x00[").split("\x00"):
        out.extend(textwrap.wrap(part, chars))
    return "\n".join(out)


def _axes_of(fig: Figure) -> list[Any]:
    """Every Axes of *fig*: those of the figure and its subfigures, and their insets."""
    out: list[Any] = []
    todo = list(fig.axes)
    while todo:
        ax = todo.pop(0)
        out.append(ax)
        todo.extend(getattr(ax, "child_axes", []))
    return out


def tidy_ticks(fig: Figure) -> int:
    """Hide the tick labels that would collide: with a tick label kept before it on the same
    axis, with any other text of the figure, or with the figure's edge. Returns how many
    were hidden. Call it on a finished figure (:func:`bpfkit.plot.savefig` does).

    The figure is laid out once, and again only after something changed; the last layout
    is remembered so that :func:`check_layout` right after needs no layout of its own."""
    hidden = 0
    r = _renderer(fig)
    fb = fig.bbox
    changed = 0
    for ax in _axes_of(fig):  # a "what — program" title wider than the figure: two lines
        t = ax._left_title
        text = t.get_text()
        if " — " in text and t.get_visible():
            bb = t.get_window_extent(r)
            if bb.x1 > fb.x1 - TOLERANCE_PX or bb.x0 < fb.x0:
                t.set_text(text.replace(" — ", "\n", 1))
                changed += 1
        t = ax.title  # "control flow of NAME: N blocks": the name on a line of its own
        text = t.get_text()
        if " of " in text and "\n" not in text and t.get_visible():
            bb = t.get_window_extent(r)
            if bb.x1 > fb.x1 - TOLERANCE_PX or bb.x0 < fb.x0:
                head, _, tail = text.partition(" of ")
                name, sep, rest = tail.rpartition(": ")
                t.set_text(f"{head}{sep}{rest}\n{name}" if sep else f"{head}\n{tail}")
                changed += 1
    if changed:
        r = _renderer(fig)
        changed = 0
    for ax in _axes_of(fig):  # a title line still wider than the figure: a smaller font
        for t in (ax.title, ax._left_title, ax._right_title):
            if not t.get_visible() or not t.get_text():
                continue
            bb = t.get_window_extent(r)
            if bb.x1 <= fb.x1 - TOLERANCE_PX and bb.x0 >= fb.x0:
                continue
            ha = t.get_horizontalalignment()
            if ha == "center":
                mid = (bb.x0 + bb.x1) / 2
                room = 2 * min(mid - fb.x0, fb.x1 - mid)
            elif ha == "left":
                room = fb.x1 - bb.x0
            else:
                room = bb.x1 - fb.x0
            room -= 4 * TOLERANCE_PX
            if 0 < room < bb.width:
                t.set_fontsize(max(4.0, t.get_fontsize() * room / bb.width * 0.97))
                changed += 1
    if changed:
        r = _renderer(fig)
    for ax in _axes_of(fig):  # notes under an x label wider than the figure: rewrapped
        lab = ax.xaxis.label
        text = lab.get_text()
        if "\n[" not in text or not lab.get_visible():
            continue
        for _i in range(4):
            bb = lab.get_window_extent(r)
            if bb.x0 >= fb.x0 and bb.x1 <= fb.x1:
                break
            longest = max(len(x) for x in text.split("\n"))
            room = 2 * min(bb.x0 + bb.width / 2 - fb.x0, fb.x1 - bb.x0 - bb.width / 2) - 8
            chars = max(16, int(longest * room / max(bb.width, 1.0)))
            text = _rewrap(text, chars)
            lab.set_text(text)
            r = _renderer(fig)
    for _ in range(2):  # a second pass after the layout has settled without them
        drawn, every = _tick_sets(fig)
        fixed = [bb for _t, bb, _o, art in _boxes(fig, r) if id(art) not in every]
        fb = fig.bbox
        changed = 0
        for ax in _axes_of(fig):
            if not ax.axison or not ax.get_visible():
                continue
            for _axis, labels in _tick_labels(ax):
                kept: list[Any] = []
                for lab in labels:
                    bb = lab.get_window_extent(r)
                    out = (
                        bb.x0 < fb.x0 - TOLERANCE_PX
                        or bb.x1 > fb.x1 + TOLERANCE_PX
                        or bb.y0 < fb.y0 - TOLERANCE_PX
                        or bb.y1 > fb.y1 + TOLERANCE_PX
                    )
                    if out or any(_hits(bb, k) for k in kept) or any(_hits(bb, f) for f in fixed):
                        lab.set_visible(False)
                        changed += 1
                    else:
                        kept.append(bb)
                fixed.extend(kept)
        hidden += changed
        if not changed:
            break
        r = _renderer(fig)  # laid out again without the hidden labels
    fig._bpfkit_drawn = r  # type: ignore[attr-defined]
    return hidden


def _data_paths(ax: Any, r: Any) -> list[tuple[str, Any]]:
    """Display-space paths of the data artists of *ax* (lines, collections, patches)."""
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Patch
    from matplotlib.path import Path as MPath

    out: list[tuple[str, Any]] = []
    for art in ax.get_children():
        if not art.get_visible() or art is ax.patch:
            continue
        label = str(art.get_label() or type(art).__name__)
        if isinstance(art, Line2D):
            if art in ax.xaxis.get_gridlines() or art in ax.yaxis.get_gridlines():
                continue
            path: Any = art.get_transform().transform_path(art.get_path())
            if len(path.vertices) and art.get_linestyle() in ("None", "none", " ", ""):
                for v in path.vertices:  # markers only
                    out.append((label, MPath([v, v])))
            else:
                out.append((label, path))
        elif isinstance(art, Collection):
            offsets: Any = art.get_offsets()
            paths = art.get_paths()
            trans = art.get_transform()
            if (
                len(offsets)
                and len(paths)
                and len(offsets) >= len(paths)
                and art.get_offset_transform() is not trans
            ):
                off = art.get_offset_transform().transform(offsets)
                for xy in off:
                    out.append((label, MPath([xy, xy])))
            else:
                for p in paths:
                    out.append((label, trans.transform_path(p)))
        elif isinstance(art, FancyArrowPatch):
            # the arrow as drawn: clipped at the boxes it joins (patchA/patchB), shrunk
            paths, _fillable = art._get_path_in_displaycoord()  # type: ignore[attr-defined]
            ends = tuple(id(x) for x in (art.patchA, art.patchB) if x is not None)
            out.extend((f"{label}\0" + ",".join(map(str, ends)), p) for p in paths)
        elif isinstance(art, Patch):
            if type(art).__name__ in ("Spine",):
                continue
            out.append((label, art.get_transform().transform_path(art.get_path())))
        elif isinstance(art, AxesImage):
            bb = art.get_window_extent(r)
            out.append(
                (
                    label,
                    MPath(
                        [
                            (bb.x0, bb.y0),
                            (bb.x1, bb.y0),
                            (bb.x1, bb.y1),
                            (bb.x0, bb.y1),
                            (bb.x0, bb.y0),
                        ]
                    ),
                )
            )
    return out


def _covers(box: Bbox, path: Any) -> bool:
    inner = _shrink(box, TOLERANCE_PX)
    if inner.width <= 0 or inner.height <= 0:
        return False
    ext = path.get_extents()
    if not _hits(ext, inner, 0.0) and not (
        ext.width == 0 and ext.height == 0 and inner.contains(ext.x0, ext.y0)
    ):
        return False
    if len(path.vertices) == 2 and (path.vertices[0] == path.vertices[1]).all():
        return bool(inner.contains(*path.vertices[0]))
    return bool(path.intersects_bbox(inner, filled=_filled(path)))


def _filled(path: Any) -> bool:
    v = path.vertices
    return len(v) > 2 and bool((v[0] == v[-1]).all())


def check_layout(
    fig: Figure, *, data: bool = True, redraw: bool = True
) -> list[LayoutProblem]:
    """Draw *fig* and return every collision of its texts (see the module docstring);
    *data* False skips the text-on-data check. With *redraw* False, a figure just finished
    by :func:`tidy_ticks` (as :func:`bpfkit.plot.render_figure` returns it) is checked as
    that layout left it, without laying it out again; change nothing in between."""
    r = getattr(fig, "_bpfkit_drawn", None) if not redraw else None
    if r is None:
        r = _renderer(fig)
    boxes = text_boxes(fig, r)
    problems: list[LayoutProblem] = []
    fb = fig.bbox
    for text, bb, _owner in boxes:
        if (
            bb.x0 < fb.x0 - TOLERANCE_PX
            or bb.y0 < fb.y0 - TOLERANCE_PX
            or bb.x1 > fb.x1 + TOLERANCE_PX
            or bb.y1 > fb.y1 + TOLERANCE_PX
        ):
            problems.append(LayoutProblem("outside", text, "figure"))
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if _hits(boxes[i][1], boxes[j][1]):
                problems.append(LayoutProblem("overlap", boxes[i][0], boxes[j][0]))
    if data:
        problems.extend(_on_data(fig, r, boxes))
    return problems


def _on_data(fig: Figure, r: Any, boxes: list[tuple[str, Bbox, Any]]) -> list[LayoutProblem]:
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    out: list[LayoutProblem] = []
    cache: dict[int, list[tuple[str, Any]]] = {}
    for text, bb, owner in boxes:
        ax = owner.axes if isinstance(owner, Legend) else owner
        if ax is None or not hasattr(ax, "get_children"):
            continue
        owner_text = None
        if not isinstance(owner, Legend):
            # only texts placed in the panel: ax.text and annotations, not titles and ticks
            t = next((x for x in ax.texts if isinstance(x, Text) and x.get_text() == text), None)
            if t is None:
                continue
            owner_text = t
        ab = ax.get_window_extent(r)
        if not _hits(bb, ab):
            continue  # a legend or text beside the panel
        paths = cache.setdefault(id(ax), _data_paths(ax, r))
        patch = owner_text.get_bbox_patch() if owner_text is not None else None
        for label, path in paths:
            name, _, ends = label.partition("\0")
            if patch is not None and str(id(patch)) in ends.split(","):
                continue  # an arrow drawn to this text's own box touches it by design
            if _covers(bb, path):
                out.append(LayoutProblem("on_data", text, name))
                break
    return out


def format_problems(problems: list[LayoutProblem]) -> str:
    """The problems one per line, for an assertion message."""
    return "\n".join(str(p) for p in problems)
