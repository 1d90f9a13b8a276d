"""Ground truth of the sample programs: what each was written to do (``EXPECTED.tsv``).

``data/programs/EXPECTED.tsv`` has one row per program of the sample objects: the verdict its
author expects and the ownership mistake it makes (or ``none``). The kernel's actual verdict is
in ``data/logs/MANIFEST.tsv`` (:func:`bpfkit.kernel.read_manifest`); :func:`expected_frame`
puts the two side by side.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bpfkit.errors import LogError
from bpfkit.kernel.capture import ManifestRow, manifest_frame, read_manifest

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ExpectedRow",
    "EXPECTED_COLUMNS",
    "MISTAKE_KINDS",
    "DEFAULT_EXPECTED",
    "read_expected",
    "expected_frame",
]

#: The ownership mistakes a sample program can make (``none`` for a correct program).
MISTAKE_KINDS: tuple[str, ...] = (
    "none",
    "leak",
    "leak_on_path",
    "use_after_release",
    "double_release",
    "push_without_lock",
    "non_owning_after_unlock",
    "kptr_type_mismatch",
    "wrong_contains_node",
)
#: The repository's file (present in a source checkout).
DEFAULT_EXPECTED = Path(__file__).resolve().parents[2] / "data" / "programs" / "EXPECTED.tsv"


class ExpectedRow(NamedTuple):
    """One row of ``EXPECTED.tsv``."""

    object: str
    program: str
    expected_verdict: str
    mistake: str
    description: str


EXPECTED_COLUMNS: tuple[str, ...] = ExpectedRow._fields


def read_expected(path: str | os.PathLike[str] | None = None) -> list[ExpectedRow]:
    """Read ``EXPECTED.tsv`` (default: the repository's ``data/programs/EXPECTED.tsv``).

    Raises
    ------
    LogError
        Missing file, wrong header, a row with the wrong number of cells, a verdict other
        than ``accept``/``reject`` or an unknown mistake kind (naming the line).
    """
    p = Path(path) if path is not None else DEFAULT_EXPECTED
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LogError(f"{p}: cannot read expected verdicts: {exc}") from exc
    if not lines or tuple(lines[0].split("\t")) != EXPECTED_COLUMNS:
        raise LogError(f"{p}:1: expected header {' '.join(EXPECTED_COLUMNS)!r}")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != len(EXPECTED_COLUMNS):
            raise LogError(f"{p}:{lineno}: expected 5 tab-separated cells, found {len(cells)}")
        row = ExpectedRow(*cells)
        if row.expected_verdict not in ("accept", "reject"):
            raise LogError(f"{p}:{lineno}: verdict must be accept or reject, not {row[2]!r}")
        if row.mistake not in MISTAKE_KINDS:
            raise LogError(f"{p}:{lineno}: unknown mistake kind {row.mistake!r}")
        rows.append(row)
    return rows


def expected_frame(
    expected: list[ExpectedRow] | None = None, manifest: list[ManifestRow] | None = None
) -> pd.DataFrame:
    """Expected verdict and mistake beside the kernel's verdict and error line.

    Parameters
    ----------
    expected : list of ExpectedRow, optional
        Default: :func:`read_expected`.
    manifest : list of ManifestRow, optional
        Default: :func:`bpfkit.kernel.read_manifest` of the repository's ``data/logs``.

    Returns
    -------
    pandas.DataFrame
        One row per program: ``object``, ``program``, ``mistake``, ``expected_verdict``,
        ``verdict`` (the kernel's), ``agrees``, ``errno``, ``error``, ``insns_processed``,
        ``description``.
    """
    import pandas as pd

    exp = pd.DataFrame.from_records(
        expected if expected is not None else read_expected(), columns=list(EXPECTED_COLUMNS)
    )
    man = manifest_frame(manifest if manifest is not None else read_manifest())
    df = exp.merge(
        man[["object", "program", "verdict", "errno", "error", "insns_processed"]],
        on=["object", "program"],
        how="left",
    )
    df["agrees"] = df["expected_verdict"] == df["verdict"]
    cols = [
        "object",
        "program",
        "mistake",
        "expected_verdict",
        "verdict",
        "agrees",
        "errno",
        "error",
        "insns_processed",
        "description",
    ]
    return df[cols]
