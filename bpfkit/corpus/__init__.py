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

#: ``bpfkit.corpus.open(RUN)``: the dataset as DataFrames (:func:`open_corpus`).
open = open_corpus

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
