"""Float exporters, keyed by (format, source kind) and registered where defined.

    info = export(loaded_model, dest, target=get_target("onnx-fp32"))   # dict for the report
    EXPORTERS.keys()    # [('onnx', 'keras'), ('onnx', 'saved_model'), ('onnx', 'tf_keras'), ('onnx', 'torch'), ...]

A source kind is what ``LoadedModel.kind`` says the model is ('keras', 'tf_keras', 'saved_model',
'torch'); adding one means registering its exporters, never an if/elif here or in the pipeline.
Verification of an artifact against its profile is edge_inception.validate.validate, for every format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge_inception._core.registry import Registry

TF_KINDS = ("keras", "tf_keras", "saved_model")  # the source kinds TensorFlow's converters read
SOURCE_KINDS = (*TF_KINDS, "torch")

EXPORTERS: Registry[Callable] = Registry("exporter", package=__name__)


def register_exporter(fmt: str, *kinds: str):
    """Register ``fn(lm, dest, *, target) -> info`` for ``fmt`` from each source kind in ``kinds``."""
    return EXPORTERS.register(*((fmt, kind) for kind in kinds))


def export(lm, dest: Path, *, target) -> dict:
    fn = EXPORTERS.get((target.format, lm.kind),
                       fix=f"{target.format} float artifacts can be made from: "
                           f"{', '.join(k for f, k in EXPORTERS if f == target.format)}")
    return fn(lm, Path(dest), target=target)
