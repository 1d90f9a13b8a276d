"""bpfkit.ownership: who owns program-allocated objects, from BTF, the object and the log.

- :mod:`~bpfkit.ownership.fields`: special fields of map values, global sections and
  program-allocated types, as the kernel's ``btf_parse_fields()`` computes them;
- :mod:`~bpfkit.ownership.typegraph`: the type-level ownership graph and its findings;
- :mod:`~bpfkit.ownership.kfuncs`: what each kfunc and helper does to references;
- :mod:`~bpfkit.ownership.static`: the static flow and the predicted verdict;
- :mod:`~bpfkit.ownership.dynamic`: each reference's life as the verifier logged it;
- :mod:`~bpfkit.ownership.model`: all of it for one object (``analyze``).
"""

from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.ownership.dynamic import (
        RefEvent,
        events_frame,
        flow_graph,
        lifetimes_frame,
        non_owning_frame,
        ref_events,
        unreleased_refs,
    )
    from bpfkit.ownership.fields import (
        FieldRecord,
        SpecialField,
        all_records,
        fields_frame,
        parse_fields,
        records_frame,
        resolve_kptr,
        struct_metas,
    )
    from bpfkit.ownership.kfuncs import KFUNCS, KfuncSemantics
    from bpfkit.ownership.model import OwnershipModel, analyze
    from bpfkit.ownership.static import flows_frame, predict, sites_frame
    from bpfkit.ownership.typegraph import (
        Finding,
        check_ownership,
        findings_frame,
        ownership_graph,
    )

__all__ = [
    "FieldRecord",
    "SpecialField",
    "all_records",
    "fields_frame",
    "parse_fields",
    "records_frame",
    "resolve_kptr",
    "struct_metas",
    "Finding",
    "check_ownership",
    "findings_frame",
    "ownership_graph",
    "RefEvent",
    "events_frame",
    "flow_graph",
    "lifetimes_frame",
    "non_owning_frame",
    "ref_events",
    "unreleased_refs",
    "KFUNCS",
    "KfuncSemantics",
    "predict",
    "sites_frame",
    "flows_frame",
    "OwnershipModel",
    "analyze",
]

# Imported on first use (bpfkit._lazy), so that `import bpfkit.ownership` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "dynamic": (
        "RefEvent",
        "events_frame",
        "flow_graph",
        "lifetimes_frame",
        "non_owning_frame",
        "ref_events",
        "unreleased_refs",
    ),
    "fields": (
        "FieldRecord",
        "SpecialField",
        "all_records",
        "fields_frame",
        "parse_fields",
        "records_frame",
        "resolve_kptr",
        "struct_metas",
    ),
    "kfuncs": ("KFUNCS", "KfuncSemantics"),
    "model": ("OwnershipModel", "analyze"),
    "static": ("flows_frame", "predict", "sites_frame"),
    "typegraph": ("Finding", "check_ownership", "findings_frame", "ownership_graph"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
