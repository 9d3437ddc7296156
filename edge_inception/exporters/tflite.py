"""TFLite export of TensorFlow sources with the TensorFlow Lite converter (PyTorch: tflite_torch.py).

Keras 3, tf_keras and SavedModel sources all go through one path: a concrete function with a fixed
NHWC signature (batch left dynamic so evaluation can batch), so the converter sees the same graph
whichever Keras made the model.

A Keras model is exported to a SavedModel once per process and each converter reads that folder: the
converter's own ``from_keras_model`` exports it again on every ``convert()`` (23 s and 0.4 GiB for
Inception-ResNet v2, twice in a worker that builds the float reference and the int8 model).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

from edge_inception._core.atomic import atomic_path
from edge_inception._core.native import quiet_native
from edge_inception.exporters import TF_KINDS, register_exporter
from edge_inception.models.loader import LoadedModel


@contextlib.contextmanager
def make_converter(lm: LoadedModel, *, static_batch: bool = False) -> Iterator:
    """A TFLiteConverter for the model, the same for Keras 3, tf_keras and SavedModel sources.

    ``from_keras_model`` takes both Keras generations (Keras 3 through its own SavedModel export);
    a hand-made ``tf.Module`` around a Keras 3 model does not track its variables, and the converter
    then fails int8 calibration on READ_VARIABLE. ``static_batch`` fixes the batch to 1 (NPU compilers
    take no dynamic dimension): a Keras model is called on a batch-1 Input, a SavedModel's signature is
    traced at batch 1."""
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()

    with quiet_native():
        if lm.kind == "saved_model" and static_batch:
            loaded = tf.saved_model.load(str(lm.model))
            fn = loaded.signatures["serving_default"]
            (arg,) = fn.structured_input_signature[1]
            spec = tf.TensorSpec([1, *lm.spec.input_shape], tf.float32, name=arg)
            concrete = tf.function(lambda x: fn(**{arg: x})).get_concrete_function(spec)
            converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], loaded)
        elif lm.kind == "saved_model":
            converter = tf.lite.TFLiteConverter.from_saved_model(str(lm.model))
        else:
            exported = _saved_model(lm, static_batch, tf)
            if exported is not None:
                converter = tf.lite.TFLiteConverter.from_saved_model(exported)
            else:  # a model the export refused (a subclassed Keras 3 model never called): the converter's own way
                converter = tf.lite.TFLiteConverter.from_keras_model(_keras_model(lm, static_batch))
    yield converter


# Keras model -> {static_batch: the folder its SavedModel was exported to}; a folder is removed with its model.
_EXPORTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _keras_model(lm: LoadedModel, static_batch: bool):
    """The Keras model to convert: the user's, or (static_batch) the same called on a batch-1 Input."""
    if not static_batch:
        return lm.model
    if lm.kind == "tf_keras":
        import tf_keras as keras_module
    else:
        import keras as keras_module
    inp = keras_module.Input(batch_shape=(1, *lm.spec.input_shape), name="image")
    return keras_module.Model(inp, lm.model(inp))


def _saved_model(lm: LoadedModel, static_batch: bool, tf) -> str | None:
    """The Keras model's SavedModel folder, exported on first use as ``from_keras_model`` exports it:
    Keras 3 through an ExportArchive serving ``__call__(training=False)`` on the model's inputs, tf_keras
    through ``tf.saved_model.save``. None where that export fails (the converter then tries its own).
    The export is of the weights at first use: a model trained further in this process needs a new object
    (QAT converts its trained copy, never the float model it started from)."""
    folders = _EXPORTED.setdefault(lm.model, {})
    if static_batch not in folders:
        model = _keras_model(lm, static_batch)
        folder = tempfile.TemporaryDirectory(prefix="edge-inception-savedmodel-")
        try:
            if lm.kind == "tf_keras":
                tf.saved_model.save(model, folder.name, options=tf.saved_model.SaveOptions(save_debug_info=True))
            else:
                import keras

                if not getattr(model, "inputs", None):
                    raise ValueError("no symbolic inputs")
                spec = [tf.TensorSpec(x.shape, dtype=x.dtype, name=x.name) for x in model.inputs]
                archive = keras.export.ExportArchive()
                archive.track(model)
                archive.add_endpoint("serve", functools.partial(model.__call__, training=False),
                                     spec if len(spec) == 1 else [spec])
                archive.write_out(folder.name, verbose=False)
        except Exception:  # noqa: BLE001 - as the converter itself does: fall back to its other route
            folder.cleanup()
            return None
        folders[static_batch] = folder
    return folders[static_batch].name


def convert_to_file(converter, dest: Path) -> None:
    from edge_inception._core.errors import TargetFailed

    try:
        with quiet_native():
            flatbuffer = converter.convert()
    except Exception as e:  # noqa: BLE001 - the converter raises ConverterError and plain exceptions
        msg = " ".join(str(e).split())
        raise TargetFailed(f"TFLite conversion failed: {msg[:300] or type(e).__name__}") from None
    with atomic_path(dest) as tmp:
        tmp.write_bytes(flatbuffer)


@register_exporter("tflite", *TF_KINDS)
def export_tflite(lm: LoadedModel, dest: Path, *, target) -> dict:
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()

    precision = target.precision
    with make_converter(lm) as converter:
        if precision == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        convert_to_file(converter, dest)
    return {"converter": f"tensorflow {tf.__version__}", "precision": precision}


def tflite_ops(path: Path) -> list[dict]:
    """Operators of a .tflite file with their input/output tensor dtypes, via the LiteRT interpreter."""
    import numpy as np
    from ai_edge_litert import interpreter as litert

    with quiet_native():
        interp = litert.Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = []
    for op in interp._get_ops_details():  # the only LiteRT API that lists operators
        def dtypes(idx):
            return [np.dtype(tensors[i]["dtype"]).name for i in idx if i >= 0 and i in tensors]

        ops.append({
            "index": op["index"], "op": op["op_name"],
            "inputs": dtypes(op["inputs"]), "outputs": dtypes(op["outputs"]),
            "output_names": [tensors[i]["name"] for i in op["outputs"] if i in tensors],
        })
    return ops
