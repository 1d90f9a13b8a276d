"""Each reference's life as the verifier saw it, from a parsed verifier log.

The verifier prints, with every state, the references the program holds (``refs=2,3``) and,
for each register and spilled stack slot, the ``ref_obj_id`` it carries. Reading those along
each explored path (:attr:`bpfkit.verifier.Log.steps` ``path``) gives the events of every
reference:

``acquire``
    a new ``ref_obj_id`` appears; ``insn_idx`` is the instruction that created it (the call
    printed just before a state line ``N: R0=... refs=...``), ``detail`` the call's name.
``inherited``
    a reference first seen on a path that did not acquire it (a callback verified inside
    ``bpf_rbtree_add``, a log that starts mid-way).
``copy``
    another register or stack slot starts to hold it (``detail``: ``r6``, ``fp-8``).
``non_owning``
    a register or stack slot that held the reference holds a non-owning one after the
    reference was handed to a collection (push / add).
``invalidated``
    ``bpf_spin_unlock`` ends a non-owning reference (``detail``: the register or slot), which
    from then on holds a scalar: reading through it is the "non-owning use after unlock".
``transfer`` / ``release``
    the reference leaves ``refs=`` at a call: into a collection or map field
    (``sink`` ``list_push``, ``rbtree_add``, ``kptr_xchg``) or released (``drop``, ``release``).
``null``
    the reference is gone at the start of a branch (``from X to Y``): the NULL side of a
    ``ptr_or_null`` check, where the verifier forgets the failed acquisition.
``unreleased``
    ``Unreleased reference id=N alloc_insn=M``: the verifier's leak report.
``held_at_end``
    the path ended (pruned, or stopped by another error) with the reference still held.

:func:`events_frame` returns them as a DataFrame and :func:`flow_graph` as a networkx graph
from allocation sites to sinks, each edge counting the paths that took it.

Examples
--------
>>> from bpfkit.verifier import parse_log
>>> text = '''0: R1=ctx() R10=fp0
... 0: (85) call bpf_obj_new_impl#1
... 1: R0=ptr_or_null_foo(id=2,ref_obj_id=2) refs=2
... 1: (bf) r6 = r0                      ; R6=ptr_or_null_foo(id=2,ref_obj_id=2) refs=2
... 2: (95) exit
... Unreleased reference id=2 alloc_insn=0
... BPF_EXIT instruction in main prog would lead to reference leak
... '''
>>> ev = events_frame(parse_log(text)[0])
>>> list(zip(ev["event"], ev["insn_idx"], ev["ref_obj_id"]))
[('acquire', 0, 2), ('copy', 1, 2), ('unreleased', 2, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfkit.ownership.kfuncs import semantics

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from bpfkit.verifier import Log

__all__ = [
    "RefEvent",
    "EVENT_KINDS",
    "SINK_KINDS",
    "ref_events",
    "events_frame",
    "lifetimes_frame",
    "flow_graph",
    "sink_of_call",
    "unreleased_refs",
    "NonOwningView",
    "non_owning_views",
    "non_owning_frame",
]

#: Event kinds, in the order a reference lives through them.
EVENT_KINDS = (
    "acquire",
    "inherited",
    "copy",
    "non_owning",
    "invalidated",
    "transfer",
    "release",
    "null",
    "unreleased",
    "held_at_end",
)
#: Sink kinds (shared with the static flow): where a reference ends.
SINK_KINDS = (
    "drop",
    "release",
    "kptr_xchg",
    "list_push",
    "rbtree_add",
    "exit_leak",
    "null",
    "held_at_end",
    "other",
)

_CALL_RE = re.compile(r"call ([A-Za-z_][\w.]*)")
_UNRELEASED_RE = re.compile(r"Unreleased reference id=(\d+),? alloc_insn=(\d+)")
_REF_IN_SLOT = re.compile(r"ref_obj_id=(\d+)")
_LOCK_CALLS = frozenset({"bpf_spin_lock", "bpf_res_spin_lock", "bpf_res_spin_lock_irqsave"})
_REFS_RE = re.compile(r"\brefs=(\d+(?:,\d+)*)")


class RefEvent(NamedTuple):
    """One event in a reference's life (a row of :func:`events_frame`)."""

    path: int
    step: int
    line: int
    insn_idx: int
    ref_obj_id: int
    event: str
    sink: str | None
    detail: str | None
    btf_type: str | None
    src_line: int | None


def sink_of_call(name: str | None) -> str:
    """The sink kind of a call that ends a reference: ``drop``, ``release``, ``kptr_xchg``,
    ``list_push``, ``rbtree_add`` or ``other``.

    Examples
    --------
    >>> sink_of_call("bpf_obj_drop_impl"), sink_of_call("bpf_list_push_back_impl")
    ('drop', 'list_push')
    >>> sink_of_call("bpf_kptr_xchg"), sink_of_call("bpf_task_release")
    ('kptr_xchg', 'release')
    """
    if not name:
        return "other"
    base = name.split("#", 1)[0]
    if base == "bpf_kptr_xchg":
        return "kptr_xchg"
    if base.startswith("bpf_list_push"):
        return "list_push"
    if base.startswith("bpf_rbtree_add"):
        return "rbtree_add"
    if "obj_drop" in base:
        return "drop"
    sem = semantics(base)
    if (
        (sem is not None and sem.release)
        or "release" in base
        or base
        in (
            "bpf_ringbuf_submit",
            "bpf_ringbuf_discard",
        )
    ):
        return "release"
    return "other"


def unreleased_refs(log: Log) -> list[tuple[int, int]]:
    """``(ref id, alloc_insn)`` of each ``Unreleased reference`` line of *log*."""
    return [(int(m.group(1)), int(m.group(2))) for m in _UNRELEASED_RE.finditer(log.error or "")]


def _int(v: Any) -> int | None:
    try:
        if v is None or v != v:  # NaN / NA
            return None
        return int(v)
    except (TypeError, ValueError):
        return None


class _Ctx:
    """Per-log lookups: line kinds and texts, call name and source line per instruction."""

    def __init__(self, log: Log) -> None:
        lines = log.lines
        self.kind: dict[int, str] = dict(
            zip(lines["line"].tolist(), lines["kind"].tolist(), strict=False)
        )
        self.text: dict[int, str] = dict(
            zip(lines["line"].tolist(), lines["text"].tolist(), strict=False)
        )
        ins = log.instructions
        self.call: dict[int, str] = {}
        self.src: dict[int, int | None] = {}
        self.jump: set[int] = set()
        for idx, asm, src in zip(
            ins["insn_idx"].tolist(), ins["asm"].tolist(), ins["src_line"].tolist(), strict=False
        ):
            i = _int(idx)
            if i is None:
                continue
            if str(asm or "").startswith("if "):
                self.jump.add(i)
            m = _CALL_RE.search(str(asm or ""))
            if m:
                self.call[i] = m.group(1).split("#", 1)[0]
            self.src[i] = _int(src)


class _Obs(NamedTuple):
    line: int
    step: int
    insn: int
    path: int


def _observations(log: Log) -> list[_Obs]:
    """Every line that shows a state or an instruction, with its step, insn and path."""
    import bisect

    path_of = dict(zip(log.steps["step"].tolist(), log.steps["path"].tolist(), strict=False))
    # a state line printed just before a `from X to Y:` line belongs to the path it ends, even
    # when it carries the step number of the next instruction: paths are counted by lines
    branch_lines = (
        sorted(int(x) for x in log.branches["line"].tolist()) if len(log.branches) else []
    )
    seen: dict[int, _Obs] = {}
    for frame in (log.steps, log.refs, log.registers, log.stack):
        if not len(frame):
            continue
        for step, line, insn in zip(
            frame["step"].tolist(), frame["line"].tolist(), frame["insn_idx"].tolist(), strict=False
        ):
            ln, st, ii = _int(line), _int(step), _int(insn)
            if ln is None or st is None or ii is None or ln in seen:
                continue
            path = (
                bisect.bisect_right(branch_lines, ln) if branch_lines else int(path_of.get(st, 0))
            )
            seen[ln] = _Obs(ln, st, ii, path)
    return [seen[k] for k in sorted(seen)]


def _arg_reg(call: str | None) -> str | None:
    """The register whose reference a sink call consumes."""
    if not call:
        return None
    sem = semantics(call)
    if sem is not None and sem.release_arg is not None:
        return f"r{sem.release_arg + 1}"
    if call == "bpf_kptr_xchg":
        return "r2"
    return "r1"


def ref_events(log: Log) -> list[RefEvent]:
    """Every reference event of *log*, in verification order (see the module docstring).

    The kernel prints ``refs=`` only when the first entry of its reference table is a pointer
    reference: while a ``bpf_spin_lock`` taken before any reference is held, nothing is printed
    (Linux 6.13+, where locks share the table). So the set of held references is read from
    ``refs=`` when it is printed or no lock is held, and otherwise followed through the
    registers and stack slots that carry a ``ref_obj_id`` and the calls that consume them.
    """
    if not _has_references(log):
        return []
    ctx = _Ctx(log)
    refs_by_line: dict[int, set[int]] = {}
    for line, rid in zip(log.refs["line"].tolist(), log.refs["ref_obj_id"].tolist(), strict=False):
        r = _int(rid)
        if r is not None and r > 0:
            refs_by_line.setdefault(int(line), set()).add(r)
    slots_by_line: dict[int, list[tuple[str, int | None, bool, str | None]]] = {}
    regs = log.registers
    if len(regs):
        for line, reg, rid, nonown, btf in zip(
            regs["line"].tolist(),
            regs["reg"].tolist(),
            regs["ref_obj_id"].tolist(),
            regs["non_own_ref"].tolist(),
            regs["btf_type"].tolist(),
            strict=False,
        ):
            slots_by_line.setdefault(int(line), []).append(
                (f"r{int(reg)}", _int(rid), bool(nonown), btf if isinstance(btf, str) else None)
            )
    stack = log.stack
    if len(stack):
        for line, off, spilled in zip(
            stack["line"].tolist(), stack["off"].tolist(), stack["spilled"].tolist(), strict=False
        ):
            m = _REF_IN_SLOT.search(str(spilled or ""))
            slots_by_line.setdefault(int(line), []).append(
                (f"fp{int(off)}", int(m.group(1)) if m else None, False, None)
            )

    events: list[RefEvent] = []
    types: dict[int, str | None] = {}
    held: set[int] = set()
    where: dict[str, int] = {}  # register/slot -> ref id it holds
    locked = False
    # per instruction, the latest (refs, slot map, locked) seen: the parent of a branch
    at_insn: dict[int, tuple[set[int], dict[str, int], bool]] = {}
    cur_path = -1
    prev: _Obs | None = None

    def emit(
        o: _Obs, insn: int, rid: int, event: str, sink: str | None = None, detail: str | None = None
    ) -> None:
        events.append(
            RefEvent(
                o.path,
                o.step,
                o.line,
                insn,
                rid,
                event,
                sink,
                detail,
                types.get(rid),
                ctx.src.get(insn),
            )
        )

    def end(o: _Obs, insn: int, rid: int, call: str | None) -> None:
        sink = sink_of_call(call)
        event = "transfer" if sink in ("list_push", "rbtree_add", "kptr_xchg") else "release"
        if call is None and insn in ctx.jump:  # the NULL side of a check, on the same path
            event, sink = "null", "null"
        emit(o, insn, rid, event, sink, call)
        holders = [k for k, v in where.items() if v == rid]
        if sink in ("list_push", "rbtree_add"):
            # ref_convert_owning_non_owning(): every register and slot that held the owning
            # reference now holds a non-owning one, valid until bpf_spin_unlock
            printed = {
                reg
                for reg, _r, non_own, btf in slots_by_line.get(o.line, [])
                if non_own and (btf is None or btf == types.get(rid))
            }
            for reg in sorted(set(holders) | printed):
                emit(o, insn, rid, "non_owning", sink, reg)
                non_own[reg] = rid
        held.discard(rid)
        for k in holders:
            del where[k]

    prev_kind = ""
    branch_insn = -1
    branches = _Branches(log)
    lock_ids: set[int] = set()
    non_own: dict[str, int] = {}  # register/slot -> the reference it was a non-owning view of
    non_own_at: dict[int, dict[str, int]] = {}
    for o in _observations(log):
        kind = ctx.kind.get(o.line, "")
        text = str(ctx.text.get(o.line, ""))
        if o.path != cur_path:
            if cur_path >= 0 and prev is not None:
                for rid in sorted(held):
                    emit(prev, prev.insn, rid, "held_at_end", "held_at_end")
            branch_insn = branches.before(o.line)
            # no `from X to Y` line (level-1 logs print the jump's state inline): the path
            # continues the state it branched from, which is the current one
            parent = at_insn.get(branch_insn, (set(held), dict(where), locked))
            cur_path = o.path
            held, where, locked = set(parent[0]), dict(parent[1]), parent[2]
            non_own = dict(non_own_at.get(branch_insn, non_own))
            prev = None
            prev_kind = ""
            # the references this path starts with (those still live after this line)
            starting = set(held)
            if kind in ("state", "insn_state", "branch") and (_REFS_RE.search(text) or not locked):
                starting &= set(refs_by_line.get(o.line, set())) | {
                    int(x) for m in _REFS_RE.findall(text) for x in m.split(",") if x
                }
            for rid in sorted(starting - lock_ids):
                emit(o, o.insn, rid, "inherited", None, f"from insn {branch_insn}")
        # the instruction whose effect this line shows: a state line before insn N shows the
        # effect of the previous instruction of the path (unless that one printed its own)
        before_line = kind in ("state", "branch")
        effect = prev.insn if (before_line and prev is not None) else o.insn
        fresh = not (before_line and (prev is None or prev_kind == "insn_state"))
        call = ctx.call.get(effect) if fresh else None
        if kind in ("state", "insn_state", "branch"):
            before = dict(where)
            slots = slots_by_line.get(o.line, [])
            if call is not None or kind == "branch":
                for scratch in ("r0", "r1", "r2", "r3", "r4", "r5"):
                    where.pop(scratch, None)
            if kind == "branch":
                where = {}
            for reg, rid, _non_own, btf in slots:
                if rid is not None and rid > 0:
                    if btf and rid not in types:
                        types[rid] = btf
                    where[reg] = rid
                else:
                    where.pop(reg, None)
            # the fall-through NULL side of `if rX != 0`: the checked register is printed as 0
            if kind == "insn_state" and o.insn in ctx.jump:
                for reg, rid, _n, _b in slots:
                    old = before.get(reg)
                    if not rid and old is not None and old in held:
                        emit(o, o.insn, old, "null", "null", "NULL branch")
                        held.discard(old)
                        for k in [k for k, v in where.items() if v == old]:
                            del where[k]
            printed_refs = _REFS_RE.findall(text)
            printed = bool(printed_refs)
            if printed or not locked:
                now = set(refs_by_line.get(o.line, set()))
                if printed:  # the last state printed on the line (an inline jump state wins)
                    now |= {int(x) for x in printed_refs[-1].split(",") if x}
            else:
                now = held | set(where.values())
            # a lock is an entry of the same table: `refs=3,1` after bpf_spin_lock on a map
            # value with id=1 (Linux 6.13+); it is not an object reference
            if call in _LOCK_CALLS:
                lock_ids.update(now - held)
            now -= lock_ids
            # a sink call consumed the reference in its argument register
            if call is not None and sink_of_call(call) != "other":
                rid_in = before.get(_arg_reg(call) or "")
                if rid_in is not None and rid_in in held and not (printed and rid_in in now):
                    end(o, effect, rid_in, call)
                    now.discard(rid_in)
            for rid in sorted(now - held):
                # without a call, the reference was already held where this path starts (e.g.
                # a callback verified inside bpf_rbtree_add): inherited, not acquired here
                emit(o, effect, rid, "acquire" if call is not None else "inherited", None, call)
                held.add(rid)
            for rid in sorted(held - now):
                if kind == "branch":
                    emit(
                        o,
                        branch_insn if branch_insn >= 0 else effect,
                        rid,
                        "null",
                        "null",
                        "NULL branch",
                    )
                    held.discard(rid)
                else:
                    end(o, effect, rid, call)
            # copies: a register or slot newly holding a held reference
            if kind != "branch":
                for reg, rid, _non_own, _btf in slots:
                    if rid is None or rid not in held or before.get(reg) == rid:
                        continue
                    if reg == "r0" and call is not None:
                        continue  # the call's own result: the acquisition
                    emit(o, o.insn, rid, "copy", None, reg)
        if call in ("bpf_spin_lock", "bpf_res_spin_lock"):
            locked = True
        elif call in ("bpf_spin_unlock", "bpf_res_spin_unlock"):
            locked = False
            # invalidate_non_owning_refs(): the non-owning references die with the lock
            for reg, rid in sorted(non_own.items()):
                emit(o, effect, rid, "invalidated", None, reg)
            non_own = {}
        elif kind in ("state", "insn_state"):
            for reg, _rid, is_non_own, _btf in slots_by_line.get(o.line, []):
                if not is_non_own and reg in non_own and (call is None or reg[1:] > "5"):
                    del non_own[reg]  # overwritten
        at_insn[o.insn] = (set(held), dict(where), locked)
        non_own_at[o.insn] = dict(non_own)
        prev = o
        prev_kind = kind
    # end of the log: a leak report, or the last path's references still held
    leaks = unreleased_refs(log)
    end_insn = _int(log.error_insn)
    last = prev or _Obs(0, 0, 0, max(cur_path, 0))
    if end_insn is None:
        end_insn = last.insn
    leaked = set()
    acquired = {e.ref_obj_id for e in events if e.event == "acquire"}
    for rid, alloc in leaks:
        leaked.add(rid)
        if rid not in acquired:  # a log without states: the leak report is all there is
            call = ctx.call.get(alloc)
            events.append(
                RefEvent(
                    last.path,
                    last.step,
                    _error_line(log),
                    alloc,
                    rid,
                    "acquire",
                    None,
                    call,
                    types.get(rid),
                    ctx.src.get(alloc),
                )
            )
        events.append(
            RefEvent(
                last.path,
                last.step,
                _error_line(log),
                end_insn,
                rid,
                "unreleased",
                "exit_leak",
                f"alloc_insn={alloc}",
                types.get(rid),
                ctx.src.get(end_insn),
            )
        )
    for rid in sorted(held - leaked):
        emit(last, end_insn, rid, "held_at_end", "held_at_end")
    return events


def _has_references(log: Log) -> bool:
    """Whether the log shows any reference at all (fast exit for the many logs without)."""
    if unreleased_refs(log) or len(log.refs):
        return True
    regs = log.registers
    if len(regs) and bool((regs["ref_obj_id"].fillna(0) > 0).any()):
        return True
    stack = log.stack
    return bool(len(stack)) and bool(
        stack["spilled"].astype(str).str.contains("ref_obj_id=", regex=False).any()
    )


class _Branches:
    """``from X to Y`` lines in log order, for finding the branch a path starts from."""

    def __init__(self, log: Log) -> None:
        br = log.branches
        pairs = (
            sorted(
                (int(ln), v)
                for ln, x in zip(br["line"].tolist(), br["from_insn"].tolist(), strict=False)
                if (v := _int(x)) is not None
            )
            if len(br)
            else []
        )
        self.lines = [p[0] for p in pairs]
        self.from_insn = [p[1] for p in pairs]

    def before(self, line: int) -> int:
        """X of the last ``from X to Y`` line at or before *line* (-1 if none)."""
        import bisect

        k = bisect.bisect_right(self.lines, line)
        return self.from_insn[k - 1] if k else -1


def _last_step(log: Log) -> int:
    st = log.steps
    return int(st["step"].iloc[-1]) if len(st) else 0


def _error_line(log: Log) -> int:
    lines = log.lines
    err = lines[lines["kind"] == "error"]
    return int(err["line"].iloc[0]) if len(err) else 0


def events_frame(log: Log) -> pd.DataFrame:
    """The reference events of *log* (columns of :class:`RefEvent`)."""
    import pandas as pd

    return pd.DataFrame.from_records(ref_events(log), columns=list(RefEvent._fields))


def lifetimes_frame(log: Log) -> pd.DataFrame:
    """One row per (path, reference): where it was acquired and where it ended.

    Columns: ``path, ref_obj_id, btf_type, site_insn, site, start_insn, end_insn, sink,
    end_detail``. ``site_insn`` / ``site`` are the acquiring call (possibly on an earlier
    path); ``start_insn`` is where this path starts holding it (the site, or the path's first
    instruction for an inherited reference).
    """
    import pandas as pd

    cols = [
        "path",
        "ref_obj_id",
        "btf_type",
        "site_insn",
        "site",
        "start_insn",
        "end_insn",
        "sink",
        "end_detail",
    ]
    return pd.DataFrame.from_records(_lifetimes(ref_events(log)), columns=cols)


_Lifetime = tuple[int, int, str | None, int, str | None, int, int, str, str | None]


def _lifetimes(events: Iterable[RefEvent]) -> list[_Lifetime]:
    acquired: dict[int, tuple[int, str | None]] = {}
    start_of_path: dict[tuple[int, int], int] = {}
    out: list[_Lifetime] = []
    ends = {"transfer", "release", "null", "unreleased", "held_at_end"}
    for ev in events:
        key = (ev.path, ev.ref_obj_id)
        if ev.event == "acquire":
            acquired.setdefault(ev.ref_obj_id, (ev.insn_idx, ev.detail))
            start_of_path[key] = ev.insn_idx
        elif ev.event == "inherited":
            start_of_path.setdefault(key, ev.insn_idx)
        elif ev.event in ends:
            site_insn, site = acquired.get(ev.ref_obj_id, (ev.insn_idx, None))
            start = start_of_path.pop(key, site_insn)
            out.append(
                (
                    ev.path,
                    ev.ref_obj_id,
                    ev.btf_type,
                    site_insn,
                    site,
                    start,
                    ev.insn_idx,
                    ev.sink or ev.event,
                    ev.detail,
                )
            )
    return out


def flow_graph(log: Log) -> nx.DiGraph:
    """Allocation sites to sinks, as the verifier explored them.

    Nodes are ``("site", insn_idx)`` (attributes ``kind="site"``, ``insn_idx``, ``call``,
    ``btf_type``, ``src_line``, ``label``) and ``("sink", sink_kind, insn_idx)`` (``kind="sink"``,
    ``sink``, ``insn_idx``, ``call``, ``label``); an edge's ``count`` is the number of
    (path, reference) lifetimes that went from that site to that sink, ``ref_obj_ids`` the
    reference ids.
    """
    import networkx as nx

    g = nx.DiGraph(name=str(log.name or "log"))
    events = ref_events(log)
    src_of = {ev.insn_idx: ev.src_line for ev in events}
    for _path, rid, btf, site_insn, site, _start, end_insn, sink, detail in _lifetimes(events):
        s = ("site", site_insn)
        if s not in g:
            g.add_node(
                s,
                kind="site",
                insn_idx=site_insn,
                call=site,
                btf_type=btf,
                src_line=src_of.get(site_insn),
                label=f"{site or '?'} @{site_insn}" + (f" ({btf})" if btf else ""),
            )
        t = ("sink", sink, end_insn)
        if t not in g:
            call = detail if sink not in ("exit_leak", "null", "held_at_end") else None
            g.add_node(
                t,
                kind="sink",
                sink=sink,
                insn_idx=end_insn,
                call=call,
                label=f"{sink} @{end_insn}" + (f" {call}" if call else ""),
            )
        if g.has_edge(s, t):
            g[s][t]["count"] += 1
            g[s][t]["ref_obj_ids"].add(rid)
        else:
            g.add_edge(s, t, count=1, ref_obj_ids={rid})
    return g


class NonOwningView(NamedTuple):
    """A register holding a non-owning reference, from where it appeared to where it ended
    (a row of :func:`non_owning_frame`)."""

    path: int
    reg: str
    btf_type: str | None
    start_insn: int
    source: str | None
    end_insn: int | None
    end: str


def non_owning_views(log: Log) -> list[NonOwningView]:
    """Registers that hold non-owning references (``non_own_ref``), per explored path.

    A view starts where a register is first printed with ``non_own_ref`` (``source``: the call
    that made it, e.g. ``bpf_rbtree_first``, or ``copy`` / ``push`` for a register that
    became one); it ends at ``bpf_spin_unlock`` (``end="unlock"``: from then on the register
    is a scalar, and reading through it is the "non-owning use after unlock"), when the
    register is overwritten or clobbered by a call (``"overwritten"``), or when the path ends
    (``"path_end"``).
    """
    ctx = _Ctx(log)
    regs = log.registers
    by_line: dict[int, list[tuple[str, bool, str | None]]] = {}
    if len(regs):
        for line, reg, nonown, btf in zip(
            regs["line"].tolist(),
            regs["reg"].tolist(),
            regs["non_own_ref"].tolist(),
            regs["btf_type"].tolist(),
            strict=False,
        ):
            by_line.setdefault(int(line), []).append(
                (f"r{int(reg)}", bool(nonown), btf if isinstance(btf, str) else None)
            )
    if not any(n for rows in by_line.values() for _, n, _ in rows):
        return []
    out: list[NonOwningView] = []
    live: dict[str, tuple[int, str | None, str | None]] = {}  # reg -> (start, source, btf)
    cur_path = -1
    prev: _Obs | None = None
    prev_kind = ""

    def close(path: int, reg: str, insn: int | None, how: str) -> None:
        start, source, btf = live.pop(reg)
        out.append(NonOwningView(path, reg, btf, start, source, insn, how))

    for o in _observations(log):
        kind = ctx.kind.get(o.line, "")
        if o.path != cur_path:
            if prev is not None:
                for reg in sorted(live):
                    close(cur_path, reg, prev.insn, "path_end")
            live = {}
            cur_path = o.path
            prev = None
            prev_kind = ""
        before_line = kind in ("state", "branch")
        effect = prev.insn if (before_line and prev is not None) else o.insn
        fresh = not (before_line and (prev is None or prev_kind == "insn_state"))
        call = ctx.call.get(effect) if fresh else None
        if call in ("bpf_spin_unlock", "bpf_res_spin_unlock"):
            for reg in sorted(live):
                close(o.path, reg, effect, "unlock")
        elif call is not None:
            for reg in sorted(r for r in live if r in ("r0", "r1", "r2", "r3", "r4", "r5")):
                close(o.path, reg, effect, "overwritten")
        for reg, nonown, btf in by_line.get(o.line, []):
            if nonown and reg not in live and kind != "branch":
                source = call if (call is not None and reg == "r0") else "copy"
                live[reg] = (effect if source != "copy" else o.insn, source, btf)
            elif nonown and reg not in live:
                live[reg] = (o.insn, "inherited", btf)
            elif not nonown and reg in live:
                close(o.path, reg, o.insn, "overwritten")
        prev = o
        prev_kind = kind
    if prev is not None:
        for reg in sorted(live):
            close(cur_path, reg, _int(log.error_insn) or prev.insn, "path_end")
    return out


def non_owning_frame(log: Log) -> pd.DataFrame:
    """:func:`non_owning_views` as a DataFrame (columns of :class:`NonOwningView`)."""
    import pandas as pd

    return pd.DataFrame.from_records(non_owning_views(log), columns=list(NonOwningView._fields))
