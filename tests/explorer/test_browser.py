"""The explorer in a real browser (headless Chromium through Playwright): a report page and
standalone pages of real logs. Every value the page shows is checked against the parsed
tables (``bpfkit.verifier.Log``) or the kernel's own words, and no page may log an error or
reach outside ``file://``."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from bpfkit.explorer import explorer_html, write_assets, write_data_script
from bpfkit.report import build_report
from bpfkit.verifier import Log, load_log
from tests.corpus import DATA_LOGS, DATA_LONG_LOOP_L2
from tests.explorer.browser import Page, browser, open_page

__all__ = ["browser"]

LEAK_LOG = DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log"
#: rbtree_add with its less() callback verified in frame 1
FRAMES_LOG = DATA_LOGS / "rbtree" / "rbtree_add_first_remove_ok.l2.log"

pytestmark = pytest.mark.slow


def _page(tmp: Path, log: Log, key: str) -> Path:
    write_assets(tmp)
    write_data_script(log, tmp / f"{key}-data.js", key)
    html = tmp / f"{key}.html"
    html.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>'
        + explorer_html(key, data_src=f"{key}-data.js")
        + "</body></html>",
        encoding="utf-8",
    )
    return html


def _ready(p: Page) -> None:
    p.page.wait_for_function("window.bpfkitExplorers && window.bpfkitExplorers.length > 0")


def _shown(p: Page) -> dict[str, dict[str, Any]]:
    """The state table as shown: key -> value, since step, changed."""
    rows = p.page.eval_on_selector_all(
        ".bpfx-regs tr[data-key]",
        "rs => rs.map(r => [r.dataset.key, r.dataset.value, Number(r.dataset.since),"
        " r.classList.contains('bpfx-changed')])",
    )
    return {k: {"value": v, "since": s, "changed": c} for k, v, s, c in rows}


def _printed(log: Log, step: int) -> dict[int, dict[str, str]]:
    """What the log printed at *step*: line -> {key: value} (registers and stack slots)."""
    out: dict[int, dict[str, str]] = {}
    r = log.registers[log.registers["step"] == step]
    for line, reg, raw in zip(r["line"], r["reg"], r["raw"], strict=True):
        out.setdefault(int(line), {})[f"R{reg}"] = raw
    s = log.stack[log.stack["step"] == step]
    for line, off, raw in zip(s["line"], s["off"], s["raw"], strict=True):
        out.setdefault(int(line), {})[f"fp{off}"] = raw
    return out


def _check_state(p: Page, log: Log) -> int:
    """The shown state of the selected step against the tables; returns the step."""
    step = p.explorer("x.step")
    steps = log.steps
    row = steps[steps["step"] == step].iloc[0]
    assert p.page.get_attribute(".bpfkit-explorer", "data-insn") == str(row["insn_idx"])
    shown = _shown(p)
    after = _printed(log, step).get(int(row["line"]), {})  # the "; R0=..." of this step
    changed = {k: v["value"] for k, v in shown.items() if v["changed"]}
    assert changed == after, f"step {step}: highlighted {changed}, log printed {after}"
    for key, v in shown.items():  # every value was printed at the step it claims
        printed = _printed(log, v["since"])
        assert any(st.get(key) == v["value"] for st in printed.values()), (step, key, v)
        assert v["since"] <= step
    return int(step)


@pytest.fixture(scope="module")
def leak_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Log]:
    out = tmp_path_factory.mktemp("report")
    report = build_report([LEAK_LOG], out, progress=False, jobs=1)
    (prog,) = report.programs
    return out / prog.page, load_log(LEAK_LOG)[0]


def test_report_page_click_step_and_follow_a_reference(browser: Any, leak_report: Any) -> None:
    page_path, log = leak_report
    p = open_page(browser, page_path.resolve().as_uri())
    _ready(p)
    steps = log.steps
    # opens on the last step, where the kernel stopped
    assert p.explorer("x.step") == len(steps) - 1
    assert p.page.get_attribute(".bpfkit-explorer", "data-insn") == str(log.error_insn)
    # click an instruction: its first visit is selected, the state matches the log
    p.page.click('.bpfx-insn[data-insn="7"]')
    first7 = int(steps[steps["insn_idx"] == 7]["step"].min())
    assert p.explorer("x.step") == first7
    _check_state(p, log)
    # step forward and back with the buttons and the keyboard
    p.page.click('button[data-action="next"]')
    assert p.explorer("x.step") == first7 + 1
    _check_state(p, log)
    p.page.keyboard.press("ArrowLeft")
    assert p.explorer("x.step") == first7
    # follow the reference R0 holds to where it was acquired: the kernel names that insn
    m = re.search(r"Unreleased reference id=(\d+),? alloc_insn=(\d+)", log.error or "")
    assert m, log.error
    ref, alloc_insn = int(m.group(1)), int(m.group(2))
    p.page.click(f'.bpfx-regs tr[data-key="R0"] .bpfx-reflink[data-ref="{ref}"]')
    s = p.explorer("x.step")
    assert int(steps.loc[steps["step"] == s, "insn_idx"].iloc[0]) == alloc_insn
    # the leak is shown with the kernel's alloc_insn, and its unreleased event selects the end
    leak = p.page.text_content(f'.bpfx-ref[data-ref="{ref}"] .bpfx-leak') or ""
    assert f"alloc_insn={alloc_insn}" in leak
    p.page.click(f'.bpfx-ref[data-ref="{ref}"] a[data-event="unreleased"]')
    assert p.page.get_attribute(".bpfkit-explorer", "data-insn") == str(log.error_insn)
    # the heatmap: visits per instruction as the steps table counts them
    counts = steps["insn_idx"].value_counts().to_dict()
    rows = p.page.eval_on_selector_all(
        ".bpfx-insn",
        "rs => rs.map(r => [Number(r.dataset.insn), r.querySelector('.bpfx-visits').textContent])",
    )
    assert rows and all(int(v) == counts.get(i, 0) for i, v in rows)
    assert p.errors == [] and p.external == []


def test_stepping_across_paths_and_frames(browser: Any, tmp_path: Path) -> None:
    log = load_log(FRAMES_LOG)[0]
    assert (log.steps["frame"] > 0).any(), "the log should verify a callback in frame 1"
    p = open_page(browser, _page(tmp_path, log, "frames").resolve().as_uri())
    _ready(p)
    p.page.click('button[data-action="first"]')
    steps = log.steps
    seen_frames = set()
    for s in range(len(steps)):
        assert _check_state(p, log) == s
        status = p.page.text_content(".bpfx-status") or ""
        row = steps.iloc[s]
        assert (
            f"path {row['path']} \u00b7 frame {row['frame']} \u00b7 insn {row['insn_idx']}"
            in status
        )
        seen_frames.add(int(row["frame"]))
        p.page.keyboard.press("ArrowRight")
    assert seen_frames >= {0, 1}
    assert p.errors == []


def test_search_jump_and_timeline(browser: Any, tmp_path: Path) -> None:
    log = load_log(DATA_LONG_LOOP_L2)[0]
    p = open_page(browser, _page(tmp_path, log, "loop").resolve().as_uri())
    _ready(p)
    insns = log.instructions
    # search by C line
    line = int(insns["src_line"].dropna().iloc[-1])
    p.page.fill(".bpfx-search", f"line {line}")
    p.page.press(".bpfx-search", "Enter")
    x = int(p.page.get_attribute(".bpfkit-explorer", "data-insn") or -1)
    assert int(insns.loc[insns["insn_idx"] == x, "src_line"].iloc[0]) == line
    # search by register value: the next state that shows it
    p.page.click('button[data-action="first"]')
    p.page.fill(".bpfx-search", "R3=600")
    p.page.press(".bpfx-search", "Enter")
    s = p.explorer("x.step")
    r = log.registers
    hits = r[(r["reg"] == 3) & (r["raw"] == "600")]["step"]
    assert s == int(hits.min())
    # jump target of "goto pc+9" at insn 5
    p.page.fill(".bpfx-search", "insn 5")
    p.page.press(".bpfx-search", "Enter")
    asm = insns.loc[insns["insn_idx"] == 5, "asm"].iloc[0]
    off = int(re.search(r"goto pc([+-]\d+)", asm).group(1))  # type: ignore[union-attr]
    p.page.click('button[data-action="jump"]')
    assert p.page.get_attribute(".bpfkit-explorer", "data-insn") == str(5 + 1 + off)
    # clicking the timeline selects the step under the pointer
    box = p.page.locator(".bpfx-canvas").bounding_box()
    assert box is not None
    p.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 5)
    n = len(log.steps)
    assert abs(p.explorer("x.step") - 0.5 * (n - 1)) <= n / box["width"] + 1
    _check_state(p, log)
    # precision backtracking after a step: the chain the log printed after it
    bt = log.backtracking
    step_lines = log.steps["line"].to_numpy()
    first_bt_line = int(bt["line"].iloc[0])
    s_bt = int((step_lines < first_bt_line).sum() - 1)
    p.explorer(f"x.select({s_bt})")
    shown = p.page.eval_on_selector_all(
        ".bpfx-btrow a", "as => as.map(a => Number(a.dataset.insn))"
    )
    nxt = step_lines[s_bt + 1] if s_bt + 1 < len(step_lines) else 1 << 62
    want = bt[(bt["line"] > step_lines[s_bt]) & (bt["line"] < nxt)]["insn_idx"].dropna()
    assert shown == [int(v) for v in want][:200] and shown
    assert p.errors == []


def test_a_100k_line_log_opens_fast_and_stays_responsive(browser: Any, tmp_path: Path) -> None:
    log = load_log(DATA_LONG_LOOP_L2)[0]
    assert len(log.lines) >= 100_000
    html = _page(tmp_path, log, "big")
    t0 = time.perf_counter()
    p = open_page(browser, html.resolve().as_uri())
    _ready(p)
    wall = time.perf_counter() - t0
    # from navigation start to a drawn explorer, measured by the page itself
    ready_ms = p.page.evaluate("window.bpfkitExplorers[0].readyAt")
    assert ready_ms < 2000, f"explorer ready after {ready_ms:.0f} ms (wall {wall:.2f} s)"
    # virtualised: a few dozen rows in the DOM, not one per instruction, step or line
    assert p.page.evaluate("document.querySelectorAll('.bpfx-row').length") < 200
    # 300 steps through a loop: each one re-renders the state, the lists and the timeline
    ms = p.page.evaluate(
        "(() => { const x = window.bpfkitExplorers[0]; x.select(0); const t = performance.now();"
        " for (let i = 0; i < 300; i++) x.move(1); return performance.now() - t; })()"
    )
    assert ms / 300 < 50, f"{ms / 300:.1f} ms per step"
    _check_state(p, log)
    assert p.errors == []
