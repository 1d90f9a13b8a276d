"""Special fields against what the verifier says about them in its own error messages.

The kernel names the lock offset it wants (``bpf_spin_lock at off=N must be held for
bpf_list_head``), the node offset of a collection's element (``expected bpf_list_node at
offset=N in struct T``) and a kptr field's type (``invalid kptr access, ... expected=ptr_T``);
the records bpfkit computes from the same object's BTF must say the same.
"""

from __future__ import annotations

import csv
import re

import pytest

from bpfkit.obj import load_object
from bpfkit.ownership.fields import all_records
from tests.corpus import DATA_LOGS, DATA_LOGS_MANIFEST, DATA_PROGRAMS

ROWS = (
    list(csv.DictReader(DATA_LOGS_MANIFEST.read_text().splitlines(), delimiter="\t"))
    if DATA_LOGS_MANIFEST.exists()
    else []
)
LOCK = re.compile(r"bpf_spin_lock at off=(\d+) must be held for bpf_(list_head|rb_root)")
NODE = re.compile(r"expected bpf_(list|rb)_node at offset=(\d+) in struct (\w+)")
KPTR = re.compile(r"invalid kptr access, R\d type=\S+ expected=ptr_(\w+)")
CASES = [
    r for r in ROWS if LOCK.search(r["error"]) or NODE.search(r["error"]) or KPTR.search(r["error"])
]


def test_cases_exist() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("row", CASES, ids=lambda r: r["program"])
def test_records_say_what_the_verifier_says(row: dict[str, str]) -> None:
    obj = load_object(DATA_PROGRAMS / row["object"])
    assert obj.btf is not None
    recs = all_records(obj.btf, obj.maps, sections=obj.globals())
    fields = [f for r in recs if r.ok for f in r.fields]
    log_error = (DATA_LOGS / row["l2_log"]).read_text()
    assert row["error"] in log_error
    if m := LOCK.search(row["error"]):
        off, root = int(m.group(1)), m.group(2)
        holders = [r for r in recs if root in r.kinds() and r.container_kind != "alloc"]
        assert holders
        assert all(
            any(f.kind == "spin_lock" and f.offset == off for f in r.fields) for r in holders
        )
    if m := NODE.search(row["error"]):
        kind, off, struct = m.group(1), int(m.group(2)), m.group(3)
        root = "list_head" if kind == "list" else "rb_root"
        roots = [f for f in fields if f.kind == root and f.contains_type == struct]
        assert roots and {f.contains_offset for f in roots} == {off}
        node = f"{kind}_node"
        assert any(f.kind == node and f.offset == off and f.container == struct for f in fields)
    if m := KPTR.search(row["error"]):
        assert any(f.kind == "kptr" and f.kptr_type == m.group(1) for f in fields)
