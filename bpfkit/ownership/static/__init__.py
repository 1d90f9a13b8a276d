"""The static ownership flow: allocation sites, sinks, and a predicted verdict per program.

An abstract interpretation over each program's control flow, written for bpfkit after the
verifier's model (``kernel/bpf/verifier.c``: ``acquire_reference``/``release_reference``,
``ref_set_non_owning``, ``invalidate_non_owning_refs``, ``check_reg_allocation_locked``,
``mark_ptr_or_null_regs``, ``check_reference_leak``):

- registers and 8-byte stack slots hold abstract values: scalars (an unsigned range, a
  constant when known, an id shared by copies so a branch on one narrows all), the context,
  stack, map-value and packet pointers, references (``ref`` id, owning or non-owning,
  maybe-NULL, byte offset into the object), and the poison left behind by a release
  (``released``) or by ``bpf_spin_unlock`` for non-owning references (``invalid``);
- the state also holds the set of live acquired references and the held lock;
- static subprograms are interpreted in the caller's context (a frame per call); global ones
  are interpreted once on their own, as the verifier does, and may not receive references;
- paths are explored depth-first, fall-through first, as the verifier does; a state already seen
  at an instruction is pruned; after ``WIDEN_AFTER`` visits of one instruction scalar ranges
  are forgotten there, and after ``MAX_STEPS`` instructions in total the answer is "unknown".

Before the walk, the object's BTF is checked the way the kernel checks it at load time, using
:mod:`bpfkit.ownership.fields`: a program-allocated type the kernel refuses fails the whole
program BTF, and a map or section whose special fields are dropped fails every lock, kptr and
collection use in it.

Outside ownership the model is deliberately thin: packet accesses are checked against the
ranges comparisons with ``data_end`` prove, map-value accesses against ``value_size`` (a
constant offset outside is an error; an access bpfkit cannot bound makes the verdict
"unknown"); stack bounds, helper argument types other than the reference ones and return-value
ranges are not modelled (a program failing only those is predicted "accept").

Mistake kinds: ``leak`` (an acquired reference is live at exit on every path that did not
release it), ``leak_on_path`` (live at exit on some paths, released on others),
``use_after_release``, ``double_release``, ``push_without_lock``, ``non_owning_after_unlock``,
``kptr_type_mismatch``, ``wrong_contains_node``, ``other`` (an error the verifier reports that is
not one of these, e.g. a NULL dereference of an acquired pointer or a call under a lock).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bpfkit.ownership.static.engine import Interp
from bpfkit.ownership.static.records import (
    MISTAKE_KINDS,
    Analysis,
    Flow,
    Mistake,
    Prediction,
    Site,
)
from bpfkit.ownership.static.rules import RULES, Rule, match_kernel_message

if TYPE_CHECKING:
    import pandas as pd

    from bpfkit.obj import Object, Program

__all__ = [
    "Mistake",
    "Prediction",
    "Site",
    "Flow",
    "MISTAKE_KINDS",
    "MAX_STEPS",
    "WIDEN_AFTER",
    "MAX_SECONDS",
    "RULES",
    "Rule",
    "match_kernel_message",
    "predict",
    "analyze",
    "Analysis",
    "sites_frame",
    "flows_frame",
    "iter_flows",
]

#: Instructions interpreted per program before giving up with "unknown".
MAX_STEPS = 400_000
#: Visits of one instruction after which scalar constants are forgotten there.
WIDEN_AFTER = 64
#: Wall-clock seconds per program before giving up with "unknown".
MAX_SECONDS = 1.0


def _programs(obj: Object, program: str | None) -> list[Program]:
    if program is not None:
        return [obj.program(program)]
    return [p for p in obj.programs if not p.subprog]


_CACHE: OrderedDict[tuple[int, str, int, int], tuple[Object, Analysis]] = OrderedDict()
_CACHE_SIZE = 64


def analyze(obj: Object, program: str) -> Analysis:
    """Interpret one program of ``obj`` and return the raw :class:`Analysis`.

    The last few results are kept (keyed by the object's identity, which the cache holds on
    to), so :func:`predict`, :func:`sites_frame` and :func:`flows_frame` on the same object
    interpret each program once. Treat the returned Analysis as read-only.
    """
    key = (id(obj), program, MAX_STEPS, WIDEN_AFTER)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is obj:
        _CACHE.move_to_end(key)
        return hit[1]
    an = Interp(
        obj,
        obj.program(program),
        max_steps=MAX_STEPS,
        widen_after=WIDEN_AFTER,
        max_seconds=MAX_SECONDS,
    ).run()
    _CACHE[key] = (obj, an)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return an


def predict(obj: Object, program: str | None = None) -> list[Prediction]:
    """Predict, per program, the verifier's verdict and the ownership mistake.

    Parameters
    ----------
    obj
        A loaded BPF object (:func:`bpfkit.obj.load_object`).
    program
        One program's name; all programs (not ``.text`` subprograms) when None.

    Returns
    -------
    list of Prediction

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import MINIMAL_OBJ
    >>> [(p.program, p.verdict) for p in predict(load_object(MINIMAL_OBJ))]
    [('handle_tp', 'accept')]
    """
    return [analyze(obj, p.name).prediction() for p in _programs(obj, program)]


def sites_frame(obj: Object, program: str | None = None) -> pd.DataFrame:
    """Allocation and acquisition sites: program, func, insn_idx, src_line, kfunc, type name."""
    import pandas as pd

    rows = []
    for prog in _programs(obj, program):
        an = analyze(obj, prog.name)
        for site in sorted(an.sites.values(), key=lambda s: (s.func, s.insn_idx)):
            rows.append(
                {
                    "program": site.program,
                    "func": site.func,
                    "insn_idx": site.insn_idx,
                    "src_line": site.src_line,
                    "kfunc": site.kfunc,
                    "type": site.type_name,
                }
            )
    return pd.DataFrame(rows, columns=["program", "func", "insn_idx", "src_line", "kfunc", "type"])


def iter_flows(obj: Object, program: str | None = None) -> Iterator[Flow]:
    """The :class:`Flow` records of each program (all programs when ``program`` is None)."""
    for prog in _programs(obj, program):
        an = analyze(obj, prog.name)
        infos = {(i.func, i.site): i for i in an.ref_info.values()}
        for key, count in sorted(an.flows.items()):
            site_func, site, sink, sink_func, sink_insn, target = key
            info = infos.get((site_func, site))
            yield Flow(
                prog.name,
                site,
                info.kfunc if info else "?",
                info.type_name if info else "?",
                sink,
                sink_insn,
                target,
                count,
                site_func,
                sink_func,
            )


def flows_frame(obj: Object, program: str | None = None) -> pd.DataFrame:
    """Site -> sink flows: program, site_insn, kfunc, type, sink (drop | release | kptr_xchg |
    list_push | rbtree_add | refcount_acquire | exit_leak), sink_insn, target, paths (how many
    times the exploration took it), site_func and sink_func (the function, program or
    subprogram, whose instruction numbering site_insn / sink_insn use).

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> df = flows_frame(load_object(DATA_PROGRAMS / "alloc.bpf.o"), "obj_new_leak")
    >>> list(df["sink"])
    ['exit_leak']
    """
    import dataclasses

    import pandas as pd

    rows = [dataclasses.asdict(f) for f in iter_flows(obj, program)]
    return pd.DataFrame(rows, columns=_FLOW_COLUMNS)


_FLOW_COLUMNS = [
    "program",
    "site_insn",
    "kfunc",
    "type",
    "sink",
    "sink_insn",
    "target",
    "paths",
    "site_func",
    "sink_func",
]
