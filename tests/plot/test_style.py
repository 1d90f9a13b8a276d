"""The shipped styles and deterministic saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from bpfkit.plot.palette import CATEGORIES, TYPE_STYLES, register_category
from bpfkit.plot.style import STYLES, new_axes, sanitize_filename, savefig, style, style_path


def _figure() -> object:
    ax = new_axes()
    ax.plot(range(10), [x * x for x in range(10)], marker="o", label="x²")
    ax.bar([1, 2, 3], [3, 1, 2], hatch="//")
    ax.set_title("bpfkit")
    ax.legend()
    return ax.figure


@pytest.mark.parametrize("name", STYLES)
def test_styles_ship_and_load(name: str) -> None:
    path = style_path(name)
    assert path.is_file()
    with style(name):
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["svg.hashsalt"] == "bpfkit"
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
        # Okabe-Ito colors, each paired with a line style so lines differ in grayscale.
        assert cycle["color"][0].upper().lstrip("#") == "E69F00"
        assert len(set(cycle["linestyle"])) > 1
    width = {"talk": 13.33, "paper": 3.5}[name]
    with style(name):
        assert matplotlib.rcParams["figure.figsize"][0] == pytest.approx(width)


def test_style_context_restores() -> None:
    before = matplotlib.rcParams["font.size"]
    with style("talk"):
        assert matplotlib.rcParams["font.size"] == 18
    assert matplotlib.rcParams["font.size"] == before


def test_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        style_path("poster")


@pytest.mark.parametrize("fmt", ["svg", "pdf", "png"])
@pytest.mark.parametrize("name", STYLES)
def test_savefig_byte_identical(tmp_path: Path, fmt: str, name: str) -> None:
    outs = []
    for i in range(2):
        # A fresh figure each time, as two separate runs would make.
        with style(name):
            fig = _figure()
            outs.append(savefig(fig, tmp_path / f"f{i}.{fmt}", dpi=40).read_bytes())
    assert outs[0] == outs[1]
    assert len(outs[0]) > 500
    if fmt == "svg":
        assert b"<dc:date>" not in outs[0]
    if fmt == "pdf":
        assert b"CreationDate" not in outs[0] and b"Matplotlib" not in outs[0]
    if fmt == "png":
        assert b"Software" not in outs[0]


def test_savefig_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format 'gif'"):
        savefig(_figure(), tmp_path / "x.gif")  # type: ignore[arg-type]


def test_sanitize_filename() -> None:
    assert sanitize_filename("a/b c") == "a_b_c"
    assert "/" not in sanitize_filename("../../etc/passwd")
    assert sanitize_filename("") == "program"


def test_every_category_has_a_distinct_look() -> None:
    looks = {(s.color.upper(), s.hatch) for s in TYPE_STYLES.values()}
    assert len(looks) == len(CATEGORIES)


def test_categories_read_in_grayscale() -> None:
    """Same hatch means a clearly different gray (relative luminance, sRGB weights)."""
    from matplotlib.colors import to_rgb

    def lum(color: str) -> float:
        r, g, b = to_rgb(color)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    styles = list(TYPE_STYLES.values())
    for i, a in enumerate(styles):
        for b in styles[i + 1 :]:
            if a.hatch == b.hatch:
                assert abs(lum(a.color) - lum(b.color)) >= 0.08, (a.key, b.key)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (dict(type="ptr_", flags="alloc", btf_type="node_data"), "alloc"),
        (dict(type="ptr_", flags="alloc", non_own_ref=True), "non_own_ref"),
        (dict(type="ptr_", flags="alloc", or_null=True), "or_null"),
        (dict(type="ptr_", flags="rcu,untrusted"), "untrusted_ptr"),
        (dict(type="ptr_", flags="percpu"), "percpu_ptr"),
        (dict(type="map_value"), "map_value"),
        (dict(type="map_ptr"), "map_ptr"),
        (dict(type="fp"), "fp"),
        (dict(type="pkt_end"), "pkt"),
        (dict(type="ctx"), "ctx"),
        (dict(type="scalar", smin=0, smax=255), "scalar"),
        (dict(type="scalar", smin=3, smax=3), "const"),
        (dict(type="ringbuf_mem"), "mem"),
        (dict(type="whatever_new_type"), "other"),
        (dict(type=None), "not_init"),
    ],
)
def test_register_category(args: dict[str, object], expected: str) -> None:
    assert register_category(**args) == expected  # type: ignore[arg-type]
