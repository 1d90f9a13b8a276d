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
# # 01 · The BTF type graph
#
# BTF is the kernel's type information: every struct, pointer, typedef and function the kernel
# (or a BPF object) knows about, with ids that refer to each other. This notebook reads the
# kernel's BTF exactly, walks a type's neighbourhood as a networkx graph, looks at struct
# layouts the way `pahole` prints them, lists the kfuncs the kernel exports for
# program-allocated objects, and puts a BPF program's own BTF beside the kernel's.
#
# Everything here runs on the embedded `data/btf/vmlinux-6.18.btf.xz` when
# `/sys/kernel/btf/vmlinux` cannot be read (`load_vmlinux()` picks the running kernel first).

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
import networkx as nx
import matplotlib.pyplot as plt

from bpfkit.btf import BTFKind, load_elf_btf, load_vmlinux
from bpfkit.btf.cformat import format_c
from bpfkit.btf.graph import members_frame, type_graph, types_frame

spec = load_vmlinux()
spec

# %% [markdown]
# ## What is in the kernel's BTF
#
# `types_frame` gives one row per type. The counts per kind are the shape of a kernel: tens of
# thousands of structs and function prototypes, a few thousand typedefs.

# %%
types = types_frame(spec)
print(f"{len(types):,} types")
types["kind"].value_counts().rename("types").to_frame()

# %% [markdown]
# ## A type's neighbourhood as a graph
#
# The graph has one node per type id and one edge per reference (member, pointee, target...).
# `bpf_list_node` is what a BPF program embeds in an object to put it on a `bpf_list_head`;
# following its references two steps out shows what the kernel builds it from.
# `fold_modifiers=True` folds typedef/const/volatile chains into the edges (`via`).

# %%
G = type_graph(spec, roots=["bpf_list_node", "bpf_rb_node", "bpf_refcount"], depth=2,
               fold_modifiers=True)
print(G)
edges = pd.DataFrame(
    [(G.nodes[u]["kind"], G.nodes[u]["name"], d["rel"], d.get("name", ""), G.nodes[v]["kind"],
      G.nodes[v]["name"], d.get("via", "")) for u, v, d in G.edges(data=True)],
    columns=["from_kind", "from", "rel", "member", "to_kind", "to", "via"],
)
edges

# %%
labels = {n: (d["name"] or d["kind"].lower()) for n, d in G.nodes(data=True)}
pos = nx.spring_layout(G, seed=7)
fig, ax = plt.subplots(figsize=(8, 5))
nx.draw_networkx(G, pos, ax=ax, labels=labels, node_size=300, font_size=8,
                 node_color=["#E69F00" if d["kind"] == "STRUCT" else "#56B4E9"
                             for _, d in G.nodes(data=True)])
ax.set_title("bpf_list_node, bpf_rb_node, bpf_refcount: two references out")
ax.set_axis_off()

# %% [markdown]
# Between aggregates only, the graph says which structs embed or point to which. Here: who
# embeds a `bpf_spin_lock` among the kernel's structs, the lock that guards every
# `bpf_list_head` and `bpf_rb_root` a BPF program owns.

# %%
A = type_graph(spec, aggregates_only=True)
lock = spec.find_one("bpf_spin_lock", BTFKind.STRUCT).id
embedders = sorted({A.nodes[u]["name"] for u, _, d in A.in_edges(lock, data=True)
                    if d["rel"] == "embeds"})
print(f"{A.number_of_nodes():,} structs/unions, {A.number_of_edges():,} embeds/points_to edges")
print(len(embedders), "kernel structs embed struct bpf_spin_lock, e.g.", embedders[:8])

# %% [markdown]
# ## Layouts, as pahole shows them
#
# `members_frame` has each member's byte offset and size; holes and padding fall out of the
# gaps. The C declaration is what `bpftool btf dump ... format c` prints.

# %%
print(format_c(spec, ["bpf_list_head", "bpf_list_node", "bpf_rb_node", "bpf_refcount"]))

# %%
members = members_frame(spec)

def layout(name):
    t = spec.find_one(name, BTFKind.STRUCT)
    m = members[members["struct_id"] == t.id][
        ["index", "name", "type_name", "byte_offset", "size", "bitfield_size"]].copy()
    end = (m["byte_offset"] + m["size"].fillna(0)).astype(int)
    m["hole_after"] = (m["byte_offset"].shift(-1).fillna(t.size) - end).astype(int)
    return m.reset_index(drop=True), t.size

cpumask_layout, size = layout("bpf_cpumask")
print(f"struct bpf_cpumask: {size} bytes")
cpumask_layout

# %% [markdown]
# ## The kfuncs of program-allocated objects
#
# A kfunc is a kernel function a BPF program may call; its BTF carries a `bpf_kfunc` decl tag.
# These are the ones this toolkit is about: allocation, collections, kptr exchange, refcounts.

# %%
kfuncs = spec.kfuncs()
print(len(kfuncs), "kfuncs in this kernel's BTF")
words = ("obj_new", "obj_drop", "list_", "rbtree_", "refcount", "kptr", "percpu_obj")
rows = [(f.name, spec.type_name(f.type)) for f in kfuncs if any(w in f.name for w in words)]
pd.DataFrame(rows, columns=["kfunc", "prototype"]).sort_values("kfunc", ignore_index=True)

# %% [markdown]
# ## A program's BTF beside the kernel's
#
# A BPF object carries its own BTF (from `vmlinux.h` and its own types). For the special
# types, the kernel's definition wins; the program's copy must agree in size, or the verifier
# would read fields at the wrong offsets. The program's own types (here `job` and `batch`)
# exist only in the program.

# %%
prog_spec, ext = load_elf_btf(PROGRAMS / "list.bpf.o")
print(prog_spec)
rows = []
for name in ["bpf_list_head", "bpf_list_node", "bpf_spin_lock", "job", "batch"]:
    mine = prog_spec.find(name, BTFKind.STRUCT)
    kern = spec.find(name, BTFKind.STRUCT)
    rows.append((name, mine[0].size if mine else None, kern[0].size if kern else None,
                 len(mine[0].members) if mine else None))
pd.DataFrame(rows, columns=["struct", "program size", "kernel size", "program members"])

# %%
print(format_c(prog_spec, ["job", "batch"]))

# %% [markdown]
# `.BTF.ext` maps instructions back to C lines: the verifier prints these as `; ... @ file:line`
# in its logs, and the report uses them to show where an error came from.

# %%
sec, infos = next((s, li) for s, li in ext.line_info.items() if li)
pd.DataFrame(infos[:8])
