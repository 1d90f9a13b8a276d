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
# # 03 · Verifier states
#
# The verifier explores every path of a program, printing the state of each register after
# each instruction (level 1 prints states at branches, level 2 after every instruction). bpfkit
# parses those logs into tables; this notebook follows the state evolution of a few programs,
# explains why a rejected program fails, finds where the verifier spends its effort and
# compares two logs.

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
from bpfkit.plot import (compare_stats, plot_compare, plot_effort, plot_references,
                         plot_register_lanes, use_style, visit_counts)
from bpfkit.report import explain_error
from bpfkit.verifier import load_log

use_style("paper")
manifest = manifest_frame(read_manifest(LOGS))

def log_of(program, level=2):
    row = manifest[manifest["program"] == program].iloc[0]
    (log,) = load_log(LOGS / row[f"l{level}_log"], program=program)
    return log

manifest[["object", "program", "verdict", "insns_processed", "total_states", "l2_lines"]].head(12)

# %% [markdown]
# ## A leak, as the verifier saw it
#
# `obj_new_leak_on_short_packet` allocates an object and drops it only when the packet is long
# enough. The verifier explores both branches; on the short one the reference is still held
# (`refs=`) at `exit`.

# %%
leak = log_of("obj_new_leak_on_short_packet")
leak

# %%
print(leak.verdict, "|", leak.error)
leak.stats

# %%
leak.steps.head(12)

# %%
regs = leak.registers
regs[regs["ref_obj_id"].fillna(0).astype(int) > 0][
    ["step", "insn_idx", "reg", "type", "btf_type", "flags", "ref_obj_id", "raw"]].head(12)

# %%
ax = plot_register_lanes(leak)

# %% [markdown]
# ## Why a rejected program fails
#
# `explain_error` puts the error in context: the failing instruction with its C line, the
# instructions the verifier walked right before it with their register states, and the leaked
# reference with the instruction that acquired it (from the kernel's own
# `Unreleased reference id=N alloc_insn=M`).

# %%
ctx = explain_error(leak)
print(f"failed at insn {ctx.insn_idx}: {ctx.asm}   ({ctx.src}: {ctx.src_text})")
ctx  # rendered as in the report: the path switch, the states, the leaked reference

# %%
pd.DataFrame([{"ref_obj_id": l.ref_obj_id, "acquired at": l.alloc_insn, "insn": l.asm,
               "source": l.src, "C": l.src_text} for l in ctx.leaks])

# %%
fig = plot_references(leak)

# %% [markdown]
# ## Exploring the log interactively
#
# `bpfkit.explore` opens the same explorer as the report's program pages, as a widget: click
# an instruction or a C line, step with the arrow keys through the verifier's steps (across
# paths, loop iterations and frames), follow the leaked reference (↗) to the call that
# acquired it. The widget's `step` follows the selection; set it to select a step from here.

# %%
import bpfkit

explorer = bpfkit.explore(leak)
explorer.step = int(leak.steps["step"].iloc[-1])
explorer

# %% [markdown]
# A use-after-release is different: the reference was dropped, and the register that held it
# became a `scalar`. The last states before the error show the moment it happened.

# %%
uar = log_of("list_pop_use_after_drop")
ctx = explain_error(uar, before=4)
print(ctx.error)
pd.DataFrame([{"insn": c.insn_idx, "asm": c.asm, "C": c.src_text, "registers": c.registers}
              for c in ctx.preceding])

# %% [markdown]
# ## Where the verifier spends its effort
#
# Loops multiply the work: `map_list_drain_loop_ok` pops and drops up to 16 elements, and the
# verifier walks the loop body once per iteration. Visits per instruction show the hot spots.

# %%
drain = log_of("map_list_drain_loop_ok")
vc = visit_counts(drain)
print(drain.stats.insns_processed, "insns processed over", len(vc), "instructions")
vc.sort_values("visits", ascending=False).head(8)

# %%
fig = plot_effort(drain)

# %% [markdown]
# ## Comparing two logs
#
# Two programs that do nearly the same thing: the tree with and without a loop. Like
# `veristat -C`, the table shows how much more work the loop costs the verifier.

# %%
a, b = log_of("rbtree_add_first_remove_ok"), log_of("rbtree_fill_loop_ok")
compare_stats(a, b)

# %%
fig = plot_compare(a, b, labels=("add_first_remove", "fill_loop"))

# %% [markdown]
# ## Live: the same program, verified again (optional)
#
# With `BPFKIT_LIVE=1` (root, `bpf()` allowed) this loads `obj_new_leak_on_short_packet` into
# the running kernel at log level 2 and parses the fresh log beside the captured one: on the
# same kernel the states are the same; on another kernel the table shows what changed.

# %%
if LIVE:
    from bpfkit.kernel import load_programs
    from bpfkit.verifier import parse_log

    (res,) = load_programs(PROGRAMS / "alloc.bpf.o", "obj_new_leak_on_short_packet", log_level=2)
    (fresh,) = parse_log(res.log, name=res.program)
    display(compare_stats(leak, fresh))
else:
    print("BPFKIT_LIVE is not set: using the logs captured in data/ only")

# %% [markdown]
# ## Across all programs
#
# Processed instructions and explored states per program, from the logs captured in `data/`:
# the accepted loop programs dominate; rejected programs stop early.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for verdict, marker in (("accept", "o"), ("reject", "x")):
    sel = manifest[manifest["verdict"] == verdict]
    ax.scatter(sel["insns_processed"], sel["total_states"], marker=marker, label=verdict)
ax.set_xscale("log"); ax.set_yscale("symlog")
ax.set_xlabel("instructions processed"); ax.set_ylabel("total states")
# beside the axes: inside, a legend would hide the program plotted under it
_ = ax.legend(title="kernel", loc="upper left", bbox_to_anchor=(1.01, 1.0))
