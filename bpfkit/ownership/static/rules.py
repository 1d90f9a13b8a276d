"""The kernel rules the static ownership analysis follows, each named after the kernel function
that enforces it and carrying the message that function prints.

A finding of the analysis names one rule (``Mistake.rule``), so it maps to the kernel's own
words; :func:`match_kernel_message` tells whether a line of a verifier log is that rule's
message, which is how bpfkit is measured against the kernel. A new kernel rule gets one entry
here and one function in the module of its family:

============  ======================================================================
family        module
============  ======================================================================
state         :mod:`~bpfkit.ownership.static.engine` (registers, frames, exit)
memory        :mod:`~bpfkit.ownership.static.memory` (loads, stores, bounds, NULL)
references    :mod:`~bpfkit.ownership.static.refs` (acquire, release, leaks)
kfunc_args    :mod:`~bpfkit.ownership.static.kfunc_args` (argument types and trust)
collections   :mod:`~bpfkit.ownership.static.collection` (locks, lists, rbtrees)
kptr          :mod:`~bpfkit.ownership.static.kptr` (``__kptr`` fields, bpf_kptr_xchg)
============  ======================================================================

Messages are the format strings of ``kernel/bpf/verifier.c`` (Linux 6.18); ``%s`` / ``%d``
match any text / number.

Examples
--------
>>> match_kernel_message("check_reference_leak", "Unreleased reference id=2 alloc_insn=7")
True
>>> [r.name for r in rules_for_kernel_message("store to referenced kptr disallowed")]
['check_map_kptr_access.store']
>>> [r.name for r in rules_for_kernel_message("kptr access size must be BPF_DW")]
['check_map_access.kptr_size']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

__all__ = ["Rule", "RULES", "FAMILIES", "rule", "match_kernel_message", "rules_for_kernel_message"]

FAMILIES = ("state", "memory", "references", "kfunc_args", "collections", "kptr")


@dataclass(frozen=True, slots=True)
class Rule:
    """One kernel rule.

    Attributes
    ----------
    name
        ``kernel_function`` or ``kernel_function.case`` when one function prints several
        messages.
    kind
        The mistake kind (:data:`bpfkit.ownership.static.MISTAKE_KINDS`).
    family
        One of :data:`FAMILIES`: the module the rule lives in.
    messages
        The kernel's message format strings (``verbose(env, ...)``); any of them is this rule.
    """

    name: str
    kind: str
    family: str
    messages: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)


def _pattern(fmt: str) -> re.Pattern[str]:
    out = []
    for tok in re.split(r"(%[-0-9.]*(?:ll|l|z)?[sdui xc])", fmt):
        if not tok:
            continue
        if tok.startswith("%"):
            out.append(r"-?\w+" if tok[-1] in "duix" else r".*?")
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out))


def _r(name: str, kind: str, family: str, *messages: str) -> Rule:
    return Rule(name, kind, family, messages, tuple(_pattern(m) for m in messages))


_ALL: list[Rule] = [
    # -- state ---------------------------------------------------------------------------
    _r("check_reg_arg", "other", "state", "R%d !read_ok"),
    _r("check_reg_arg.frame_pointer", "other", "state", "frame pointer is read only"),
    _r("check_reg_arg.invalid_reg", "other", "state", "R%d is invalid"),
    _r(
        "check_resource_leak.lock",
        "other",
        "state",
        "%s cannot be used inside bpf_spin_lock-ed region",
    ),
    _r(
        "check_resource_leak.rcu",
        "other",
        "state",
        "%s cannot be used inside bpf_rcu_read_lock-ed region",
        "bpf_rcu_read_unlock is missing",
    ),
    _r(
        "check_resource_leak.irq",
        "other",
        "state",
        "%s cannot be used inside bpf_local_irq_save-ed region",
    ),
    _r(
        "check_resource_leak.preempt",
        "other",
        "state",
        "%s cannot be used inside bpf_preempt_disable-ed region",
    ),
    _r(
        "check_kfunc_call.preempt_unmatched",
        "other",
        "state",
        "unmatched attempt to enable preemption (kernel function %s)",
    ),
    _r(
        "process_irq_flag.not_stack",
        "other",
        "state",
        "arg#%d doesn't point to an irq flag on stack",
    ),
    _r(
        "process_irq_flag.initialized",
        "other",
        "state",
        "expected uninitialized irq flag as arg#%d",
    ),
    _r(
        "process_irq_flag.uninitialized",
        "other",
        "state",
        "expected an initialized irq flag as arg#%d",
    ),
    _r(
        "process_irq_flag.out_of_order",
        "other",
        "state",
        "cannot restore irq state out of order, expected id=%d acquired at insn_idx=%d",
    ),
    _r(
        "check_kfunc_call.rcu_unlock",
        "other",
        "state",
        "unmatched rcu read unlock (kernel function %s)",
    ),
    _r(
        "do_check.call_under_lock",
        "other",
        "state",
        "function calls are not allowed while holding a lock",
        "global function calls are not allowed while holding a lock",
        "use static function instead",
    ),
    _r(
        "btf_check_subprog_call",
        "other",
        "state",
        "Caller passes invalid args into func#%d",
        "R%d is not a scalar",
        "arg#%d expects pointer to ctx",
    ),
    # -- memory --------------------------------------------------------------------------
    _r(
        "check_mem_access.null",
        "other",
        "memory",
        "R%d invalid mem access '%s_or_null%s'",
    ),
    _r(
        "check_map_access",
        "other",
        "memory",
        "invalid access to map value, value_size=%d off=%d size=%d",
    ),
    _r("check_packet_access", "other", "memory", "R%d invalid mem access 'pkt_end'"),
    _r(
        "adjust_ptr_min_max_vals.null",
        "other",
        "memory",
        "R%d pointer arithmetic on %s prohibited, null-check it first",
    ),
    _r("check_mem_access.scalar", "other", "memory", "R%d invalid mem access 'scalar'"),
    # -- references ----------------------------------------------------------------------
    _r(
        "check_reference_leak",
        "leak",
        "references",
        "Unreleased reference id=%d alloc_insn=%d",
        "%s would lead to reference leak",
    ),
    _r(
        "release_reference.use_after_release",
        "use_after_release",
        "references",
        "R%d invalid mem access 'scalar'",
        "arg#%d pointer type %s %s must point to scalar, or struct with scalar",
        "R%d must be referenced or trusted",
        "R%d type=scalar expected=%s",
        "arg#%d expected pointer to allocated object",
        "%s can only take non-owning or refcounted bpf_rb_node pointer",
    ),
    _r(
        "release_reference.double_release",
        "double_release",
        "references",
        "R%d must be referenced or trusted",
        "arg#%d pointer type %s %s must point to scalar, or struct with scalar",
        "arg#%d expected pointer to allocated object",
        "release kernel function %s expects refcounted PTR_TO_BTF_ID",
        "R%d type=scalar expected=%s",
        "R%d must be referenced when passed to release function",
    ),
    _r(
        "check_kfunc_args.release_not_owning",
        "other",
        "references",
        "release kernel function %s expects refcounted PTR_TO_BTF_ID",
        "arg#%d expected pointer to allocated object",
        "R%d must be referenced when passed to release function",
    ),
    _r(
        "check_kfunc_args.null",
        "other",
        "kfunc_args",
        "Possibly NULL pointer passed to trusted arg%d",
        "Possibly NULL pointer passed to helper arg%d",
        "R%d type=%s_or_null%s expected=%s",
    ),
    _r(
        "check_kfunc_args.release_type",
        "other",
        "kfunc_args",
        "arg#%d expected for %s",
        "kernel function %s args#%d expected pointer to %s but R%d has a pointer to %s",
        "R%d type=%s expected=%s",
        "arg#%d expected pointer to allocated object",
    ),
    _r(
        "get_kfunc_ptr_arg_type",
        "other",
        "kfunc_args",
        "arg#%d pointer type %s %s must point to scalar, or struct with scalar",
        "arg#%d pointer type %s %s must point to void, scalar, or struct with scalar",
    ),
    _r(
        "check_kfunc_args.refcounted_kptr",
        "other",
        "references",
        "arg#%d is neither owning or non-owning ref",
    ),
    _r("check_kfunc_args.trusted", "other", "kfunc_args", "R%d must be referenced or trusted"),
    _r("check_kfunc_args.rcu", "other", "kfunc_args", "R%d must be a rcu pointer"),
    _r(
        "check_func_arg_reg_off",
        "other",
        "kfunc_args",
        "R%d must have zero offset when passed to release func or trusted arg to kfunc",
        "R%d must have zero offset when passed to release func",
    ),
    _r(
        "process_kf_arg_ptr_to_btf_id",
        "other",
        "kfunc_args",
        "kernel function %s args#%d expected pointer to %s %s but R%d has a pointer to %s %s",
    ),
    _r(
        "fetch_kfunc_meta.prog_type",
        "other",
        "kfunc_args",
        "calling kernel function %s is not allowed",
    ),
    _r(
        "btf_struct_access.beyond",
        "other",
        "memory",
        "access beyond struct %s at off %d size %d",
    ),
    _r(
        "btf_struct_access.special",
        "other",
        "memory",
        "direct access to %s is disallowed",
    ),
    _r(
        "check_map_access.special",
        "other",
        "memory",
        "%s cannot be accessed directly by load/store",
    ),
    _r(
        "check_kfunc_args.no_refcount",
        "other",
        "references",
        "arg#%d doesn't point to a type with bpf_refcount field",
    ),
    _r(
        "check_kfunc_args.obj_new_type",
        "other",
        "references",
        "bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct",
        "%s type ID argument must be of a struct",
    ),
    # -- load time: before any instruction (the finding has no instruction, insn -1) ------
    _r(
        "check_map_prog_compatibility.graph",
        "other",
        "collections",
        "tracing progs cannot use bpf_{list_head,rb_root} yet",
    ),
    _r(
        "check_map_prog_compatibility.spin_lock",
        "other",
        "collections",
        "socket filter progs cannot use bpf_spin_lock yet",
        "tracing progs cannot use bpf_spin_lock yet",
    ),
    _r(
        "check_map_prog_compatibility.struct_ops",
        "other",
        "state",
        "bpf_struct_ops map cannot be used in prog",
    ),
    _r(
        "check_map_prog_compatibility.sleepable",
        "other",
        "state",
        "Sleepable programs can only use array, hash, ringbuf and local storage maps",
    ),
    _r(
        "check_kfunc_args.constant",
        "other",
        "kfunc_args",
        "R%d must be a known constant",
    ),
    _r(
        "check_kfunc_call.obj_new_type_id_range",
        "other",
        "references",
        "local type ID argument must be in range [0, U32_MAX]",
    ),
    _r(
        "check_kfunc_args.in_rbtree_cb",
        "other",
        "collections",
        "%s not allowed in rbtree cb",
    ),
    _r(
        "check_func_arg.spin_lock_in_rbtree_cb",
        "other",
        "collections",
        "can't spin_{lock,unlock} in rbtree cb",
    ),
    _r(
        "prepare_func_exit.callback_range",
        "other",
        "state",
        "At callback return the register R0 has smin=%d smax=%d should have been in [0, 1]",
        "At callback return the register R0 has %s should have been in [0, 1]",
    ),
    _r(
        "check_kfunc_call.prog_btf",
        "other",
        "kfunc_args",
        "%s requires prog BTF",
        "map '%s' has to have BTF in order to use bpf_kptr_xchg",
        "bpf_obj_new requires prog BTF",
    ),
    # -- collections ---------------------------------------------------------------------
    _r(
        "invalidate_non_owning_refs",
        "non_owning_after_unlock",
        "collections",
        # mark_reg_invalid leaves a scalar: the message is what the use does with a scalar
        "R%d invalid mem access 'scalar'",
        "R%d type=scalar expected=%s",
        "%s can only take non-owning or refcounted bpf_rb_node pointer",
        "arg#%d expected pointer to allocated object",
        "arg#%d is neither owning or non-owning ref",
    ),
    _r(
        "process_spin_lock.off",
        "other",
        "collections",
        "off %lld doesn't point to 'struct %s' that is at %d",
        "off %lld doesn't point to 'struct bpf_spin_lock' that is at %d",
    ),
    _r(
        "process_spin_lock.double",
        "other",
        "collections",
        "Locking two bpf_spin_locks are not allowed",
    ),
    _r(
        "process_kf_arg_ptr_to_graph_root.var_off",
        "other",
        "collections",
        "R%d doesn't have constant offset. %s has to be at the constant offset",
    ),
    _r(
        "process_kf_arg_ptr_to_graph_root.not_found",
        "other",
        "collections",
        "%s not found at offset=%d",
    ),
    _r(
        "check_ptr_to_btf_access.negative",
        "other",
        "memory",
        "R%d is %s invalid negative access: off=%d",
    ),
    _r(
        "check_reg_type.mem",
        "other",
        "memory",
        "R%d type=%s expected=%s",
    ),
    _r(
        "check_reg_type.mem_write",
        "other",
        "memory",
        "%s() may write into memory pointed by R%d type=%s",
    ),
    _r(
        "btf_struct_walk.member_end",
        "other",
        "memory",
        "access beyond the end of member %s (mend:%u) in struct %s with off %u size %u",
    ),
    _r(
        "check_reg_type.release",
        "other",
        "references",
        "R%d type=%s expected=%s",
    ),
    _r(
        "check_kfunc_args.rbtree_remove_node",
        "other",
        "collections",
        "%s can only take non-owning or refcounted bpf_rb_node pointer",
    ),
    _r(
        "check_kfunc_args.graph_root_type",
        "other",
        "collections",
        "arg#%d expected pointer to map value or allocated object",
        "allocated object must be referenced",
    ),
    _r(
        "__process_kf_arg_ptr_to_graph_node.not_found",
        "wrong_contains_node",
        "collections",
        "%s not found at offset=%u",
    ),
    _r(
        "check_func_arg_reg_off.modified",
        "other",
        "kfunc_args",
        "dereference of modified %s ptr R%d off=%d disallowed",
    ),
    _r(
        "check_func_arg_reg_off.var_off",
        "other",
        "kfunc_args",
        "variable %s access var_off=%s disallowed",
        "R%d doesn't have constant offset. %s has to be at the constant offset",
    ),
    _r(
        "check_reg_type.percpu",
        "other",
        "kfunc_args",
        "R%d type=%s expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_",
    ),
    _r(
        "process_spin_lock.different",
        "other",
        "collections",
        "bpf_spin_unlock of different lock",
    ),
    _r(
        "process_spin_lock.unlock_without_lock",
        "other",
        "collections",
        "bpf_spin_unlock without taking a lock",
    ),
    _r(
        "check_reg_allocation_locked",
        "push_without_lock",
        "collections",
        "bpf_spin_lock at off=%d must be held for %s",
        "held lock and object are not in the same allocation",
    ),
    _r(
        "__process_kf_arg_ptr_to_graph_node",
        "wrong_contains_node",
        "collections",
        "arg#1 offset=%d, but expected %s at offset=%d in struct %s",
        "operation on %s expects arg#1 %s at offset=%d in struct %s, but arg is at offset=%d "
        "in struct %s",
    ),
    _r(
        "check_kfunc_args.graph_node_not_owning",
        "other",
        "collections",
        "arg#%d expected pointer to allocated object",
        "allocated object must be referenced",
        "rbtree_remove node input must be non-owning ref",
    ),
    _r(
        "check_kfunc_args.graph_node_null",
        "other",
        "collections",
        "Possibly NULL pointer passed to trusted arg%d",
        "arg#%d expected pointer to allocated object",
    ),
    _r(
        "check_btf_record.dropped",
        "other",
        "collections",
        "%s not found at offset=%d",
        "map '%s' has no valid %s",
        "%s map has no valid %s",
    ),
    # -- kptr ----------------------------------------------------------------------------
    _r(
        "check_map_access.kptr_indirect",
        "other",
        "kptr",
        "%s cannot be accessed indirectly by helper",
    ),
    _r(
        "check_map_access.kptr_var_off",
        "other",
        "kptr",
        "%s access cannot have variable offset",
    ),
    _r(
        "check_map_access.kptr_misaligned",
        "other",
        "kptr",
        "%s access misaligned expected=%u off=%llu",
    ),
    _r("check_map_access.kptr_size", "other", "kptr", "%s access size must be BPF_DW"),
    _r("btf_struct_access.kptr", "other", "kptr", "direct access to %s is disallowed"),
    _r(
        "check_map_kptr_access.mode",
        "other",
        "kptr",
        "kptr in map can only be accessed using BPF_MEM instruction mode",
    ),
    _r(
        "check_map_kptr_access.store",
        "other",
        "kptr",
        "store to referenced kptr disallowed",
        "store to uptr disallowed",
    ),
    _r(
        "check_map_kptr_access.st_imm",
        "other",
        "kptr",
        "BPF_ST imm must be 0 when storing to kptr at off=%u",
    ),
    _r(
        "map_kptr_match_type",
        "kptr_type_mismatch",
        "kptr",
        "invalid kptr access, R%d type=%s%s expected=%s%s",
        "variable %s access var_off=%s disallowed",
    ),
    _r(
        "process_kptr_func.var_off",
        "other",
        "kptr",
        "R%d doesn't have constant offset. kptr has to be at the constant offset",
    ),
    _r("process_kptr_func.no_kptr", "other", "kptr", "R%d has no valid kptr"),
    _r("process_kptr_func.no_field", "other", "kptr", "off=%d doesn't point to kptr"),
    _r("process_kptr_func.unreferenced", "other", "kptr", "off=%d kptr isn't referenced kptr"),
    _r("check_reg_type.kptr_xchg", "other", "kptr", "R%d type=%s expected=%s"),
    _r(
        "check_reg_type.kptr_xchg_null",
        "other",
        "kptr",
        "Possibly NULL pointer passed to helper arg%d",
        "verifier bug: invalid PTR_TO_BTF_ID register for type match",
    ),
    _r(
        "check_func_arg.release_unreferenced",
        "other",
        "kptr",
        "R%d must be referenced when passed to release function",
    ),
    _r(
        "check_kfunc_call.rcu_unmatched_unlock",
        "other",
        "kptr",
        "unmatched rcu read unlock (kernel function %s)",
    ),
    _r(
        "check_kfunc_call.rcu_nested_lock",
        "other",
        "kptr",
        "nested rcu read lock (kernel function %s)",
    ),
]

RULES: dict[str, Rule] = {r.name: r for r in _ALL}


def rule(name: str) -> Rule:
    """The rule called ``name`` (KeyError-free: a ValueError naming it when unknown)."""
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"no kernel rule named {name!r}") from None


def match_kernel_message(name: str, line: str) -> bool:
    """True when ``line`` (a verifier log line) is one of rule ``name``'s messages."""
    r = RULES.get(name)
    return r is not None and any(p.search(line) for p in r.patterns)


@cache
def rules_for_kernel_message(line: str) -> tuple[Rule, ...]:
    """The rules whose message ``line`` is (several rules may share a message)."""
    return tuple(r for r in _ALL if any(p.search(line) for p in r.patterns))
