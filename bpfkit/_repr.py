"""Small HTML builders shared by ``_repr_html_`` methods and the report.

Everything here is duck-typed and imports nothing from the rest of bpfkit, so any layer may
call it without breaking the one-direction rule. Each builder returns a self-contained HTML
fragment (inline styles only, no scripts, no external resources) that renders the same in
JupyterLab, VS Code and a static page.

Which classes should call which builder:

- a BTF type (``bpfkit.btf``): :func:`btf_type_html` with the spec and the type id (it
  builds the C declaration and a pahole-like layout; :func:`type_html` if the caller has
  them already);
- ``bpfkit.verifier.Log``: :func:`log_html`;
- ``bpfkit.ownership`` predictions / models: :func:`findings_html`.

Examples
--------
>>> print(html_table(["a", "b"], [(1, "<x>")]))  # doctest: +NORMALIZE_WHITESPACE
<table class="bpfkit-table"><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>&lt;x&gt;</td></tr></tbody></table>
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "escape",
    "raw",
    "html_table",
    "kv_table",
    "code_block",
    "verdict_badge",
    "type_html",
    "btf_layout_rows",
    "btf_type_html",
    "log_html",
    "findings_html",
]

_BOX = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.35;"
    "border:1px solid #ccc;border-radius:4px;padding:6px 10px;max-width:60em"
)
_VERDICT_COLORS = {"accept": "#1b7a3d", "reject": "#b3261e", "unknown": "#6b6b6b"}


def escape(value: object) -> str:
    """Return *value* as HTML-escaped text (``None`` becomes an empty string).

    Examples
    --------
    >>> escape("a < b & c")
    'a &lt; b &amp; c'
    >>> escape(None)
    ''
    """
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


def _cell(value: object) -> str:
    if isinstance(value, _Raw):
        return value.html
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas.NA / NaT, without pandas
        return ""
    return escape(value)


class _Raw:
    """A fragment that is already HTML (used for cells with links or badges)."""

    __slots__ = ("html",)

    def __init__(self, fragment: str) -> None:
        self.html = fragment


def raw(fragment: str) -> Any:
    """Mark *fragment* as HTML so :func:`html_table` inserts it unescaped."""
    return _Raw(fragment)


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    caption: str | None = None,
    css_class: str = "bpfkit-table",
) -> str:
    """Return an HTML table of *rows* under the header *columns*; every cell is escaped.

    Cells built with :func:`raw` are inserted as HTML (links, badges).

    Examples
    --------
    >>> html_table(["n"], [[1], [2]], caption="two").count("<tr>")
    3
    """
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="{escape(css_class)}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def kv_table(pairs: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Return a two-column key/value table; ``None`` values are left out.

    Examples
    --------
    >>> kv_table({"insns": 12, "limit": None}).count("<tr>")
    1
    """
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    body = "".join(
        f'<tr><th style="text-align:left">{escape(k)}</th><td>{_cell(v)}</td></tr>'
        for k, v in items
        if v is not None
    )
    return f'<table class="bpfkit-kv">{body}</table>'


def code_block(text: str, *, css_class: str = "bpfkit-code") -> str:
    """Return *text* in an escaped ``<pre>`` block.

    Examples
    --------
    >>> code_block("struct a { int x; };")
    '<pre class="bpfkit-code">struct a { int x; };</pre>'
    """
    return f'<pre class="{escape(css_class)}">{escape(text)}</pre>'


def verdict_badge(verdict: str | None) -> str:
    """Return a small coloured badge for a verdict (``accept``, ``reject``, ``unknown``).

    Examples
    --------
    >>> "reject" in verdict_badge("reject")
    True
    """
    v = verdict or "unknown"
    color = _VERDICT_COLORS.get(v, "#6b6b6b")
    return (
        f'<span class="bpfkit-verdict bpfkit-{escape(v)}" style="color:#fff;background:{color};'
        f'border-radius:3px;padding:0 5px;font-weight:600">{escape(v)}</span>'
    )


def type_html(
    kind: str,
    name: str,
    type_id: int,
    *,
    c_decl: str | None = None,
    layout: Iterable[Sequence[object]] | None = None,
    layout_columns: Sequence[str] = ("offset", "size", "bits", "member", "type"),
    size: int | None = None,
) -> str:
    """Return the HTML of one BTF type: a header, its C declaration and its member layout.

    Parameters
    ----------
    kind, name, type_id
        What the header shows (``STRUCT 'node_data' [12]``).
    c_decl
        The type's C declaration as the BTF C dumper prints it.
    layout
        Rows of a pahole-like layout (by default offset, size, bit size, member, type).
    size
        Total size in bytes, shown in the header when known.

    Examples
    --------
    >>> out = type_html("STRUCT", "foo", 3, c_decl="struct foo {\\n\\tint a;\\n};", size=4,
    ...                 layout=[(0, 4, None, "a", "int")])
    >>> "struct foo {" in out and "<td>a</td>" in out
    True
    """
    title = f"{escape(kind)} <b>{escape(name or '(anon)')}</b> [{type_id}]"
    if size is not None:
        title += f" &middot; {size} bytes"
    parts = [f'<div class="bpfkit-type" style="{_BOX}"><div>{title}</div>']
    if c_decl:
        parts.append(code_block(c_decl))
    if layout is not None:
        rows = list(layout)
        if rows:
            parts.append(html_table(layout_columns, rows))
    parts.append("</div>")
    return "".join(parts)


def btf_layout_rows(spec: Any, t: Any) -> list[tuple[object, ...]]:
    """Rows of a pahole-like layout of struct/union *t* from *spec*: ``(offset, size, bits,
    member, type, hole_after)``; offsets and sizes in bytes, ``bits`` the bitfield
    ``bit_offset:size`` or ``None``, ``hole_after`` the padding bytes before the next member
    (or the end of the struct; ``None`` in unions and after bitfields)."""
    members = list(getattr(t, "members", ()))
    is_union = getattr(t, "kind", None) is not None and str(t.kind.name) == "UNION"
    rows: list[tuple[object, ...]] = []
    for i, m in enumerate(members):
        offset = m.bit_offset // 8
        try:
            size: int | None = spec.sizeof(m.type)
        except Exception:  # an incomplete type (flexible array of a FWD): no size
            size = None
        bits = f"{m.bit_offset % 8}:{m.bitfield_size}" if m.bitfield_size else None
        hole: int | None = None
        if not is_union and not m.bitfield_size and size is not None:
            nxt = members[i + 1].bit_offset // 8 if i + 1 < len(members) else t.size
            hole = nxt - (offset + size)
        rows.append((offset, size, bits, m.name or "(anon)", spec.type_name(m.type), hole or None))
    return rows


def btf_type_html(spec: Any, type_id: int) -> str:
    """Return the HTML of BTF type *type_id* of *spec*: its C declaration (as
    ``bpfkit.btf.cformat.format_c`` writes it) and, for a struct or union, its layout.

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> spec = load_vmlinux()
    >>> out = btf_type_html(spec, spec.find_one("bpf_list_head").id)
    >>> "struct bpf_list_head {" in out and "__opaque" in out
    True
    """
    from bpfkit.btf.cformat import format_c

    t = spec[type_id]
    kind = t.kind.name
    c_decl = None
    if kind in ("STRUCT", "UNION", "ENUM", "ENUM64", "TYPEDEF", "FUNC", "VAR") and t.name:
        text = format_c(spec, [type_id])
        body = [ln for ln in text.splitlines() if not ln.startswith(("#", "//")) and ln.strip()]
        # format_c writes what the type needs first: keep the type's own declaration
        kw = {"STRUCT": "struct", "UNION": "union", "ENUM": "enum", "ENUM64": "enum"}.get(kind)
        start = 0
        if kw is not None:
            heads = [i for i, ln in enumerate(body) if ln.startswith(f"{kw} {t.name} {{")]
            start = heads[-1] if heads else 0
        c_decl = "\n".join(body[start:])
    elif type_id:
        c_decl = spec.type_name(type_id)
    layout = None
    if kind in ("STRUCT", "UNION"):
        layout = btf_layout_rows(spec, t)
    size = getattr(t, "size", None)
    return type_html(
        kind,
        t.name,
        type_id,
        c_decl=c_decl,
        layout=layout,
        layout_columns=("offset", "size", "bits", "member", "type", "hole after"),
        size=size if isinstance(size, int) else None,
    )


def _get(obj: object, name: str) -> Any:
    return getattr(obj, name, None)


def log_html(log: object, *, max_error_lines: int = 6) -> str:
    """Return the summary of a verifier ``Log``: verdict, error, the kernel's statistics and
    the line kinds it holds.

    *log* is duck-typed on the ``bpfkit.verifier.Log`` contract (``name``, ``verdict``,
    ``error``, ``error_insn``, ``level``, ``truncated``, ``stats``, ``kinds``).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> log = NS(name="p", verdict="reject", error="R1 invalid mem access 'scalar'",
    ...          error_insn=3, level=2, truncated=False,
    ...          stats=NS(insns_processed=10, total_states=1), kinds={"insn": 4})
    >>> out = log_html(log)
    >>> "invalid mem access" in out and "insns_processed" in out
    True
    """
    name = _get(log, "name") or "(unnamed program)"
    parts = [
        f'<div class="bpfkit-log" style="{_BOX}">',
        f"<div><b>{escape(name)}</b> {verdict_badge(_get(log, 'verdict'))}",
    ]
    level = _get(log, "level")
    if level is not None:
        parts.append(f" &middot; log level {escape(level)}")
    if _get(log, "truncated"):
        parts.append(" &middot; <i>truncated</i>")
    parts.append("</div>")
    error = _get(log, "error")
    if error:
        lines = str(error).splitlines()
        shown = "\n".join(lines[:max_error_lines])
        insn = _get(log, "error_insn")
        where = f" at insn {escape(insn)}" if insn is not None else ""
        parts.append(f"<div>error{where}:</div>{code_block(shown)}")
    stats = _get(log, "stats")
    if stats is not None:
        fields = _stat_pairs(stats)
        if fields:
            parts.append(kv_table(fields))
    kinds = _get(log, "kinds")
    if isinstance(kinds, Mapping) and kinds:
        summary = ", ".join(f"{escape(k)} {escape(v)}" for k, v in sorted(kinds.items()) if v)
        parts.append(f'<div style="color:#555">lines: {summary}</div>')
    parts.append("</div>")
    return "".join(parts)


def _stat_pairs(stats: object) -> list[tuple[str, object]]:
    if hasattr(stats, "_asdict"):
        items = list(stats._asdict().items())
    elif hasattr(stats, "__dataclass_fields__"):
        items = [(f, getattr(stats, f)) for f in stats.__dataclass_fields__]
    else:
        items = [(k, v) for k, v in vars(stats).items() if not k.startswith("_")]
    out: list[tuple[str, object]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ", ".join(str(v) for v in value)
        out.append((key, value))
    return out


def findings_html(predictions: Iterable[object]) -> str:
    """Return the ownership findings of static predictions as HTML.

    Each prediction is duck-typed on ``bpfkit.ownership.static.Prediction`` (``program``,
    ``verdict``, ``reason``, ``mistakes`` of ``kind``, ``insn_idx``, ``src_line``, ``message``).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> m = NS(kind="leak", insn_idx=7, src_line=31, message="object from bpf_obj_new leaks")
    >>> p = NS(program="p", verdict="reject", reason="leak", mistakes=(m,))
    >>> out = findings_html([p])
    >>> "bpf_obj_new leaks" in out and "reject" in out
    True
    """
    parts = [f'<div class="bpfkit-findings" style="{_BOX}">']
    count = 0
    for pred in predictions:
        count += 1
        parts.append(
            f"<div><b>{escape(_get(pred, 'program'))}</b> predicted "
            f"{verdict_badge(_get(pred, 'verdict'))} {escape(_get(pred, 'reason'))}</div>"
        )
        mistakes = list(_get(pred, "mistakes") or ())
        if mistakes:
            rows = [
                (_get(m, "kind"), _get(m, "insn_idx"), _get(m, "src_line"), _get(m, "message"))
                for m in mistakes
            ]
            parts.append(html_table(["kind", "insn", "line", "message"], rows))
    if not count:
        parts.append("<div>no programs</div>")
    parts.append("</div>")
    return "".join(parts)
