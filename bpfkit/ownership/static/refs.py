"""Reference rules: acquiring (``acquire_reference``), releasing (``release_reference``),
poisoning what a release leaves behind, and the leak check at exit (``check_reference_leak``),
as ``kernel/bpf/verifier.c`` does them; sites and flows are recorded on the way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit.btf.types import FuncProto, Struct
from bpfkit.ownership.kfuncs import ALLOC_KFUNCS, KfuncSemantics, semantics
from bpfkit.ownership.static.records import Mistake, Site
from bpfkit.ownership.static.rules import rule
from bpfkit.ownership.static.values import (
    RefInfo,
    State,
    Stop,
    Val,
)
from bpfkit.ownership.static_btf import struct_name

if TYPE_CHECKING:
    from bpfkit.obj.insn import Insn
    from bpfkit.ownership.static.engine import Interp

__all__ = [
    "mistake",
    "flow",
    "new_ref",
    "release",
    "release_mismatch",
    "poison",
    "acquire",
    "site_key",
    "add_site",
    "check_reference_leak",
]


def mistake(it: Interp, st: State, rule_name: str, message: str, *, stop: bool = True) -> None:
    """Record a finding of kernel rule ``rule_name`` at the current instruction; unless
    ``stop`` is False, the path ends there as the verifier's would."""
    prog = st.frame.prog
    r = rule(rule_name)
    if st.widened and r.kind != "leak":
        # past a widened loop head, bpfkit cannot tell a real mistake from its own imprecision
        it.an.unknown_reasons.append(
            f"{r.name} at {prog.name}+{st.idx} after a loop bpfkit followed only approximately"
            f" ({message})"
        )
        raise Stop
    it.an.mistakes.append(
        Mistake(
            r.kind,
            st.idx,
            it.line(prog, st.idx),
            message,
            prog.name,
            rule=r.name,
            func=prog.name,
            func_insn=st.idx,
            insn=it.layout.get(prog.name, 0) + st.idx,
        )
    )
    if stop:
        raise Stop


def flow(it: Interp, st: State, ref: int, sink: str, insn: int, target: str = "") -> None:
    info = it.an.ref_info.get(ref)
    if info is None:
        return
    key = (info.func, info.site, sink, st.frame.prog.name, insn, target)
    it.an.flows[key] = it.an.flows.get(key, 0) + 1


def new_ref(it: Interp, st: State, site: int, info: RefInfo) -> int:
    n = 0
    while ((site + 1) << 6 | n) in st.refs:
        n += 1
        if n == 64:
            it.an.unknown_reasons.append(
                f"more than 63 references from the site at insn {site & 0xFFFFF} held at once"
            )
            raise Stop
    rid = (site + 1) << 6 | n  # canonical per site, never 0 (0 means "no ref_obj_id")
    it.an.ref_info[rid] = info
    st.refs = st.refs | {rid}
    return rid


def release(it: Interp, st: State, insn: Insn, v: Val, name: str) -> None:
    if v.kind == "ref" and v.ref and v.owning:
        if v.maybe_null:
            it.mistake(st, "check_kfunc_args.null", f"{name} on a pointer that may be NULL")
        info = it.an.ref_info.get(v.ref)
        problem = it.release_mismatch(name, info) if info is not None else None
        if problem:
            it.mistake(st, "check_kfunc_args.release_type", problem)
        if v.ref not in st.refs:
            it.mistake(
                st,
                "release_reference.double_release",
                f"{name} releases a reference that is not held",
            )
        it.flow(st, v.ref, "drop" if "obj_drop" in name else "release", insn.idx, name)
        it.poison(st, v.ref)
        return
    if v.kind == "ref" and not v.owning:
        it.mistake(st, "check_kfunc_args.release_not_owning", f"{name} on a non-owning reference")
    if v.kind == "scalar":
        it.mistake(
            st,
            "check_kfunc_args.release_not_owning",
            f"{name} on a scalar, not a referenced pointer",
        )
    if v.kind in _REG_TYPE_NAMES and not name.startswith(("bpf_obj_", "bpf_percpu_obj_")):
        sem = semantics(name)
        if sem is not None and sem.kind == "helper":
            # check_reg_type: a helper's release argument is never a map value, stack,
            # context or packet pointer
            want = "ringbuf_mem" if "ringbuf" in name else "sock_common, sock, tcp_sock"
            it.mistake(
                st,
                "check_reg_type.release",
                f"R1 type={_REG_TYPE_NAMES[v.kind]} expected={want} ({name} releases only "
                "what was acquired)",
            )
    if v.kind not in ("released", "invalid"):
        it.an.unknown_reasons.append(f"{name} at insn {insn.idx} on an untracked value ({v.kind})")


#: ``reg_type_str`` of the pointer kinds bpfkit tracks that are never references
_REG_TYPE_NAMES = {"mapval": "map_value", "stack": "fp", "ctx": "ctx", "pkt": "pkt"}


def release_mismatch(it: Interp, name: str, info: RefInfo) -> str | None:
    """Why ``name`` cannot release this object (verifier.c checks the release argument's
    type against the kfunc's parameter), or None."""
    if name in ("bpf_obj_drop_impl", "bpf_percpu_obj_drop_impl"):
        if not info.program_allocated:
            return f"{name} on a kernel object ({info.type_name}) from {info.kfunc}"
        if info.percpu != (name == "bpf_percpu_obj_drop_impl"):
            what = "a per-CPU object" if info.percpu else "a plain allocated object"
            return f"{name} on {what} ({info.type_name})"
        return None
    if it.spec is None or info.type_name == "?":
        return None
    from bpfkit.btf.types import BTFKind, Func

    for f in it.spec.find(name, BTFKind.FUNC):
        proto = it.spec[f.type] if isinstance(f, Func) else None
        if isinstance(proto, FuncProto) and proto.params:
            want = struct_name(it.spec, proto.params[0].type)
            if want and not want.startswith(("void", "?")) and want != info.type_name:
                return f"{name} expects {want}, the reference is {info.type_name}"
    return None


def poison(it: Interp, st: State, rid: int) -> None:
    st.refs = st.refs - {rid}
    st.rewrite(lambda x: Val("released", ref=rid) if x.kind == "ref" and x.ref == rid else x)


def acquire(it: Interp, st: State, insn: Insn, sem: KfuncSemantics, args: list[Val]) -> Val:
    name = sem.name
    prog = st.frame.prog
    type_name, type_id, percpu, off, alloc = "?", 0, False, 0, True
    ret_null = sem.ret_null
    if name in ALLOC_KFUNCS:
        tid = args[0].type_id
        value = args[0].const if args[0].kind == "scalar" else None
        if not tid and value is not None:
            if value > 0xFFFFFFFF:
                # check_kfunc_call: the local type id argument is a u32
                it.mistake(
                    st,
                    "check_kfunc_call.obj_new_type_id_range",
                    "local type ID argument must be in range [0, U32_MAX]",
                )
            tid = value
        if tid and it.spec is not None and tid <= 0xFFFFFFFF:
            try:
                resolved = it.spec.resolve(tid)
                type_name = struct_name(it.spec, tid)
            except Exception:  # noqa: BLE001 - no such type in the program BTF
                resolved, type_name = None, ""
            type_id = tid
            if not isinstance(resolved, Struct):
                it.mistake(
                    st,
                    "check_kfunc_args.obj_new_type",
                    "bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct "
                    f"(type [{tid}] is {type_name or 'not a struct'})",
                )
        percpu = name == "bpf_percpu_obj_new_impl"
    elif sem.category == "collection":
        if name == "bpf_rbtree_remove":
            node = args[1]
            if node.kind in ("ptr", "mapval", "stack", "ctx", "pkt") and not (
                node.kind == "ptr" and node.trust == "rcu"
            ):
                # check_kfunc_args, KF_ARG_PTR_TO_RB_NODE: neither NON_OWN_REF nor ref_obj_id
                it.mistake(
                    st,
                    "check_kfunc_args.rbtree_remove_node",
                    f"{name} can only take non-owning or refcounted bpf_rb_node pointer",
                )
            # verifier.c: "rbtree_remove node input must be non-owning ref" or a refcounted
            # owning one (ref_obj_id set); only a NULL-able node is an error here
            if node.kind == "ref" and node.maybe_null:
                it.mistake(
                    st,
                    "check_kfunc_args.graph_node_null",
                    "bpf_rbtree_remove with a node that may be NULL",
                )
            old = it.an.ref_info.get(node.ref) if node.kind == "ref" else None
            cont = it.contains(args[0])
            type_name = old.type_name if old else (cont[0] if cont else "?")
            off = node.off or 0
        else:
            cont = it.contains(args[0])
            if cont is not None:
                type_name = cont[0]
                off = it.node_offset(cont) or 0
    elif sem.category == "refcount":
        src = args[0]
        old = it.an.ref_info.get(src.ref) if src.kind == "ref" else None
        if src.kind in ("released", "invalid"):
            it.check_ptr(st, src, f"argument 1 of {name}")
        if src.kind == "ref" and src.off not in (0, None):
            # check_func_arg_reg_off: the refcounted object itself, not a field inside it
            it.mistake(
                st,
                "check_func_arg_reg_off.modified",
                f"dereference of modified ptr_ ptr R1 off={src.off} disallowed",
            )
        if src.kind not in ("ref", "unk") and not (src.kind == "ptr" and src.trust == "rcu"):
            it.mistake(
                st, "check_kfunc_args.refcounted_kptr", "arg#0 is neither owning or non-owning ref"
            )
        if old is not None and old.program_allocated and not _has_refcount(it, old):
            it.mistake(
                st,
                "check_kfunc_args.no_refcount",
                f"arg#0 doesn't point to a type with bpf_refcount field ({old.type_name})",
            )
        # check_kfunc_call: on an owning reference the new one cannot be NULL
        ret_null = ret_null and not (src.kind == "ref" and src.owning)
        type_name = old.type_name if old else "?"
        if src.kind == "ref" and src.ref:
            it.flow(st, src.ref, "refcount_acquire", insn.idx, type_name)
        off = (src.off or 0) if src.kind == "ref" else 0
    else:
        alloc = False
        type_name = it.ret_struct(name)
    if sem.ret_non_owning:
        return Val(
            "ref",
            ref=0,
            id=insn.idx + 1 + (prog.start << 20),
            maybe_null=ret_null,
            owning=False,
            off=off,
            name="" if type_name == "?" else type_name,
        )
    site = insn.idx
    it.add_site(st, insn.idx, name, type_name)
    rid = it.new_ref(
        st,
        site + (prog.start << 20 if prog.subprog else 0),
        RefInfo(site, prog.name, name, type_name, type_id, percpu, alloc),
    )
    return Val("ref", ref=rid, id=rid, maybe_null=ret_null, off=off)


def site_key(it: Interp, func: str, idx: int) -> int:
    prog = it.obj.program(func) if func != it.prog.name else it.prog
    return idx + (prog.start << 20 if prog.subprog else 0)


def add_site(it: Interp, st: State, idx: int, kfunc: str, type_name: str) -> None:
    prog = st.frame.prog
    key = it.site_key(prog.name, idx)
    if key not in it.an.sites:
        it.an.sites[key] = Site(it.prog.name, prog.name, idx, it.line(prog, idx), kfunc, type_name)


def check_reference_leak(it: Interp, st: State, insn: Insn) -> None:
    """``check_reference_leak``: every reference still held at the main program's exit is a
    leak ("Unreleased reference id=%d alloc_insn=%d"); all are recorded, then the path ends."""
    prog = st.frame.prog
    for rid in sorted(st.refs):
        info = it.an.ref_info.get(rid)
        if info is None:
            continue
        it.flow(st, rid, "exit_leak", insn.idx)
        it.an.leaks.setdefault(info.site, []).append(insn.idx)
        site = it.an.sites.get(it.site_key(info.func, info.site))
        at_line = f" line {site.src_line}" if site is not None and site.src_line else ""
        it.an.mistakes.append(
            Mistake(
                "leak",
                insn.idx,
                it.line(prog, insn.idx),
                f"reference from {info.kfunc} (site insn {info.site}{at_line} in {info.func}, "
                f"{info.type_name}) is still held at exit",
                prog.name,
                info.site,
                info.func,
                rule="check_reference_leak",
                func=prog.name,
                func_insn=insn.idx,
                insn=it.layout.get(prog.name, 0) + insn.idx,
            )
        )
    if st.refs:
        raise Stop


def _has_refcount(it: Interp, info: RefInfo) -> bool:
    """The allocated type has a ``struct bpf_refcount`` member (``btf_record`` BPF_REFCOUNT)."""
    if it.spec is None:
        return True
    tid = info.type_id or it.local_struct(info.type_name)
    t = it.spec.resolve(tid) if tid else None
    if not isinstance(t, Struct):
        return True
    return any(getattr(it.spec.resolve(m.type), "name", "") == "bpf_refcount" for m in t.members)
