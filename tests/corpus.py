"""Named paths to test inputs (MDAnalysis-style): the shared corpus and the project's data/.

The shared corpus is real material from public projects, laid beside the checkout as
``../shared/corpus`` (override with ``BPFKIT_CORPUS``); it is never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CORPUS = Path(os.environ.get("BPFKIT_CORPUS", ROOT.parent / "shared" / "corpus"))

CORPUS_BTF = CORPUS / "btf"
CORPUS_LOGS = CORPUS / "logs"

#: cilium/ebpf btf/testdata: ELF objects with .BTF/.BTF.ext in both byte orders.
CILIUM = CORPUS_BTF / "cilium_ebpf"
#: Split module BTF of bpf_testmod.ko (kernel 7.1, 32-byte header) and its distilled base.
TESTMOD_SPLIT = CILIUM / "btf_testmod.btf"
TESTMOD_BASE = CILIUM / "btf_testmod.btf.base"
#: Kernel 7.1 vmlinux BTF with the 32-byte header and a layout section, gzip'd.
VMLINUX_71_GZ = CILIUM / "vmlinux.btf.gz"
#: An object built from kinds.c that uses all 19 BTF kinds, both byte orders.
KINDS_EL = CORPUS_BTF / "kinds" / "kinds-el.o"
KINDS_EB = CORPUS_BTF / "kinds" / "kinds-eb.o"
#: Minimal libbpf-bootstrap object.
MINIMAL_OBJ = CORPUS_BTF / "minimal.bpf.o"

#: This machine's kernel BTF, compressed, shipped as the embedded default.
VMLINUX_618_XZ = DATA / "btf" / "vmlinux-6.18.btf.xz"
