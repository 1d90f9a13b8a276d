"""Resources a program holds besides references and the spin lock (``check_resource_leak``
and ``process_irq_flag`` in ``kernel/bpf/verifier.c``): preemption disabled with
``bpf_preempt_disable`` (``active_preempt_locks``) and interrupt state saved with
``bpf_local_irq_save`` into a stack slot (``STACK_IRQ_FLAG``, ``acquire_irq_state``),
restored in the reverse order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit.ownership.static.values import State, Val

if TYPE_CHECKING:
    from bpfkit.obj.insn import Insn
    from bpfkit.ownership.static.engine import Interp

__all__ = ["RESOURCE_KFUNCS", "resource_op", "check_resource_exit"]

RESOURCE_KFUNCS = frozenset(
    {"bpf_preempt_disable", "bpf_preempt_enable", "bpf_local_irq_save", "bpf_local_irq_restore"}
)


def resource_op(it: Interp, st: State, insn: Insn, name: str, args: list[Val]) -> None:
    """The call of one of :data:`RESOURCE_KFUNCS`."""
    if name == "bpf_preempt_disable":
        st.preempt += 1
    elif name == "bpf_preempt_enable":
        if not st.preempt:
            it.mistake(
                st,
                "check_kfunc_call.preempt_unmatched",
                f"unmatched attempt to enable preemption (kernel function {name})",
            )
        st.preempt -= 1
    elif name in ("bpf_local_irq_save", "bpf_local_irq_restore"):
        _irq_flag(it, st, insn, name == "bpf_local_irq_save", args[0])


def _irq_flag(it: Interp, st: State, insn: Insn, save: bool, v: Val) -> None:
    """``process_irq_flag``: the flag lives in a stack slot; a save needs a slot that holds
    no saved state, a restore the slot of the state saved last."""
    frame = it.frame_of(st, v) if v.kind == "stack" and v.off is not None else None
    if frame is None or v.off is None:
        it.mistake(
            st, "process_irq_flag.not_stack", "arg#0 doesn't point to an irq flag on stack"
        )
        return
    held = frame.stack.get(v.off)
    if save:
        if held is not None and held.kind == "irq_flag":
            it.mistake(
                st, "process_irq_flag.initialized", "expected uninitialized irq flag as arg#0"
            )
        where = it.layout.get(st.frame.prog.name, 0) + insn.idx
        ident = (1 << 43) | (where + 1) << 8 | len(st.irq)
        for k in [k for k in frame.stack if v.off - 8 < k < v.off + 8]:
            del frame.stack[k]
        frame.stack[v.off] = Val("irq_flag", id=ident)
        st.irq = (*st.irq, (ident, where))
        return
    if held is None or held.kind != "irq_flag":
        it.mistake(
            st, "process_irq_flag.uninitialized", "expected an initialized irq flag as arg#0"
        )
        return
    if st.irq and st.irq[-1][0] != held.id:
        top_id, top_insn = st.irq[-1]
        it.mistake(
            st,
            "process_irq_flag.out_of_order",
            f"cannot restore irq state out of order, expected id={top_id & 0xFF} acquired at "
            f"insn_idx={top_insn}",
        )
    st.irq = tuple(e for e in st.irq if e[0] != held.id)
    del frame.stack[v.off]


def check_resource_exit(it: Interp, st: State, kind: str) -> None:
    """``check_resource_leak`` at the main program's exit, after the references: saved
    interrupt state (``kind`` "irq") or disabled preemption (``kind`` "preempt")."""
    if kind == "irq" and st.irq:
        it.mistake(
            st,
            "check_resource_leak.irq",
            "BPF_EXIT instruction in main prog cannot be used inside bpf_local_irq_save-ed "
            "region (missing bpf_local_irq_restore)",
        )
    if kind == "preempt" and st.preempt:
        it.mistake(
            st,
            "check_resource_leak.preempt",
            "BPF_EXIT instruction in main prog cannot be used inside bpf_preempt_disable-ed "
            "region (missing bpf_preempt_enable)",
        )
