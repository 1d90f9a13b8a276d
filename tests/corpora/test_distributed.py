"""The dask.distributed path (what a real cluster runs) on a LocalCluster of two workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bpfkit.corpus import CorpusError, open_corpus, parse_logs
from tests.corpus import CORPUS_LOG_FILES, DATA_LOGS


def test_local_cluster_writes_the_same_dataset(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    logs = CORPUS_LOG_FILES
    local = parse_logs(logs, tmp_path / "local", workers=0, task_files=4)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # the scheduler by its address, as `bpfkit corpus parse --scheduler tcp://...` gives it
        dist = parse_logs(
            logs, tmp_path / "dist", scheduler=cluster.scheduler_address, task_files=4
        )
    assert dist.tasks == local.tasks > 2 and len(dist.workers) == 2
    assert dist.programs == local.programs and dist.failed == local.failed
    a = open_corpus(tmp_path / "local").programs.drop(columns="part").sort_values("source")
    b = open_corpus(tmp_path / "dist").programs.drop(columns="part").sort_values("source")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert open_corpus(tmp_path / "dist").manifest["engine"] == "dask.distributed"


def test_unreachable_scheduler_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr("bpfkit.corpus.parse.CONNECT_TIMEOUT", 1)
    with pytest.raises(CorpusError, match="cannot reach the dask scheduler"):
        parse_logs(
            [DATA_LOGS / "alloc" / "obj_new_leak.l1.log"],
            tmp_path / "d",
            scheduler="tcp://127.0.0.1:9",
        )
