"""``analyze`` and ``bpfkit own`` on the sample programs, against the kernel's verdicts.

The kernel's verdicts and logs (data/logs/MANIFEST.tsv, captured on this 6.18 kernel) are
the oracle: the predicted verdict agrees for at least 95% of the programs (disagreements are
printed), and with ``--log`` the observed verdict and leaks are the kernel's own.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bpfkit.cli import main
from bpfkit.ownership.model import analyze
from bpfkit.ownership.static import predict
from tests.corpus import DATA_LOGS, DATA_LOGS_MANIFEST, DATA_OBJECTS, DATA_PROGRAMS

MANIFEST = (
    list(csv.DictReader(DATA_LOGS_MANIFEST.read_text().splitlines(), delimiter="\t"))
    if DATA_LOGS_MANIFEST.exists()
    else []
)


def _own_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["own", *argv, "--json"]) == 0
    out: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return out


def test_cli_json_agrees_with_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    kernel = {(r["object"], r["program"]): r["verdict"] for r in MANIFEST}
    assert kernel, "data/logs/MANIFEST.tsv is empty"
    agree = 0
    disagreements = []
    for obj in DATA_OBJECTS:
        items = _own_json(capsys, str(obj))
        want = {p for (o, p) in kernel if o == obj.name}
        assert {i["program"] for i in items} == want
        for item in items:
            assert set(item) >= {"program", "predicted", "mistakes"}
            assert item["predicted"] in ("accept", "reject", "unknown")
            for m in item["mistakes"]:  # type: ignore[attr-defined]
                assert isinstance(m["kind"], str) and isinstance(m["insn"], int)
            truth = kernel[(obj.name, str(item["program"]))]
            if item["predicted"] == truth:
                agree += 1
            else:
                disagreements.append(
                    (obj.name, item["program"], item["predicted"], truth, item.get("reason"))
                )
    total = len(kernel)
    for d in disagreements:
        print("DISAGREE", *d)
    print(f"prediction agrees with the kernel on {agree}/{total} programs")
    assert agree / total >= 0.95, disagreements


def test_cli_matches_api(capsys: pytest.CaptureFixture[str]) -> None:
    obj = DATA_PROGRAMS / "alloc.bpf.o"
    items = _own_json(capsys, str(obj))
    from bpfkit.obj import load_object

    api = {
        p.program: (p.verdict, [(m.kind, m.insn) for m in p.mistakes])
        for p in predict(load_object(obj))
    }
    got = {
        i["program"]: (i["predicted"], [(m["kind"], m["insn"]) for m in i["mistakes"]])  # type: ignore[attr-defined]
        for i in items
    }
    assert got == api


@pytest.mark.parametrize("row", MANIFEST, ids=lambda r: r["program"])
def test_observed_is_the_kernels(row: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    log = DATA_LOGS / row["l2_log"]
    [item] = _own_json(
        capsys, str(DATA_PROGRAMS / row["object"]), "--program", row["program"], "--log", str(log)
    )
    observed = item["observed"]
    assert isinstance(observed, dict)
    assert observed["verdict"] == row["verdict"]
    if row["error"] and "reference leak" in row["error"]:
        assert observed["leaks"], observed
        leak_sites = {f["site_insn"] for f in observed["flows"] if f["sink"] == "exit_leak"}
        assert {lk["alloc_insn"] for lk in observed["leaks"]} <= leak_sites
    else:
        assert observed["leaks"] == []


def test_text_output_and_html(capsys: pytest.CaptureFixture[str]) -> None:
    obj = DATA_PROGRAMS / "list.bpf.o"
    assert main(["own", str(obj), "--program", "list_push_pop_ok"]) == 0
    out = capsys.readouterr().out
    assert "program list_push_pop_ok: predicted accept" in out
    assert ".data.Q --list:q_jobs--> job" in out
    m = analyze(obj, "list_push_pop_ok", DATA_LOGS / "list" / "list_push_pop_ok.l2.log")
    html = m._repr_html_()
    assert "list_push_pop_ok" in html and "bpfkit-accept" in html
    assert "who can own what" in html and "q_jobs" in html
    assert set(m.observed_flows("list_push_pop_ok")["sink"]) == {"list_push", "drop"}


def test_unknown_program_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["own", str(DATA_PROGRAMS / "alloc.bpf.o"), "--program", "nope"]) == 1
    assert "no program 'nope'" in capsys.readouterr().err


def test_object_without_btf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import subprocess

    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("needs clang-19")
    src = tmp_path / "nobtf.c"
    src.write_text('__attribute__((section("tc"), used)) int p(void *c) { return 0; }\n')
    obj = tmp_path / "nobtf.o"
    subprocess.run([clang, "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj)], check=True)
    assert main(["own", str(obj)]) == 1
    assert "no .BTF" in capsys.readouterr().err
