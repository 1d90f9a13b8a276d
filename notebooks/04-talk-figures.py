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
# # 04 · Talk figures
#
# The figures a talk about program-allocated objects would show, in the `talk` style (large
# fonts, colorblind-safe palette with hatches so they survive a projector and grayscale),
# written as SVG and PDF to `$BPFKIT_OUTPUT_DIR` (default `build/figures`).

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
import matplotlib.pyplot as plt

from bpfkit.kernel import manifest_frame, read_manifest
from bpfkit.ownership import analyze
from bpfkit.plot import (plot_compare, plot_effort, plot_references, plot_register_lanes,
                         savefig, use_style)
from bpfkit.plot.ownership import plot_flow_sankey, plot_ownership_graph
from bpfkit.verifier import load_log

OUT = Path(os.environ.get("BPFKIT_OUTPUT_DIR", "build/figures"))
if not OUT.is_absolute():
    OUT = ROOT / OUT
OUT.mkdir(parents=True, exist_ok=True)
use_style("talk")
manifest = manifest_frame(read_manifest(LOGS))
written = []

def save(fig, name):
    for ext in ("svg", "pdf"):
        written.append(savefig(fig, OUT / f"{name}.{ext}"))
    return fig

def log_of(program):
    row = manifest[manifest["program"] == program].iloc[0]
    (log,) = load_log(LOGS / row["l2_log"], program=program)
    return log


# %% [markdown]
# ## 1. Who owns what
#
# A list head in a map value, in a global section and inside an allocated object: each edge is
# an ownership the verifier will enforce.

# %%
ax = plot_ownership_graph(analyze(PROGRAMS / "list.bpf.o").graph,
                          title="Ownership in list.bpf.o")
save(ax.figure, "01-ownership-graph")

# %% [markdown]
# ## 2. Where references go
#
# From each allocation site to its sink, band width = explored paths.

# %%
model = analyze(PROGRAMS / "refcount.bpf.o")
ax = plot_flow_sankey(model.flows("refcount_tree_and_list_ok"),
                      title="refcount_tree_and_list_ok: one object, two owners")
save(ax.figure, "02-flows")

# %% [markdown]
# ## 3. A leak on one path
#
# The register lanes of the rejected program: the owning pointer lives on, the short-packet
# path reaches `exit` still holding it.

# %%
leak = log_of("obj_new_leak_on_short_packet")
ax = plot_register_lanes(leak)
save(ax.figure, "03-leak-lanes")
fig = plot_references(leak)
save(fig, "04-leak-references")

# %% [markdown]
# ## 4. What a loop costs the verifier

# %%
fig = plot_effort(log_of("map_list_drain_loop_ok"))
save(fig, "05-loop-effort")
fig = plot_compare(log_of("rbtree_add_first_remove_ok"), log_of("rbtree_fill_loop_ok"),
                   labels=("no loop", "fill loop"))
save(fig, "06-loop-compare")

# %% [markdown]
# ## 5. Prediction versus the kernel
#
# How often the static ownership analysis agrees with the Linux 6.18 verifier on the sample
# programs, per object.

# %%
rows = []
for obj in sorted(PROGRAMS.glob("*.bpf.o")):
    for p in analyze(obj).predictions:
        rows.append((obj.name, p.program, p.verdict))
pred = pd.DataFrame(rows, columns=["object", "program", "predicted"])
both = manifest.merge(pred, on=["object", "program"])
both["agree"] = both["verdict"] == both["predicted"]
per = both.groupby(both["object"].str.removesuffix(".bpf.o"))["agree"].agg(["sum", "count"])
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar(per.index, per["count"], color="#D55E00", hatch="//", label="disagree")
ax.bar(per.index, per["sum"], color="#0072B2", label="agree with the kernel")
ax.set_ylabel("programs"); ax.legend(); ax.set_title("Static prediction vs kernel verdict")
save(fig, "07-prediction-vs-kernel")

# %%
sorted(p.name for p in written)
