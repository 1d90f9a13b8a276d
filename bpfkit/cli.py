"""The ``bpfkit`` command: a thin layer over the public API.

Each command group lives beside the code it drives, in a module with a
``register(subparsers)`` function that adds its parser and sets ``func`` to a handler
taking the parsed arguments and returning an exit code. Handlers import heavy
dependencies (pandas, matplotlib) themselves so that ``bpfkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bpfkit.errors import BpfkitError

__all__ = ["main", "COMMAND_MODULES"]

#: Modules that add a command group, in the order ``bpfkit --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "bpfkit.btf.cli",  # bpfkit btf dump|graph|layout
    "bpfkit.kernel.cli",  # bpfkit load
    "bpfkit.verifier.cli",  # bpfkit log parse|stats
    "bpfkit.plot.cli",  # bpfkit plot
    "bpfkit.ownership.cli",  # bpfkit own
    "bpfkit.report",  # bpfkit report
    "bpfkit.corpus.cli",  # bpfkit corpus run|parse|compare
)


def _version() -> str:
    """The installed distribution's version (pyproject.toml), else the package's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bpfkit")
    except PackageNotFoundError:  # run from a source tree that was not installed
        import bpfkit

        return str(getattr(bpfkit, "__version__", "unknown"))


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for: importlib.metadata would double the
    start-up of every other command."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings, dest, default=argparse.SUPPRESS, nargs=0,
            help="show program's version number and exit",
        )  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"bpfkit {_version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpfkit",
        description="Analysis toolkit for Linux eBPF: BTF, ownership flows, verifier logs.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bpfkit`` command with *argv* (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code: int = func(args)
    except BpfkitError as exc:
        print(f"bpfkit: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `bpfkit btf dump ... | head`
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
