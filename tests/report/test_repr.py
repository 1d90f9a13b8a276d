"""The HTML builders of ``bpfkit._repr``: BTF layouts against pahole run live, the log and
findings summaries against the kernel's own logs and the ownership model."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bpfkit._repr import btf_layout_rows, btf_type_html, findings_html, log_html
from bpfkit.btf import BTFKind, load_btf, load_elf_btf
from tests.corpus import DATA_LOGS, DATA_PROGRAMS

PAHOLE = shutil.which("pahole")
VMLINUX = Path("/sys/kernel/btf/vmlinux")
_MEMBER = re.compile(r"^\t\S.*?(\w+)(?:\[\d+\])*(?::\d+)?;\s+/\*\s+(\d+)(?::\d+)?\s+(\d+)\s+\*/$")


def _pahole(path: Path, struct: str) -> tuple[list[tuple[str, int, int]], int]:
    out = subprocess.run(
        [PAHOLE, "-F", "btf", "-C", struct, str(path)],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    members = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in map(_MEMBER.match,
               out.splitlines()) if m]  # fmt: skip
    size = int(re.search(r"/\* size: (\d+)", out).group(1))  # type: ignore[union-attr]
    return members, size


@pytest.mark.skipif(PAHOLE is None, reason="needs pahole (apt install pahole)")
@pytest.mark.parametrize(
    ("source", "struct"),
    [
        ("program", "job"),
        ("program", "batch"),
        ("kernel", "bpf_cpumask"),
        ("kernel", "bpf_spin_lock"),
        ("kernel", "bpf_list_head"),
    ],
)
def test_layout_matches_pahole(source: str, struct: str) -> None:
    if source == "kernel":
        if not VMLINUX.exists():
            pytest.skip("needs /sys/kernel/btf/vmlinux for pahole")
        path = VMLINUX
        spec = load_btf(VMLINUX)
    else:
        path = DATA_PROGRAMS / "list.bpf.o"
        spec, _ = load_elf_btf(path)
    want, want_size = _pahole(path, struct)
    t = spec.find_one(struct, BTFKind.STRUCT)
    rows = btf_layout_rows(spec, t)
    assert [(r[3], r[0], r[1]) for r in rows] == want
    assert t.size == want_size
    # holes: pahole prints "XXX N bytes hole" after the member before it
    holes = [int(h) for h in re.findall(r"XXX (\d+) bytes? hole", _text(path, struct))]
    assert [r[5] for r in rows[:-1] if r[5]] == holes
    html = btf_type_html(spec, t.id)
    assert f"struct {struct} {{" in html and f"{want_size} bytes" in html


def _text(path: Path, struct: str) -> str:
    return subprocess.run(
        [PAHOLE, "-F", "btf", "-C", struct, str(path)],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def _visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(p.chunks)


def test_log_html_shows_the_kernels_error_and_stats() -> None:
    from bpfkit.verifier import load_log

    path = DATA_LOGS / "alloc" / "obj_new_leak.l2.log"
    (log,) = load_log(path)
    text = path.read_text()
    processed = re.search(r"^processed (\d+) insns", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    visible = _visible(log_html(log))
    assert "BPF_EXIT instruction in main prog would lead to reference leak" in visible
    assert f"insns_processed {processed}" in visible
    assert "reject" in visible


def test_findings_html_lists_the_models_mistakes() -> None:
    from bpfkit.ownership import analyze

    model = analyze(DATA_PROGRAMS / "list.bpf.o", kernel=False)
    visible = _visible(findings_html(model.predictions))
    for pred in model.predictions:
        assert pred.program in visible
        for m in pred.mistakes:
            assert m.message in visible
