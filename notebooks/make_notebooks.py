"""Write the four notebooks of bpfkit from the cells below, outputs stripped.

Run ``.venv/bin/python notebooks/make_notebooks.py`` after editing a cell here; the committed
``.ipynb`` files are this script's output. Each notebook runs top to bottom on ``data/``
alone; with ``BPFKIT_LIVE=1`` (and root) it also asks the running kernel.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
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
pd.set_option("display.max_colwidth", 90)"""


def md(text: str) -> object:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> object:
    return new_code_cell(text.strip("\n"))


NB01 = [
    md("""
# 01 · The BTF type graph

BTF is the kernel's type information: every struct, pointer, typedef and function the kernel
(or a BPF object) knows about, with ids that refer to each other. This notebook reads the
kernel's BTF exactly, walks a type's neighbourhood as a networkx graph, looks at struct
layouts the way `pahole` prints them, lists the kfuncs the kernel exports for
program-allocated objects, and puts a BPF program's own BTF beside the kernel's.

Everything here runs on the embedded `data/btf/vmlinux-6.18.btf.xz` when
`/sys/kernel/btf/vmlinux` cannot be read (`load_vmlinux()` picks the running kernel first).
"""),
    code(SETUP),
    code("""
import networkx as nx
import matplotlib.pyplot as plt

from bpfkit.btf import BTFKind, load_elf_btf, load_vmlinux
from bpfkit.btf.cformat import format_c
from bpfkit.btf.graph import members_frame, type_graph, types_frame

spec = load_vmlinux()
spec
"""),
    md("""
## What is in the kernel's BTF

`types_frame` gives one row per type. The counts per kind are the shape of a kernel: tens of
thousands of structs and function prototypes, a few thousand typedefs.
"""),
    code("""
types = types_frame(spec)
print(f"{len(types):,} types")
types["kind"].value_counts().rename("types").to_frame()
"""),
    md("""
## A type's neighbourhood as a graph

The graph has one node per type id and one edge per reference (member, pointee, target...).
`bpf_list_node` is what a BPF program embeds in an object to put it on a `bpf_list_head`;
following its references two steps out shows what the kernel builds it from.
`fold_modifiers=True` folds typedef/const/volatile chains into the edges (`via`).
"""),
    code("""
G = type_graph(spec, roots=["bpf_list_node", "bpf_rb_node", "bpf_refcount"], depth=2,
               fold_modifiers=True)
print(G)
edges = pd.DataFrame(
    [(G.nodes[u]["kind"], G.nodes[u]["name"], d["rel"], d.get("name", ""), G.nodes[v]["kind"],
      G.nodes[v]["name"], d.get("via", "")) for u, v, d in G.edges(data=True)],
    columns=["from_kind", "from", "rel", "member", "to_kind", "to", "via"],
)
edges
"""),
    code("""
labels = {n: (d["name"] or d["kind"].lower()) for n, d in G.nodes(data=True)}
pos = nx.spring_layout(G, seed=7)
fig, ax = plt.subplots(figsize=(8, 5))
nx.draw_networkx(G, pos, ax=ax, labels=labels, node_size=300, font_size=8,
                 node_color=["#E69F00" if d["kind"] == "STRUCT" else "#56B4E9"
                             for _, d in G.nodes(data=True)])
ax.set_title("bpf_list_node, bpf_rb_node, bpf_refcount: two references out")
ax.set_axis_off()
"""),
    md("""
Between aggregates only, the graph says which structs embed or point to which. Here: who
embeds a `bpf_spin_lock` among the kernel's structs, the lock that guards every
`bpf_list_head` and `bpf_rb_root` a BPF program owns.
"""),
    code("""
A = type_graph(spec, aggregates_only=True)
lock = spec.find_one("bpf_spin_lock", BTFKind.STRUCT).id
embedders = sorted({A.nodes[u]["name"] for u, _, d in A.in_edges(lock, data=True)
                    if d["rel"] == "embeds"})
print(f"{A.number_of_nodes():,} structs/unions, {A.number_of_edges():,} embeds/points_to edges")
print(len(embedders), "kernel structs embed struct bpf_spin_lock, e.g.", embedders[:8])
"""),
    md("""
## Layouts, as pahole shows them

`members_frame` has each member's byte offset and size; holes and padding fall out of the
gaps. The C declaration is what `bpftool btf dump ... format c` prints.
"""),
    code("""
print(format_c(spec, ["bpf_list_head", "bpf_list_node", "bpf_rb_node", "bpf_refcount"]))
"""),
    code("""
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
"""),
    md("""
## The kfuncs of program-allocated objects

A kfunc is a kernel function a BPF program may call; its BTF carries a `bpf_kfunc` decl tag.
These are the ones this toolkit is about: allocation, collections, kptr exchange, refcounts.
"""),
    code("""
kfuncs = spec.kfuncs()
print(len(kfuncs), "kfuncs in this kernel's BTF")
words = ("obj_new", "obj_drop", "list_", "rbtree_", "refcount", "kptr", "percpu_obj")
rows = [(f.name, spec.type_name(f.type)) for f in kfuncs if any(w in f.name for w in words)]
pd.DataFrame(rows, columns=["kfunc", "prototype"]).sort_values("kfunc", ignore_index=True)
"""),
    md("""
## A program's BTF beside the kernel's

A BPF object carries its own BTF (from `vmlinux.h` and its own types). For the special
types, the kernel's definition wins; the program's copy must agree in size, or the verifier
would read fields at the wrong offsets. The program's own types (here `job` and `batch`)
exist only in the program.
"""),
    code("""
prog_spec, ext = load_elf_btf(PROGRAMS / "list.bpf.o")
print(prog_spec)
rows = []
for name in ["bpf_list_head", "bpf_list_node", "bpf_spin_lock", "job", "batch"]:
    mine = prog_spec.find(name, BTFKind.STRUCT)
    kern = spec.find(name, BTFKind.STRUCT)
    rows.append((name, mine[0].size if mine else None, kern[0].size if kern else None,
                 len(mine[0].members) if mine else None))
pd.DataFrame(rows, columns=["struct", "program size", "kernel size", "program members"])
"""),
    code("""
print(format_c(prog_spec, ["job", "batch"]))
"""),
    md("""
`.BTF.ext` maps instructions back to C lines: the verifier prints these as `; ... @ file:line`
in its logs, and the report uses them to show where an error came from.
"""),
    code("""
sec, infos = next((s, li) for s, li in ext.line_info.items() if li)
pd.DataFrame(infos[:8])
"""),
]

NB02 = [
    md("""
# 02 · Ownership of program-allocated objects

A BPF program can allocate its own objects (`bpf_obj_new`), stash them in maps (`__kptr` +
`bpf_kptr_xchg`), link them into lists and red-black trees (`bpf_list_head`, `bpf_rb_root`,
guarded by a `bpf_spin_lock`), share them (`bpf_refcount`) and must free every one
(`bpf_obj_drop`). The verifier tracks each owning reference by its `ref_obj_id` and refuses
a program that can leak one, use it after release or touch a collection without its lock.

This notebook looks at the sample programs of `data/programs` through bpfkit's ownership
model: the type-level ownership graph, the allocation sites and where each reference goes,
the static prediction beside the kernel's real verdict, and the kernel's two-stage lookup of
a kptr's type.
"""),
    code(SETUP),
    code("""
import matplotlib.pyplot as plt

from bpfkit.btf import load_vmlinux
from bpfkit.kernel import expected_frame, manifest_frame, read_manifest
from bpfkit.ownership import analyze, resolve_kptr
from bpfkit.plot import use_style
from bpfkit.plot.ownership import plot_flow_sankey, plot_ownership_graph

use_style("paper")
objects = sorted(PROGRAMS.glob("*.bpf.o"))
[o.name for o in objects]
"""),
    md("""
## The type-level ownership graph

Who may own what: a map value or a global section holding a `bpf_list_head __contains(job,
node)` owns `job`s; an allocated `batch` with its own list owns `job`s too. The model reads
the special fields exactly as the kernel's `btf_parse_fields()` would.
"""),
    code("""
model = analyze(PROGRAMS / "list.bpf.o")
print(model.summary().splitlines()[0])
model.containers
"""),
    code("""
model.fields[["container", "container_kind", "kind", "offset", "size", "contains_type",
              "contains_field"]]
"""),
    code("""
ax = plot_ownership_graph(model.graph, title="list.bpf.o: who owns what")
"""),
    md("""
## Allocation sites and where each reference goes

The static analysis walks every path of a program, like the verifier, and records each
allocation or acquire (a *site*) and what finally happens to that reference (a *sink*:
dropped, released, pushed into a collection, exchanged into a map, or leaked at exit).
"""),
    code("""
model.sites()
"""),
    code("""
flows = model.flows()
flows
"""),
    code("""
ax = plot_flow_sankey(model.flows("nested_batch_list_ok"), title="nested_batch_list_ok")
"""),
    md("""
## Predicted verdicts beside the kernel's

`data/logs/MANIFEST.tsv` holds what the Linux 6.18 verifier really said about every sample
program, captured with libbpf. The static prediction comes from the object alone, without a
kernel. Where they disagree, the model is wrong (the kernel is the oracle).
"""),
    code("""
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
"""),
    code("""
both[both["verdict"] == "reject"][["program", "mistake", "error"]].reset_index(drop=True)
"""),
    md("""
Each sample program was written to make one mistake (or none); `EXPECTED.tsv` says which.
The mistake kinds the model names should be the ones the programs were written with.
"""),
    code("""
expected = expected_frame()[["object", "program", "mistake", "expected_verdict"]]
check = expected.merge(predicted, on=["object", "program"], suffixes=("_expected", "_found"))
print((check["mistake_expected"] == check["mistake_found"]).sum(), "of", len(check),
      "mistake kinds match")
check[check["mistake_expected"] != check["mistake_found"]]
"""),
    md("""
## The two-stage kptr lookup

For a `struct foo __kptr *p` field the kernel looks `foo` up in its own BTF first (vmlinux
and modules) and only then in the program's BTF (`btf_parse_kptr()`). So a `task_struct`
kptr is the kernel's task, while `session` is a program-allocated type. A program that
defines a struct under a kernel name gets the kernel's type, whatever it wrote.
"""),
    code("""
vmlinux = load_vmlinux()
stash = analyze(PROGRAMS / "kptr_stash.bpf.o")
kptrs = stash.fields[stash.fields["kind"].str.contains("kptr")][
    ["container", "container_kind", "source", "kind", "kptr_type", "resolved_in"]]
kptrs = kptrs.assign(lookup=[resolve_kptr(t, stash.obj.btf, vmlinux) for t in kptrs["kptr_type"]])
kptrs
"""),
    md("""
## Live: ask the running kernel (optional)

With `BPFKIT_LIVE=1` (root, `bpf()` allowed) this loads every program of `list.bpf.o` into
the running kernel and compares the verdicts with the ones captured in `data/`.
"""),
    code("""
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
"""),
]

NB03 = [
    md("""
# 03 · Verifier states

The verifier explores every path of a program, printing the state of each register after
each instruction (level 1 prints states at branches, level 2 after every instruction). bpfkit
parses those logs into tables; this notebook follows the state evolution of a few programs,
explains why a rejected program fails, finds where the verifier spends its effort and
compares two logs.
"""),
    code(SETUP),
    code("""
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
"""),
    md("""
## A leak, as the verifier saw it

`obj_new_leak_on_short_packet` allocates an object and drops it only when the packet is long
enough. The verifier explores both branches; on the short one the reference is still held
(`refs=`) at `exit`.
"""),
    code("""
leak = log_of("obj_new_leak_on_short_packet")
leak
"""),
    code("""
print(leak.verdict, "|", leak.error)
leak.stats
"""),
    code("""
leak.steps.head(12)
"""),
    code("""
regs = leak.registers
regs[regs["ref_obj_id"].fillna(0).astype(int) > 0][
    ["step", "insn_idx", "reg", "type", "btf_type", "flags", "ref_obj_id", "raw"]].head(12)
"""),
    code("""
ax = plot_register_lanes(leak)
"""),
    md("""
## Why a rejected program fails

`explain_error` puts the error in context: the failing instruction with its C line, the
instructions the verifier walked right before it with their register states, and the leaked
reference with the instruction that acquired it (from the kernel's own
`Unreleased reference id=N alloc_insn=M`).
"""),
    code("""
ctx = explain_error(leak)
print(f"failed at insn {ctx.insn_idx}: {ctx.asm}   ({ctx.src}: {ctx.src_text})")
ctx  # rendered as in the report: the path switch, the states, the leaked reference
"""),
    code("""
pd.DataFrame([{"ref_obj_id": l.ref_obj_id, "acquired at": l.alloc_insn, "insn": l.asm,
               "source": l.src, "C": l.src_text} for l in ctx.leaks])
"""),
    code("""
fig = plot_references(leak)
"""),
    md("""
A use-after-release is different: the reference was dropped, and the register that held it
became a `scalar`. The last states before the error show the moment it happened.
"""),
    code("""
uar = log_of("list_pop_use_after_drop")
ctx = explain_error(uar, before=4)
print(ctx.error)
pd.DataFrame([{"insn": c.insn_idx, "asm": c.asm, "C": c.src_text, "registers": c.registers}
              for c in ctx.preceding])
"""),
    md("""
## Where the verifier spends its effort

Loops multiply the work: `map_list_drain_loop_ok` pops and drops up to 16 elements, and the
verifier walks the loop body once per iteration. Visits per instruction show the hot spots.
"""),
    code("""
drain = log_of("map_list_drain_loop_ok")
vc = visit_counts(drain)
print(drain.stats.insns_processed, "insns processed over", len(vc), "instructions")
vc.sort_values("visits", ascending=False).head(8)
"""),
    code("""
fig = plot_effort(drain)
"""),
    md("""
## Comparing two logs

Two programs that do nearly the same thing: the tree with and without a loop. Like
`veristat -C`, the table shows how much more work the loop costs the verifier.
"""),
    code("""
a, b = log_of("rbtree_add_first_remove_ok"), log_of("rbtree_fill_loop_ok")
compare_stats(a, b)
"""),
    code("""
fig = plot_compare(a, b, labels=("add_first_remove", "fill_loop"))
"""),
    md("""
## Live: the same program, verified again (optional)

With `BPFKIT_LIVE=1` (root, `bpf()` allowed) this loads `obj_new_leak_on_short_packet` into
the running kernel at log level 2 and parses the fresh log beside the captured one: on the
same kernel the states are the same; on another kernel the table shows what changed.
"""),
    code("""
if LIVE:
    from bpfkit.kernel import load_programs
    from bpfkit.verifier import parse_log

    (res,) = load_programs(PROGRAMS / "alloc.bpf.o", "obj_new_leak_on_short_packet", log_level=2)
    (fresh,) = parse_log(res.log, name=res.program)
    display(compare_stats(leak, fresh))
else:
    print("BPFKIT_LIVE is not set: using the logs captured in data/ only")
"""),
    md("""
## Across all programs

Processed instructions and explored states per program, from the logs captured in `data/`:
the accepted loop programs dominate; rejected programs stop early.
"""),
    code("""
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for verdict, marker in (("accept", "o"), ("reject", "x")):
    sel = manifest[manifest["verdict"] == verdict]
    ax.scatter(sel["insns_processed"], sel["total_states"], marker=marker, label=verdict)
ax.set_xscale("log"); ax.set_yscale("symlog")
ax.set_xlabel("instructions processed"); ax.set_ylabel("total states")
# beside the axes: inside, a legend would hide the program plotted under it
_ = ax.legend(title="kernel", loc="upper left", bbox_to_anchor=(1.01, 1.0))
"""),
]

NB04 = [
    md("""
# 04 · Talk figures

The figures a talk about program-allocated objects would show, in the `talk` style (large
fonts, colorblind-safe palette with hatches so they survive a projector and grayscale),
written as SVG and PDF to `$BPFKIT_OUTPUT_DIR` (default `build/figures`).
"""),
    code(SETUP),
    code("""
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
"""),
    md("""
## 1. Who owns what

A list head in a map value, in a global section and inside an allocated object: each edge is
an ownership the verifier will enforce.
"""),
    code("""
ax = plot_ownership_graph(analyze(PROGRAMS / "list.bpf.o").graph,
                          title="Ownership in list.bpf.o")
save(ax.figure, "01-ownership-graph")
"""),
    md("""
## 2. Where references go

From each allocation site to its sink, band width = explored paths.
"""),
    code("""
model = analyze(PROGRAMS / "refcount.bpf.o")
ax = plot_flow_sankey(model.flows("refcount_tree_and_list_ok"),
                      title="refcount_tree_and_list_ok: one object, two owners")
save(ax.figure, "02-flows")
"""),
    md("""
## 3. A leak on one path

The register lanes of the rejected program: the owning pointer lives on, the short-packet
path reaches `exit` still holding it.
"""),
    code("""
leak = log_of("obj_new_leak_on_short_packet")
ax = plot_register_lanes(leak)
save(ax.figure, "03-leak-lanes")
fig = plot_references(leak)
save(fig, "04-leak-references")
"""),
    md("""
## 4. What a loop costs the verifier
"""),
    code("""
fig = plot_effort(log_of("map_list_drain_loop_ok"))
save(fig, "05-loop-effort")
fig = plot_compare(log_of("rbtree_add_first_remove_ok"), log_of("rbtree_fill_loop_ok"),
                   labels=("no loop", "fill loop"))
save(fig, "06-loop-compare")
"""),
    md("""
## 5. Prediction versus the kernel

How often the static ownership analysis agrees with the Linux 6.18 verifier on the sample
programs, per object.
"""),
    code("""
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
"""),
    code("""
sorted(p.name for p in written)
"""),
]


def write(name: str, cells: list[object]) -> None:
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating gives the same file
        cell["id"] = f"{name[:2]}-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = HERE / f"{name}.ipynb"
    nbformat.write(nb, path)


def main() -> None:
    write("01-btf-type-graph", NB01)
    write("02-ownership", NB02)
    write("03-verifier-states", NB03)
    write("04-talk-figures", NB04)


if __name__ == "__main__":
    main()
