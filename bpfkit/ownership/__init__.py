"""bpfkit.ownership: who owns program-allocated objects, from BTF, the object and the log.

- :mod:`~bpfkit.ownership.fields`: special fields of map values, global sections and
  program-allocated types, as the kernel's ``btf_parse_fields()`` computes them.
"""

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

__all__ = [
    "FieldRecord",
    "SpecialField",
    "all_records",
    "fields_frame",
    "parse_fields",
    "records_frame",
    "resolve_kptr",
    "struct_metas",
]
