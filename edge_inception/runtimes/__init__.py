"""Runtimes: one engine each, behind one contract.

    rt = get_runtime("litert")
    session = rt.load("model.tflite", threads=2)
    logits = session.run(batch)          # float32 in the model's layout (ModelSpec.model_input), float32 out;
                                         # quantized I/O is handled inside
    session.facts                        # {'engine': 'ai-edge-litert', 'version': '2.3.0', ...}

Runtimes register where they are defined; engines are imported only when a model is loaded.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge_inception._registry import import_submodules
from edge_inception.errors import UsageError


class Session(Protocol):
    facts: dict

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class Runtime(Protocol):
    name: str

    def load(self, path, *, threads: int) -> Session: ...


_RUNTIMES: dict[str, Runtime] = {}


def register_runtime(cls):
    """Class decorator: instantiate and register under ``cls.name``; duplicates are refused."""
    if cls.name in _RUNTIMES:
        raise ValueError(f"runtime {cls.name!r} is registered twice")
    _RUNTIMES[cls.name] = cls()
    return cls


def get_runtime(name: str) -> Runtime:
    import_submodules(__name__)
    if name not in _RUNTIMES:
        raise UsageError(f"unknown runtime '{name}'", fix=f"known: {', '.join(sorted(_RUNTIMES))}")
    return _RUNTIMES[name]
