"""A verifier log per program, and its tables.

:func:`parse_log` splits text into programs (libbpf's ``-- BEGIN PROG LOAD LOG --`` wrappers,
as printed by libbpf and ``bpftool -d``; veristat's ``PROCESSING x.o/prog, ... VERIFIER LOG:``
blocks; plain logs, one program per ``processed N insns`` line) and returns one :class:`Log`
each. A Log classifies every line with :mod:`bpfkit.verifier.grammar`, decodes every printed
state with :mod:`bpfkit.verifier.values`, and builds its DataFrames on first use.

For speed the decoding is memoized on the state text and on each register token, and the
register and stack tables are built column-wise from integer codes into the table of distinct
tokens (a loop's states repeat). :func:`iter_frames` streams a huge log in chunks of lines,
keeping the parser's position (step, path, frame) across chunks, and :func:`write_parquet`
writes the chunks to Parquet files without holding the whole log.

Examples
--------
>>> text = '''0: R1=ctx() R10=fp0
... 0: (b7) r0 = 0                       ; R0_w=0
... 1: (95) exit
... processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
... '''
>>> [log] = parse_log(text, name="ret0")
>>> log.verdict, log.stats.insns_processed, log.kinds["insn_state"]
('accept', 2, 1)
>>> log.registers[["step", "line", "reg", "type", "raw"]].values.tolist()
[[0, 1, 1, 'ctx', 'ctx()'], [0, 1, 10, 'fp', 'fp0'], [0, 2, 0, 'scalar', '0']]
"""

from __future__ import annotations

import _compression
import bisect
import gc
import gzip
import io
import json
import lzma
import os
import re
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfkit.errors import LogError
from bpfkit.verifier.grammar import (
    _INLINE_BRANCH_RE,
    KINDS,
    UNRECOGNIZED,
    Line,
    _classify,
    classify,
    is_tool_line,
    unprefixed,
)
from bpfkit.verifier.values import RegState, StackSlot, parse_state, parse_token

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Log",
    "LogStats",
    "parse_log",
    "load_log",
    "iter_logs",
    "iter_frames",
    "write_parquet",
    "read_text",
    "read_bytes",
    "check_is_log",
    "VERIFIER_KINDS",
    "MAX_EXPANSION",
    "XZ_MEMLIMIT",
]

_PROCESSED_RE = re.compile(
    r"processed (\d+) insns(?: \(limit (\d+)\))?"
    r"(?: max_states_per_insn (\d+))?(?: total_states (\d+))?(?: peak_states (\d+))?"
    r"(?: mark_read (\d+))?"
)
_VTIME_RE = re.compile(r"verification time (\d+) usec")
_DEPTH_RE = re.compile(r"stack depth (\d+(?:\+\d+)*)")
_OLD_DEPTH_RE = re.compile(r"processed \d+ insns.*, stack depth (\d+(?:\+\d+)*)")
_SRC_AT_RE = re.compile(r"; (.*) @ (\S+):(\d{1,9})$")
_BEGIN_RE = re.compile(r"(?:libbpf: prog '([^']*)': )?-- BEGIN PROG LOAD LOG --")
_VERISTAT_RE = re.compile(
    r"PROCESSING (\S+?)/(\S+?), DURATION US: \d+, VERDICT: \w+, VERIFIER LOG:"
)
_REG_LIST_RE = re.compile(r"regs=(\S*) stack=(\S*?)(?: before|:)")


class LogStats(NamedTuple):
    """The summary lines: ``processed N insns (limit L) max_states_per_insn ...``,
    ``verification time T usec``, ``stack depth A+B``; None where absent."""

    insns_processed: int | None = None
    insn_limit: int | None = None
    max_states_per_insn: int | None = None
    total_states: int | None = None
    peak_states: int | None = None
    mark_read: int | None = None
    verification_time_usec: int | None = None
    stack_depth: tuple[int, ...] | None = None


class _Decoded(NamedTuple):
    """A decoded state: its frame, codes of its register and stack tokens, its references."""

    frame: int
    regs: tuple[int, ...]
    slots: tuple[int, ...]
    refs: tuple[int, ...]


class _Tokens:
    """Distinct register/stack tokens and the distinct register/stack lists of backtracking
    lines, coded as integers; decoded states memoized by text."""

    def __init__(self) -> None:
        self.reg_code: dict[str, int] = {}
        self.regs: list[tuple[int, RegState, str]] = []
        self.slot_code: dict[str, int] = {}
        self.slots: list[tuple[StackSlot, str]] = []
        self.states: dict[str, _Decoded | None] = {}
        self.reg_columns: tuple[int, dict[str, Any]] | None = None
        self.bt_code: dict[tuple[str | None, str | None], int] = {}
        self.bt_lists: list[tuple[str | None, str | None]] = []

    def bt_list(self, regs: str | None, stack: str | None) -> int:
        """The code of a backtracking line's ``regs=`` and ``stack=`` lists."""
        key = (regs, stack)
        c = self.bt_code.get(key)
        if c is None:
            c = self.bt_code[key] = len(self.bt_lists)
            self.bt_lists.append(key)
        return c

    def decode(self, text: str) -> _Decoded | None:
        """The decoded state for a state text, or None if it does not decode."""
        d = self.states.get(text, _MISSING)
        if d is not _MISSING:
            return d  # type: ignore[return-value]
        if len(self.states) >= _MEMO_SIZE:  # bound the memo on huge logs
            self.states.clear()
        try:
            dec: _Decoded | None = self._decode(text)
        except LogError:
            dec = None
        self.states[text] = dec
        return dec

    def decode_cut(self, text: str, after_insn: bool) -> tuple[_Decoded | None, bool]:
        """A state cut short (wrapped over lines by a mail or issue, or ``(truncated...)``):
        the tokens before the cut (None if even those do not decode), and whether a
        truncation mark says that nothing of it follows."""
        t = text.rstrip()
        marked = False
        for mark in ("(truncated...)", "(truncated)", "...", "\u2026"):
            if t.endswith(mark):
                t = t[: -len(mark)].rstrip()
                marked = True
                break
        head, _sep, last = t.rpartition(" ")
        for cand in (t, head):
            if cand.strip() and cand != text:
                try:
                    return self._decode(cand), marked
                except LogError:
                    continue
        if after_insn and not head.strip() and _CUT_TOKEN_RE.match(last):
            return _EMPTY, marked  # the one register it printed was cut
        return None, marked

    def _decode(self, text: str) -> _Decoded:
        frame = 0
        rc: list[int] = []
        sc: list[int] = []
        refs: tuple[int, ...] = ()
        reg_code = self.reg_code
        slot_code = self.slot_code
        first = True
        # var_off's "(0x0; 0xff)" stays one token; the leading space of an instruction's
        # state goes (the loop below skips empty tokens), so such a state of known registers
        # takes the fast path too
        toks = text.replace("; 0x", ";0x").lstrip(" ").split(" ")
        codes = list(map(reg_code.get, toks))
        if None not in codes:  # the commonest state: registers seen before
            return _Decoded(0, tuple(codes), (), ())  # type: ignore[arg-type]
        for tok, c in zip(toks, codes, strict=True):
            if c is not None:
                rc.append(c)
                first = False
                continue
            if not tok:
                continue
            c = slot_code.get(tok)
            if c is not None:
                sc.append(c)
                first = False
                continue
            if first and tok.startswith("frame") and tok.endswith(":"):
                frame = _frame_number(tok)
                first = False
                continue
            first = False
            if tok == "cb" or tok == "async_cb":
                continue
            if tok.startswith("refs="):
                refs = parse_state(tok).refs
                continue
            raw = tok.replace(";0x", "; 0x")
            regno, item = parse_token(raw)
            if regno is not None:
                c = reg_code[tok] = len(self.regs)
                self.regs.append((regno, item, raw))  # type: ignore[arg-type]
                rc.append(c)
            else:
                c = slot_code[tok] = len(self.slots)
                self.slots.append((item, raw))  # type: ignore[arg-type]
                sc.append(c)
        return _Decoded(frame, tuple(rc), tuple(sc), refs)


def _frame_number(tok: str) -> int:
    st = parse_state(tok)
    return st.frame or 0


_MISSING = object()
_CUT_TOKEN_RE = re.compile(r"(?:R\d{1,2}|fp-\d+)(?:_[rwD]+)?=")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
_BACKTRACK = _KIND_CODE["backtrack"]
_INSN = _KIND_CODE["insn"]
_INSN_STATE = _KIND_CODE["insn_state"]
#: Entries of each memo (distinct lines, states, classified lines) before it is cleared: the
#: 116,570-line loop log has 9,946 distinct lines; the bound keeps a text of distinct lines
#: from holding a memo entry per line (each ~250 bytes with its key).
_MEMO_SIZE = 1 << 15
_INSN_FAST = re.compile(r"(\d{1,9}): \(([0-9a-f]{2})\) (.*)")
_BT_FAST = re.compile(r"mark_precise: frame(\d{1,2}): regs=(\S*) stack=(\S*?) before (\d{1,9}): ")


class _Builder:
    """Incremental parser of one program's lines; its tables accumulate as columns.

    The hot forms (instructions, precision backtracking, source lines) are matched here
    directly with the grammar's own patterns; everything else goes through
    :func:`~bpfkit.verifier.grammar.classify` (a test checks both agree on every real line).

    Every line costs a few bytes whatever its length (issue #17: a text of blank lines must
    not take a hundred times its size): its kind code (an index into ``KINDS``), instruction
    index and frame go into typed arrays, line numbers run on from ``first_line``, and the
    text stays in the input: the driver hands over ``span``, the program's part of the text,
    when the program ends. Steps and state occurrences are int64 arrays of fixed-width
    records, which the tables read with numpy without a loop over Python objects.
    """

    __slots__ = (
        "tokens",
        "strict",
        "step",
        "path",
        "frame",
        "in_call_block",
        "src",
        "instructions",
        "summary",
        "first_line",
        "kinds",
        "insns",
        "frames",
        "bt",
        "steps",
        "occ",
        "dec",
        "b_rows",
        "p_rows",
        "span",
        "peel_rows",
        "peel_cuts",
        "peel_texts",
        "line_texts",
        "memo",
        "heads",
        "line_memo",
        "alloc_types",
        "has_func_list",
        "peeling",
        "processed",
        "partial",
        "in_diag",
    )

    def __init__(
        self, tokens: _Tokens | None = None, strict: bool = False, first_line: int = 1
    ) -> None:
        self.tokens = tokens or _Tokens()
        self.strict = strict
        self.step = 0
        self.path = 0
        self.frame = 0
        self.in_call_block = False
        self.src: tuple[str | None, int | None, str | None] = (None, None, None)
        self.instructions: dict[
            int, tuple[str | None, str | None, str | None, int | None, str | None]
        ] = {}
        self.summary: dict[str, Any] = {}
        # line text -> (opcode, insn, asm, state) of an instruction line or
        # (None, insn, frame + 1, code of its regs and stack lists) of a backtracking line
        self.memo: dict[str, tuple[Any, ...]] = {}
        # the text before " ;" of an instruction line -> (opcode, insn, asm)
        self.heads: dict[str, tuple[str, int, str]] = {}
        self.line_memo: dict[str, Line] = {}  # classify() is pure
        self.alloc_types: set[str] = set()  # BTF types the log shows to be MEM_ALLOC
        self.has_func_list = False  # a "func#0 @0" line (level 2 prints the subprograms)
        self.peeling = False  # feeding the unprefixed text of a pasted line
        self.processed = False  # the last line was "processed N insns ..." (a program ends)
        self.partial = False  # the last state was cut (wrapped or truncated): its rest may follow
        self.in_diag = False  # inside the 7.3+ failure report ("Verification failed: ...")
        self.reset(first_line)

    def reset(self, first_line: int) -> None:
        """Drop the accumulated rows (streaming), keeping the parser's position; the next
        line fed is line *first_line*."""
        self.first_line = first_line
        # per line: its kind's code, insn_idx (-1: none) and frame + 1 (0: none)
        self.kinds = bytearray()
        self.insns = array("i")
        self.frames = bytearray()
        self.bt = array("i")  # per backtracking line: its code into tokens.bt_lists
        # the pasted lines (their row numbers) and what their text is without the prefixes:
        # from the cut on, or (cut -1) the text in peel_texts (a logfmt msg="..." value)
        self.peel_rows = array("q")
        self.peel_cuts = array("q")
        self.peel_texts: dict[int, str] = {}
        self.span: tuple[str, int, int] = ("", 0, 0)  # the text of the lines: text[start:end]
        self.line_texts: Any = None  # the texts as an object array, once split
        # per step: step, line, insn_idx, frame, path
        self.steps = array("q")
        # per state occurrence: step, line, insn_idx (-1: none), frame; and the decoded state
        self.occ = array("q")
        self.dec: list[_Decoded] = []
        self.b_rows: list[tuple[int, int, int | None, int]] = []
        self.p_rows: list[tuple[int, int, int | None]] = []

    def forget(self) -> None:
        """Drop the memos once the program's lines are all fed: the tables do not read them,
        and freed now their tuples (~10,000 on the 116,570-line loop log) are gone before
        the garbage collector, off while parsing, walks what is left once it is on again."""
        self.memo = {}
        self.heads = {}
        self.line_memo = {}
        self.tokens.states = {}

    def __len__(self) -> int:
        """The number of lines fed."""
        return len(self.kinds)

    def texts(self, start: int = 0) -> list[str]:
        """The texts of the lines from the *start*-th on (a pasted line's without the
        prefixes peeled off it), split from the span on each call."""
        n = len(self.kinds)
        if start >= n:
            return []
        text, _, end = self.span
        pos = self._text_start(start)
        if pos == 0 and end == len(text) - 1 and text[end] == "\n":
            out = text.split("\n")  # all of a text with its final newline: no copy
            out.pop()
        else:
            out = text[pos:end].split("\n")
        rows = self.peel_rows
        for i in range(bisect.bisect_left(rows, start), len(rows)):
            row, cut = rows[i], self.peel_cuts[i]
            out[row - start] = out[row - start][cut:] if cut >= 0 else self.peel_texts[row]
        return out

    def _text_start(self, row: int) -> int:
        """Where the *row*-th line starts in the span's text (found from the end)."""
        text, pos, end = self.span
        if row > 0:
            pos = end
            for _ in range(len(self.kinds) - row):
                pos = text.rfind("\n", 0, pos)
            pos += 1
        return pos

    def text_of(self, start: int, kinds: bytes | bytearray, kind: int) -> str:
        """The texts of the lines from the *start*-th on whose kind (*kinds* lists theirs)
        is *kind*, joined by newlines."""
        if kinds.count(kind) == len(kinds) and not self.peel_rows:
            text, _, end = self.span  # all of them: a part of the text itself
            return text[self._text_start(start) : end]
        return "\n".join(t for t, k in zip(self.texts(start), kinds, strict=True) if k == kind)

    def last_insn(self) -> int | None:
        """The insn_idx of the last step, None before the first."""
        return self.steps[-5 + 2] if self.steps else None

    def rows(self) -> Iterator[tuple[int, str, int, int, str]]:
        """(line, kind, insn_idx or -1, frame or -1, text) of each line."""
        for i, (k, insn, f, text) in enumerate(
            zip(self.kinds, self.insns, self.frames, self.texts(), strict=True)
        ):
            yield self.first_line + i, KINDS[k], insn, f - 1, text

    def _row(self, kind: str, insn: int | None = None, frame: int | None = None) -> str:
        self.kinds.append(_KIND_CODE[kind])
        self.insns.append(-1 if insn is None else insn)
        self.frames.append(0 if frame is None else frame + 1)
        return kind

    def feed(self, text: str) -> str:
        """Classify and record the next line; return its kind."""
        if self.in_diag:
            return self._diag_line(text)
        hit = self.memo.get(text)  # level-2 logs of loops repeat most lines verbatim
        if hit is None:
            kind = self._feed(text)
            if kind == "diagnostic":
                self.in_diag = True
            return kind
        if hit[0] is None:
            return self._backtrack(hit)
        return self._insn(text, hit[1], hit[0], hit[2], hit[3])

    def _backtrack(self, hit: tuple[Any, ...]) -> str:
        """Record a backtracking line from its memo entry ``(None, insn, frame + 1, code of
        (regs, stack))`` (:meth:`feed_lines` inlines this for the commonest line)."""
        self.partial = False
        self.kinds.append(_BACKTRACK)
        self.insns.append(hit[1])
        self.frames.append(hit[2])
        self.bt.append(hit[3])
        return "backtrack"

    def feed_lines(self, lines: Iterator[str]) -> bool:
        """Feed lines until one is the summary that ends a program (True) or they run out
        (False): :meth:`feed` on each, with the commonest line, a backtracking line seen
        before, recorded here without a call."""
        memo_get = self.memo.get
        kinds = self.kinds.append
        insns = self.insns.append
        frames = self.frames.append
        bt = self.bt.append
        for text in lines:
            if self.in_diag:
                kind = self._diag_line(text)
            elif (hit := memo_get(text)) is None:
                kind = self._feed(text)
                if kind == "diagnostic":
                    self.in_diag = True
            elif hit[0] is None:  # backtracking
                if self.partial:
                    self.partial = False
                kinds(_BACKTRACK)
                insns(hit[1])
                frames(hit[2])
                bt(hit[3])
                continue
            else:
                self._insn(text, hit[1], hit[0], hit[2], hit[3])
                continue
            if kind == "summary" and self.processed:
                return True
        return False

    def _diag_line(self, text: str) -> str:
        """A line inside the 7.3+ failure report (``Verification failed: ...`` up to the
        summary): its indented section lines (``  insn 0``, ``  >>> 0 | (95) exit``,
        ``        | ^-- error: ...``, wrapped prose) are the report's, whatever they look like.
        The report ends at the summary, a libbpf line or the start of another log."""
        k = _classify(unprefixed(text)[0]).kind
        if k == "blank":
            return self._row("blank")
        if k in ("summary", "libbpf", "noise", "insn", "insn_state", "branch", "func"):
            self.in_diag = False
            return self.feed(text)
        return self._row("diagnostic")

    def _feed(self, text: str) -> str:
        c = text[:1]
        if c == "m":
            m = _BT_FAST.match(text)
            if m is not None:
                f, regs, stack, insn = m.group(1, 2, 3, 4)
                hit = (None, int(insn), int(f) + 1, self.tokens.bt_list(regs, stack))
                self._remember(text, hit)
                return self._backtrack(hit)
        elif c == ";":
            m = _SRC_AT_RE.match(text)
            if m is not None:
                self.src = (m.group(2), int(m.group(3)), m.group(1))
            else:
                self.src = (None, None, text[2:] if text.startswith("; ") else text[1:])
            return self._row("source")
        elif "0" <= c <= "9":
            # a loop prints each instruction again and again with new states after it: the
            # instruction's fields are memoized by the text before " ;" too
            head, sep, state = text.partition(" ;")
            ins = self.heads.get(head) if sep else None
            if ins is not None:
                self._remember(text, (*ins, state))
                return self._insn(text, ins[1], ins[0], ins[2], state)
            m = _INSN_FAST.match(text)
            if m is not None:
                idx, op, rest = m.group(1, 2, 3)
                cut = rest.find(" ;")
                fields: tuple[Any, ...]
                if cut >= 0:
                    fields = (op, int(idx), rest[:cut].rstrip(), rest[cut + 2 :])
                    if len(head) == m.start(3) + cut:  # the cut is the partition's
                        if len(self.heads) >= _MEMO_SIZE:
                            self.heads.clear()
                        self.heads[head] = fields[:3]
                elif "goto pc" not in rest or _INLINE_BRANCH_RE.match(rest) is None:
                    fields = (op, int(idx), rest.rstrip(), None)
                else:  # 6.1-era: the state after a branch on the same line
                    return self._slow(text)
                self._remember(text, fields)
                return self._insn(text, fields[1], op, fields[2], fields[3])
        return self._slow(text)

    def _remember(self, text: str, fields: tuple[Any, ...]) -> None:
        memo = self.memo
        if len(memo) >= _MEMO_SIZE:  # bounded on huge logs of distinct lines
            memo.clear()
        memo[text] = fields

    def _insn(
        self, text: str, insn: int, opcode: str, asm: str, state: str | None
    ) -> str:
        step = self.step
        self.step = step + 1
        self.partial = False
        self.in_call_block = False
        if insn not in self.instructions:
            f, sl, st = self.src
            self.instructions[insn] = (opcode, asm, f, sl, st)
        lineno = self.first_line + len(self.kinds)
        if state is None:
            kind = _INSN
            frame = self.frame
        else:
            kind = _INSN_STATE
            dec = self.tokens.states.get(state) or self.tokens.decode(state)
            if dec is None:
                dec = self._cut(state, True)
            if dec is None:
                kind = _KIND_CODE[self._bad(text)]
                frame = self.frame
            else:
                frame = self.frame = dec.frame
                self.occ.extend((step, lineno, insn, frame))
                self.dec.append(dec)
        self.steps.extend((step, lineno, insn, frame, self.path))
        self.kinds.append(kind)
        self.insns.append(insn)
        self.frames.append(frame + 1)
        return KINDS[kind]

    def _cut(self, state: str, after_insn: bool = False) -> _Decoded | None:
        if self.strict:
            return None
        dec, marked = self.tokens.decode_cut(state, after_insn)
        if dec is not None and not marked:
            self.partial = True
        return dec

    def _pasted(self, text: str, kind: str) -> str | None:
        """A line of a pasted log: feed it without its prefixes (the row keeps the text as
        the kernel printed it); None if it has no prefix."""
        inner, tool = unprefixed(text)
        if inner == text:
            return None
        self.peeling = True
        try:
            kind = self.feed(inner)
        finally:
            self.peeling = False
        row = len(self.kinds) - 1
        self.peel_rows.append(row)
        if text.endswith(inner):
            self.peel_cuts.append(len(text) - len(inner))
        else:
            self.peel_cuts.append(-1)
            self.peel_texts[row] = inner
        if tool and is_tool_line(inner, kind):
            self.kinds[-1] = _KIND_CODE["tool"]
            kind = "tool"
        return kind

    def _slow(self, text: str) -> str:
        lineno = self.first_line + len(self.kinds)
        ln = self.line_memo.get(text)
        if ln is None:
            ln = _classify(text)
            if len(self.line_memo) >= _MEMO_SIZE:
                self.line_memo.clear()
            self.line_memo[text] = ln
        kind = ln.kind
        if kind == "message" or kind == UNRECOGNIZED:
            if not self.peeling:
                pk = self._pasted(text, kind)
                if pk is not None:
                    return pk
            if self.partial and _FRAGMENT_RE.fullmatch(text):
                # the rest of a state wrapped at the end of the previous line
                self.partial = False
                return self._row("state")
        self.processed = False
        if kind != "blank":
            self.partial = False
        insn = ln.insn_idx
        frame = ln.frame
        if kind == "insn_state" or kind == "insn":
            assert insn is not None
            step = self.step
            self.step += 1
            if kind == "insn_state":
                dec = self.tokens.decode(ln.state or "")
                if dec is None:
                    dec = self._cut(ln.state or "", True)
                if dec is None:
                    kind = self._bad(text)
                else:
                    frame = dec.frame
                    self.frame = frame
                    if ln.target is None:
                        self.occ.extend((step, lineno, insn, self.frame))
                        self.dec.append(dec)
            if frame is None:
                frame = self.frame
            self.steps.extend((step, lineno, insn, frame, self.path))
            if insn not in self.instructions:
                f, sl, st = self.src
                self.instructions[insn] = (ln.opcode, ln.asm, f, sl, st)
            self.in_call_block = False
        elif kind == "state" or kind == "branch":
            dec = self.tokens.decode(ln.state) if ln.state else _EMPTY
            if dec is None and ln.state:
                dec = self._cut(ln.state)
            if dec is None:
                kind = self._bad(text)
            else:
                if kind == "branch":
                    self.path += 1
                    self.b_rows.append((self.step, lineno, _from_insn(text), insn or 0))
                    self.in_call_block = False
                if dec is not _EMPTY:
                    frame = dec.frame
                    if not self.in_call_block:
                        self.frame = frame
                        self.occ.extend((self.step, lineno, -1 if insn is None else insn, frame))
                        self.dec.append(dec)
                elif frame is not None and not self.in_call_block:
                    self.frame = frame
        elif kind == "source":
            m = _SRC_AT_RE.match(text)
            if m is not None:
                self.src = (m.group(2), int(m.group(3)), m.group(1))
            else:
                self.src = (None, None, text[2:] if text.startswith("; ") else text[1:])
        elif kind == "prune":
            if ln.target is not None:
                self.path += 1
                self.b_rows.append((self.step, lineno, _from_insn(text), ln.target))
            self.p_rows.append((self.step, lineno, insn))
        elif kind == "backtrack":
            if ln.state is not None and self.tokens.decode(ln.state) is None:
                kind = self._bad(text)
            else:
                m = _REG_LIST_RE.search(text)
                hit = (
                    None,
                    -1 if insn is None else insn,
                    0 if frame is None else frame + 1,
                    self.tokens.bt_list(m.group(1), m.group(2))
                    if m is not None
                    else self.tokens.bt_list(None, None),
                )
                self._remember(text, hit)
                self.bt.append(hit[3])
        elif kind == "call":
            self.in_call_block = True
        elif kind == "summary":
            self._summary(text)
        elif kind == "func":
            if text.startswith("func#"):
                self.has_func_list = True
        elif kind == UNRECOGNIZED and self.strict:
            raise LogError(f"line {lineno}: unrecognized verifier log line {text[:80]!r}")
        return self._row(kind, insn, frame)

    def feed_as(self, kind: str) -> None:
        """Record the next line with a kind the context decides (another tool's output)."""
        self._row(kind)

    def _bad(self, text: str) -> str:
        if self.strict:
            lineno = self.first_line + len(self.kinds)
            raise LogError(f"line {lineno}: cannot decode the state in {text[:80]!r}")
        return UNRECOGNIZED

    def _summary(self, text: str) -> None:
        m = _PROCESSED_RE.match(text)
        if m is not None:
            self.processed = True
            keys = (
                "insns_processed",
                "insn_limit",
                "max_states_per_insn",
                "total_states",
                "peak_states",
                "mark_read",
            )
            for k, v in zip(keys, m.groups(), strict=True):
                if v is not None:
                    self.summary[k] = int(v)
            om = _OLD_DEPTH_RE.match(text)
            if om is not None:
                self.summary["stack_depth"] = tuple(int(x) for x in om.group(1).split("+"))
            return
        m = _VTIME_RE.match(text)
        if m is not None:
            self.summary["verification_time_usec"] = int(m.group(1))
            return
        m = _DEPTH_RE.match(text)
        if m is not None:
            self.summary["stack_depth"] = tuple(int(x) for x in m.group(1).split("+"))

_EMPTY = _Decoded(0, (), (), ())
# the rest of a wrapped state: a cut token, then only state tokens ("off=0) R8=1 fp-8=m")
_FRAGMENT_RE = re.compile(r"\S*[=(),;:\d]\S*(?: +(?:\S+=\S*|cb|async_cb|frame\d+:))*")


_FROM_INSN_RE = re.compile(r"from (\d+) to")


def _from_insn(text: str) -> int | None:
    m = _FROM_INSN_RE.match(text)
    return int(m.group(1)) if m else None


class Log:
    """The verifier log of one program: classified lines, decoded states, lazy DataFrames.

    Build one with :func:`parse_log` or :func:`load_log`. Attributes: ``name``, ``verdict``
    (``"accept"``, ``"reject"`` or ``"unknown"``), ``error`` (the kernel's error line(s)),
    ``error_insn``, ``truncated``, ``level`` (1, 2 or None), ``stats`` (:class:`LogStats`),
    ``kinds`` (kind -> line count). Tables (pandas DataFrames, built on first use and cached):
    ``lines``, ``instructions``, ``steps``, ``registers``, ``stack``, ``refs``, ``branches``,
    ``prunes``, ``backtracking``.

    Notes
    -----
    ``line`` columns are line numbers of the input text (1-based), so rows of different tables
    join on them. A *step* is one printed instruction (``N: (op) ...``) in verification order;
    ``path`` counts the ``from X to Y:`` lines seen before it (0 on the first path). States
    are attached to steps: the state after an instruction (``; R1=...``) to that
    instruction's step, a state printed before an instruction (``N: R1=...``, ``from X to Y:
    R1=...``) to the step that follows it (the same ``step`` value as the next instruction).
    The ``caller:``/``callee:``/``returning from callee:`` context blocks, the ``N: frame1:
    ...`` state that repeats the callee's entry state right after such a block, and the parent
    states of ``mark_precise`` are not in ``registers`` (they repeat other states). A frame-0
    state prints no ``frame0:``; its ``frame`` is 0.

    ``registers.flags`` joins the printed type prefixes (``rcu``, ``percpu``, ``untrusted``,
    ``trusted``, ``rdonly``, ``ringbuf``, ``user``) and ``alloc`` where the log shows the
    object is program-allocated (MEM_ALLOC, which the kernel does not print): a ``non_own_ref``,
    or a ``ptr_<type>`` whose type R0 had right after a call to ``bpf_obj_new_impl``,
    ``bpf_percpu_obj_new_impl``, ``bpf_refcount_acquire_impl``, a list pop/front/back or an
    rbtree remove/first/root/left/right in the same log. A type that only arrives through
    ``bpf_kptr_xchg`` cannot be told from a referenced kernel object by the text: join
    ``btf_type`` with the program's BTF for those.

    ``verdict`` is ``"reject"`` when the log ends with kernel error lines, ``"accept"`` when
    it has the ``processed N insns`` summary, no error and was not cut, else ``"unknown"``
    (fragments, and cut logs: since 6.4 ``bpf()`` fails with ENOSPC when the log does not fit).
    """

    def __init__(self, builder: _Builder, name: str | None, text_complete: bool = True) -> None:
        self._b = builder
        self.name = name
        self._cache: dict[str, pd.DataFrame] = {}
        kinds = builder.kinds
        has_summary = "insns_processed" in builder.summary
        # Cut logs. Since 6.4 a log that overflows its buffer keeps its tail (commit
        # "bpf: switch BPF verifier log to be a rotating log by default"), older kernels and
        # BPF_LOG_FIXED keep the head. The verifier always starts at insn 0 (and the live-regs
        # table too), so a log whose first line naming an instruction is elsewhere, or is
        # backtracking or a prune, lost its head; its first line is a fragment.
        head_cut = False
        for k, insn in zip(kinds, builder.insns, strict=True):
            if insn >= 0 and k in _INDEXED_CODES:
                head_cut = insn != 0 or k in _CUT_HEAD_CODES
                break
        if head_cut and kinds[0] in _MESSAGE_CODES:
            kinds[0] = _KIND_CODE["truncated"]
        tail_cut = not text_complete and not has_summary
        if tail_cut and kinds and kinds[-1] in _MESSAGE_CODES:
            kinds[-1] = _KIND_CODE["truncated"]
        # the error: the last run of kernel messages with no instruction or state after it
        message = _KIND_CODE["message"]
        first = len(kinds)
        for i in range(len(kinds) - 1, -1, -1):
            k = kinds[i]
            if k == message:
                first = i
            elif k not in _AFTER_ERROR_CODES:
                break
        self.error: str | None = None
        self.error_insn: int | None = None
        if first < len(kinds):
            tail = kinds[first:]
            self.error = builder.text_of(first, tail, message)
            kinds[first:] = tail.replace(bytes((message,)), bytes((_KIND_CODE["error"],)))
            self.error_insn = builder.last_insn()
        # the kinds in the order they first appear
        present = sorted(set(kinds), key=kinds.index)
        counts = {KINDS[c]: kinds.count(c) for c in present}
        counts.setdefault(UNRECOGNIZED, 0)
        self.kinds: dict[str, int] = counts
        s = builder.summary
        self.stats = LogStats(
            s.get("insns_processed"),
            s.get("insn_limit"),
            s.get("max_states_per_insn"),
            s.get("total_states"),
            s.get("peak_states"),
            s.get("mark_read"),
            s.get("verification_time_usec"),
            s.get("stack_depth"),
        )
        self.truncated = head_cut or tail_cut or (not has_summary and self.error is None)
        if self.error is not None:
            self.verdict = "reject"
        elif has_summary and not self.truncated:
            self.verdict = "accept"
        else:  # a cut log: since 6.4 bpf() fails with ENOSPC even when verification passed
            self.verdict = "unknown"
        if (
            counts.get("backtrack")
            or counts.get("liveness")
            or counts.get("scc")
            or builder.has_func_list
        ):
            self.level: int | None = 2
        elif counts.get("insn") or counts.get("insn_state"):
            self.level = 1
        else:
            self.level = None

    def __repr__(self) -> str:
        return (
            f"<Log {self.name!r} {self.verdict} lines={len(self._b)} "
            f"insns_processed={self.stats.insns_processed} unrecognized={self.kinds[UNRECOGNIZED]}>"
        )

    def _repr_html_(self) -> str:
        """Notebook summary: name, verdict, error, stats, line kinds (the project's shared
        :func:`bpfkit._repr.log_html`, so a Log looks the same in notebooks and the report)."""
        from bpfkit._repr import log_html

        return log_html(self)

    @property
    def text(self) -> str:
        """The program's log lines joined with newlines."""
        b = self._b
        if b.peel_rows:
            return "\n".join(b.texts())
        text, start, end = b.span
        return text[start:end]

    def _get(self, key: str) -> pd.DataFrame:
        df = self._cache.get(key)
        if df is None:
            was = gc.isenabled()
            gc.disable()
            try:
                df = _TABLES[key](self._b)
            finally:
                if was:
                    gc.enable()
            self._cache[key] = df
        return df

    @property
    def lines(self) -> pd.DataFrame:
        """[line, kind, insn_idx, frame, text], one row per line (line numbers of the file)."""
        return self._get("lines")

    @property
    def instructions(self) -> pd.DataFrame:
        """[insn_idx, opcode, asm, src_file, src_line, src_text], one row per instruction seen."""
        return self._get("instructions")

    @property
    def steps(self) -> pd.DataFrame:
        """[step, line, insn_idx, frame, path]: each visit of an instruction, in order."""
        return self._get("steps")

    @property
    def registers(self) -> pd.DataFrame:
        """Register states in long format, one row per register per printed state."""
        return self._get("registers")

    @property
    def stack(self) -> pd.DataFrame:
        """[step, line, insn_idx, frame, off, slot_types, spilled, written, raw]."""
        return self._get("stack")

    @property
    def refs(self) -> pd.DataFrame:
        """[step, line, insn_idx, ref_obj_id]: references held in each printed state."""
        return self._get("refs")

    @property
    def branches(self) -> pd.DataFrame:
        """[step, line, from_insn, to_insn]: each ``from X to Y:`` (a new path)."""
        return self._get("branches")

    @property
    def prunes(self) -> pd.DataFrame:
        """[step, line, insn_idx]: each ``safe`` (state pruned)."""
        return self._get("prunes")

    @property
    def backtracking(self) -> pd.DataFrame:
        """[line, insn_idx, frame, regs, stack, text]: precision backtracking lines."""
        return self._get("backtracking")

    def frames(self) -> dict[str, pd.DataFrame]:
        """All tables by name."""
        return {k: self._get(k) for k in _TABLES}


# ----------------------------------------------------------------------------- tables


def _int_na(values: Sequence[int]) -> Any:
    """An Int64 array from ints with -1 for missing."""
    import numpy as np
    import pandas as pd

    arr = np.array(values, dtype=np.int64)
    return pd.arrays.IntegerArray(arr, arr < 0)


def _objects(values: Any) -> Any:
    """A plain object column: pandas 3 would infer its Arrow ``str`` dtype for a list or an
    object array of strings, which costs ~1.4 us per row (more than parsing the line)."""
    import numpy as np
    import pandas as pd

    if not isinstance(values, np.ndarray):
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        values = arr
    return pd.Series(values, dtype=object, copy=False)


def _line_columns(b: _Builder) -> dict[str, Any]:
    """The line columns as arrays for the lines and backtracking tables (the texts are
    split once and kept: the lines table's column holds the same strings)."""
    import numpy as np

    if b.line_texts is None:
        b.line_texts = _object_array(b.texts())
    return {
        "line": np.arange(b.first_line, b.first_line + len(b), dtype=np.int64),
        "kind": np.array(b.kinds, dtype=np.int8),
        "insn_idx": np.array(b.insns, dtype=np.int64),
        "frame": np.array(b.frames, dtype=np.int64) - 1,
        "text": b.line_texts,
    }


def _object_array(values: Sequence[Any]) -> Any:
    import numpy as np

    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _records(values: array[int], width: int) -> Any:
    """An int64 array of fixed-width records as a 2-D numpy array, one row per record."""
    import numpy as np

    return np.array(values, dtype=np.int64).reshape(-1, width)


def _lines_frame(b: _Builder) -> pd.DataFrame:
    import pandas as pd

    c = _line_columns(b)
    return pd.DataFrame(
        {
            "line": c["line"],
            "kind": pd.Categorical.from_codes(c["kind"], categories=pd.Index(list(KINDS))),
            "insn_idx": pd.arrays.IntegerArray(c["insn_idx"], c["insn_idx"] < 0),
            "frame": pd.arrays.IntegerArray(c["frame"], c["frame"] < 0),
            "text": _objects(c["text"]),
        }
    )


def _instructions_frame(b: _Builder) -> pd.DataFrame:
    import pandas as pd

    idx = sorted(b.instructions)
    rows = [b.instructions[i] for i in idx]
    return pd.DataFrame(
        {
            "insn_idx": _i64(idx),
            "opcode": _objects([r[0] for r in rows]),
            "asm": _objects([r[1] for r in rows]),
            "src_file": _objects([r[2] for r in rows]),
            "src_line": _arr([r[3] for r in rows], dtype="Int64"),
            "src_text": _objects([r[4] for r in rows]),
        }
    )


def _steps_frame(b: _Builder) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    steps = _records(b.steps, 5).T
    return pd.DataFrame(
        {
            name: np.ascontiguousarray(col)
            for name, col in zip(("step", "line", "insn_idx", "frame", "path"), steps, strict=True)
        }
    )


_REG_COLUMNS = (
    "reg",
    "type",
    "or_null",
    "flags",
    "btf_type",
    "id",
    "ref_obj_id",
    "non_own_ref",
    "off",
    "smin",
    "smax",
    "umin",
    "umax",
    "smin32",
    "smax32",
    "umin32",
    "umax32",
    "var_off_value",
    "var_off_mask",
    "precise",
    "written",
    "raw",
)


def _flags(r: RegState) -> str:
    f = list(r.flags)
    if r.non_own_ref and "alloc" not in f:
        f.append("alloc")
    return ",".join(f)


def _occurrence_columns(b: _Builder, which: str) -> tuple[dict[str, Any], Any]:
    """The step, line, insn_idx and frame of each register (or stack slot) of each state
    occurrence, and its code into the distinct tokens."""
    import numpy as np

    dec = b.dec
    if not (b.tokens.regs if which == "regs" else b.tokens.slots):
        # no state printed such a token (a log without stack slots): no walk over the states
        counts = np.zeros(len(dec), dtype=np.int64)
        codes = np.zeros(0, dtype=np.int64)
    else:
        per_state = list(map(attrgetter(which), dec))  # the codes of each occurrence's state
        counts = np.fromiter(map(len, per_state), dtype=np.int64, count=len(dec))
        codes = np.fromiter(
            chain.from_iterable(per_state), dtype=np.int64, count=int(counts.sum())
        )
    occ = _records(b.occ, 4)
    base = {
        name: np.repeat(occ[:, i], counts)
        for i, name in enumerate(("step", "line", "insn_idx", "frame"))
    }
    return base, codes


def _i64(values: Any) -> Any:
    """A plain int64 column (numpy: much cheaper than pd.array for short lists)."""
    import numpy as np

    return np.asarray(values, dtype=np.int64)


def _arr(values: Any, dtype: str) -> Any:
    import pandas as pd

    return pd.array(values, dtype=dtype)


def _masked(values: Sequence[Any], unsigned: bool) -> Any:
    """A nullable Int64/UInt64 array; None and numbers outside the dtype (only in edited logs,
    e.g. a 64-bit value in a 32-bit range) become NA."""
    import numpy as np
    import pandas as pd

    dtype = np.uint64 if unsigned else np.int64
    try:  # the usual case: every value is a number within the dtype
        return pd.arrays.IntegerArray(
            np.array(values, dtype=dtype), np.zeros(len(values), dtype=bool)
        )
    except (TypeError, OverflowError):
        pass
    lo, hi = (0, (1 << 64) - 1) if unsigned else (-(1 << 63), (1 << 63) - 1)
    mask = np.array([v is None or not lo <= v <= hi for v in values], dtype=bool)
    data = np.array(
        [0 if m else v for v, m in zip(values, mask.tolist(), strict=True)], dtype=dtype
    )
    return pd.arrays.IntegerArray(data, mask)


def _register_columns(tokens: _Tokens) -> dict[str, Any]:
    """Columns over the distinct register tokens, cached until new tokens appear."""
    import numpy as np
    import pandas as pd

    toks = tokens.regs
    cached = tokens.reg_columns
    if cached is not None and cached[0] == len(toks):
        return cached[1]
    regs = list(map(itemgetter(1), toks))
    # the RegStates' fields as columns, transposed in one go
    fields = dict(zip(RegState._fields, zip(*regs, strict=True), strict=True)) if regs else {}

    def field(name: str) -> Sequence[Any]:
        return fields.get(name, ())

    def col(name: str, dtype: Any) -> Any:
        return np.array(field(name), dtype=dtype)

    uniq: dict[str, Any] = {
        "reg": np.array(list(map(itemgetter(0), toks)), dtype=np.int64),
        "type": pd.Categorical(col("type", object)),
        "or_null": col("or_null", bool),
        "flags": np.array(
            [_flags(r) if r.flags or r.non_own_ref else "" for r in regs], dtype=object
        ),
        "btf_type": col("btf_type", object),
        "id": col("id", np.int64),
        "ref_obj_id": col("ref_obj_id", np.int64),
        "non_own_ref": col("non_own_ref", bool),
        "off": col("off", np.int64),
        "precise": col("precise", bool),
        "written": np.array(["w" in lv for lv in field("live")], dtype=bool),
        "raw": np.array([t[2].partition("=")[2] for t in toks], dtype=object),
    }
    for name in ("smin", "smax", "smin32", "smax32", "umin32", "umax32"):
        uniq[name] = _masked(field(name), unsigned=False)
    for name in ("umin", "umax", "var_off_value", "var_off_mask"):
        uniq[name] = _masked(field(name), unsigned=True)
    tokens.reg_columns = (len(toks), uniq)
    return uniq


def _registers_frame(b: _Builder) -> pd.DataFrame:
    import pandas as pd

    base, codes = _occurrence_columns(b, "regs")
    uniq = _register_columns(b.tokens)
    cols: dict[str, Any] = dict(base)
    cols["insn_idx"] = pd.arrays.IntegerArray(base["insn_idx"], base["insn_idx"] < 0)
    for name in _REG_COLUMNS:
        col = uniq[name].take(codes)
        if name == "type":  # the types of these rows only, as astype("category") gives
            col = col.remove_unused_categories()
        cols[name] = _objects(col) if col.dtype == object else col
    df = pd.DataFrame(cols)
    _mark_alloc(b, df)
    return df


# kfuncs whose result is always a program-allocated object (MEM_ALLOC), owning or not
_ALLOC_CALL_RE = re.compile(
    r"call (?:bpf_obj_new_impl|bpf_percpu_obj_new_impl|bpf_refcount_acquire_impl"
    r"|bpf_list_pop_front|bpf_list_pop_back|bpf_list_front|bpf_list_back"
    r"|bpf_rbtree_remove|bpf_rbtree_first|bpf_rbtree_root|bpf_rbtree_left|bpf_rbtree_right)#"
)


def _mark_alloc(b: _Builder, df: pd.DataFrame) -> None:
    """Add ``alloc`` to the flags of ``ptr_<type>`` registers whose type the log shows to be
    program-allocated: the type of R0 right after a call to bpf_obj_new (and the other
    kfuncs that only return MEM_ALLOC objects). Kernel types (task_struct, bpf_cpumask) never
    come back from these kfuncs, so they stay unflagged."""
    import numpy as np

    if df.empty:
        return
    alloc_insns = {
        i for i, ins in b.instructions.items() if ins[1] and _ALLOC_CALL_RE.search(ins[1])
    }
    calls = {}
    if alloc_insns:
        steps = _records(b.steps, 5)
        for step, line in steps[np.isin(steps[:, 2], list(alloc_insns))][:, :2].tolist():
            calls[step] = line
    if calls:
        r0 = df[(df["reg"] == 0) & (df["type"] == "ptr_")]
        steps = r0["step"].to_numpy()
        lines = r0["line"].to_numpy()
        names = r0["btf_type"].to_numpy()
        for step, line in calls.items():
            after = ((steps == step) | (steps == step + 1)) & (lines >= line)
            hit = np.flatnonzero(after)
            if len(hit) and names[hit[0]]:
                b.alloc_types.add(str(names[hit[0]]))
    if not b.alloc_types:
        return
    mask = (df["type"] == "ptr_").to_numpy() & df["btf_type"].isin(b.alloc_types).to_numpy()
    flags = df["flags"].to_numpy().copy()
    for i in np.flatnonzero(mask):
        f = flags[i]
        if "alloc" not in f.split(","):
            flags[i] = f + ",alloc" if f else "alloc"
    df["flags"] = _objects(flags)


def _stack_frame(b: _Builder) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    base, codes = _occurrence_columns(b, "slots")
    toks = b.tokens.slots
    uniq = {
        "off": np.array([t[0].off for t in toks], dtype=np.int64),
        "slot_types": np.array([t[0].slot_types for t in toks], dtype=object),
        "spilled": np.array(
            [t[0].spilled.render() if t[0].spilled is not None else t[0].special for t in toks],
            dtype=object,
        ),
        "written": np.array([t[0].written for t in toks], dtype=bool),
        "raw": np.array([t[1].partition("=")[2] for t in toks], dtype=object),
    }
    cols: dict[str, Any] = dict(base)
    cols["insn_idx"] = pd.arrays.IntegerArray(base["insn_idx"], base["insn_idx"] < 0)
    for name, col in uniq.items():
        c = col.take(codes) if len(toks) else col[:0]
        cols[name] = _objects(c) if c.dtype == object else c
    return pd.DataFrame(cols)


def _refs_frame(b: _Builder) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    per_state = list(map(attrgetter("refs"), b.dec))
    counts = np.fromiter(map(len, per_state), dtype=np.int64, count=len(b.dec))
    refs = np.fromiter(chain.from_iterable(per_state), dtype=np.int64, count=int(counts.sum()))
    occ = _records(b.occ, 4)
    insn = np.repeat(occ[:, 2], counts)
    return pd.DataFrame(
        {
            "step": np.repeat(occ[:, 0], counts),
            "line": np.repeat(occ[:, 1], counts),
            "insn_idx": pd.arrays.IntegerArray(insn, insn < 0),
            "ref_obj_id": refs,
        }
    )


def _branches_frame(b: _Builder) -> pd.DataFrame:
    import pandas as pd

    rows = b.b_rows
    return pd.DataFrame(
        {
            "step": _i64([r[0] for r in rows]),
            "line": _i64([r[1] for r in rows]),
            "from_insn": _arr([r[2] for r in rows], dtype="Int64"),
            "to_insn": _i64([r[3] for r in rows]),
        }
    )


def _prunes_frame(b: _Builder) -> pd.DataFrame:
    import pandas as pd

    rows = b.p_rows
    return pd.DataFrame(
        {
            "step": _i64([r[0] for r in rows]),
            "line": _i64([r[1] for r in rows]),
            "insn_idx": _arr([r[2] for r in rows], dtype="Int64"),
        }
    )


def _backtracking_frame(b: _Builder) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    c = _line_columns(b)
    sel = c["kind"] == _BACKTRACK
    insn = c["insn_idx"][sel]
    frame = c["frame"][sel]
    codes = np.array(b.bt, dtype=np.intp)
    lists = b.tokens.bt_lists
    regs = _object_array([r for r, _ in lists]).take(codes)
    stack = _object_array([s for _, s in lists]).take(codes)
    return pd.DataFrame(
        {
            "line": c["line"][sel],
            "insn_idx": pd.arrays.IntegerArray(insn, insn < 0),
            "frame": pd.arrays.IntegerArray(frame, frame < 0),
            "regs": _objects(regs),
            "stack": _objects(stack),
            "text": _objects(c["text"][sel]),
        }
    )


_TABLES = {
    "lines": _lines_frame,
    "instructions": _instructions_frame,
    "steps": _steps_frame,
    "registers": _registers_frame,
    "stack": _stack_frame,
    "refs": _refs_frame,
    "branches": _branches_frame,
    "prunes": _prunes_frame,
    "backtracking": _backtracking_frame,
}

# ----------------------------------------------------------------------------- splitting


_INDEXED = frozenset(("insn", "insn_state", "state", "backtrack", "prune", "liveness"))
_INDEXED_CODES = frozenset(_KIND_CODE[k] for k in _INDEXED)
_CUT_HEAD_CODES = frozenset((_KIND_CODE["backtrack"], _KIND_CODE["prune"]))
_MESSAGE_CODES = frozenset((_KIND_CODE["message"], _KIND_CODE[UNRECOGNIZED]))
# kinds that may follow the error lines at the end of a log
_AFTER_ERROR_CODES = frozenset(
    _KIND_CODE[k]
    for k in ("blank", "noise", "libbpf", "summary", "btf", "truncated", "tool", "diagnostic")
)
# kinds of other tools' output (a block of only these is no program's); the summary is the
# kernel's but ends a program
_NON_KERNEL_CODES = frozenset(
    _KIND_CODE[k] for k in ("blank", "noise", "libbpf", "btf", "tool")
)
# after a program's "processed N insns" line, anything else (even the "verification time"
# that 5.x+ print first) belongs to the next program
_NOISE_KINDS = frozenset(("blank", "noise", "libbpf", "btf", "tool"))


#: Characters of a text split into lines at a time: only one chunk's list of lines is held.
_CHUNK = 1 << 16
#: Lines a file reader holds as separate strings before it joins them into one text
_BLOCK = 4096


class _Lines:
    """The lines of a text, without their newlines, numbered from 1.

    The text is split a chunk at a time. :meth:`span` gives the part of the text that holds a
    run of lines (a program's), so a Log keeps the input text instead of a string per line.
    """

    def __init__(self, text: str, *, plain: bool = False) -> None:
        self.text = text
        self.complete = text.endswith("\n") or not text
        #: known to hold no libbpf/veristat program wrappers
        self.plain = plain
        # the first line number of each chunk split so far, and its index in the text
        self._chunk_lines: list[int] = []
        self._chunk_starts: list[int] = []
        self._known = (1, 0)  # the last line whose start was looked up, and its start

    def _chunks(self) -> Iterator[list[str]]:
        text = self.text
        n = len(text)
        pos = 0
        lineno = 1
        while pos < n:
            end = text.find("\n", pos + _CHUNK)
            lines = text[pos : n if end < 0 else end].split("\n")
            if end < 0 and self.complete:
                lines.pop()  # the empty piece after the final newline
            self._chunk_lines.append(lineno)
            self._chunk_starts.append(pos)
            yield lines
            lineno += len(lines)
            pos = n if end < 0 else end + 1

    def lines(self) -> Iterator[str]:
        return chain.from_iterable(self._chunks())

    __iter__ = lines

    def _start(self, lineno: int) -> int:
        """The index in the text where line *lineno* starts (one past the end of the text
        for the line after the last when the text has no final newline)."""
        i = bisect.bisect_right(self._chunk_lines, lineno) - 1
        at, pos = self._chunk_lines[i], self._chunk_starts[i]
        if self._known[0] <= lineno and self._known[0] > at:  # nearer: start from there
            at, pos = self._known
        text = self.text
        for _ in range(lineno - at):
            nl = text.find("\n", pos)
            if nl < 0:
                return len(text) + 1
            pos = nl + 1
        self._known = (lineno, pos)
        return pos

    def span(self, first: int, n: int) -> tuple[str, int, int]:
        """The text of lines *first* .. *first* + *n* - 1 as (text, start, end)."""
        if n == 0:
            return ("", 0, 0)
        start = self._start(first)
        return self.text, start, self._start(first + n) - 1

    def drop(self, lineno: int) -> None:
        """Lines up to *lineno* belong to no program (nothing is held for them)."""


class _FileLines(_Lines):
    """The lines of a file read line by line (``\\n`` or ``\\r\\n`` ends); the lines since
    the last :meth:`span` or :meth:`drop` are held until a span takes them.

    They are held as text, :data:`_BLOCK` lines joined into one string, not as a string per
    line: a short line costs a string object of ~50 bytes and a list slot of 8, so a file of
    blank or few-byte lines held that way took 16-24x its size (issue #17)."""

    def __init__(self, raw: Iterable[str]) -> None:
        super().__init__("")
        self._raw = raw
        self._blocks: deque[tuple[str, int]] = deque()  # (lines joined by "\n", how many)
        self._tail: list[str] = []  # the lines after the last block
        self._held_first = 1

    def lines(self) -> Iterator[str]:
        tail, blocks = self._tail, self._blocks
        for raw in self._raw:
            if raw.endswith("\n"):
                self.complete = True
                line = raw[:-2] if raw.endswith("\r\n") else raw[:-1]
            else:
                self.complete = False
                line = raw
            tail.append(line)
            if len(tail) >= _BLOCK:
                blocks.append(("\n".join(tail), len(tail)))
                tail.clear()
            yield line

    __iter__ = lines

    def _shift(self, count: int) -> str:
        """Stop holding the first *count* held lines; their text ("\\n" between lines)."""
        parts: list[str] = []
        blocks = self._blocks
        while count > 0 and blocks:
            text, n = blocks[0]
            if n <= count:
                blocks.popleft()
                parts.append(text)
                count -= n
                continue
            cut = -1
            for _ in range(count):  # the end of the count-th line of the block
                cut = text.index("\n", cut + 1)
            parts.append(text[:cut])
            blocks[0] = (text[cut + 1 :], n - count)
            count = 0
        if count > 0 and self._tail:
            parts.append("\n".join(self._tail[:count]))
            del self._tail[:count]
        return "\n".join(parts)

    def span(self, first: int, n: int) -> tuple[str, int, int]:
        self._shift(first - self._held_first)
        text = self._shift(n)
        self._held_first = first + n
        return text, 0, len(text)

    def drop(self, lineno: int) -> None:
        self._shift(lineno + 1 - self._held_first)
        self._held_first = max(self._held_first, lineno + 1)


def _finish(b: _Builder, src: _Lines, name: str | None, complete: bool = True) -> Log:
    """The Log of a builder whose lines are all fed."""
    b.span = src.span(b.first_line, len(b))
    b.forget()
    return Log(b, name, text_complete=complete)


def _iter_programs(src: _Lines, default: str | None, strict: bool) -> Iterator[Log]:
    """The one splitter behind :func:`parse_log` and :func:`iter_logs`.

    libbpf/bpftool ``-- BEGIN PROG LOAD LOG --`` blocks (named by ``libbpf: prog 'x':``) and
    veristat ``PROCESSING x.o/prog ...`` blocks each make a program; once a file has a libbpf
    block, lines between blocks (libbpf's own chatter) belong to no program. Otherwise a plain
    log starts a new program at the first kernel line after a ``processed N insns`` line.
    """
    b: _Builder | None = None
    name = default
    wrapped = False
    ended = False  # plain mode: the current program printed its summary

    def has_kernel_lines(bb: _Builder) -> bool:
        return not _NON_KERNEL_CODES.issuperset(bb.kinds)

    if src.plain:
        # no libbpf or veristat wrappers anywhere: only the summary lines split programs
        b = _Builder(strict=strict)
        lines = src.lines()
        ended = b.feed_lines(lines)
        while ended:
            # after a program's summary: other tools' lines are still its, any other line
            # starts the next program
            for text in lines:
                if classify(text).kind in _NOISE_KINDS:
                    b.feed(text)
                    continue
                yield _finish(b, src, name)
                b = _Builder(strict=strict, first_line=b.first_line + len(b))
                ended = b.feed(text) == "summary" and b.processed
                break
            else:
                break
            if not ended:
                ended = b.feed_lines(lines)
        if len(b):
            yield _finish(b, src, name, src.complete)
        return
    veristat = False
    lineno = 0
    for text in src:
        lineno += 1
        if "PROG LOAD LOG --" in text:
            m = _BEGIN_RE.search(text)
            if m is not None:
                if b is not None and (wrapped or has_kernel_lines(b)):
                    yield _finish(b, src, name)
                else:
                    src.drop(lineno - 1)
                b = _Builder(strict=strict, first_line=lineno)
                name = m.group(1) if m.group(1) is not None else default
                wrapped = True
                ended = False
                b.feed(text)
                continue
            if b is not None and wrapped and "-- END PROG LOAD LOG --" in text:
                b.feed(text)
                yield _finish(b, src, name)
                b = None
                continue
        if b is None:
            if wrapped:
                src.drop(lineno)
                continue  # libbpf chatter between programs
            b = _Builder(strict=strict, first_line=lineno)
        if text.startswith("PROCESSING "):
            vm = _VERISTAT_RE.match(text)
            if vm is not None:
                if has_kernel_lines(b):
                    yield _finish(b, src, name)
                else:
                    src.drop(lineno - 1)  # a program with no kernel line is dropped
                b = _Builder(strict=strict, first_line=lineno)
                name = vm.group(2)
                ended = False
                veristat = True
        if ended and veristat:
            # after the log veristat prints its own output (the stats table, "Done. ...")
            b.feed_as("blank" if not text.strip() else "noise")
            continue
        if ended and classify(text).kind not in _NOISE_KINDS:
            yield _finish(b, src, name)
            b = _Builder(strict=strict, first_line=lineno)
            ended = False
        kind = b.feed(text)
        if kind == "summary" and not wrapped and b.processed:
            ended = True
    if b is not None and len(b):
        yield _finish(b, src, name, src.complete)


def _loader_records(text: str) -> list[dict[str, Any]] | None:
    """The records of a ``bpfkit load --json --with-log`` file, or None for a log."""
    if not text.lstrip().startswith("[") or '"log"' not in text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if (
        isinstance(data, list)
        and data
        and all(isinstance(d, dict) and isinstance(d.get("log"), str) for d in data)
    ):
        return data
    return None


#: Line kinds only a verifier (or BTF) load log has: a text with none is not a verifier log.
VERIFIER_KINDS = frozenset(
    (
        "insn",
        "insn_state",
        "state",
        "branch",
        "prune",
        "backtrack",
        "liveness",
        "summary",
        "func",
        "call",
        "scc",
        "btf",
        "libbpf",
        "diagnostic",
    )
)
#: A log that is only kernel messages (a check that fails before any instruction, e.g.
#: "unreachable insn 1") has at most this many lines.
_MAX_BARE_ERROR_LINES = 3
#: How many lines :func:`iter_logs` reads without finding a verifier line before giving up.
_MAX_LINES_BEFORE_A_LOG = 100_000


def _is_log(logs: Sequence[Log]) -> bool:
    kinds: Counter[str] = Counter()
    for lg in logs:
        kinds.update(lg.kinds)
    if any(kinds.get(k) for k in VERIFIER_KINDS):
        return True
    # the loader's own lines around a bare error ("libscap: ...", "libbpf: ...") do not count
    texts = sum(v for k, v in kinds.items() if k not in ("blank", "tool", "libbpf"))
    return 0 < texts <= _MAX_BARE_ERROR_LINES and texts == kinds.get("error", 0) + kinds.get(
        "message", 0
    )


def _describe_text(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "it is empty" if not text else "it holds only blank lines"
    first = lines[0][:60]
    return f"none of its {len(lines):,} lines is a verifier log line (the first: {first!r})"


def check_is_log(logs: Sequence[Log], text: str, where: str) -> None:
    """Raise :class:`~bpfkit.errors.LogError` unless *logs* (parsed from *text*) hold a
    verifier log: an empty text, a text that is not a log (a README) or a binary file.

    A log is a text with at least one instruction, state, branch, backtracking, summary,
    libbpf or BTF load line, or a bare kernel error of at most three lines (a check that
    fails before any instruction is printed: ``unreachable insn 1``).
    """
    sample = text[:65536]
    bad = sample.count("\x00") + sample.count("\ufffd")
    if sample and bad * 50 > len(sample) and bad > 8:
        raise LogError(
            f"{where}: not a verifier log: a binary file ({bad:,} of its first "
            f"{len(sample):,} characters are NUL or not UTF-8); --lenient reads it anyway"
        )
    if not _is_log(logs):
        raise LogError(
            f"{where}: not a verifier log: {_describe_text(text)}; --lenient reads it anyway"
        )


def parse_log(
    text: str, *, name: str | None = None, strict: bool = False, lenient: bool = True
) -> list[Log]:
    """Parse verifier log text: one :class:`Log` per program found in it.

    ``name`` names the program of a plain log (wrapped logs carry their own names).
    ``lenient=False`` raises :class:`~bpfkit.errors.LogError` when the text is not a verifier
    log at all (:func:`check_is_log`); text in memory is read best-effort by default.
    ``strict=True`` raises :class:`~bpfkit.errors.LogError` (with the line number) at the
    first unrecognized line instead of marking it (and reads a state cut short, by a
    wrapped line or ``(truncated...)``, as unrecognized instead of keeping its head).

    Examples
    --------
    >>> logs = parse_log("libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\\nR2 !read_ok\\n"
    ...                  "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 "
    ...                  "peak_states 0 mark_read 0\\n-- END PROG LOAD LOG --\\n")
    >>> logs[0].name, logs[0].verdict, logs[0].error
    ('p', 'reject', 'R2 !read_ok')
    """
    if not isinstance(text, str):
        raise LogError(f"parse_log expects text (str), got {type(text).__name__}")
    records = _loader_records(text)
    if records is not None:  # `bpfkit load --json --with-log`: one record per program
        return [
            lg
            for rec in records
            for lg in parse_log(rec["log"], name=rec.get("program") or name, strict=strict)
        ]
    logs = _parse_text(text, name, strict)
    if not lenient:
        check_is_log(logs, text, "text" if name is None else repr(name))
    return logs


def _parse_text(text: str, name: str | None, strict: bool) -> list[Log]:
    # a log saved with CRLF line ends ("\r" first: one character is found ~30x faster)
    if "\r" in text and "\r\n" in text:
        text = text.replace("\r\n", "\n")
    was = gc.isenabled()
    gc.disable()  # the parser allocates many small tuples that are never cyclic
    try:
        plain = "PROG LOAD LOG --" not in text and "PROCESSING " not in text
        logs = list(_iter_programs(_Lines(text, plain=plain), name, strict))
    finally:
        if was:
            gc.enable()
    if not logs:
        logs.append(Log(_Builder(strict=strict), name, text_complete=True))
    return logs


#: A compressed log may decompress to at most this many times its compressed size (plus
#: :data:`_EXPANSION_SLACK`). Real verifier logs compress 6-15x with gzip and up to ~100x
#: with xz (a 7.6 MB level-2 log of a long loop: 78 KB); beyond 400x the file is a
#: decompression bomb, not a log, and reading it is refused with a LogError before its
#: text is held (the streaming readers stop there too).
MAX_EXPANSION = 400
_EXPANSION_SLACK = 1 << 20


#: The most memory the xz decoder may take: ``xz -9`` files need 64 MiB (their dictionary),
#: but an xz header may claim a dictionary of up to 1.5 GiB, which the decoder allocates
#: before it reads a byte of data (a 100-byte file made it allocate 2 GiB). Above the limit
#: the reader stops with a LogError.
XZ_MEMLIMIT = 80 << 20


class _XZFile(io.BufferedReader):
    """An .xz file read with the decoder's memory capped at :data:`XZ_MEMLIMIT`
    (``lzma.open`` takes no memory limit)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115
        super().__init__(
            _compression.DecompressReader(  # type: ignore[arg-type]
                self._file, lzma.LZMADecompressor, trailing_error=lzma.LZMAError,
                memlimit=XZ_MEMLIMIT,
            )
        )

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._file.close()


def _xz_error(p: Path, exc: BaseException) -> LogError:
    if "Memory usage limit" in str(exc):
        return LogError(
            f"cannot read verifier log {str(p)!r}: its xz header asks for more than "
            f"{XZ_MEMLIMIT >> 20} MiB of decoder memory (a dictionary larger than xz -9's "
            f"64 MiB; bpfkit.verifier.log.XZ_MEMLIMIT sets the limit)"
        )
    return LogError(f"cannot read verifier log {str(p)!r}: {exc}")


def _open_binary(p: Path) -> tuple[Any, int | None]:
    """The file opened for reading bytes, and the most it may decompress to (None: plain)."""
    if p.suffix == ".xz":
        return _XZFile(p), MAX_EXPANSION * p.stat().st_size + _EXPANSION_SLACK
    if p.suffix == ".gz":
        return gzip.open(p, "rb"), MAX_EXPANSION * p.stat().st_size + _EXPANSION_SLACK
    return open(p, "rb"), None  # noqa: SIM115


def _bomb(p: Path, limit: int) -> LogError:
    return LogError(
        f"cannot read verifier log {str(p)!r}: it decompresses to more than {limit:,} bytes, "
        f"{MAX_EXPANSION}x its {p.stat().st_size:,} compressed bytes (a decompression bomb, "
        f"not a verifier log; bpfkit.verifier.log.MAX_EXPANSION sets the limit)"
    )


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a log file, decompressed when it is ``.gz``/``.xz``; LogError if it
    cannot be read, or if it expands more than :data:`MAX_EXPANSION` times (refused after
    reading at most that much)."""
    p = Path(path)
    try:
        f, limit = _open_binary(p)
        with f:
            data: bytes = f.read() if limit is None else f.read(limit + 1)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise _xz_error(p, exc) from None
    if limit is not None and len(data) > limit:
        raise _bomb(p, limit)
    return data


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a log file (plain, ``.gz`` or ``.xz``) as text (see :func:`read_bytes`).

    Undecodable bytes become U+FFFD; line ends are kept as they are (no newline translation).
    """
    return read_bytes(path).decode("utf-8", "replace")


def _default_name(path: str | os.PathLike[str]) -> str:
    return Path(path).name.split(".")[0]


def load_log(
    path: str | os.PathLike[str],
    *,
    program: str | None = None,
    strict: bool = False,
    lenient: bool = False,
) -> list[Log]:
    """Read and parse a log file (``.gz``/``.xz`` ok); ``program`` keeps only that program.

    A plain log's program is named after the file (up to its first dot). The JSON written by
    ``bpfkit load --json --with-log`` is read too: one Log per record, named by its program.
    A file that holds no verifier log (empty, another text, a binary) raises
    :class:`~bpfkit.errors.LogError` unless ``lenient=True`` (best-effort reading).
    """
    text = read_text(path)
    logs = parse_log(text, name=_default_name(path), strict=strict)
    if not lenient:
        check_is_log(logs, text, repr(str(path)))
    if program is not None:
        logs = [lg for lg in logs if lg.name == program]
        if not logs:
            raise LogError(f"no program {program!r} in {str(path)!r}")
    return logs


def _head_text(path: str | os.PathLike[str], size: int = 65536) -> str:
    """The first *size* bytes of a log file (decompressed), as text."""
    p = Path(path)
    try:
        if p.suffix == ".xz":
            with _XZFile(p) as f:
                return f.read(size).decode("utf-8", "replace")
        if p.suffix == ".gz":
            with gzip.open(p, "rb") as g:
                return g.read(size).decode("utf-8", "replace")
        with open(p, "rb") as h:
            return h.read(size).decode("utf-8", "replace")
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise _xz_error(p, exc) from None


def _open_lines(path: str | os.PathLike[str]) -> Generator[str, None, None]:
    """The file's lines, split at ``\\n`` only (like :func:`parse_log`), decoded as UTF-8
    with U+FFFD for bad bytes. A compressed file stops with a LogError once it has
    decompressed to more than :data:`MAX_EXPANSION` times its size (no line is read past
    that limit, so a bomb of one endless line is never held either)."""
    p = Path(path)
    try:
        f, limit = _open_binary(p)
    except OSError as exc:
        raise LogError(f"cannot read verifier log {str(p)!r}: {exc}") from None
    try:
        with f:
            if limit is None:
                for raw in f:
                    yield raw.decode("utf-8", "replace")
                return
            left = limit
            while True:
                raw = f.readline(left + 1)
                if not raw:
                    return
                left -= len(raw)
                if left < 0:
                    raise _bomb(p, limit)
                yield raw.decode("utf-8", "replace")
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise _xz_error(p, exc) from None


def iter_logs(
    path: str | os.PathLike[str], *, strict: bool = False, lenient: bool = False
) -> Iterator[Log]:
    """Yield the programs of a (possibly huge) log file one at a time.

    Only one program's lines are held at once; the programs are the same as
    :func:`load_log` returns. (A ``bpfkit load --json`` file is read whole.) Without
    ``lenient``, a file with no verifier log raises :class:`~bpfkit.errors.LogError` as
    :func:`load_log` does (after at most 100,000 lines that are no verifier lines).
    """
    if lenient:
        yield from _iter_logs(path, strict)
        return
    held: list[Log] = []
    held_lines = 0
    found = False
    for lg in _iter_logs(path, strict):
        if found:
            yield lg
            continue
        held.append(lg)
        held_lines += len(lg._b)
        if _is_log(held):
            found = True
            yield from held
            held = []
        elif held_lines > _MAX_LINES_BEFORE_A_LOG:
            break
    if not found:
        check_is_log(held, _head_text(path), repr(str(path)))
        if held_lines > _MAX_LINES_BEFORE_A_LOG:
            raise LogError(
                f"{str(path)!r}: not a verifier log: no verifier line in its first "
                f"{held_lines:,} lines; --lenient reads it anyway"
            )
        yield from held


def _iter_logs(path: str | os.PathLike[str], strict: bool) -> Iterator[Log]:
    first = _open_lines(path)
    try:
        head = next(first, "")
    except LogError:
        head = ""
    finally:
        first.close()
    if head.lstrip().startswith("["):
        yield from load_log(path, strict=strict, lenient=True)
        return
    name = _default_name(path)
    found = False
    for lg in _iter_programs(_FileLines(_open_lines(path)), name, strict):
        found = True
        yield lg
    if not found:  # as parse_log: a text with no program (empty, only chatter) is one empty Log
        yield Log(_Builder(strict=strict), name, text_complete=True)


def iter_frames(
    path: str | os.PathLike[str],
    *,
    tables: Iterable[str] = ("lines", "steps", "registers"),
    chunk_lines: int = 200_000,
    strict: bool = False,
) -> Iterator[dict[str, pd.DataFrame]]:
    """Stream a huge log of one program as chunks of tables (dicts name -> DataFrame).

    The parser keeps its position (step, path, frame, distinct tokens) across chunks, so the
    concatenated chunks equal the tables of the whole log, except that ``lines.kind`` says
    ``message`` for the final error lines (known only at the end: see :attr:`Log.error` of
    :func:`iter_logs`). Memory stays bounded by the chunk (``chunk_lines`` lines) and the
    bounded memo tables. The whole file is one program: split a file with several programs
    with :func:`iter_logs` first. ``instructions`` is not streamed (use a Log).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
    ...     _ = f.write("0: R1=ctx() R10=fp0\\n0: (b7) r0 = 0   ; R0_w=0\\n1: (95) exit\\n")
    >>> [len(c["registers"]) for c in iter_frames(f.name, chunk_lines=2)]
    [3, 0]
    >>> os.unlink(f.name)
    """
    wanted = tuple(tables)
    for t in wanted:
        if t not in _TABLES or t == "instructions":
            raise LogError(
                f"cannot stream table {t!r}; choose from {sorted(set(_TABLES) - {'instructions'})}"
            )
    b = _Builder(strict=strict)
    src = _FileLines(_open_lines(path))
    n = 0
    for lineno, text in enumerate(src, 1):
        b.feed(text)
        n += 1
        if n >= chunk_lines:
            b.span = src.span(b.first_line, n)
            yield {t: _TABLES[t](b) for t in wanted}
            b.reset(lineno + 1)
            if len(b.tokens.regs) + len(b.tokens.slots) + len(b.tokens.bt_lists) > 500_000:
                b.forget()  # the memo holds codes into the token table
                b.tokens = _Tokens()  # codes are per chunk: start a fresh token table
            n = 0
    if n:
        b.span = src.span(b.first_line, n)
        yield {t: _TABLES[t](b) for t in wanted}


def write_parquet(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    tables: Iterable[str] = ("lines", "steps", "registers"),
    chunk_lines: int = 200_000,
) -> dict[str, int]:
    """Stream a log into ``out_dir/<table>.parquet`` files; return rows written per table."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover
        raise LogError("writing Parquet needs pyarrow (pip install pyarrow)") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Any] = {}
    rows: dict[str, int] = {}
    try:
        for chunk in iter_frames(path, tables=tables, chunk_lines=chunk_lines):
            for name, df in chunk.items():
                if name == "lines":
                    df = df.assign(kind=df["kind"].astype(str))
                if name == "registers":
                    df = df.assign(type=df["type"].astype(str))
                table = pa.Table.from_pandas(df, preserve_index=False)
                w = writers.get(name)
                if w is None:
                    w = writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema)
                else:
                    table = table.cast(w.schema)
                w.write_table(table)
                rows[name] = rows.get(name, 0) + len(df)
    finally:
        for w in writers.values():
            w.close()
    return rows
