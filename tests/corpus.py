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

#: bpfix-bench ringbuf_ref_leak_001: a level-2 log (6.15) whose kernel error names the leaked
#: reference: "Unreleased reference id=2 alloc_insn=6", insn 6 being bpf_ringbuf_reserve.
LOG_RINGBUF_REF_LEAK = CORPUS_LOGS / "bpfix-bench" / "ringbuf_ref_leak_001.verifier.log"
#: Documentation/bpf/verifier.rst: old-format leak of a bpf_sk_lookup_tcp socket (alloc_insn=7).
LOG_DOC_UNRELEASED_REF = CORPUS_LOGS / "kernel-docs" / "10_unreleased_reference_sk_lookup.log"
#: bpf mailing list 2024-12-03: kptr_xchg of an skb, rejected at a kfunc call (level 1 states).
LOG_KPTR_XCHG_SKB = CORPUS_LOGS / "lkml-bpf" / "2024-12-03_fijalkowski_bpf_tc_ingress_kptr_xchg_skb.log"

# --- BTF core (tests/btf) ---
#: cilium/ebpf objects with .BTF.ext and CO-RE relocations (103 / 47 / 2 relocs per MANIFEST).
RELOCS_EL = CILIUM / "relocs-el.elf"
RELOCS_EB = CILIUM / "relocs-eb.elf"
RELOCS_READ_EL = CILIUM / "relocs_read-el.elf"
RELOCS_READ_EB = CILIUM / "relocs_read-eb.elf"
RELOCS_ENUM_EL = CILIUM / "relocs_enum-el.elf"
RELOCS_ENUM_EB = CILIUM / "relocs_enum-eb.elf"
#: Target-side BTF only (no .BTF.ext), kind_flag bitfields.
RELOCS_READ_TGT_EL = CILIUM / "relocs_read_tgt-el.elf"
#: DECL_TAGs on func/param/struct/member/var/union.
TAGS_EL = CILIUM / "tags-el.elf"
TAGS_EB = CILIUM / "tags-eb.elf"
#: Golden `bpftool btf dump file X format raw` outputs (bpftool 7.1.0) beside each input.
BPFTOOL_RAW_GOLDENS = sorted(CORPUS_BTF.rglob("*.bpftool-raw.txt"))
#: The split module BTF dumped with `-B` on its base.
TESTMOD_SPLIT_RAW = CILIUM / "btf_testmod.btf.split-on-base.bpftool-raw.txt"
#: Raw .BTF / .BTF.ext sections of kinds-{el,eb}.o (llvm-objcopy --dump-section).
KINDS_EL_BTF = CORPUS_BTF / "kinds" / "kinds-el.BTF.bin"
KINDS_EB_BTF = CORPUS_BTF / "kinds" / "kinds-eb.BTF.bin"
KINDS_EL_BTF_EXT = CORPUS_BTF / "kinds" / "kinds-el.BTF.ext.bin"
KINDS_EB_BTF_EXT = CORPUS_BTF / "kinds" / "kinds-eb.BTF.ext.bin"
#: bpftool 7.1 `format c` of kinds-el.o.
KINDS_EL_C_HEADER = CORPUS_BTF / "kinds" / "kinds-el.bpftool-c.h"
#: cilium/ebpf Go fuzz regression inputs for FuzzExtInfo ("go test fuzz v1": BTF, ext bytes).
#: Listed in btf/MANIFEST.tsv; the files may be absent from a corpus copy.
FUZZ_EXTINFO = CILIUM / "fuzz_FuzzExtInfo"
#: BPF objects built by this project (data/programs/*.o).
DATA_PROGRAMS = DATA / "programs"

# --- verifier logs (tests/verifier) ---
#: Every log of the shared corpus (kernel docs 4.x, 6.15 bpfix, bpfvv, cilium, lkml).
CORPUS_LOG_FILES = sorted(CORPUS_LOGS.glob("*/*.log"))
#: Logs captured on this 6.18 kernel (`make -C data logs`), level 1 and 2, and their manifest
#: (verdict and errno straight from the bpf() syscall).
DATA_LOGS = DATA / "logs"
DATA_LOGS_MANIFEST = DATA_LOGS / "MANIFEST.tsv"
DATA_LOG_FILES = sorted(p for p in DATA_LOGS.rglob("*.log*") if p.is_file())
#: The 600-iteration loop's level-2 log (>100,000 lines, xz), the benchmark input.
DATA_LONG_LOOP_L2 = DATA_LOGS / "loops" / "long_loop_ok.l2.log.xz"
#: bpfvv's log with two programs (bpftrace output): a summary line, then a failed load.
LOG_BPFVV_TWO_PROGRAMS = CORPUS_LOGS / "bpfvv" / "analyzer.test.ts.basicVerifierLog.log"
#: veristat verbose output (PROCESSING ..., VERIFIER LOG:) from bpfvv's test data.
LOG_BPFVV_VERISTAT = CORPUS_LOGS / "bpfvv" / "test-data.ts.SAMPLE_LOG_DATA_2.log"
#: 6.15 level-2 selftest log with callee frames, async callback and a stack-depth error.
LOG_ASYNC_STACK_DEPTH = (
    CORPUS_LOGS / "bpfix-selftests" / "kernel-selftest-async-stack-depth-async-call-root-check-tc-21513dda.log"
)

# --- sample programs and live loads (tests/kernel) ---
#: What each sample program is meant to do (written with the programs, not by the kernel):
#: object, program, expected_verdict, mistake kind, description.
DATA_EXPECTED = DATA_PROGRAMS / "EXPECTED.tsv"
#: The sample BPF objects (clang-19 -g -O2, `make -C data`), committed.
DATA_OBJECTS = sorted(DATA_PROGRAMS.glob("*.bpf.o"))

# --- BTF C output, layouts, type graph (tests/btf/test_cformat|layout|graph) ---
#: bpftool 7.1 `format raw` of kinds-el.o: the golden records for the graph's edges.
KINDS_EL_RAW = CORPUS_BTF / "kinds" / "kinds-el.bpftool-raw.txt"
#: Every cilium/ebpf ELF object of the corpus (both byte orders).
CILIUM_ELFS = sorted(CILIUM.glob("*.elf"))

#: tests/ownership/rules: issue #12's ok/mistake program pairs per kernel rule family, written for
#: bpfkit from the kernel's rules (one f<NN>_*.bpf.c per family, built by its Makefile into the
#: committed .bpf.o). No verdicts are stored: the live kernel is the oracle.
RULE_PAIRS = ROOT / "tests" / "ownership" / "rules"
