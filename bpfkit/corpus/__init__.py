"""Corpora: many programs, many runs, compared side by side.

``bpfkit corpus run`` loads every program of many objects into the running kernel
(:func:`run_objects`), ``bpfkit corpus parse`` reads many verifier logs in parallel, locally or on
a dask.distributed cluster (:func:`parse_logs`); both write the same partitioned Parquet dataset
(:mod:`bpfkit.corpus.dataset`), which :func:`open` reads back as pandas (or Dask) DataFrames.
``bpfkit corpus compare`` puts two datasets side by side like ``veristat -C``
(:func:`compare_runs`) and draws the figures of :mod:`bpfkit.corpus.figures`.

Importing this package is light: pandas, pyarrow and dask are imported by the functions that
use them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.corpus.compare import compare_runs, filter_frame, format_compare, sort_frame
    from bpfkit.corpus.dataset import (
        DEFAULT_TABLES,
        PROGRAM_COLUMNS,
        STATS,
        TABLES,
        Corpus,
        CorpusError,
        open_corpus,
    )
    from bpfkit.corpus.parse import ParseSummary, parse_logs
    from bpfkit.corpus.run import RunSummary, run_objects


def open(path: str | os.PathLike[str], *, dask: bool = False) -> Corpus:  # noqa: A001
    """``bpfkit.corpus.open(RUN)``: the dataset as DataFrames (:func:`open_corpus`)."""
    from bpfkit.corpus.dataset import open_corpus

    return open_corpus(path, dask=dask)


__all__ = [
    "Corpus",
    "CorpusError",
    "DEFAULT_TABLES",
    "PROGRAM_COLUMNS",
    "STATS",
    "TABLES",
    "ParseSummary",
    "RunSummary",
    "compare_runs",
    "filter_frame",
    "format_compare",
    "open",
    "open_corpus",
    "parse_logs",
    "run_objects",
    "sort_frame",
]

# Imported on first use (bpfkit._lazy), so that `bpfkit X --help` and every other command
# do not pay for this package's modules (json, hashlib, dataclasses, ... ~30 ms).
_LAZY = {
    "compare": ("compare_runs", "filter_frame", "format_compare", "sort_frame"),
    "dataset": (
        "Corpus",
        "CorpusError",
        "DEFAULT_TABLES",
        "PROGRAM_COLUMNS",
        "STATS",
        "TABLES",
        "open_corpus",
    ),
    "parse": ("ParseSummary", "parse_logs"),
    "run": ("RunSummary", "run_objects"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
