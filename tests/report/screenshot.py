"""Write ``docs/report-example.png``: a program page of the report, as headless Chromium shows it.

Run ``.venv/bin/python -m tests.report.screenshot [OUT.png]``. It builds the report of one
rejected program of ``data/`` (a reference leak on one path), screenshots its page and
quantizes the PNG to keep the committed file small.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from bpfkit.report import build_report
from tests.corpus import DATA, ROOT
from tests.report.chromium import CHROMIUM

__all__ = ["PROGRAM", "screenshot"]

#: The program whose page is shown.
PROGRAM = "obj_new_leak_on_short_packet"


def screenshot(page: Path, png: Path, *, width: int = 1100, height: int = 1500) -> Path:
    """Screenshot *page* into *png* (width x height CSS pixels) with headless Chromium."""
    if CHROMIUM is None:
        raise RuntimeError("chromium not installed")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return png


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "report-example.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = build_report([DATA], Path(tmp) / "report", progress=False)
        (prog,) = [p for p in report.programs if p.input.program == PROGRAM]
        raw = screenshot(report.out_dir / prog.page, Path(tmp) / "page.png")
        from PIL import Image

        with Image.open(raw) as img:
            img.convert("RGB").quantize(colors=128).save(out, optimize=True)
    print(f"{out}: {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
