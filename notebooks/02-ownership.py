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
# # 02 · Ownership of program-allocated objects
#
# A BPF program can allocate its own objects (`bpf_obj_new`), stash them in maps (`__kptr` +
# `bpf_kptr_xchg`), link them into lists and red-black trees (`bpf_list_head`, `bpf_rb_root`,
# guarded by a `bpf_spin_lock`), share them (`bpf_refcount`) and must free every one
# (`bpf_obj_drop`). The verifier tracks each owning reference by its `ref_obj_id` and refuses
# a program that can leak one, use it after release or touch a collection without its lock.
#
# This notebook looks at the sample programs of `data/programs` through bpfkit's ownership
# model: the type-level ownership graph, the allocation sites and where each reference goes,
# the static prediction beside the kernel's real verdict, and the kernel's two-stage lookup of
# a kptr's type.

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

from bpfkit.btf import load_vmlinux
from bpfkit.kernel import expected_frame, manifest_frame, read_manifest
from bpfkit.ownership import analyze, resolve_kptr
from bpfkit.plot import use_style
from bpfkit.plot.ownership import plot_flow_sankey, plot_ownership_graph

use_style("paper")
objects = sorted(PROGRAMS.glob("*.bpf.o"))
[o.name for o in objects]

# %% [markdown]
# ## The type-level ownership graph
#
# Who may own what: a map value or a global section holding a `bpf_list_head __contains(job,
# node)` owns `job`s; an allocated `batch` with its own list owns `job`s too. The model reads
# the special fields exactly as the kernel's `btf_parse_fields()` would.

# %%
model = analyze(PROGRAMS / "list.bpf.o")
print(model.summary().splitlines()[0])
model.containers

# %%
model.fields[["container", "container_kind", "kind", "offset", "size", "contains_type",
              "contains_field"]]

# %%
ax = plot_ownership_graph(model.graph, title="list.bpf.o: who owns what")

# %% [markdown]
# ## Allocation sites and where each reference goes
#
# The static analysis walks every path of a program, like the verifier, and records each
# allocation or acquire (a *site*) and what finally happens to that reference (a *sink*:
# dropped, released, pushed into a collection, exchanged into a map, or leaked at exit).

# %%
model.sites()

# %%
flows = model.flows()
flows

# %%
ax = plot_flow_sankey(model.flows("nested_batch_list_ok"), title="nested_batch_list_ok")

# %% [markdown]
# ## Predicted verdicts beside the kernel's
#
# `data/logs/MANIFEST.tsv` holds what the Linux 6.18 verifier really said about every sample
# program, captured with libbpf. The static prediction comes from the object alone, without a
# kernel. Where they disagree, the model is wrong (the kernel is the oracle).

# %%
from tqdm import tqdm

kernel = manifest_frame(read_manifest(LOGS))[["object", "program", "verdict", "error"]]
rows = []
for obj in tqdm(objects, desc="static analysis", unit="object"):
    m = analyze(obj)
    for p in m.predictions:
        rows.append((obj.name, p.program, p.verdict,
                     p.mistakes[0].kind if p.mistakes else "none", p.reason))
predicted = pd.DataFrame(rows, columns=["object", "program", "predicted", "mistake", "reason"])
both = kernel.merge(predicted, on=["object", "program"], how="outer")
print(f"{(both['verdict'] == both['predicted']).sum()} of {len(both)} predictions agree "
      "with the kernel")
pd.crosstab(both["verdict"], both["predicted"], rownames=["kernel"], colnames=["predicted"])

# %%
both[both["verdict"] == "reject"][["program", "mistake", "error"]].reset_index(drop=True)

# %% [markdown]
# Each sample program was written to make one mistake (or none); `EXPECTED.tsv` says which.
# The mistake kinds the model names should be the ones the programs were written with.

# %%
expected = expected_frame()[["object", "program", "mistake", "expected_verdict"]]
check = expected.merge(predicted, on=["object", "program"], suffixes=("_expected", "_found"))
print((check["mistake_expected"] == check["mistake_found"]).sum(), "of", len(check),
      "mistake kinds match")
check[check["mistake_expected"] != check["mistake_found"]]

# %% [markdown]
# ## The two-stage kptr lookup
#
# For a `struct foo __kptr *p` field the kernel looks `foo` up in its own BTF first (vmlinux
# and modules) and only then in the program's BTF (`btf_parse_kptr()`). So a `task_struct`
# kptr is the kernel's task, while `session` is a program-allocated type. A program that
# defines a struct under a kernel name gets the kernel's type, whatever it wrote.

# %%
vmlinux = load_vmlinux()
stash = analyze(PROGRAMS / "kptr_stash.bpf.o")
kptrs = stash.fields[stash.fields["kind"].str.contains("kptr")][
    ["container", "container_kind", "source", "kind", "kptr_type", "resolved_in"]]
kptrs = kptrs.assign(lookup=[resolve_kptr(t, stash.obj.btf, vmlinux) for t in kptrs["kptr_type"]])
kptrs

# %% [markdown]
# ## Live: ask the running kernel (optional)
#
# With `BPFKIT_LIVE=1` (root, `bpf()` allowed) this loads every program of `list.bpf.o` into
# the running kernel and compares the verdicts with the ones captured in `data/`.

# %%
if LIVE:
    from bpfkit.kernel import load_programs, results_frame

    live = results_frame(load_programs(PROGRAMS / "list.bpf.o"))
    side = live[["program", "verdict", "insns_processed"]].merge(
        kernel[kernel["object"] == "list.bpf.o"][["program", "verdict"]],
        on="program", suffixes=("_live", "_captured"))
    print((side["verdict_live"] == side["verdict_captured"]).sum(), "of", len(side),
          "verdicts as captured in data/")
    display(side)
else:
    print("BPFKIT_LIVE is not set: using the logs captured in data/ only")
