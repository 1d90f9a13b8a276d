"""The Chromium probe itself: it must see a good page as good and a broken one as broken,
otherwise the report's browser test could not fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.chromium import CHROMIUM, check_page

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt install chromium)")

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40pt" height="20pt" viewBox="0 0 40 20">'
    '<rect width="40" height="20" fill="#0072B2"/></svg>'
)


def _page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>"


def test_good_page(tmp_path: Path) -> None:
    (tmp_path / "a.svg").write_text(SVG)
    page = tmp_path / "good.html"
    page.write_text(_page('<img src="a.svg" alt="a"><a href="a.svg">a</a>'))
    check = check_page(page, tmp_path / "profile")
    assert check.errors == []
    assert check.title == "t"
    assert [(i["src"], i["width"] > 0) for i in check.images] == [("a.svg", True)]
    assert check.links == ["a.svg"]


def test_broken_image_script_error_and_external_resource_are_seen(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        _page(
            '<img src="missing.svg" alt="m"><img src="https://example.com/x.png" alt="x">'
            "<script>undefinedFunction();</script><script>console.error('boom')</script>"
        )
    )
    check = check_page(page, tmp_path / "profile")
    assert [i["width"] for i in check.images] == [0, 0]
    joined = "\n".join(check.errors)
    assert "missing.svg" in joined
    assert "example.com" in joined
    assert "undefinedFunction" in joined
    assert "console.error: boom" in joined
