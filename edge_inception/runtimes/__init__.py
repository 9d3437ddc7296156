"""Runtimes: one engine each, behind one contract.

    rt = get_runtime("litert")
    session = rt.load("model.tflite", threads=2)
    logits = session.run(batch)          # float32 in the model's layout (ModelSpec.model_input), float32 out;
                                         # quantized I/O is handled inside
    session.facts                        # {'engine': 'ai-edge-litert', 'version': '2.3.0', ...}
    rt.accepts(path), rt.read_spec(path) # which files it runs; the ModelSpec a file carries (or None)

Every runtime passes the same contract tests (tests/test_runtimes.py), written once.

Runtimes register where they are defined; engines are imported only when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge_inception._core.registry import Registry

if TYPE_CHECKING:
    from edge_inception.models.spec import ModelSpec


class Session(Protocol):
    facts: dict
    input_shape: tuple  # the artifact's own input shape and layout; None where a dimension is dynamic

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class Runtime(Protocol):
    name: str
    suffixes: tuple[str, ...]  # the files it runs ("/" for a folder such as a SavedModel)

    def load(self, path, *, threads: int) -> Session: ...

    def accepts(self, path: Path) -> bool: ...

    def read_spec(self, path: Path) -> ModelSpec | None: ...

    def infer_spec(self, path: Path) -> ModelSpec: ...


class RuntimeBase:
    """Defaults: a runtime of an artifact format (``format`` registered in edge_inception/formats/) takes
    that format's files and reads the spec the format embeds; a runtime of source models (``format``
    'keras' or 'torch', not an artifact format) lists its own ``suffixes``. An
    artifact without metadata gets its spec from the input shape the runtime reports (preprocessing
    unknown: 'unit' until the user says otherwise)."""

    name = ""
    format: str | None = None

    def _artifact_format(self):
        from edge_inception.formats import FORMATS

        return FORMATS.get(self.format) if self.format in FORMATS else None

    @property
    def suffixes(self) -> tuple[str, ...]:
        fmt = self._artifact_format()
        return (fmt.suffix,) if fmt else ()

    def accepts(self, path: Path) -> bool:
        return Path(path).is_file() and Path(path).suffix in self.suffixes

    def read_spec(self, path: Path):
        fmt = self._artifact_format()
        return fmt.read_spec(Path(path)) if fmt else None

    def infer_spec(self, path: Path):
        from edge_inception.models.spec import inferred_spec

        session = self.load(path, threads=1)
        return inferred_spec(Path(path), session.input_shape, self.name)


RUNTIMES: Registry[Runtime] = Registry("runtime", package=__name__)


def register_runtime(cls):
    """Class decorator: instantiate and register under ``cls.name``; duplicates are refused."""
    RUNTIMES.add(cls.name, cls())
    return cls


def get_runtime(name: str) -> Runtime:
    return RUNTIMES.get(name)


def run_fixed_batch(run, batch: np.ndarray, fixed: int | None) -> np.ndarray:
    """Run ``batch`` through ``run`` in chunks of a model's static batch size (NPU profiles fix it at 1),
    so callers pass any batch to any artifact."""
    if fixed is None or len(batch) == fixed:
        return run(batch)
    if len(batch) % fixed:
        raise ValueError(f"a model with a static batch of {fixed} cannot run a batch of {len(batch)}")
    return np.concatenate([run(batch[i : i + fixed]) for i in range(0, len(batch), fixed)])


def list_runtimes() -> list[Runtime]:
    return RUNTIMES.values()
