"""One registry for every backend kind: register where defined, refuse duplicates, list, and get with
the known names in the error. A registry fills itself by importing its package's modules on first use,
so a new backend is a new file, never an edit to a dispatch table.

    EXPORTERS = Registry("exporter", package="edge_inception.exporters")

    @EXPORTERS.register(("onnx", "keras"), ("onnx", "tf_keras"))
    def export_onnx_tf(lm, dest, *, target): ...

    EXPORTERS.get(("onnx", "keras"))      # UsageError naming the known keys when there is none
    EXPORTERS.keys(), "onnx" in FORMATS
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from edge_inception._core.errors import UsageError

T = TypeVar("T")


@functools.cache
def import_submodules(package: str) -> None:
    """Import every public module of ``package`` once (modules starting with '_' are private helpers)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def _label(key: Hashable) -> str:
    return " for ".join(key) if isinstance(key, tuple) else str(key)


class Registry(Generic[T]):
    """``kind`` names what it holds in messages ("exporter", "runtime"); ``package`` (one, or a tuple) is
    imported on first lookup so its modules can register themselves."""

    def __init__(self, kind: str, *, package: str | tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.packages = (package,) if isinstance(package, str) else tuple(package)
        self._items: dict[Hashable, T] = {}

    def _load(self) -> None:
        for package in self.packages:
            import_submodules(package)

    def add(self, key: Hashable, value: T) -> T:
        if key in self._items:
            raise ValueError(f"{self.kind} {_label(key)!r} is registered twice")
        self._items[key] = value
        return value

    def register(self, *keys: Hashable) -> Callable[[T], T]:
        """Decorator registering the object under every key given."""

        def deco(obj: T) -> T:
            for key in keys:
                self.add(key, obj)
            return obj

        return deco

    def get(self, key: Hashable, *, fix: str | None = None) -> T:
        self._load()
        if key not in self._items:
            known = ", ".join(sorted(_label(k) for k in self._items))
            raise UsageError(f"no {self.kind} '{_label(key)}'", fix=fix or f"known: {known}")
        return self._items[key]

    def __contains__(self, key: Hashable) -> bool:
        self._load()
        return key in self._items

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.keys())

    def keys(self) -> list[Hashable]:
        self._load()
        return sorted(self._items, key=_label)

    def values(self) -> list[T]:
        return [self._items[k] for k in self.keys()]
