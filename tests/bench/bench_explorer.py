"""Benchmark: the explorer on the 116,570-line level-2 log, beside a plain page of the same log.

Run: ``.venv/bin/python tests/bench/bench_explorer.py``. Headless Chromium (Playwright on the
system's chromium) opens (1) a page with the explorer of ``long_loop_ok.l2.log.xz`` and (2) the
reference: the same log as one ``<div>`` per line (what a viewer without virtualisation
builds). Printed: Python time to make the data, its size, time from navigation start to a
drawn explorer (``readyAt``) and to the reference page's ``load``, DOM nodes, and the time of
one step (300 steps through the loop), best of 2.
"""

from __future__ import annotations

import html
import lzma
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bpfkit.explorer import explorer_html, write_assets, write_data_script  # noqa: E402
from bpfkit.verifier import parse_log  # noqa: E402
from tests.corpus import DATA_LONG_LOOP_L2  # noqa: E402
from tests.report.chromium import CHROMIUM  # noqa: E402


def main() -> int:
    from playwright.sync_api import sync_playwright

    text = lzma.decompress(DATA_LONG_LOOP_L2.read_bytes()).decode()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        log = parse_log(text, name="long_loop_ok")[0]
        t_parse = time.perf_counter() - t
        t = time.perf_counter()
        write_assets(d)
        data_mb = write_data_script(log, d / "data.js", "loop").stat().st_size / 1e6
        t_data = time.perf_counter() - t
        page = d / "explorer.html"
        page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                        + explorer_html("loop", data_src="data.js") + "</body></html>")  # fmt: skip
        ref = d / "plain.html"
        ref.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                       + "".join(f"<div>{html.escape(ln)}</div>" for ln in text.splitlines())
                       + "</body></html>")  # fmt: skip
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            ready, steps, plain = [], [], []
            for _ in range(2):
                pg = b.new_page()
                pg.goto(page.as_uri())
                pg.wait_for_function("window.bpfkitExplorers && window.bpfkitExplorers.length")
                ready.append(pg.evaluate("window.bpfkitExplorers[0].readyAt"))
                nodes = pg.evaluate("document.getElementsByTagName('*').length")
                steps.append(pg.evaluate(
                    "(() => { const x = window.bpfkitExplorers[0]; x.select(0);"
                    " const t = performance.now(); for (let i = 0; i < 300; i++) x.move(1);"
                    " return (performance.now() - t) / 300; })()"))  # fmt: skip
                pg.close()
                pg = b.new_page()
                pg.goto(ref.as_uri(), timeout=300_000)
                plain.append(pg.evaluate(
                    "performance.getEntriesByType('navigation')[0].loadEventEnd"))  # fmt: skip
                ref_nodes = pg.evaluate("document.getElementsByTagName('*').length")
                pg.close()
            b.close()
    print(f"log: {len(log.lines):,} lines, {len(log.steps):,} steps; parse {t_parse:.2f} s, "
          f"explorer data {t_data:.2f} s, {data_mb:.1f} MB")  # fmt: skip
    print(f"explorer: ready {min(ready):.0f} ms after navigation (first {ready[0]:.0f} ms), "
          f"{nodes:,} DOM elements, {min(steps):.2f} ms per step")  # fmt: skip
    print(f"reference, one <div> per line: load {min(plain):.0f} ms, {ref_nodes:,} DOM elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
