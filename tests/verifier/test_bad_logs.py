"""A file that is not a verifier log gets a clear error and a non-zero exit; ``--lenient``
keeps best-effort reading; no figure is drawn from nothing."""

from __future__ import annotations

import gzip
import lzma
import shutil
import sys
from pathlib import Path

import pytest

from bpfkit.cli import main
from bpfkit.errors import LogError
from bpfkit.verifier import iter_logs, load_log, parse_log
from tests.corpus import DATA_LOG_FILES, LOG_DOC_UNRELEASED_REF, ROOT

README = ROOT / "README.md"
BINARY = Path(sys.executable).resolve()  # an ELF binary that is surely there


def _not_logs(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.log"
    blank.write_text("\n\n   \n")
    gz = tmp_path / "readme.log.gz"
    gz.write_bytes(gzip.compress(README.read_bytes()))
    xz = tmp_path / "binary.log.xz"
    xz.write_bytes(lzma.compress(BINARY.read_bytes()[:200_000]))
    return {"empty": empty, "blank": blank, "readme": README, "readme.gz": gz,
            "binary": BINARY, "binary.xz": xz}


@pytest.mark.parametrize(
    "what", ["empty", "blank", "readme", "readme.gz", "binary", "binary.xz"]
)
def test_not_a_log_is_a_clear_error(tmp_path: Path, what: str) -> None:
    path = _not_logs(tmp_path)[what]
    with pytest.raises(LogError, match=r"not a verifier log: .*--lenient"):
        load_log(path)
    with pytest.raises(LogError, match=r"not a verifier log"):
        list(iter_logs(path))
    # best effort on request: today's reading, no error
    assert load_log(path, lenient=True)
    list(iter_logs(path, lenient=True))


@pytest.mark.parametrize(
    "argv",
    [
        ["log", "parse", "{}"],
        ["log", "parse", "--json", "{}"],
        ["log", "stats", "{}"],
        ["plot", "{}", "-o", "{out}"],
    ],
)
@pytest.mark.parametrize("what", ["empty", "readme", "binary"])
def test_cli_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], what: str
) -> None:
    path = _not_logs(tmp_path)[what]
    out = tmp_path / "figs"
    args = [a.format(path, out=out) for a in argv]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("bpfkit: error: ") and "not a verifier log" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_lenient_keeps_best_effort(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "parse", "--lenient", str(README)]) == 0
    assert "README" in capsys.readouterr().out


def test_no_empty_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A log with no instruction in it (a check that failed before any was printed) has
    nothing to draw: an error, and no file."""
    log = tmp_path / "bare.log"
    log.write_text("unreachable insn 1\n")
    assert [lg.error for lg in load_log(log)] == ["unreachable insn 1"]  # a log, though
    out = tmp_path / "figs"
    assert main(["plot", str(log), "-o", str(out)]) == 1
    assert "nothing to draw" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("path", [*DATA_LOG_FILES[:6], LOG_DOC_UNRELEASED_REF])
def test_real_logs_are_logs(path: Path, tmp_path: Path) -> None:
    """The check never refuses a real log (all of data/ and the corpus go through load_log
    in the other tests; here the compressed and streamed readers too)."""
    if not path.exists():
        pytest.skip(f"{path} is not in this corpus copy")
    assert load_log(path)
    assert list(iter_logs(path))
    gz = tmp_path / (path.name + ".gz")
    with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert load_log(gz)


def test_parse_log_text_is_lenient_by_default() -> None:
    assert parse_log("")[0].verdict == "unknown"
    with pytest.raises(LogError, match="not a verifier log"):
        parse_log("hello\nworld\nthis is\nnot a log\n", lenient=False)
