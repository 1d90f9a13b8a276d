"""Write ``docs/explorer-report.png`` and ``docs/explorer-loop.png``: the explorer as headless
Chromium shows it in a report page.

Run ``.venv/bin/python -m tests.explorer.screenshot``. The first is the leak of
``obj_new_leak_on_short_packet`` with the step that copies the reference selected; the second
the 116k-line level-2 log of ``long_loop_ok`` in the middle of its loop, with the precision
backtracking that follows the step. PNGs are quantized to keep the committed files small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bpfkit.verifier import load_log
from tests.corpus import DATA_LOGS, DATA_LONG_LOOP_L2, ROOT
from tests.report.chromium import CHROMIUM

__all__ = ["main"]


def _shot(page_uri: str, png: Path, select: str) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page.goto(page_uri)
        page.wait_for_function("window.bpfkitExplorers && window.bpfkitExplorers.length")
        page.evaluate(f"(() => {{ const x = window.bpfkitExplorers[0]; {select}; }})()")
        el = page.locator(".bpfkit-explorer").first
        el.scroll_into_view_if_needed()
        raw = png.with_suffix(".raw.png")
        el.screenshot(path=str(raw))
        b.close()
    with Image.open(raw) as img:
        img.convert("RGB").quantize(colors=96).save(png, optimize=True)
    raw.unlink()
    print(f"{png}: {png.stat().st_size} bytes")


def main(argv: list[str]) -> int:
    from bpfkit.explorer import explorer_html, write_assets, write_data_script

    out = Path(argv[0]) if argv else ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    if CHROMIUM is None:
        raise SystemExit("chromium not installed")
    with tempfile.TemporaryDirectory() as tmp:
        from bpfkit.report import build_report

        leak = DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log"
        report = build_report([leak], Path(tmp) / "report", progress=False, jobs=1)
        (prog,) = report.programs
        _shot((report.out_dir / prog.page).resolve().as_uri(), out / "explorer-report.png",
              "x.selectInsn(12)")  # fmt: skip
        log = load_log(DATA_LONG_LOOP_L2)[0]
        d = Path(tmp)
        write_assets(d)
        write_data_script(log, d / "loop-data.js", "loop")
        page = d / "loop.html"
        page.write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>long_loop_ok</title>'
            '</head><body style="margin:8px">'
            + explorer_html("loop", data_src="loop-data.js")
            + "</body></html>",
            encoding="utf-8",
        )
        # a step in the loop that precision backtracking follows
        steps = log.steps["line"].to_numpy()
        bt_lines = log.backtracking["line"].to_numpy()
        bt_steps = sorted({int((steps < ln).sum() - 1) for ln in bt_lines[bt_lines > steps[2000]]})
        _shot(page.resolve().as_uri(), out / "explorer-loop.png", f"x.select({bt_steps[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
