"""The line grammar of verifier logs: every line gets a kind, never an exception.

:func:`classify` looks at the first characters of a line before it tries a regular
expression (after bpfvv's line classifier) and returns a :class:`Line`: the kind, the
instruction index and frame where the line names them, and the pieces later stages need
(assembly text, state text, branch targets). A line that is none of the known forms is
:data:`UNRECOGNIZED`; ``strict`` callers turn that into a :class:`~bpfkit.errors.LogError`.

The kinds (strings, so they sort and serialize plainly):

``insn``          ``12: (bf) r1 = r6`` (also the 4.x form ``12:  r1 = r6``)
``insn_state``    an instruction with the state after it: ``12: (bf) r1 = r6  ; R1_w=...``
``state``         a state: ``12: R1=ctx() R10=fp0``, ``12: frame1: ...``, `` R0=map_ptr``
``branch``        ``from 22 to 24: R0=...`` (a new path starts)
``prune``         ``50: safe`` or ``from 33 to 12: safe``
``source``        ``; n->key = 3; @ rbtree.c:201`` (or without ``@ file:line``)
``backtrack``     precision tracking: ``mark_precise: ...``, ``frame 0: propagating r8``,
                  ``last_idx``/``regs=`` of older kernels, ``parent didn't have ...``
``liveness``      ``Live regs before insn:`` and its rows; 6.17+ ``(0) frame 0 insn 15 +live -8``
``scc``           6.17+ loop bookkeeping: ``SCC enter (1)``
``func``          ``func#1 @12``, global function validation messages
``call``          ``caller:``, ``callee:``, ``returning from callee:``, ``to caller at 705:``
``message``       any other kernel message (the last ones become ``error`` in a :class:`Log`)
``truncated``     (set by the Log) a line cut by the log buffer: the first line of a log
                  that lost its head, or an unfinished last line
``summary``       ``processed N insns ...``, ``verification time``, ``stack depth``
``libbpf``        ``libbpf: ...`` lines and the ``-- BEGIN/END PROG LOAD LOG --`` wrappers
``noise``         output of other tools around the log (bpftool, veristat, bpftrace), shell
                  prompts and commands, tracebacks and panics, test runners' markers, rules
``tool``          a line of the program that printed the log (a Go/cilium logfmt line, a
                  journald line of another daemon, a logger's info/debug record, a loader's
                  own words: bcc's ``bpf: ...``, iproute2's ``Prog section '...' rejected``,
                  cilium/ebpf's ``load program: <errno>``) whose text is not a kernel line
``diagnostic``    7.3+: the report the kernel appends to a failed verification, from its
                  ``Verification failed: <category>: <problem>`` line to the summary (its
                  ``Reason:``/``At:``/``Causal path:``/``Suggestion:`` sections; the lines
                  inside are given this kind by the Log, which knows it is in the block)
``btf``           a BTF load log (``magic: 0xeb9f``, ``[3] INT int size=4 ...``)
``blank``         an empty line
``unrecognized``  a line that starts like a known form but does not parse

Examples
--------
>>> classify("12: (bf) r1 = r6                      ; R1_w=ctx() R6=ctx()").kind
'insn_state'
>>> ln = classify("from 22 to 24: R0=ringbuf_mem(ref_obj_id=4,sz=4) R10=fp0")
>>> ln.kind, ln.insn_idx, ln.target
('branch', 24, 24)
>>> classify("R6 invalid mem access 'scalar'").kind
'message'
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "Line",
    "classify",
    "strip_prefix",
    "unprefixed",
    "is_tool_line",
    "MAX_PREFIXES",
    "KINDS",
    "UNRECOGNIZED",
    "KERNEL_KINDS",
]

UNRECOGNIZED = "unrecognized"
#: Every kind :func:`classify` can return, plus ``error`` (assigned by the Log).
KINDS: tuple[str, ...] = (
    "insn",
    "insn_state",
    "state",
    "branch",
    "prune",
    "source",
    "backtrack",
    "liveness",
    "scc",
    "func",
    "call",
    "message",
    "error",
    "truncated",
    "summary",
    "libbpf",
    "noise",
    "btf",
    "blank",
    UNRECOGNIZED,
    "tool",
    "diagnostic",
)
#: Kinds the kernel itself prints (the rest is other tools' output around the log).
KERNEL_KINDS = frozenset(KINDS) - {
    "libbpf",
    "noise",
    "btf",
    "blank",
    "truncated",
    "tool",
    UNRECOGNIZED,
}


class Line(NamedTuple):
    """A classified line. ``state`` is the state text (leading space kept) or None;
    ``asm`` the instruction text; ``opcode`` the two hex digits; ``target`` the branch target;
    ``frame`` the frame a state names (``frame1:``)."""

    kind: str
    insn_idx: int | None = None
    frame: int | None = None
    opcode: str | None = None
    asm: str | None = None
    state: str | None = None
    target: int | None = None


# instruction indexes: at most 9 digits (a program has at most 1M insns), so they fit an int64
_INSN_RE = re.compile(r"(\d{1,9}): \(([0-9a-f]{2})\) (.*)")
_OLD_INSN_RE = re.compile(r"(\d{1,9}):  (\S.*)")
_IDX_RE = re.compile(r"(\d{1,9}):(.*)")
_FROM_RE = re.compile(r"from (\d{1,9}) to (\d{1,9}):(.*)")
_STATE_START_RE = re.compile(r" (?:frame\d+:|R\d+(?:_[rwD]+)?=|fp-?\d+(?:_[rwD]+)?=|refs=\d)")
_BARE_STATE_RE = re.compile(r"(?:R\d+(?:_[rwD]+)?=|frame\d+:)")
_FRAME_RE = re.compile(r" ?frame(\d{1,2}):")
_INLINE_BRANCH_RE = re.compile(r"(.*goto pc[+-]\d+) (\d{1,9}):( .*)")
_LIVE_ROW_RE = re.compile(r"\s*(?:\d+\s+)?(\d{1,9}): [.0-9]{10} ")
_CALLCHAIN_RE = re.compile(r"\([\d,]*\) ")
_MARK_PRECISE_RE = re.compile(r"mark_precise: frame(\d{1,2}): (.*)")
_BT_REGS_RE = re.compile(r"regs=\S* stack=\S* before (\d{1,9}): ")
_PARENT_RE = re.compile(r"parent state regs=\S* stack=\S*:(.*)")
_SUMMARY_RE = re.compile(r"processed \d+ insns")
# 7.3+ (commit ce7c9f6c599b "Redesign Verification Log"): the report after a failed
# verification. bpf_diag_header() prints "\nVerification failed: %s: %c%s\n" (or without the
# problem), diag_section() "\n%s:\n" for each section, bpf_diag_lock() an "Active lock"
# section.
_DIAG_HEADER = "Verification failed: "
_DIAG_SECTIONS = frozenset(("Reason:", "At:", "Causal path:", "Suggestion:", "Active lock:"))
# newer kernels add the insns processed per subprogram: "insns processed 12591+75421+455"
_SUBPROG_SUMMARY_RE = re.compile(r"insns processed \d+(?:\+\d+)*$")
_SRC_RE = re.compile(r"; ")
_BTF_LINE_RE = re.compile(
    r"(?:\[\d+\] [A-Z_]+ |\t\S|(?:magic|version|flags|hdr_len|type_off|type_len|str_off|str_len|btf_total_size): )"
)
# the tab-indented lines of a BTF load log are the kernel's member/value/var records
# (btf_verifier_log_member: "\t%s type_id=%u bits_offset=%u", enum values "\t%s val=%d",
# datasec vars "\t type_id=%u offset=%u size=%u"); any other tab-indented line is a pasted
# line (cilium/ebpf prints a verifier log with a tab before each line)
_BTF_TAB_RE = re.compile(r"\t(?:\S+ | )?(?:type_id=|val=-?\d)")
_NOISE_PREFIXES = (
    "ERROR:",
    "Error:",
    "Warning:",
    "Kernel error log:",
    "PROCESSING ",
    "Processing ",
    "<SHORTENED>",
    "CO-RE tracer failed",
    "File ",
    "Program ",
    "Verdict ",
    "Done.",
    "Summary:",
    # go test's own lines around a log printed by a test (cilium's verifier tests)
    "--- FAIL: ",
    "--- PASS: ",
    "--- SKIP: ",
    "=== RUN ",
    "=== CONT ",
    "=== PAUSE ",
    # Rust's anyhow/eyre error chain around a log (aya)
    "Caused by:",
)
# what people put in place of the lines they cut from a paste ("...", "[...]", "<snip>"), and
# cilium/ebpf's own marker ("(638 line(s) omitted)", "(truncated, 26014 line(s) omitted)")
_ELIDED_RE = re.compile(
    r"\s*(?:\.{3,}|\u2026+|\[(?:\.{3}|\u2026|snip|snipped)\]|<snip(?:ped)?>"
    r"|\((?:truncated, )?\d+ line\(s\) omitted\))\s*"
)

# --- what the programs around a pasted log print (each form taken from the program's source)
# a shell prompt and the command typed after it, or a command run by hand, a shell's `set -x`
# trace, Python's REPL: "$ sudo ./x", "% make" (zsh), "root@vm:~/src# ./x",
# "[root@host ~]# x" (bash's default PS1), "➜  dir cmd", "sudo x", "./x", "+ clang ...",
# ">>> b = BPF(...)", "... int f(void *ctx) {" (not the 7.3 report's "  >>> 8 | (79) ...")
_SHELL_RE = re.compile(
    r"(?:[$%#] \S|[\u279c\u276f] |[\w.-]+@[\w.-]+(?::\S*| \S+) ?[$#] "
    r"|\[[\w.-]+@[\w.-]+ [^\]]*\][$#] |sudo \S|\./\S|\++ \S|>>> (?! *\d+ \| )|\.\.\. \S)"
)
# Python's traceback and exception line, Rust's panic, googletest's markers, and rules of
# '-'/'=' (veristat's and many tools' table and section separators)
_OTHER_NOISE_RE = re.compile(
    r"(?:Traceback \(most recent call last\):|(?:[A-Z]\w*)?(?:Error|Exception): |thread '[^']*' panicked at "
    r"|\[ +[A-Z]+ +\] |[-=]{3,}(?: +[-=]{3,})*\s*$)"
)
# veristat's table rows: "<file>  <prog>  success|failure  <duration>  <insns> ..."
# (veristat.c output_stat: columns padded with two spaces; verdict "success"/"failure")
_VERISTAT_ROW_RE = re.compile(r"\S+(?:  +\S+)+  +(?:success|failure)  +\d")
# loaders' own lines, spelled as their sources print them:
# - bcc's libbpf.c: "bpf: Failed to load program: %s", "bpf: %s. Program %s too large (%u insns),
#   at most %d insns"; bcc's BPF.load_func hints "HINT: ..."; falco's "libscap: ...",
#   libxdp's "libxdp: ..."
# - iproute2's lib/bpf_legacy.c bpf_prog_report(): "Prog section '%s' rejected: %s (%d)!",
#   " - Type:         %u", " - Instructions: %u (%u over limit)", " - License:      %s",
#   "Verifier analysis:", and its BTF and buffer messages
_LOADER_RE = re.compile(
    r"(?:bpf: [A-Z]|HINT: |lib(?!bpf:)[a-z]+: \S|Prog section '[^']*' |BTF debug data section '"
    r"|Verifier analysis:\s*$|- (?:Type|Attach Type|Instructions|License|Length): "
    r"|Log buffer too small to dump verifier log|Error fetching program/map!"
    r"|Unable to load program\s*$)"
)
# text only a loader prints, anywhere in a line: cilium/ebpf's error ("load program: %w" around
# the errno's text), Rust's io::Error ("Invalid argument (os error 22)"), a loader saying it
# failed to load (the verifier never speaks of loading: it checks a program being loaded)
_LOADER_TEXT_RE = re.compile(
    r"load program: (?:permission denied|invalid argument|argument list too long|bad address"
    r"|no space left on device|operation not permitted)|\(os error \d+\)"
    r"|\b(?:[Ff]ailed|[Uu]nable|[Cc]ould not|[Cc]ouldn't) (?:to )?load\b"
)
# the wrapper a loader puts before the log's first line: aya's "the BPF_PROG_LOAD syscall
# failed. Verifier output: <log>", cilium's and buzzer's "Verifier log: <log>"
_VERIFIER_OUTPUT_RE = re.compile(r"[Vv]erifier (?:output|log): ?")
# bpftool's `prog dump xlated ... opcodes`: each instruction's 8 (ld_imm64: 16) bytes in hex
_OPCODES_RE = re.compile(r"\s*[0-9a-f]{2}(?: [0-9a-f]{2}){7}(?:  ?[0-9a-f]{2}(?: [0-9a-f]{2}){7})?\s*")
# loggers' level prefixes: logrus "ERRO[0045] ", zerolog's console "INF ", env_logger/simplelog
# "WARN  ", logfmt "level=info". A record at info/debug/trace level is the program narrating
# (the kernel's words reach it as an error, logged at warning or error level).
_LOGRUS_RE = re.compile(r"(TRAC|DEBU|INFO|WARN|ERRO|FATA|PANI)\[\d+\] +")
_ZEROLOG_RE = re.compile(r"(TRC|DBG|INF|WRN|ERR|FTL|PNC) +")
_LEVEL_WORD_RE = re.compile(r"(TRACE|DEBUG|INFO|WARN|WARNING|ERROR) +")
_LOGFMT_LEVEL_RE = re.compile(r"(?:^|\s)(?:level|lvl)=\"?(\w+)")
_CHATTY = frozenset(("TRAC", "DEBU", "INFO", "TRC", "DBG", "INF", "TRACE", "DEBUG",
                     "trace", "debug", "info", "dbg", "trc"))


def _state_frame(state: str) -> int | None:
    m = _FRAME_RE.match(state)
    return int(m.group(1)) if m else None


def _numbered(line: str) -> Line:
    lm = _LIVE_ROW_RE.match(line)
    if lm is not None:
        return Line("liveness", int(lm.group(1)))
    m = _INSN_RE.match(line)
    if m is not None:
        idx = int(m.group(1))
        rest = m.group(3)
        cut = rest.find(" ;")
        if cut >= 0:
            state = rest[cut + 2 :]
            return Line(
                "insn_state", idx, _state_frame(state), m.group(2), rest[:cut].rstrip(), state
            )
        bm = _INLINE_BRANCH_RE.match(rest)
        if bm is not None:  # 6.1-era: "64: (55) if r0 != 0x0 goto pc+6 71: R0=..."
            state = bm.group(3)
            return Line(
                "insn_state",
                idx,
                _state_frame(state),
                m.group(2),
                bm.group(1),
                state,
                int(bm.group(2)),
            )
        return Line("insn", idx, None, m.group(2), rest.rstrip())
    m = _IDX_RE.match(line)
    if m is None:
        if _OPCODES_RE.fullmatch(line):
            return Line("noise")
        return Line(UNRECOGNIZED)
    idx = int(m.group(1))
    rest = m.group(2)
    if rest == " safe":
        return Line("prune", idx)
    if not rest or _STATE_START_RE.match(rest):
        return Line("state", idx, _state_frame(rest), state=rest)
    om = _OLD_INSN_RE.match(line)
    if om is not None:
        return Line("insn", idx, None, None, om.group(2).rstrip())
    if _LOADER_TEXT_RE.search(rest):  # anyhow's numbered causes: "1: Invalid argument (os error 22)"
        return Line("tool")
    return Line(UNRECOGNIZED, idx)


def _classify(line: str) -> Line:
    """Classify a line as the kernel (or a known tool) printed it, with no prefix."""
    if not line or line.isspace() or not line.strip("\x00 \t"):
        return Line("blank")  # also the C string's NUL some tools keep at the end
    c = line[0]
    if "0" <= c <= "9":
        return _numbered(line)
    if c == ";":
        return Line("source")
    if c == " " or c == "\t":
        if _STATE_START_RE.match(line):
            return Line("state", None, _state_frame(line), state=line)
        if _LIVE_ROW_RE.match(line):
            m = _LIVE_ROW_RE.match(line)
            return Line("liveness", int(m.group(1)) if m else None)
        if c == "\t" and _BTF_TAB_RE.match(line):
            return Line("btf")
        return Line(UNRECOGNIZED)
    if c == "m" and line.startswith("mark_precise: "):
        m = _MARK_PRECISE_RE.match(line)
        if m is None:
            return Line(UNRECOGNIZED)
        frame = int(m.group(1))
        rest = m.group(2)
        bm = _BT_REGS_RE.match(rest)
        if bm is not None:
            return Line("backtrack", int(bm.group(1)), frame)
        pm = _PARENT_RE.match(rest)
        if pm is not None:
            return Line("backtrack", None, frame, state=pm.group(1)[1:])
        if rest.startswith(("last_idx ", "falling back", "regs=")):
            return Line("backtrack", None, frame)
        return Line(UNRECOGNIZED)
    if c == "f":
        if line.startswith("from "):
            m = _FROM_RE.match(line)
            if m is None:
                return Line(UNRECOGNIZED)
            rest = m.group(3)
            target = int(m.group(2))
            if rest == " safe":
                return Line("prune", target, target=target)
            if rest and not _STATE_START_RE.match(rest):
                return Line(UNRECOGNIZED, target)
            return Line("branch", target, _state_frame(rest), state=rest or None, target=target)
        if line.startswith("func#"):
            return Line("func")
        if line.startswith("frame ") and ": propagating " in line:
            return Line("backtrack")
    if c == "R" and _BARE_STATE_RE.match(line):  # 4.x fragments: "R0=inv1 R1=ctx ..."
        return Line("state", None, None, state=" " + line)
    if (c == "f" or c == "r") and _STATE_START_RE.match(" " + line):
        # the rest of a state wrapped over lines: "fp-8=mmmmmmmm ...", "refs=2"
        return Line("state", None, None, state=" " + line)
    if c == "i" and _SUBPROG_SUMMARY_RE.match(line):
        return Line("summary")
    if c == "L" and line.startswith("Live regs before insn:"):
        return Line("liveness")
    if c == "(" and _CALLCHAIN_RE.match(line):
        return Line("liveness")
    if c == "S" and line.startswith("SCC "):
        return Line("scc")
    if c == "c" and line in ("caller:", "callee:"):
        return Line("call")
    if c == "r" and line == "returning from callee:":
        return Line("call")
    if c == "t" and line.startswith("to caller at "):
        return Line("call")
    if c == "F" and line.startswith("Func#"):
        return Line("func")
    if c == "V":
        if line.startswith("Validating "):
            return Line("func")
        if line.startswith(_DIAG_HEADER):
            return Line("diagnostic")
    if line in _DIAG_SECTIONS:
        return Line("diagnostic")
    if c == "p":
        if _SUMMARY_RE.match(line):
            return Line("summary")
        if line.startswith("parent didn't have ") or line.startswith("propagating "):
            return Line("backtrack")
    # print_verification_stats: "verification time %lld usec", "stack depth %d[+%d...]"
    if c == "v" and line.startswith("verification time ") and line[18:19].isdigit():
        return Line("summary")
    if c == "s" and line.startswith("stack depth ") and line[12:13].isdigit():
        return Line("summary")
    if c == "l":
        if line.startswith("libbpf: "):
            return Line("libbpf")
        if line.startswith("last_idx "):
            return Line("backtrack")
    if c == "r" and line.startswith("regs=") and " before " in line:
        return Line("backtrack")
    if c == "-" and line.startswith("-- ") and "PROG LOAD LOG --" in line:
        return Line("libbpf")
    if c == "l" and line == "libbpf:":
        return Line("libbpf")
    if "erifier " in line and _VERIFIER_OUTPUT_RE.search(line):
        return Line("message")  # a loader's wrapper: the pasted-line path peels it off
    if line.startswith(_NOISE_PREFIXES) or _ELIDED_RE.fullmatch(line):
        return Line("noise")
    if _BTF_LINE_RE.match(line):
        return Line("btf")
    return _other_program(line)


def _other_program(line: str) -> Line:
    """The last resort: a line of another program (a shell, a loader, a logger) or a kernel
    message."""
    if (_SHELL_RE.match(line) or _OTHER_NOISE_RE.match(line) or _VERISTAT_ROW_RE.match(line)
            or _OPCODES_RE.fullmatch(line)):
        return Line("noise")
    level = _logged(line)
    if level is not None:  # a logger's record: at info level or below, the logger's own
        chatty, inner = level
        if chatty and _classify(inner).kind in ("message", UNRECOGNIZED, "blank", "tool"):
            return Line("tool")
        return Line("message")  # the pasted-line path peels the prefix off
    if _LOADER_RE.match(line) or _LOADER_TEXT_RE.search(line):
        return Line("tool")
    if line.isprintable():
        return Line("message")
    return Line(UNRECOGNIZED)


def _logged(line: str) -> tuple[bool, str] | None:
    """(at info level or below, message) of a logger's record, or None."""
    c = line[:1]
    if "A" <= c <= "Z":
        m = _LOGRUS_RE.match(line) or _ZEROLOG_RE.match(line) or _LEVEL_WORD_RE.match(line)
        if m is not None:
            return m.group(1) in _CHATTY, line[m.end() :]
    elif "level=" in line or "lvl=" in line:
        m = _LOGFMT_LEVEL_RE.search(line)
        if m is not None and m.group(1).lower() in _CHATTY:
            mm = _LOGFMT_MSG_RE.search(line)
            if mm is None:
                return True, ""
            return True, _unescape(mm.group(1) if mm.group(1) is not None else mm.group(2))
    return None


# ----------------------------------------------------------------------------- pasted logs
#
# Logs pasted into issues and mails carry the prefix of whatever printed them. These are
# tried only for a line that is not a known form as it stands (a kernel "message" or an
# unrecognized line), so the common path never sees them.

# journald / syslog: "Dec 03 12:00:01 host kernel: ", "Dec  3 12:00:01 host agent[42]: "
_SYSLOG_RE = re.compile(
    r"[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ ([^\s:\[]+)(?:\[\d+\])?: ?"
)
# ISO 8601 (GitHub Actions, kubectl --timestamps, many CIs), Go's log package, dmesg
_TIMESTAMP_RE = re.compile(
    r"(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?"
    r"|\[ *\d+\.\d+\]) ?"
)
# CI markers and log levels: "##[error]", "[INFO] ", "E1203 12:00:00.123 ", "> " quotes
_MARKER_RE = re.compile(
    r"(?:##\[\w+\]|\[(?:[A-Z]+|[a-z]+)\] |[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+\] |>+ ?|\| )"
)
# kubectl logs --prefix: "[pod/agent-x7/cilium-agent] "
_KUBECTL_RE = re.compile(r"\[(?:pod/)?[\w.-]+/[\w.-]+\] ")
# logfmt: level=warning msg="..." (the msg value carries the line)
_LOGFMT_MSG_RE = re.compile(r'(?:^|\s)msg=(?:"((?:[^"\\]|\\.)*)"|(\S*))')
_LOGFMT_KEYS_RE = re.compile(r"(?:^|\s)(?:level|lvl|time|ts)=")
_LOGFMT_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_LOGFMT_ESC_RE = re.compile(r"\\(.)")
# Go's testing (t.Log) and log.Lshortfile: "verifier_test.go:245: "
_GO_FILE_RE = re.compile(r"[\w.-]+\.go:\d+: ")
# a tool's own words, not the kernel's
_TOOL_WORDS_RE = re.compile(
    r"(?i)(?:failed|unable|cannot|could not|error|starting|loading|attaching|compiling|"
    r"retrying|program \S+:|load program)\b"
)
#: How many prefixes are peeled off one line (e.g. a CI timestamp, then journald).
MAX_PREFIXES = 4


def _unescape(value: str) -> str:
    return _LOGFMT_ESC_RE.sub(lambda m: _LOGFMT_ESCAPES.get(m.group(1), m.group(0)), value)


def strip_prefix(line: str) -> tuple[str, bool] | None:
    """Peel one prefix off a pasted line: ``(rest, tool)`` or None when there is none.

    ``tool`` is True when the prefix says the line came from another program than the
    kernel (a logfmt record, a journald line of a daemon): a plain message there is the
    tool's own, not a kernel error.

    Examples
    --------
    >>> strip_prefix("Dec 03 10:00:01 host kernel: 0: (b7) r0 = 0")
    ('0: (b7) r0 = 0', False)
    >>> strip_prefix('level=warning msg="12: (bf) r1 = r6" subsys=datapath-loader')
    ('12: (bf) r1 = r6', True)
    >>> strip_prefix("R6 invalid mem access 'scalar'") is None
    True
    """
    if "erifier " in line:
        m = _VERIFIER_OUTPUT_RE.search(line)
        if m is not None:
            return line[m.end() :], True
    c = line[:1]
    if c == " " or c == "\t":
        rest = line.lstrip(" ") if c == " " else line.lstrip()
        return (rest, False) if rest.strip() else None
    if "A" <= c <= "Z":
        m = _LOGRUS_RE.match(line) or _ZEROLOG_RE.match(line) or _LEVEL_WORD_RE.match(line)
        if m is not None:
            return line[m.end() :], True
    if "0" <= c <= "9" or c == "[":
        m = _TIMESTAMP_RE.match(line)
        if m is not None and m.end():
            return line[m.end() :], False
        if c == "[":
            m = _KUBECTL_RE.match(line)
            if m is not None:
                return line[m.end() :], False
    if "A" <= c <= "Z":
        m = _SYSLOG_RE.match(line)
        if m is not None:
            return line[m.end() :], m.group(1) != "kernel"
    if "=" in line and (line.startswith(("level=", "time=", "ts=", "lvl=", "msg=")) or (
        " msg=" in line and _LOGFMT_KEYS_RE.search(line)
    )):
        m = _LOGFMT_MSG_RE.search(line)
        if m is not None:
            value = m.group(1) if m.group(1) is not None else m.group(2)
            return _unescape(value), True
        if _LOGFMT_KEYS_RE.match(line):  # a record without a message (an empty line logged)
            return "", True
    m = _MARKER_RE.match(line)
    if m is not None and m.end():
        return line[m.end() :], False
    if ".go:" in line:
        m = _GO_FILE_RE.match(line)
        if m is not None:
            return line[m.end() :], True
    return None


def classify(line: str) -> Line:
    """Classify one log line (without its newline). Never raises.

    A line that is not a known form as it stands is tried again without the prefixes a
    pasted log carries (:func:`unprefixed`: indentation, journald, CI timestamps, kubectl,
    logfmt ``msg="..."``); a plain message from another program than the kernel is ``tool``.

    Examples
    --------
    >>> classify("2024-05-01T10:00:00.1234567Z 12: (bf) r1 = r6").kind
    'insn'
    >>> classify('time="2024-05-01T10:00:00Z" level=error msg="Failed to load program"').kind
    'tool'
    """
    ln = _classify(line)
    kind = ln.kind
    if kind != "message" and kind != UNRECOGNIZED:
        return ln
    inner, tool = unprefixed(line)
    if inner == line:
        return ln
    ln = _classify(inner)
    if tool and is_tool_line(inner, ln.kind):
        return Line("tool")
    return ln


def is_tool_line(text: str, kind: str) -> bool:
    """Whether a line that a tool's prefix wraps, of *kind* once unwrapped, is the tool's own
    words (a message or an unrecognized line that reads like a tool's, not the kernel's)."""
    if kind == UNRECOGNIZED or kind == "blank":
        return True
    return kind == "message" and _TOOL_WORDS_RE.search(text) is not None


def unprefixed(line: str) -> tuple[str, bool]:
    """The line without the prefixes :func:`classify` peels off, and whether a prefix said
    it came from another tool."""
    tool = False
    for _ in range(MAX_PREFIXES):
        peeled = strip_prefix(line)
        if peeled is None or len(peeled[0]) >= len(line):
            break
        line, from_tool = peeled
        tool = tool or from_tool
        k = _classify(line).kind
        if k != "message" and k != UNRECOGNIZED:
            break  # a known form: what is left (e.g. a BTF line's tab) is the kernel's
    return line, tool
