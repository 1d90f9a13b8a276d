"""The figure gallery: each kind of figure at talk (16:9 slide) and paper (3.5 in column)
size, drawn from a program of ``data/`` that shows what the figure is for.

``bpfkit report`` writes it as ``gallery.html`` beside the index (when ``data/`` is among its
inputs); ``make report`` also writes it to ``docs/gallery/`` (``python -m
bpfkit.report.gallery docs/gallery``), SVGs and a ``README.md`` that shows them.

Examples
--------
>>> [name for name, _log, _caption in GALLERY][:3]
['summary', 'lanes', 'ranges']
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

__all__ = ["GALLERY", "SIZES", "write_gallery", "main"]

#: (figure name in ``bpfkit.plot.FIGURES``, log under ``data/logs``, caption).
GALLERY: tuple[tuple[str, str, str], ...] = (
    ("summary", "alloc/obj_new_leak_on_short_packet.l2.log",
     "One-page summary of a rejected program: verdict, stats and the error, register lanes, "
     "references, visits, effort, explored paths, control flow"),
    ("lanes", "kptr_stash/stash_session_ok.l2.log",
     "Register types over verification steps, hatched where a register owns a reference"),
    ("ranges", "loops/bucket_branches_ok.l2.log",
     "Scalar bounds (signed, unsigned, known bits) of the busiest registers"),
    ("references", "refcount/refcount_acquire_leak.l2.log",
     "Reference lifetimes (acquire, transfer, release, leak), the refs= count, non-owning "
     "references"),
    ("ownership", "refcount/refcount_tree_and_list_ok.l2.log",
     "Ownership timeline: who owns each object at each step"),
    ("chain", "list/list_push_pop_ok.l2.log",
     "Ownership flows as chains: allocation, list, pop, drop"),
    ("effort", "list/map_list_drain_loop_ok.l2.log",
     "Where the verifier spends its effort: visits per instruction, counts, explored paths"),
    ("cfg", "list/map_list_drain_loop_ok.l2.log",
     "Control-flow graph colored by how often the verifier entered each block"),
    ("lanes", "loops/long_loop_ok.l2.log.xz",
     "A 116,570-line log: the busiest window of 3,000 steps, labelled as such"),
)  # fmt: skip
#: The sizes of the gallery: style name and what it is for.
SIZES: tuple[tuple[str, str], ...] = (("talk", "slide, 16:9"), ("paper", "paper column, 3.5 in"))


def _stem(name: str, log: str) -> str:
    return f"{name}-{Path(log).name.split('.')[0]}"


def write_gallery(
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    progress: bool = False,
    fmt: str = "svg",
    pool: Any = None,
    times: dict[str, float] | None = None,
    drawn_already: dict[tuple[Path, str, str], Path] | None = None,
) -> list[dict[str, Any]]:
    """Draw every gallery figure in both styles into *out_dir* (reusing files whose inputs
    did not change); return one entry per figure: ``name, caption, log, files`` (style ->
    file name). With *pool* (a ``concurrent.futures`` executor), the figures are drawn by
    its workers. With *times*, the seconds spent drawing each kind of figure are added to it
    (``plot.gallery.<name>`` wall, ``cpu:plot.gallery.<name>`` CPU, as the report counts).
    *drawn_already* maps ``(log file, figure name, style)`` to an SVG of that figure drawn
    from that log (one program's log) by :func:`bpfkit.plot.render_figure` and
    :func:`bpfkit.plot.savefig` in that style, as the report's pages draw theirs: such a
    gallery figure is copied, not drawn again."""
    import shutil

    from bpfkit.report import cache
    from bpfkit.report.build import DEFAULT_DATA

    data = Path(data_dir) if data_dir is not None else DEFAULT_DATA
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(GALLERY) * len(SIZES), desc="gallery", unit="figure",
                   file=sys.stderr)  # fmt: skip
    entries = []
    todo: list[tuple[tuple[Path, str, str, Path], str]] = []  # (what to draw, cache key)
    for name, rel, caption in GALLERY:
        log_path = data / "logs" / rel
        files = {}
        for st, _what in SIZES:
            path = out / f"{_stem(name, rel)}-{st}.{fmt}"
            key = cache.figure_key(name, st, [log_path], extra=f"gallery {fmt}")
            same = (drawn_already or {}).get((log_path.resolve(), name, st))
            if not cache.fresh(path, key) and same is not None and fmt == "svg":
                shutil.copyfile(same, path)  # the same figure of the same log, same bytes
                cache.remember(path, key)
            if cache.fresh(path, key):
                if bar is not None:
                    bar.update()
            else:
                todo.append(((log_path, name, st, path), key))
            files[st] = path.name
        entries.append({"name": name, "caption": caption, "log": rel, "files": files})
    try:
        jobs = [job for job, _key in todo]
        drawn = map(_draw, jobs) if pool is None else pool.map(_draw, jobs)
        for (path, took), (_job, key) in zip(drawn, todo, strict=True):  # in order, as drawn
            cache.remember(path, key)
            if times is not None:
                for k, v in took.items():
                    times[k] = times.get(k, 0.0) + v
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return entries


@functools.lru_cache(maxsize=2)
def _log(path: Path) -> Any:
    from bpfkit.verifier import load_log

    return load_log(path)[0]


def _draw(job: tuple[Path, str, str, Path]) -> tuple[Path, dict[str, float]]:
    """Draw figure *name* of the log at *log_path* in style *st* to *path*, given as *job*
    ``(log_path, name, st, path)``; return *path* and the seconds it took (wall, CPU)."""
    import sys as _sys
    import time

    from bpfkit.plot import render_figure, savefig, style

    log_path, name, st, path = job
    start, cpu = time.perf_counter(), time.process_time()
    with style(st):
        fig = render_figure(_log(log_path), name)
        savefig(fig, path)
    plt = _sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)
    what = f"plot.gallery.{name}"
    return path, {what: time.perf_counter() - start, f"cpu:{what}": time.process_time() - cpu}


def gallery_html(entries: list[dict[str, Any]], sources: str) -> str:
    """The gallery page (``gallery.html`` template)."""
    from bpfkit.report.build import _page_context
    from bpfkit.report.templating import render

    return render(
        "gallery.html",
        entries=entries,
        sizes=SIZES,
        title="figure gallery",
        **_page_context(sources, "index.html"),
    )


def markdown(entries: list[dict[str, Any]]) -> str:
    """The gallery as Markdown (``docs/gallery/README.md``)."""
    lines = [
        "# Figure gallery",
        "",
        "Each kind of figure at talk (16:9 slide) and paper (3.5 in column) size, drawn by",
        "`make report` from the programs of `data/` (SVG, text kept as text).",
        "",
    ]
    for e in entries:
        lines += [f"## `{e['name']}`: {e['caption']}", "", f"From `data/logs/{e['log']}`.", ""]
        for st, what in SIZES:
            lines += [f"![{e['name']}, {what}]({e['files'][st]})", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m bpfkit.report.gallery DIR``: write the gallery SVGs and README.md to DIR."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/gallery")
    entries = write_gallery(out, progress=sys.stderr.isatty())
    (out / "README.md").write_text(markdown(entries), encoding="utf-8")
    for key in out.glob("*.key"):  # the docs keep the figures, not the cache keys
        key.unlink()
    print(out / "README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
