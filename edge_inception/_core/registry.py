"""Discovery for registries: every module of a backend package registers itself when imported, so a
new backend is a new file, never an edit to a dispatch table.

    import_submodules("edge_inception.runtimes")
"""

from __future__ import annotations

import functools
import importlib
import pkgutil


@functools.cache
def import_submodules(package: str) -> None:
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
