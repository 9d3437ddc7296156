"""A Keras model goes to the TFLite converter through one SavedModel export per process
(exporters/tflite.py), and what the converter makes of it is what its own from_keras_model makes."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from edge_inception._core.memory import release_free_memory
from edge_inception._core.native import import_tensorflow
from edge_inception.exporters import tflite as tflite_exporter
from edge_inception.models.loader import load_model
from tests.conftest import tiny_tf_keras_model


def _run(flatbuffer: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=flatbuffer)
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], x.shape)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("kind", ["keras", "tf_keras"])
def test_one_export_serves_every_conversion_and_matches_from_keras_model(tmp_path, monkeypatch, kind):
    tf = import_tensorflow()
    lm = load_model("inception-mini" if kind == "keras" else tiny_tf_keras_model(tmp_path, "h5")[0])
    assert lm.kind == kind
    read, own_export = [], []
    from_saved_model = tf.lite.TFLiteConverter.from_saved_model
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model",
                        staticmethod(lambda path, *a, **k: read.append(path) or from_saved_model(path, *a, **k)))
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model",
                        staticmethod(lambda *a, **k: own_export.append(1)))
    x = np.random.default_rng(0).random((3, *lm.spec.input_shape), dtype=np.float32)  # a conversion check
    converted = []
    for static in (False, False, True):
        with tflite_exporter.make_converter(lm, static_batch=static) as converter:
            converted.append(converter.convert())
    assert not own_export  # the converter never exported the Keras model itself
    assert len(read) == 3 and read[0] == read[1] != read[2]  # one folder per (model, batch), reused
    folders = [Path(p) for p in read]
    assert all((f / "saved_model.pb").is_file() for f in folders)

    monkeypatch.undo()  # the converter's own route, for comparison: same outputs, inference mode
    reference = tf.lite.TFLiteConverter.from_keras_model(lm.model).convert()
    np.testing.assert_allclose(_run(converted[0], x), _run(reference, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_run(converted[2], x[:1]), _run(reference, x[:1]), rtol=1e-5, atol=1e-6)

    del lm, converter
    gc.collect()
    assert not any(f.exists() for f in folders)  # the export goes with its model, not left in /tmp


def test_release_free_memory_reaches_glibc():
    # CI runs Linux with glibc: malloc_trim is found and called, not silently skipped.
    from edge_inception._core import memory

    assert memory._malloc_trim() is not None
    release_free_memory()
