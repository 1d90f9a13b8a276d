"""The report built from data/ alone: every program has a page, links resolve, the numbers are
the kernel's, and every page renders in headless Chromium with all images and no errors."""

from __future__ import annotations

import csv
import lzma
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bpfkit.cli import main
from bpfkit.report import Report, ReportError, build_report
from tests.corpus import DATA
from tests.report.chromium import CHROMIUM, check_page

MANIFEST = DATA / "logs" / "MANIFEST.tsv"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    out = tmp_path_factory.mktemp("report")
    return build_report([DATA], out, progress=False)


def _log_text(path: Path | None) -> str:
    assert path is not None
    data = path.read_bytes()
    if path.suffix == ".xz":
        data = lzma.decompress(data)
    return data.decode()


def _manifest_rows() -> list[dict[str, str]]:
    with MANIFEST.open(newline="") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.refs.append(value)


def _refs(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.refs


def test_every_manifest_program_has_a_page(report: Report) -> None:
    wanted = {(Path(r["object"]).name, r["program"]) for r in _manifest_rows()}
    got = {(p.input.object_name, p.input.program) for p in report.programs}
    assert wanted == got
    for prog in report.programs:
        assert (report.out_dir / prog.page).is_file()
    index_refs = set(_refs(report.index))
    assert {p.page for p in report.programs} <= index_refs


def test_every_link_resolves_inside_the_report(report: Report) -> None:
    pages = [report.index] + [report.out_dir / p.page for p in report.programs]
    for page in pages:
        for ref in _refs(page):
            url = urlparse(ref)
            assert not url.scheme and not url.netloc, f"{page.name}: external reference {ref}"
            target = (page.parent / url.path).resolve()
            assert target.is_file(), f"{page.name}: {ref} does not resolve"
            assert report.out_dir.resolve() in target.parents


def test_kernel_verdicts_and_stats_are_the_kernels(report: Report) -> None:
    rows = {(Path(r["object"]).name, r["program"]): r for r in _manifest_rows()}
    for prog in report.programs:
        row = rows[(prog.input.object_name, prog.input.program)]
        assert prog.kernel_verdict == row["verdict"], prog.input.key
        log_text = _log_text(prog.input.best_log)
        m = re.search(r"^processed (\d+) insns .* total_states (\d+)", log_text, re.MULTILINE)
        if m:
            assert (prog.insns_processed, prog.total_states) == (int(m.group(1)), int(m.group(2)))


def test_rejected_programs_explain_their_error(report: Report) -> None:
    rejected = [p for p in report.programs if p.kernel_verdict == "reject"]
    assert rejected, "data/ should hold rejected programs"
    for prog in rejected:
        assert prog.context is not None, prog.input.key
        page = (report.out_dir / prog.page).read_text()
        assert 'id="error"' in page
        log_text = _log_text(prog.input.best_log)
        m = re.search(r"Unreleased reference id=(\d+),? alloc_insn=(\d+)", log_text)
        if m:
            assert (int(m.group(1)), int(m.group(2))) in {
                (lk.ref_obj_id, lk.alloc_insn) for lk in prog.context.leaks
            }, prog.input.key
    for prog in report.programs:
        if prog.kernel_verdict == "accept":
            assert prog.context is None
            assert 'id="error"' not in (report.out_dir / prog.page).read_text()


def test_pages_have_figures(report: Report) -> None:
    for prog in report.programs:
        if prog.stats and dict(prog.stats).get("insns_processed"):
            assert prog.figures, f"{prog.input.key}: no figures"
        for fig in prog.figures:
            head = (report.out_dir / fig.file).read_bytes()[:200]
            assert b"<svg" in head or b"<?xml" in head


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt install chromium)")
@pytest.mark.slow
def test_pages_render_in_chromium(report: Report, tmp_path: Path) -> None:
    pages = [report.index] + [report.out_dir / p.page for p in report.programs]
    for page in pages:
        check = check_page(page, tmp_path / "profile")
        assert check.errors == [], f"{page.name}: {check.errors}"
        assert check.height > 200, f"{page.name} renders empty"
        broken = [i["src"] for i in check.images if not i["complete"] or i["width"] <= 0]
        assert not broken, f"{page.name}: images that did not load: {broken}"
    n_images = sum(len(p.figures) for p in report.programs)
    assert n_images > 0


def test_cli_builds_the_report_with_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = next(iter(sorted((DATA / "programs").glob("*.bpf.o"))))
    assert main(["report", str(obj), "-o", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "index.html")
    assert "bpfkit report" in captured.err  # the tqdm bar
    assert (tmp_path / "index.html").is_file()


def test_a_failing_component_fails_loudly_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.bpf.o"
    obj = next(iter(sorted((DATA / "programs").glob("*.bpf.o"))))
    bad.write_bytes(obj.read_bytes()[:300])
    with pytest.raises(ReportError, match=r"obj\.load_object.*truncated\.bpf\.o"):
        build_report([bad], tmp_path / "out", progress=False)
    assert main(["report", str(bad), "-o", str(tmp_path / "out2"), "--no-progress"]) == 1


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        build_report([tmp_path / "nope"], tmp_path / "out", progress=False)


def test_bad_manifests_are_errors_with_the_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    header = MANIFEST.read_text().splitlines()[0]
    (logs / "MANIFEST.tsv").write_text(header + "\nalloc.bpf.o\tprog\n")
    with pytest.raises(ReportError, match=r"MANIFEST\.tsv:2: expected 'program' and log"):
        build_report([tmp_path], tmp_path / "out", progress=False)
    (logs / "MANIFEST.tsv").write_bytes(header.encode() + b"\n\xff\xfe\n")
    with pytest.raises(ReportError, match="not UTF-8"):
        build_report([tmp_path], tmp_path / "out", progress=False)


def test_a_directory_of_an_object_and_its_logs_pairs_them(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    obj = DATA / "programs" / "alloc.bpf.o"
    (src / obj.name).write_bytes(obj.read_bytes())
    for level in (1, 2):
        log = DATA / "logs" / "alloc" / f"obj_new_leak.l{level}.log"
        (src / log.name).write_bytes(log.read_bytes())
    rep = build_report([src], tmp_path / "out", progress=False, jobs=1)
    by_name = {p.input.program: p for p in rep.programs}
    row = next(r for r in _manifest_rows() if r["program"] == "obj_new_leak")
    leak = by_name["obj_new_leak"]
    assert [lvl for lvl, _ in leak.input.logs] == [1, 2]
    assert leak.kernel_verdict == leak.predicted_verdict == row["verdict"]
    assert leak.insns_processed == int(row["insns_processed"])
    # the object's other programs have pages without a log: no kernel verdict, a prediction
    other = by_name["obj_new_drop_ok"]
    assert other.input.logs == () and other.kernel_verdict == "unknown"
    kernel = next(r for r in _manifest_rows() if r["program"] == "obj_new_drop_ok")["verdict"]
    assert other.predicted_verdict == kernel


def test_index_objects_table_counts_the_kernels_rejections(report: Report) -> None:
    index = report.index.read_text()
    table = index[
        index.index('class="objects"') : index.index("</table>", index.index('class="objects"'))
    ]
    for name in {r["object"] for r in _manifest_rows()}:
        rows = [r for r in _manifest_rows() if r["object"] == name]
        rejected = sum(r["verdict"] == "reject" for r in rows)
        assert f"<td>{name}</td><td>{len(rows)}</td><td>{rejected}</td>" in table, name


def test_timings_give_cpu_seconds_per_stage_and_component(report: Report) -> None:
    from bpfkit.report.build import describe_timings

    t = dict(report.timings)
    stages = [k.removeprefix("stage:") for k in t if k.startswith("stage:")]
    assert {"inputs", "objects", "pages", "gallery", "index"} <= set(stages)
    assert all(f"stage-cpu:{k}" in t for k in stages)
    # the components, timed inside the workers, add up to no more than the kernel's count of
    # the CPU the build and its workers used (getrusage), and to most of it
    parts = sum(v for k, v in t.items() if k.startswith("cpu:"))
    assert 0.5 * t["total:cpu"] < parts <= t["total:cpu"] + 0.5
    assert t["cpu:plot.summary"] > 0 and t["cpu:plot.gallery.summary"] > 0
    text = describe_timings(report)
    assert f"{t['total:cpu']:.1f} s CPU" in text and "plot.summary" in text


def test_gallery_figures_a_page_shows_are_what_the_gallery_draws(
    report: Report, tmp_path: Path
) -> None:
    from bpfkit.report import gallery

    # copied from the page of list_push_pop_ok, not drawn again: the bytes a drawing gives
    job = (DATA / "logs" / "list" / "list_push_pop_ok.l2.log", "chain", "paper",
           tmp_path / "chain.svg")  # fmt: skip
    drawn, _took = gallery._draw(job)
    copied = report.out_dir / "gallery" / "chain-list_push_pop_ok-paper.svg"
    assert drawn.read_bytes() == copied.read_bytes()
