"""``bpfkit report OBJ LOG`` pairs the log with the object's program by name; a second run
reuses the figures whose inputs did not change; the gallery covers every figure kind."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bpfkit.plot import FIGURES
from bpfkit.report import build_report, discover_inputs
from bpfkit.report.gallery import GALLERY, SIZES, gallery_html, markdown
from tests.corpus import DATA_LOGS, DATA_PROGRAMS


def test_object_and_log_given_together_pair_by_program_name(tmp_path: Path) -> None:
    obj = DATA_PROGRAMS / "list.bpf.o"
    log = DATA_LOGS / "list" / "list_pop_leak.l2.log"
    other = tmp_path / "unrelated.l2.log"
    shutil.copy(DATA_LOGS / "alloc" / "obj_new_leak.l2.log", other)
    items = discover_inputs([obj, log, other])
    by_key = {i.key: i for i in items}
    paired = by_key["list--list_pop_leak"]
    assert paired.object_path == obj and paired.logs == ((2, log),)
    # no page of its own for the paired log; the unrelated one keeps its own
    assert [i.key for i in items if i.object_path is None] == ["unrelated"]
    assert all(not i.logs for k, i in by_key.items() if k not in ("list--list_pop_leak",
                                                                 "unrelated"))  # fmt: skip


def test_second_run_reuses_figures(tmp_path: Path) -> None:
    log = DATA_LOGS / "rbtree" / "rbtree_remove_leak.l2.log"
    out = tmp_path / "r"
    t0 = time.perf_counter()
    build_report([log], out, progress=False, jobs=1)
    first = time.perf_counter() - t0
    svgs = sorted(out.rglob("*.svg"))
    assert len(svgs) >= 4 and all(p.with_name(p.name + ".key").is_file() for p in svgs)
    stamps = {p: p.stat().st_mtime_ns for p in svgs}
    t0 = time.perf_counter()
    build_report([log], out, progress=False, jobs=1)
    second = time.perf_counter() - t0
    assert {p: p.stat().st_mtime_ns for p in svgs} == stamps  # not drawn again
    assert second < first, (first, second)
    # a changed input draws again
    changed = tmp_path / "rbtree_remove_leak.l2.log"
    changed.write_text(log.read_text() + "\n")
    build_report([changed], out, progress=False, jobs=1)
    assert any(p.stat().st_mtime_ns != stamps[p] for p in svgs)


def test_gallery_shows_every_figure_kind_at_both_sizes() -> None:
    assert {name for name, _log, _caption in GALLERY} == set(FIGURES)
    for _name, rel, _caption in GALLERY:
        assert (DATA_LOGS / rel).is_file(), rel
    entries = [
        {"name": n, "caption": c, "log": rel, "files": {st: f"{n}-{st}.svg" for st, _ in SIZES}}
        for n, rel, c in GALLERY
    ]
    html = gallery_html(entries, "data")
    md = markdown(entries)
    for e in entries:
        for f in e["files"].values():
            assert f'src="gallery/{f}"' in html and f"]({f})" in md
