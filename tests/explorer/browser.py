"""Headless Chromium through Playwright, on the system's chromium (no browser download).

Playwright's Python package drives the Debian ``chromium`` binary given as
``executable_path``; every page records its console errors and uncaught exceptions, and
requests to anything but ``file://`` and the local JupyterLab are aborted (the explorer
must work offline).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.report.chromium import CHROMIUM

__all__ = ["Page", "browser", "open_page"]


@dataclass
class Page:
    """A Playwright page with the console errors and page errors seen so far."""

    page: Any
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def explorer(self, expr: str, index: int = 0) -> Any:
        """Evaluate *expr* on the explorer test hook ``x`` (``window.bpfkitExplorers[i]``)."""
        return self.page.evaluate(
            f"(() => {{ const x = window.bpfkitExplorers[{index}]; return {expr}; }})()"
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("needs chromium (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield b
        finally:
            b.close()


def open_page(browser: Any, url: str, *, allow: tuple[str, ...] = ("file://",),
              width: int = 1300, height: int = 1000) -> Page:  # fmt: skip
    """Open *url* in a fresh page that records errors and blocks other origins."""
    page = browser.new_page(viewport={"width": width, "height": height})
    out = Page(page)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            out.errors.append(f"console.error: {msg.text}")

    def route(r: Any) -> None:
        if r.request.url.startswith(allow) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            out.external.append(r.request.url)
            r.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: out.errors.append(f"pageerror: {exc}"))
    page.route("**/*", route)
    page.goto(url)
    return out
