"""Command-line group for :mod:`bpfkit.btf`: ``bpfkit btf dump|graph|layout``.

``bpfkit btf dump FILE [--base BASE] [--format raw|c|json] [--type NAME]`` prints a BTF
blob (raw BTF, ``.gz``/``.xz``, ``/sys/kernel/btf/*`` or a BPF ELF object). ``raw`` is
byte-for-byte what ``bpftool btf dump file FILE format raw`` prints; ``c`` is
:func:`bpfkit.btf.cformat.format_c`; ``json`` is :func:`bpfkit.btf.raw.format_json`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``btf`` command group to the bpfkit parser."""
    btf = subparsers.add_parser("btf", help="read BTF: dump types, type graph, struct layout")
    sub = btf.add_subparsers(dest="btf_command", metavar="SUBCOMMAND")

    dump = sub.add_parser("dump", help="print the types of a BTF blob or BPF object")
    dump.add_argument("file", help="raw BTF (.gz/.xz ok), /sys/kernel/btf/*, or a BPF ELF object")
    dump.add_argument("--base", "-B", help="base BTF of a split BTF (e.g. vmlinux for a module)")
    dump.add_argument(
        "--format",
        choices=("raw", "c", "json"),
        default="raw",
        help="raw: like `bpftool btf dump ... format raw` (default); c: C header; json",
    )
    dump.add_argument(
        "--type",
        action="append",
        metavar="NAME",
        help="only this named type (repeatable)",
    )
    dump.set_defaults(func=_dump)

    # --- graph / layout subcommands: added by the "BTF C/layout/graph" engineer below. ---
    # (keep `sub` as the subparsers object; call e.g. `_register_graph(sub)` here)
    _register_graph_layout(sub)
    # --- end of graph / layout subcommands ---

    btf.set_defaults(func=lambda args: _usage(btf))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _load(args: argparse.Namespace) -> Any:
    from bpfkit.btf.spec import load_btf

    base = load_btf(args.base) if args.base else None
    return load_btf(args.file, base=base)


def _dump(args: argparse.Namespace) -> int:
    spec = _load(args)
    out = sys.stdout
    if args.format == "c":
        try:
            from bpfkit.btf.cformat import format_c  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            print(f"bpfkit: error: --format c is not available: {exc}", file=sys.stderr)
            return 2
        out.write(format_c(spec, names=args.type or None))
        return 0
    if args.format == "json":
        from bpfkit.btf.raw import format_json

        out.write(format_json(spec, names=args.type or None))
        return 0
    from bpfkit.btf.raw import iter_raw_chunks

    ids = None
    if args.type:
        ids = [t.id for name in args.type for t in spec.find(name)]
    chunks = iter_raw_chunks(spec, ids=ids)
    if not hasattr(out, "buffer"):  # e.g. a StringIO
        out.writelines(chunks)
        return 0
    out.flush()
    for chunk in chunks:  # one encode and write per few thousand types
        out.buffer.write(chunk.encode("utf-8", "surrogateescape"))
    return 0


# --- graph / layout (bpfkit.btf.graph, bpfkit.btf.layout) ---


def _register_graph_layout(sub: Any) -> None:
    graph = sub.add_parser("graph", help="write the type graph as GraphML or GEXF")
    graph.add_argument("file", help="raw BTF (.gz/.xz ok), /sys/kernel/btf/*, or a BPF ELF object")
    graph.add_argument("--base", "-B", help="base BTF of a split BTF")
    graph.add_argument(
        "--root",
        action="append",
        metavar="NAME",
        help="keep what is reachable from NAME (repeatable)",
    )
    graph.add_argument("--depth", type=int, help="with --root: at most N edges from a root")
    graph.add_argument(
        "--fold", action="store_true", help="fold typedef/qualifier chains into edges"
    )
    graph.add_argument(
        "--aggregates", action="store_true", help="only structs/unions, embeds/points_to edges"
    )
    graph.add_argument("-o", "--output", required=True, help="OUT.graphml or OUT.gexf")
    graph.set_defaults(func=_graph)

    layout = sub.add_parser("layout", help="pahole-style layout of a struct or union")
    layout.add_argument("file", help="raw BTF (.gz/.xz ok), /sys/kernel/btf/*, or a BPF ELF object")
    layout.add_argument("--base", "-B", help="base BTF of a split BTF")
    layout.add_argument(
        "--type", required=True, action="append", metavar="NAME", help="struct/union (repeatable)"
    )
    layout.set_defaults(func=_layout)


def _graph(args: argparse.Namespace) -> int:
    from bpfkit.btf.graph import type_graph, write_graph

    spec = _load(args)
    G = type_graph(
        spec,
        roots=args.root,
        depth=args.depth,
        fold_modifiers=args.fold,
        aggregates_only=args.aggregates,
    )
    write_graph(G, args.output)
    print(
        f"{args.output}: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges", file=sys.stderr
    )
    return 0


def _layout(args: argparse.Namespace) -> int:
    from bpfkit.btf.layout import format_layout, struct_layout

    spec = _load(args)
    texts = [format_layout(struct_layout(spec, name), spec) for name in args.type]
    sys.stdout.write("\n\n".join(texts) + "\n")
    return 0
