"""``python -m bpfkit.btf dump FILE ...``: the ``bpfkit btf`` commands alone.

Same arguments and output as ``bpfkit btf ...``, without importing the other command groups
(plotting, notebooks), so a one-off dump starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bpfkit.btf.cli import register
from bpfkit.errors import BpfkitError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bpfkit btf`` with *argv* (default ``sys.argv[1:]``); return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bpfkit.btf")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["btf", *(sys.argv[1:] if argv is None else argv)])
    try:
        code: int = args.func(args)
    except BpfkitError as exc:
        print(f"bpfkit: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
