"""``bpfkit own --log`` flags a prediction that differs from what the log shows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bpfkit.cli import main
from tests.corpus import DATA_LOGS, DATA_PROGRAMS


def test_agreeing_prediction_is_not_flagged(capsys: pytest.CaptureFixture[str]) -> None:
    obj = DATA_PROGRAMS / "alloc.bpf.o"
    log = DATA_LOGS / "alloc" / "obj_drop_twice.l2.log"
    assert main(["own", str(obj), "--program", "obj_drop_twice", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "observed: reject" in out and "DIFFERS" not in out


def test_log_of_another_build_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the log of the leaking build, under the name of the program that drops its object
    log = tmp_path / "obj_new_drop_ok.l2.log"
    shutil.copy(DATA_LOGS / "alloc" / "obj_new_leak.l2.log", log)
    obj = str(DATA_PROGRAMS / "alloc.bpf.o")
    assert main(["own", obj, "--program", "obj_new_drop_ok", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "DIFFERS: obj_new_drop_ok: verdict differs: predicted accept, log shows reject" in out
    assert main(["own", obj, "--program", "obj_new_drop_ok", "--log", str(log), "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["differs"] == [
        {"program": "obj_new_drop_ok", "what": "verdict", "predicted": "accept",
         "observed": "reject"}
    ]  # fmt: skip
