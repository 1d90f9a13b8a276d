"""Build the BTF regression inputs of tests/fuzz/regressions/btf_raw: type graphs with a
loop the kernel rejects ("Loop detected"), each named for its defect (they hung struct
layout, C formatting and resolve before bpfkit checked for loops). Assembled from the tiny
valid BTF of tests/btf/data/make_corrupt.py (``INT int``, ``PTR -> int``, ``STRUCT pair {int
a; int *b;}``, ``TYPEDEF pair_t -> pair``) with one or two type ids rewritten.

Run ``python -m tests.fuzz.make_regressions`` to rebuild.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.btf.data.make_corrupt import blob, info, types

OUT = Path(__file__).resolve().parent / "regressions" / "btf_raw"
# byte offsets (in the type section) of the type ids of the tiny BTF
PTR_TARGET = 16 + 8
MEMBER_A = 16 + 12 + 12 + 4
MEMBER_B = 16 + 12 + 12 + 12 + 4


def _with(extra: bytes = b"", **ids: int) -> bytes:
    t = bytearray(types() + extra)
    where = {"ptr": PTR_TARGET, "a": MEMBER_A, "b": MEMBER_B, "typedef": len(types()) - 4}
    for k, v in ids.items():
        struct.pack_into("<I", t, where[k], v)
    return blob(bytes(t))


def build() -> dict[str, bytes]:
    array5 = struct.pack("<IIIIII", 0, info(3), 0, 5, 1, 4)  # [5] ARRAY of [5], index int
    const5 = struct.pack("<III", 0, info(10), 5)  # [5] CONST -> itself
    return {
        # struct pair { struct pair a; struct pair b; }: pahole's alignment walk was 2^32
        "struct_contains_itself_twice_natural_alignment_hang.btf": _with(a=3, b=3),
        # member b is a typedef of the struct itself
        "struct_contains_its_typedef_hang.btf": _with(a=3, b=4),
        # member b: an array whose element is the array: `while isinstance(t, Array)` spun
        "struct_member_array_of_itself_alignment_hang.btf": _with(array5, b=5),
        # member a: a const of itself (a modifier loop below a struct)
        "struct_member_const_loop_resolve_hang.btf": _with(const5, a=5),
        # typedef pair_t -> array of pair_t ... (array elem is the typedef)
        "typedef_array_loop_alignment_hang.btf": _with(array5, typedef=5, b=5),
        # PTR -> itself: a pointer-mode loop (kernel: Loop detected in btf_ptr_resolve)
        "ptr_to_itself_loop.btf": _with(ptr=2),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (OUT / name).write_bytes(data)
        print(OUT / name)


if __name__ == "__main__":
    main()
