# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Two runs of the same programs, compared
#
# A verifier change, a new kernel, another compiler flag: the question is always *what changed
# for which program*, over a whole corpus. `bpfkit corpus` answers it the way `veristat -C`
# does, with pandas tables, Parquet datasets and figures.
#
# Here the two runs are the 46 sample programs of `data/programs` built twice by clang-19:
# with its default `-mcpu=v1` (as `make -C data` builds them) and with `-mcpu=v4` (32-bit
# jumps and ALU, sign-extending loads). With `BPFKIT_LIVE=1` (root, `bpf()` allowed, clang-19)
# the notebook builds both into a temporary directory and loads every program into the running
# kernel (`bpfkit corpus run`); otherwise it parses the logs captured from the same two builds
# (`data/logs`, `data/logs-mcpu-v4`: `bpfkit corpus parse`). Either way the two datasets have
# the same layout and the rest of the notebook does not care which made them.

# %%
import os
from pathlib import Path

import pandas as pd

# The notebooks run from notebooks/ (Jupyter, nbclient) or from the repository root.
ROOT = Path.cwd() if (Path.cwd() / "data").is_dir() else Path.cwd().parent
DATA = ROOT / "data"
PROGRAMS = DATA / "programs"
LOGS = DATA / "logs"
LIVE = os.environ.get("BPFKIT_LIVE") == "1"
pd.set_option("display.max_columns", 30)
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 90)

# %%
import tempfile

import bpfkit.corpus as corpus
from bpfkit.corpus import compare_runs, filter_frame, format_compare, sort_frame
from bpfkit.corpus.figures import (
    most_changed, plot_change_distribution, plot_scatter, plot_state_evolution,
    plot_top_regressions,
)
import matplotlib.pyplot as plt  # figures then show inline

from bpfkit.plot import use_style

use_style("paper")
WORK = Path(tempfile.mkdtemp(prefix="bpfkit-nb05-"))
LABELS = ("-mcpu=v1", "-mcpu=v4")


def live_possible():
    if not LIVE:
        return "BPFKIT_LIVE is not set"
    from bpfkit.corpus.build import find_clang
    from bpfkit.errors import KernelError
    from bpfkit.kernel import check_environment

    try:
        check_environment()
    except KernelError as exc:
        return str(exc)
    return None if find_clang() else "no clang-19 on PATH"


why_not = live_possible()
if why_not is None:
    from bpfkit.corpus.build import build_objects

    sources = sorted(PROGRAMS.glob("*.bpf.c"))
    run_a = corpus.run_objects(build_objects(sources, WORK / "v1"), WORK / "run-v1", progress=False)
    run_b = corpus.run_objects(
        build_objects(sources, WORK / "v4", cflags=["-mcpu=v4"]), WORK / "run-v4", progress=False
    )
    print("live:", run_a, run_b, sep="\n")
else:
    print(f"no live run ({why_not}): parsing the captured logs of both builds")
    run_a = corpus.parse_logs([LOGS], WORK / "run-v1", workers=0, progress=False)
    run_b = corpus.parse_logs([DATA / "logs-mcpu-v4"], WORK / "run-v4", workers=0, progress=False)
    print(f"{run_a.programs} + {run_b.programs} programs, {run_a.lines + run_b.lines:,} lines")

# %% [markdown]
# ## The two datasets
#
# `corpus.open` gives the dataset back as pandas DataFrames (`dask=True` for Dask DataFrames
# when a corpus does not fit in memory). The manifest says what made each run: the kernel
# release, the compiler, bpfkit's version and every input with its SHA-256.

# %%
A, B = corpus.open(WORK / "run-v1"), corpus.open(WORK / "run-v4")
pd.DataFrame({
    name: {k: run.manifest.get(k) for k in ("kind", "kernel_release", "clang_version",
                                             "log_level", "bpfkit_version")}
    | run.manifest["counts"]
    for name, run in zip(LABELS, (A, B))
})

# %%
A.programs[["object", "program", "verdict", "error", "insns_processed", "total_states",
            "peak_states", "verification_time_usec", "stack_depth", "predicted_verdict"]].head(8)

# %% [markdown]
# ## Side by side, like `veristat -C`
#
# `compare_runs` joins the runs on `(object, program)`: for every stat `_a`, `_b`, `_diff` and
# `_pct`, verdict changes first, programs in one run only marked in `side`. Filters and sort
# keys take veristat's names (`insns`, `states`, `duration`...).

# %%
cmp = compare_runs(A, B)
print(f"{(cmp.side == 'both').sum()} programs in both runs, "
      f"{int(cmp.verdict_changed.sum())} verdict changes, "
      f"{(cmp.side == 'A').sum()} only in A, {(cmp.side == 'B').sum()} only in B")
changed = sort_frame(filter_frame(cmp, ["!insns_diff=0"]), ["insns_pct"])
print(format_compare(changed, "table", stats=["insns", "states"]))

# %%
# the same rows as Markdown, e.g. for a pull request
from IPython.display import Markdown
Markdown(format_compare(changed.head(5), "md", stats=["insns", "states"]))

# %% [markdown]
# ## Figures
#
# Every program's instructions processed in one build against the other (log axes: the loop
# programs walk thousands of instructions, the others tens), how the changes are distributed,
# and the programs that changed most.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(1, 1.6),
                                  layout="constrained")
plot_scatter(cmp, ax=left, labels=LABELS)
ax = plot_change_distribution(cmp, ax=right)

# %%
ax = plot_top_regressions(cmp, n=10)

# %% [markdown]
# ## Where the verifier's work went, for the most changed program
#
# For the programs that changed most, the state-evolution comparison: visits per C source line
# (the two builds number their instructions differently) and the stats table. The logs come
# from the datasets themselves (`Corpus.log`).

# %%
top = most_changed(cmp, n=2)
top[["object", "program", "insns_processed_a", "insns_processed_b", "insns_processed_pct"]]

# %%
for obj, prog in zip(top["object"], top["program"]):
    fig = plot_state_evolution(A, B, obj, prog, labels=LABELS)

# %% [markdown]
# ## The per-instruction tables
#
# Both datasets hold the verifier's `steps` (one row per visit of an instruction) and
# `instructions` of every program, so the question "which instructions does v4 save?" is a
# groupby away.

# %%
obj, prog = top.iloc[0][["object", "program"]]
visits = {}
for name, run in zip(LABELS, (A, B)):
    steps = run.table("steps")
    insns = run.table("instructions")
    mine = steps[(steps.object == obj) & (steps.program == prog)]
    per = mine.groupby("insn_idx").size().rename("visits").reset_index()
    asm = insns[(insns.object == obj) & (insns.program == prog)][["insn_idx", "asm", "src_line"]]
    visits[name] = per.merge(asm, on="insn_idx", how="left")
visits[LABELS[1]].head(12)

# %%
by_line = pd.concat(
    {name: v.groupby("src_line")["visits"].sum() for name, v in visits.items()}, axis=1
).fillna(0).astype(int)
by_line[by_line[LABELS[0]] != by_line[LABELS[1]]]

# %% [markdown]
# ## The same questions through Dask
#
# For corpora larger than memory, `corpus.open(path, dask=True)` reads the same partitioned
# Parquet lazily (one partition per part file); the queries are the same.

# %%
try:
    import dask  # noqa: F401
    have_dask = True
except ImportError:
    have_dask = False
if have_dask:
    D = corpus.open(WORK / "run-v4", dask=True)
    print(D.programs.groupby("verdict")["insns_processed"].sum().compute())
    print(f"{len(D.table('steps')):,} steps in {D.table('steps').npartitions} partitions")
