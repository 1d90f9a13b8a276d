"""Package attributes imported on first use (PEP 562 ``__getattr__``).

A package lists what it exports and from which of its submodules; a submodule is imported
the first time one of its names is asked for. So ``import bpfkit.plot`` (and with it every
``bpfkit X --help``) costs nothing until a function is used, while ``from bpfkit.plot import
savefig`` keeps working. Each package also imports the same names under ``TYPE_CHECKING``
for mypy; ``tests/test_lazy.py`` checks that both lists agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for *package*, whose *exports* map a submodule's name
    (relative to the package) to the names it provides."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # the next access is a plain lookup
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
