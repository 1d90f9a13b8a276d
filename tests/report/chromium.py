"""Headless Chromium as the oracle of a rendered page: JS errors, console errors, images.

The page is copied next to itself with a small probe script injected first in ``<head>``; the
probe records ``error`` events (script errors and failed resource loads, caught in the capture
phase), ``console.error`` calls and CSP violations, and on ``load`` writes them with every
image's ``naturalWidth`` into ``<pre id="bpfkit-check">``, read back from ``--dump-dom``.
Name resolution is mapped to nothing, so any external resource fails to load.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "PageCheck", "check_page"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

_PROBE = """<script>
(function () {
  var errs = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { errs.push('failed to load ' + (t.src || t.href)); }
    else { errs.push('error: ' + e.message); }
  }, true);
  document.addEventListener('securitypolicyviolation', function (e) {
    errs.push('csp: ' + e.blockedURI);
  });
  var origError = console.error;
  console.error = function () {
    errs.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    origError.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var imgs = Array.prototype.map.call(document.images, function (i) {
      return {src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth};
    });
    var pre = document.createElement('pre');
    pre.id = 'bpfkit-check';
    pre.textContent = JSON.stringify({errors: errs, images: imgs, title: document.title,
                                      height: document.body.scrollHeight,
                                      links: Array.prototype.map.call(document.links,
                                        function (a) { return a.getAttribute('href'); })});
    document.body.appendChild(pre);
  });
})();
</script>"""


@dataclass(frozen=True, slots=True)
class PageCheck:
    """What Chromium saw: errors, images (src, complete, naturalWidth), title, links."""

    errors: list[str]
    images: list[dict[str, Any]]
    title: str
    height: int
    links: list[str]
    dom: str


def check_page(page: Path, profile_dir: Path, *, timeout: float = 60) -> PageCheck:
    """Render *page* in headless Chromium and return what the probe recorded."""
    if CHROMIUM is None:
        raise RuntimeError("chromium not installed")
    text = page.read_text(encoding="utf-8")
    probed = re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + _PROBE, text, count=1)
    assert probed != text, f"{page} has no <head>"
    probe_page = page.with_name(page.stem + ".check.html")
    probe_page.write_text(probed, encoding="utf-8")
    try:
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile_dir}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                probe_page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        probe_page.unlink()
    m = re.search(r'<pre id="bpfkit-check">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert m, f"probe did not report (chromium rc={proc.returncode}): {proc.stderr[-2000:]}"
    data = json.loads(html.unescape(m.group(1)))
    return PageCheck(
        errors=data["errors"],
        images=data["images"],
        title=data["title"],
        height=data["height"],
        links=data["links"],
        dom=proc.stdout,
    )
