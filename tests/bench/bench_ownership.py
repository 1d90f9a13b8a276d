"""Benchmark: ownership analysis beside the kernel doing the same job in the same run.

1. Special fields: for the kernel-judged cases of tests/ownership/test_fields.py, bpfkit's
   prediction (struct metas + btf_parse_fields + map-type checks) beside the kernel's own
   BPF_BTF_LOAD + BPF_MAP_CREATE of the same BTF (libbpf through ctypes).
2. Whole objects: ``bpfkit.ownership.analyze`` (fields, graph, findings, static prediction of
   every program) beside loading every program of the object into the kernel
   (``bpfkit.kernel.load_programs``, level-1 log), with the verdict agreement.
3. Dynamic flow: ``events_frame`` + ``flow_graph`` of a fresh level-2 log of the 600-iteration
   loop program beside the kernel's verification of it (load with a level-2 log).

Run: .venv/bin/python tests/bench/bench_ownership.py   (needs root for the kernel columns)
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bpfkit.btf import load_btf, load_vmlinux  # noqa: E402
from bpfkit.ownership.dynamic import events_frame, flow_graph  # noqa: E402
from bpfkit.ownership.fields import (  # noqa: E402
    check_map_type,
    parse_fields,
    resolve_depth_problems,
    struct_metas,
)
from bpfkit.ownership.model import analyze  # noqa: E402
from bpfkit.verifier import parse_log  # noqa: E402
from tests.corpus import DATA_OBJECTS, DATA_PROGRAMS  # noqa: E402
from tests.ownership import kernel_oracle as ko  # noqa: E402
from tests.ownership.test_fields import CASES, _raw  # noqa: E402

REPEAT = 5


def best(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    """(min, median) wall seconds of *repeat* calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def bench_fields(tmp: Path) -> None:
    print("== special fields: bpfkit prediction vs the kernel (BTF_LOAD + MAP_CREATE)")
    kernel_spec = load_vmlinux()
    live = ko.have_bpf()
    agree = 0
    t_bpfkit = t_kernel = 0.0
    for name, (body, value, map_type) in sorted(CASES.items()):
        obj = ko.compile_bpf(body, tmp / f"{name}.o", types=(value,))
        raw = ko.raw_btf(obj)
        ids = ko.bpftool_ids(obj)
        spec = load_btf(obj)
        m = re.search(rf"STRUCT '{value}' size=(\d+)", _raw(obj))  # bpftool's reading
        vsize = int(m.group(1)) if m else 0

        def predict(spec: object = spec, value: str = value, map_type: str = map_type) -> str:
            for rec in [*resolve_depth_problems(spec), *struct_metas(spec, kernel=kernel_spec)]:  # type: ignore[arg-type]
                if rec.rejected:
                    return f"btf_load {rec.errno}"
            vid = spec.find_one(value).id  # type: ignore[attr-defined]
            rec = check_map_type(parse_fields(spec, vid, kernel=kernel_spec), map_type)  # type: ignore[arg-type]
            return f"map_create {rec.errno if rec.rejected else None}"

        t_bpfkit += best(predict)[0]
        mine = predict()
        if not live:
            continue

        def kernel(
            raw: bytes = raw,
            ids: dict[str, int] = ids,
            value: str = value,
            map_type: str = map_type,
            size: int = vsize,
        ) -> str:
            fd, err, _log = ko.btf_load(raw)
            if fd is None:
                return f"btf_load {err}"
            try:
                return f"map_create {ko.map_create(fd, ids['int'], ids[value], size, map_type)}"
            finally:
                os.close(fd)

        t_kernel += best(kernel)[0]
        agree += kernel() == mine
    n = len(CASES)
    print(f"  cases                 {n}")
    print(f"  bpfkit  total (best)  {t_bpfkit * 1e3:8.2f} ms   {t_bpfkit / n * 1e6:8.1f} us/case")
    if live:
        print(
            f"  kernel  total (best)  {t_kernel * 1e3:8.2f} ms   {t_kernel / n * 1e6:8.1f} us/case"
        )
        print(f"  verdicts agree        {agree}/{n}")
    else:
        print("  kernel  (skipped: needs root for bpf())")


def bench_objects() -> None:
    print("== whole objects: bpfkit analyze (all programs) vs loading them into the kernel")
    live = ko.have_bpf()
    if live:
        from bpfkit.kernel import load_programs
    print(f"  {'object':18s} {'progs':>5s} {'bpfkit ms':>10s} {'kernel ms':>10s} {'agree':>7s}")
    tot_agree = tot = 0
    for obj in DATA_OBJECTS:
        tb = best(lambda obj=obj: analyze(obj), repeat=3)[0]
        model = analyze(obj)
        if live:
            tk = best(lambda obj=obj: load_programs(obj, log_level=1), repeat=3)[0]
            results = load_programs(obj, log_level=1)
            truth = {r.program: r.verdict for r in results}
            agree = sum(p.verdict == truth.get(p.program) for p in model.predictions)
            tot_agree += agree
            tot += len(truth)
            print(
                f"  {obj.name:18s} {len(truth):5d} {tb * 1e3:10.1f} {tk * 1e3:10.1f} "
                f"{agree:3d}/{len(truth):<3d}"
            )
        else:
            print(f"  {obj.name:18s} {len(model.programs):5d} {tb * 1e3:10.1f} {'-':>10s}")
    if live:
        print(f"  prediction agrees with the kernel on {tot_agree}/{tot} programs")


def bench_dynamic() -> None:
    print("== dynamic flow on a level-2 log: bpfkit vs the kernel writing it")
    if not ko.have_bpf():
        print("  (skipped: needs root for bpf())")
        return
    from bpfkit.kernel import load_programs

    for obj_name, prog in (
        ("loops.bpf.o", "long_loop_ok"),
        ("list.bpf.o", "map_list_drain_loop_ok"),
        ("rbtree.bpf.o", "rbtree_fill_loop_ok"),
    ):
        _bench_one(load_programs, DATA_PROGRAMS / obj_name, prog)


def _bench_one(load_programs: Callable[..., Any], obj: Path, prog: str) -> None:
    print(f"  -- {obj.name} {prog}")
    t0 = time.perf_counter()
    [res] = load_programs(obj, prog, log_level=2)
    t_kernel = time.perf_counter() - t0
    text = res.log
    t0 = time.perf_counter()
    [log] = parse_log(text)
    t_parse = time.perf_counter() - t0
    t_events, _ = best(lambda: events_frame(log), repeat=3)
    t_graph, _ = best(lambda: flow_graph(log), repeat=3)
    lines = text.count("\n")
    print(f"  log lines             {lines}")
    print(
        f"  kernel load (wall)    {t_kernel * 1e3:8.1f} ms  "
        f"(verification time {res.verification_time_usec} us)"
    )
    print(f"  bpfkit parse_log      {t_parse * 1e3:8.1f} ms")
    print(f"  bpfkit events_frame   {t_events * 1e3:8.1f} ms  ({len(events_frame(log))} events)")
    print(f"  bpfkit flow_graph     {t_graph * 1e3:8.1f} ms")


def main() -> int:
    if not ko.have_toolchain():
        print("needs clang-19 and bpftool")
        return 1
    with tempfile.TemporaryDirectory() as d:
        bench_fields(Path(d))
    bench_objects()
    bench_dynamic()
    return 0


if __name__ == "__main__":
    sys.exit(main())
