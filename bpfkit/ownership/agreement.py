"""Where the static ownership model and the kernel's verifier disagree, program by program.

:func:`agreement_frame` loads every program of the given objects into the running kernel on
its own (:func:`bpfkit.kernel.load_programs`, level-1 log with stats) and runs the static model
(:func:`bpfkit.ownership.static.predict`) on the same program, timing both in the same run. One
row per program puts the kernel's verdict, errno, error line, error instruction and verification
time beside the model's verdict, first mistake and analysis time. :func:`agreement_summary`
counts agreement overall and per group.

The kernel's verdict is the oracle. Programs the verifier never judged (the loader or libbpf
refused the object, or the kernel refused the load before verifying: EPERM for a
fentry/fexit/lsm/struct_ops attach target, an unknown attach target, a kfunc extern libbpf
cannot resolve) are kept as rows with ``excluded`` set and the reason, and are left out of the
counts.

The kernel's error instruction (``kernel_insn``) is the index of the last ``N: (..)``
instruction line printed before the error message, in the kernel's numbering (subprograms
appended after the main program as the loader laid them out). The model's instruction
(``pred_insn``) is the first mistake's ``insn`` attribute when the Mistake has one (kernel
numbering), else its ``insn_idx`` (local to the function the mistake is in, which equals the
kernel's numbering only in the main function).

Selftest annotations (``__success``, ``__failure``, ``__msg("...")`` of the kernel's BPF
selftests, BTF decl tags ``comment:test_expect_*``) are read from the object's BTF into
``expect`` and ``expect_msg``: extra columns, never the oracle.
"""

from __future__ import annotations

import copy
import errno as errno_mod
import functools
import math
import re
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfkit.errors import BpfkitError

if TYPE_CHECKING:
    import pandas as pd

    from bpfkit.kernel import LoadResult
    from bpfkit.obj import Object

__all__ = [
    "COLUMNS",
    "FAMILIES",
    "RULE_FAMILIES",
    "ErrorSite",
    "agreement_frame",
    "agreement_summary",
    "disagreements_frame",
    "expand_paths",
    "feature_family",
    "kernel_error_of",
    "rule_family",
    "selftest_expectations",
]

#: The columns of :func:`agreement_frame`, in order.
COLUMNS = (
    "object",
    "program",
    "section",
    "family",
    "kernel_verdict",
    "kernel_errno",
    "kernel_insn",
    "kernel_error",
    "kernel_ms",
    "kernel_rule_family",
    "predicted",
    "pred_insn",
    "pred_func",
    "pred_rule",
    "pred_kind",
    "pred_message",
    "pred_reason",
    "analysis_ms",
    "agree",
    "same_insn",
    "same_rule",
    "excluded",
    "reason",
    "expect",
    "expect_msg",
    "loader",
)

_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\)")
_TIME_LINE = re.compile(r"^verification time (\d+) usec\s*$")
_SUMMARY_LINE = re.compile(
    r"^(processed \d+ insns \(limit \d+\)|verification time \d+ usec|stack depth[\d +]*$)"
)


@dataclass(frozen=True, slots=True)
class ErrorSite:
    """What a rejected program's verifier log points at.

    Attributes
    ----------
    message : str
        The kernel's error line: the last line of the log that is not part of the summary
        (``processed ...``, ``verification time ...``, ``stack depth ...``); meaningful for a
        rejected program only (an accepted one's log ends in code or a ``safe`` line). Empty
        when there is no such line.
    insn : int or None
        The last ``N: (..)`` instruction line printed before the error line: the instruction
        the verifier was checking when it gave up (kernel numbering).
    verification_usec : int or None
        ``verification time N usec`` (log level bit 4).
    verified : bool
        The log shows the verifier at work (an instruction line or the ``processed`` summary),
        as opposed to an empty log or a refusal before verification.
    """

    message: str
    insn: int | None
    verification_usec: int | None
    verified: bool


def kernel_error_of(log: str) -> ErrorSite:
    """Read a verifier log's error line, error instruction and verification time.

    Examples
    --------
    >>> e = kernel_error_of(
    ...     "0: R1=ctx() R10=fp0\\n0: (b7) r0 = 0\\n1: (95) exit\\n"
    ...     "R0 leaks addr as return value\\n"
    ...     "verification time 9 usec\\nstack depth 0\\n"
    ...     "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0"
    ...     " peak_states 0 mark_read 0\\n")
    >>> e.message, e.insn, e.verification_usec, e.verified
    ('R0 leaks addr as return value', 1, 9, True)
    """
    lines = [ln.rstrip(" \t\r\0") for ln in log.splitlines()]
    usec: int | None = None
    processed = False
    end = len(lines)
    while end > 0:
        ln = lines[end - 1].strip()
        if not ln:
            end -= 1
            continue
        if m := _TIME_LINE.match(ln):
            usec = int(m[1])
            end -= 1
            continue
        if _SUMMARY_LINE.match(ln):
            processed = processed or ln.startswith("processed ")
            end -= 1
            continue
        break
    message = lines[end - 1].strip() if end > 0 else ""
    insn: int | None = None
    verified = processed
    for i in range(end - 2, -1, -1):
        if m := _INSN_LINE.match(lines[i]):
            insn = int(m[1])
            verified = True
            break
    if message and _INSN_LINE.match(message):  # no error message: the log ends in code
        message = ""
    return ErrorSite(message, insn, usec, verified)


# --- families -----------------------------------------------------------------------------

#: Feature families, from the object's or program's name (first match wins).
FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pat))
    for name, pat in (
        ("refcount", r"refcount"),
        ("rbtree", r"rbtree"),
        ("list", r"linked_list|(^|_)list"),
        ("local_kptr", r"local_kptr|kptr_stash|stash"),
        ("map_kptr", r"map_kptr|kptr"),
        ("task_kfunc", r"task_kfunc|(^|_)task"),
        ("cgroup_kfunc", r"cgrp|cgroup"),
        ("cpumask", r"cpumask"),
        ("percpu", r"percpu"),
        ("rcu", r"rcu"),
        ("alloc", r"alloc|obj_new|obj_drop"),
        ("locks", r"spin_lock|(^|_)lock"),
        ("loops", r"loop"),
    )
)


def feature_family(obj_name: str, program: str = "") -> str:
    """The feature family of a program: the first of :data:`FAMILIES` matching the object's
    file name, else the program's name, else ``"other"``.

    Examples
    --------
    >>> feature_family("rbtree_fail.bpf.o", "rbtree_api_nolock_add")
    'rbtree'
    >>> feature_family("x.bpf.o", "stash_cpumask")
    'local_kptr'
    """
    stem = Path(obj_name).name.split(".")[0]
    for text in (stem, program):
        for name, pat in FAMILIES:
            if pat.search(text):
                return name
    return "other"


#: The rule families of issue #12 (1-11) and the kernel messages that belong to each, as
#: regular expressions over the kernel's error line (first match wins). The kernel functions
#: that print them are in ``kernel/bpf/verifier.c`` unless said otherwise.
RULE_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pat))
    for name, pat in (
        # 8: the less() callback of bpf_rbtree_add (check_kfunc_call, in_rbtree_lock_required_cb)
        ("8 rbtree_cb", r"in rbtree cb"),
        # 1: check_map_kptr_access, map_kptr_match_type, process_kptr_func
        (
            "1 kptr_access",
            r"kptr access|kptr cannot be accessed|kptr isn't referenced|invalid kptr access"
            r"|store to referenced kptr|doesn't have constant offset\. kptr"
            r"|doesn't point to kptr|has no valid kptr",
        ),
        # 6: bpf_refcount_acquire (check_kfunc_args, KF_ARG_PTR_TO_REFCOUNTED_KPTR)
        ("6 refcount_acquire", r"neither owning or non-owning ref|refcounted object"),
        # 3: releasing what was never acquired (check_func_arg_reg_off, release_reference)
        (
            "3 release_unacquired",
            r"release kernel function .* expects|release kfunc .* expects"
            r"|must be referenced when passed to release|reference has not been acquired",
        ),
        # 7: offsets of objects, heads and nodes; direct access to special fields
        (
            "7 offsets",
            r"must have zero offset|variable offset|var_off|dereference of modified"
            r"|not found at offset|arg#\d+ offset=|direct access to bpf_|flexible array"
            r"|doesn't have constant offset|doesn't point to 'struct",
        ),
        # 4: trusted / RCU argument rules of kfuncs, program types, argument BTF types
        (
            "4 kfunc_trusted_args",
            r"NULL pointer passed to trusted|must be referenced or trusted"
            r"|pointer type STRUCT .* must point|reg type unsupported for arg"
            r"|calling kernel function .* is not allowed|expected pointer to STRUCT"
            r"|args#\d+ expected pointer|must be a rcu pointer|kernel function .* args#",
        ),
        # 2: what a plain load of a kptr gives (untrusted, RCU, maybe-NULL)
        ("2 kptr_load", r"untrusted_ptr|rcu_ptr_or_null"),
        # 5: which kernel types can be referenced kptrs (destructors); BTF of map values
        ("5 kptr_btf", r"dtor|destructor|not a referenced kptr type"),
        # references, collections and their locks: the rules bpfkit models today
        (
            "refs",
            r"Unreleased reference|reference leak|must be held for|can only take non-owning"
            r"|non-owning ref|expected pointer to allocated object|Possibly NULL pointer"
            r"|ptr_or_null_ expected|pointer arithmetic on ptr_or_null"
            r"|function calls are not allowed while holding a lock|invalid mem access 'scalar'"
            r"|has no valid bpf_spin_lock|spin_\{lock,unlock\}",
        ),
        # 11: the verifier's general checks (memory, helper and kfunc arguments, BTF, calls)
        (
            "11 general",
            r"invalid mem access|invalid access|access beyond|!read_ok|min value|unbounded"
            r"|invalid indirect|invalid btf|type=.* expected=|arg#|unknown func|cannot use helper"
            r"|BPF_EXIT|misaligned|use static function instead|spin_unlock of different lock"
            r"|tracing progs cannot use|type ID argument|stack depth|expected an initialized",
        ),
    )
)


def rule_family(kernel_error: str) -> str:
    """The issue-#12 rule family (``"1 kptr_access"`` ... ``"11 general"``, or ``"refs"``
    for the reference and collection rules) of a kernel error line; ``""`` for an empty line,
    ``"?"`` when no pattern matches.

    Examples
    --------
    >>> rule_family("kptr access size must be BPF_DW")
    '1 kptr_access'
    >>> rule_family("Unreleased reference id=3 alloc_insn=10")
    'refs'
    """
    if not kernel_error:
        return ""
    for name, pat in RULE_FAMILIES:
        if pat.search(kernel_error):
            return name
    return "?"


# --- selftest annotations ------------------------------------------------------------------

_EXPECT_PREFIX = "comment:test_expect_"


def selftest_expectations(obj: Object) -> dict[str, tuple[str, str]]:
    """Per program (function name): the selftest annotations in the object's BTF, as
    ``(expect, msgs)``: ``expect`` is ``"success"``, ``"failure"`` or ``""``; ``msgs`` joins
    the ``__msg`` texts with ``" | "``.

    These are the tags ``bpf_misc.h`` of the kernel's selftests puts on each program
    (``btf_decl_tag("comment:test_expect_failure")``, ``...test_expect_msg=TEXT``); an object
    without them gives an empty dict.
    """
    from bpfkit.btf.types import DeclTag, Func

    spec = obj.btf
    if spec is None:
        return {}
    out: dict[str, tuple[str, list[str]]] = {}
    for t in spec:
        if not isinstance(t, DeclTag) or t.component_idx != -1:
            continue
        if not t.name.startswith(_EXPECT_PREFIX):
            continue
        try:
            target = spec[t.type]
        except (BpfkitError, IndexError, KeyError):
            continue
        if not isinstance(target, Func):
            continue
        expect, msgs = out.get(target.name, ("", []))
        what = t.name[len(_EXPECT_PREFIX) :]
        if what == "failure":
            expect = "failure"
        elif what == "success":
            expect = "success"
        elif what.startswith("msg="):
            text = what[4:]
            # newer bpf_misc.h numbers messages: "msg=<counter>=<text>"
            head, sep, rest = text.partition("=")
            msgs.append(rest if sep and head.isdigit() else text)
        out[target.name] = (expect, msgs)
    return {k: (e, " | ".join(m)) for k, (e, m) in out.items()}


# --- the frame ---------------------------------------------------------------------------


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Objects named by *paths*: a file as is, a directory's ``*.bpf.o`` (or, if none,
    ``*.o``) files, sorted by name.

    Raises
    ------
    BpfkitError
        A path that does not exist, or a directory without objects.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.bpf.o")) or sorted(p.glob("*.o"))
            if not found:
                raise BpfkitError(f"{p}: a directory without BPF objects (*.bpf.o, *.o)")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise BpfkitError(f"{p}: no such file or directory")
    return out


class _Timeout(Exception):
    pass


def _call_with_timeout(fn: Callable[[], Any], seconds: float) -> Any:
    """Run *fn*; raise :class:`_Timeout` after *seconds* (SIGALRM, main thread only; no
    limit elsewhere or when *seconds* is not positive)."""
    if seconds <= 0:
        return fn()
    try:
        old = signal.signal(signal.SIGALRM, _raise_timeout)
    except ValueError:  # not the main thread
        return fn()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _raise_timeout(signum: int, frame: Any) -> None:
    raise _Timeout


def _rules_matcher() -> Callable[[str, str], bool] | None:
    """:func:`bpfkit.ownership.static.rules.match_kernel_message`: is the kernel's error line
    one of the messages of the rule the model names?"""
    from bpfkit.ownership.static.rules import match_kernel_message

    return match_kernel_message


def _errno_name(n: int) -> str:
    return errno_mod.errorcode.get(n, str(n))


def _excluded_reason(res: LoadResult, ke: ErrorSite) -> str:
    """Why the verifier never judged this program, or "" when it did."""
    if res.verdict == "accept":
        return ""
    if res.log.strip() and (ke.verified or ke.message):
        return ""
    what = res.error.strip() or "no verifier log"
    return f"not verified ({_errno_name(res.errno)}): {what}"


def _predict_rows(
    obj: Object | None,
    obj_error: str,
    program: str,
    repeat: int,
    timeout: float,
) -> dict[str, Any]:
    """The model's columns for one program."""
    from bpfkit.ownership.static import predict

    row: dict[str, Any] = {
        "predicted": "unknown",
        "pred_insn": None,
        "pred_func": "",
        "pred_rule": "",
        "pred_kind": "",
        "pred_message": "",
        "pred_reason": "",
        "analysis_ms": math.nan,
    }
    if obj is None:
        row["pred_reason"] = f"object not readable by bpfkit: {obj_error}"
        return row
    best = math.inf
    preds: list[Any] = []
    for _ in range(max(1, repeat)):
        # a distinct object each run: the model caches results per object identity, and a
        # cache hit is not an analysis
        target = copy.copy(obj)
        t0 = time.perf_counter()
        try:
            preds = _call_with_timeout(functools.partial(predict, target, program), timeout)
        except _Timeout:
            row["pred_reason"] = f"analysis stopped after {timeout:g} s"
            row["analysis_ms"] = timeout * 1e3
            return row
        except Exception as exc:  # noqa: BLE001 - a model crash is a finding, not the end
            row["pred_reason"] = f"model error: {type(exc).__name__}: {exc}"
            row["analysis_ms"] = (time.perf_counter() - t0) * 1e3
            return row
        best = min(best, time.perf_counter() - t0)
    row["analysis_ms"] = best * 1e3
    if not preds:
        row["pred_reason"] = "the model does not see this program"
        return row
    p = preds[0]
    row["predicted"] = p.verdict
    row["pred_reason"] = p.reason
    if p.mistakes:
        m = p.mistakes[0]
        insn = getattr(m, "insn", None)
        row["pred_insn"] = insn if insn is not None else m.insn_idx
        if row["pred_insn"] is not None and row["pred_insn"] < 0:
            row["pred_insn"] = None  # refused at load, before any instruction
        row["pred_func"] = getattr(m, "func", None) or ""
        row["pred_rule"] = getattr(m, "rule", None) or ""
        row["pred_kind"] = m.kind
        row["pred_message"] = m.message
    return row


def _object_rows(
    path: Path,
    program: str | None,
    repeat: int,
    timeout: float,
    keep_logs: bool,
    matcher: Callable[[str, str], bool] | None,
) -> Iterator[dict[str, Any]]:
    from bpfkit.kernel import load_programs
    from bpfkit.obj import load_object

    obj: Object | None
    try:
        obj = load_object(path)
        obj_error = ""
    except BpfkitError as exc:
        obj, obj_error = None, str(exc)
    expectations = selftest_expectations(obj) if obj is not None else {}
    try:
        results = load_programs(path, program, log_level=1)
    except BpfkitError as exc:
        if obj is None:
            raise
        names = [p.name for p in obj.programs if not p.subprog]
        if program is not None:
            names = [n for n in names if n == program]
        for name in names:
            row = _empty_row(path, name)
            row.update(excluded=True, reason=f"not loaded: {exc}")
            row.update(_predict_rows(obj, obj_error, name, repeat, timeout))
            yield row
        return
    for res in results:
        ke = kernel_error_of(res.log)
        row = _empty_row(path, res.program)
        expect, msgs = expectations.get(res.program, ("", ""))
        row.update(
            section=res.section,
            kernel_verdict=res.verdict,
            kernel_errno=res.errno,
            kernel_insn=ke.insn if res.verdict == "reject" else None,
            kernel_error=ke.message if res.verdict == "reject" else "",
            kernel_ms=(ke.verification_usec / 1e3) if ke.verification_usec is not None else None,
            expect=expect,
            expect_msg=msgs,
            loader=res.loader,
        )
        reason = _excluded_reason(res, ke)
        if reason:
            row.update(excluded=True, reason=reason, kernel_error=res.error.strip())
        if reason:
            row["kernel_rule_family"] = ""
        elif res.verdict == "accept":
            row["kernel_rule_family"] = "accepted"
        else:
            row["kernel_rule_family"] = rule_family(row["kernel_error"])
        row.update(_predict_rows(obj, obj_error, res.program, repeat, timeout))
        if not reason:
            row["agree"] = row["predicted"] == res.verdict
            if res.verdict == "reject" and row["predicted"] == "reject":
                if row["pred_insn"] is not None and ke.insn is not None:
                    row["same_insn"] = int(row["pred_insn"]) == ke.insn
                elif row["pred_insn"] is None and row["pred_rule"]:
                    # the model says "refused before any instruction": right when the
                    # kernel's log names no instruction either
                    row["same_insn"] = ke.insn is None
                if matcher is not None and row["pred_rule"]:
                    row["same_rule"] = bool(matcher(row["pred_rule"], row["kernel_error"]))
        if keep_logs:
            row["log"] = res.log
        yield row


def _empty_row(path: Path, program: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        object=path.name,
        program=program,
        section="",
        family=feature_family(path.name, program),
        kernel_verdict="",
        kernel_error="",
        kernel_rule_family="",
        excluded=False,
        reason="",
        expect="",
        expect_msg="",
        loader="",
    )
    return row


def agreement_frame(
    paths: Sequence[str | Path] | str | Path,
    *,
    program: str | None = None,
    repeat: int = 1,
    timeout: float = 60.0,
    keep_logs: bool = False,
) -> pd.DataFrame:
    """The model's verdict beside the kernel's, one row per program of the given objects.

    Parameters
    ----------
    paths
        BPF objects, or directories of them (:func:`expand_paths`).
    program
        Only this program of each object.
    repeat
        Run the model this many times per program, each on a fresh shallow copy of the
        object (so no per-object result cache answers); ``analysis_ms`` is the fastest. The
        first analysis of a process also pays one-time costs (the kernel BTF, kfunc tables).
    timeout
        Seconds after which one analysis is stopped (``predicted`` "unknown", the reason
        says so); 0 for no limit. Applies in the main thread only.
    keep_logs
        Add a ``log`` column with each program's level-1 verifier log.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` (and ``log``). ``kernel_*``: the running kernel's verdict,
        errno, error instruction and line (:func:`kernel_error_of`), verification time in
        ms; ``kernel_rule_family``: :func:`rule_family` of the error line (``"accepted"``
        when the kernel accepts, ``""`` when excluded). ``predicted``,
        ``pred_*``: the model's verdict and first mistake; ``analysis_ms``: the model's time.
        ``agree``: the verdicts are equal; ``same_insn`` (both reject): the first mistake is at
        the kernel's instruction; ``same_rule`` (both reject, and the model names a rule
        ``bpfkit.ownership.static.rules.match_kernel_message`` checks): the rule is the one whose
        message the kernel printed. Missing comparisons are NA. ``excluded`` rows (the
        verifier never judged the program) have the reason and no comparison.

    Raises
    ------
    KernelError
        No root/CAP_BPF, no kernel BTF or no libbpf (the kernel is the oracle).
    BpfkitError
        A path that does not exist, or an object neither bpfkit nor the loader can read.
    """
    import pandas as pd

    from bpfkit.kernel import check_environment

    check_environment()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    matcher = _rules_matcher()
    rows: list[dict[str, Any]] = []
    for path in expand_paths(paths):
        rows.extend(_object_rows(path, program, repeat, timeout, keep_logs, matcher))
    columns = list(COLUMNS) + (["log"] if keep_logs else [])
    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("kernel_errno", "kernel_insn", "pred_insn"):
        df[col] = df[col].astype("Int64")
    for col in ("kernel_ms", "analysis_ms"):
        df[col] = df[col].astype("float64")
    for col in ("agree", "same_insn", "same_rule"):
        df[col] = df[col].astype("boolean")
    df["excluded"] = df["excluded"].astype(bool)
    return df


def disagreements_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of an :func:`agreement_frame` where the model and the kernel disagree: on the
    verdict, or (both rejecting) on the instruction or the rule."""
    judged = df[~df["excluded"]]
    bad = (
        judged["agree"].eq(False).fillna(False)
        | judged["same_insn"].eq(False).fillna(False)
        | judged["same_rule"].eq(False).fillna(False)
    )
    return judged[bad]


def _pct(num: int, den: int) -> float:
    return round(100.0 * num / den, 1) if den else math.nan


def _summary_row(group: str, g: pd.DataFrame) -> dict[str, Any]:
    judged = g[~g["excluded"]]
    n = len(judged)
    kv, pv = judged["kernel_verdict"], judged["predicted"]
    both_reject = judged[(kv == "reject") & (pv == "reject")]
    insn_known = both_reject["same_insn"].dropna()
    rule_known = both_reject["same_rule"].dropna()
    ratio = judged["analysis_ms"] / judged["kernel_ms"]
    ratio = ratio[(judged["kernel_ms"] > 0) & judged["analysis_ms"].notna()]
    return {
        "group": group,
        "n": n,
        "excluded": int(g["excluded"].sum()),
        "kernel_rejects": int((kv == "reject").sum()),
        "agree_pct": _pct(int((kv == pv).sum()), n),
        "accepts_kernel_rejects_pct": _pct(int(((kv == "reject") & (pv == "accept")).sum()), n),
        "rejects_kernel_accepts_pct": _pct(int(((kv == "accept") & (pv == "reject")).sum()), n),
        "unknown_pct": _pct(int((pv == "unknown").sum()), n),
        "shared_rejects": len(both_reject),
        "same_insn_pct": _pct(int(insn_known.sum()), len(both_reject)),
        "same_rule_pct": _pct(int(rule_known.sum()), len(rule_known))
        if len(rule_known)
        else math.nan,
        "max_time_ratio": round(float(ratio.max()), 2) if len(ratio) else math.nan,
        "over_1s": int((judged["analysis_ms"] > 1000).sum()),
    }


def agreement_summary(df: pd.DataFrame, by: str = "family") -> pd.DataFrame:
    """Counts of an :func:`agreement_frame`, overall (group ``"all"``) and per value of *by*.

    Columns: ``group``, ``n`` (programs the verifier judged), ``excluded``,
    ``kernel_rejects``, ``agree_pct``, ``accepts_kernel_rejects_pct`` (the model accepts, the
    kernel rejects), ``rejects_kernel_accepts_pct``, ``unknown_pct``, ``shared_rejects``
    (both reject), ``same_insn_pct`` (of shared rejections; a missing instruction counts as a
    miss), ``same_rule_pct`` (of shared rejections where the rule could be checked; NA when
    none could), ``max_time_ratio`` (analysis time / kernel verification time, worst
    program), ``over_1s`` (programs analysed for more than a second). Percentages are of
    ``n`` unless said otherwise.
    """
    import pandas as pd

    rows = [_summary_row("all", df)]
    if by in df.columns:
        for key, g in df.groupby(by, sort=True, dropna=False):
            rows.append(_summary_row(f"{by}={key}", g))
    return pd.DataFrame.from_records(rows)
