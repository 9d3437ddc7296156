"""Refuse Keras model files that carry code, before Keras reads them.

    data = read_regular_file(path)                     # the bytes, read once (a FIFO or an empty file refused)
    refuse_code(h5_config(data, path), path)           # InputError naming the first code-carrying layer

Keras 3 refuses a Python lambda in a ``.keras`` file (safe_mode), but tf_keras ignores safe_mode for
HDF5: a Lambda layer's marshalled bytecode runs while the model is rebuilt, on `convert` and on
`inspect` alike. So the saved model config (JSON in the HDF5 attributes, config.json in a .keras) is
read here and refused when anything in it would run or import code on load:

- a ``Lambda`` layer (bytecode, or a function looked up in any importable module),
- a ``__lambda__`` object (Keras 3's serialized lambda),
- an object whose ``module`` is not Keras' own (loading it imports that module),
- tf_keras' TF-op layers (``TFOpLambda``, ``SlicingOpLambda``, ``ClassMethod``) naming a TensorFlow
  function outside pure tensor math: ``tf.io.write_file`` is as much a TF symbol as ``tf.math.add``.

The model is then built from the same bytes that were checked. ``trust_remote_code`` skips all this.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge_inception._core.errors import InputError

TRUST_HINT = "if you trust its author, pass --trust-remote-code (Python: trust_remote_code=True)"
KERAS_MODULES = ("keras", "tf_keras", "builtins")
# TF-op layers whose function is pure tensor math (what `x * 2` or tf.concat in a functional model
# serializes to). Anything else -- tf.io, tf.raw_ops, tf.py_function -- is refused.
SAFE_TF_NAMESPACES = ("math", "nn", "__operators__", "linalg", "image", "bitwise", "signal")
SAFE_TF_FUNCTIONS = {
    "concat", "reshape", "transpose", "split", "stack", "unstack", "squeeze", "expand_dims", "cast", "identity",
    "pad", "clip_by_value", "tile", "gather", "slice", "strided_slice", "shape", "ones_like", "zeros_like",
    "where", "broadcast_to", "convert_to_tensor", "reduce_mean", "reduce_sum", "reduce_max", "reduce_min",
    "maximum", "minimum", "add", "subtract", "multiply", "divide", "sqrt", "square", "abs", "sigmoid", "tanh",
    "einsum", "matmul", "one_hot", "argmax", "argmin", "range", "fill", "zeros", "ones", "size", "rank",
    "compat.v1.transpose", "compat.v1.gather", "compat.v1.squeeze",
}


def read_regular_file(path: Path) -> bytes:
    """The whole file, read once, so what is checked is what is loaded."""
    from edge_inception._core.files import check_regular_file

    check_regular_file(path, what="model file")
    return Path(path).read_bytes()


def h5_config(data: bytes, path: Path) -> dict | None:
    """The model config stored in an HDF5 file's attributes, or None when it holds none (weights only)."""
    import io

    import h5py

    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as e:
        raise InputError(path, f"is not a readable HDF5 file ({_first_line(e)})",
                         fix="save it with model.save('model.h5') in tf_keras or Keras 3") from None
    if raw is None:
        return None
    return _json(raw.decode() if isinstance(raw, bytes) else raw, path)


def keras_archive_config(data: bytes, path: Path) -> dict | None:
    """config.json of a .keras archive (a zip), or None when there is none."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if "config.json" not in z.namelist():
                return None
            return _json(z.read("config.json"), path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(path, f"is not a complete .keras archive ({_first_line(e)})",
                         fix="copy the file again or re-save it with model.save('model.keras')") from None


def _json(text, path: Path) -> dict:
    try:
        config = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(path, f"holds a model config that is not valid JSON ({_first_line(e)})",
                         fix="re-save the model with model.save()") from None
    if not isinstance(config, dict):
        raise InputError(path, "holds a model config that is not a JSON object", fix="re-save the model")
    return config


def find_code(config) -> str | None:
    """Why loading ``config`` would run or import code (the first reason found), or None."""
    stack = [(config, None)]
    while stack:
        obj, layer = stack.pop()
        if isinstance(obj, list):
            stack += [(v, layer) for v in obj]
            continue
        if not isinstance(obj, dict):
            continue
        cls = obj.get("class_name")
        inner = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        name = inner.get("name", layer)
        if isinstance(cls, str):
            reason = _code_reason(cls, obj, inner)
            if reason:
                return f"layer {name!r} is {reason}" if name else reason
        stack += [(v, name if isinstance(cls, str) else layer) for v in obj.values()]
    return None


def _code_reason(cls: str, obj: dict, inner: dict) -> str | None:
    if cls == "Lambda":
        return "a Lambda layer, whose Python function would run on load"
    if cls == "__lambda__":
        return "a serialized Python lambda, which would run on load"
    if cls == "ClassMethod":
        return f"a TensorFlow class-method layer ({inner.get('cls_symbol')}.{inner.get('method_name')})"
    if cls in ("TFOpLambda", "SlicingOpLambda"):
        fn = inner.get("function")
        if not _safe_tf_function(fn):
            return f"a TensorFlow-op layer calling tf.{fn}, which is not pure tensor math"
    if cls in ("InstanceProperty", "InstanceMethod"):
        attr = inner.get("attr_name")
        if not isinstance(attr, str) or attr.startswith("_"):
            return f"a tensor-attribute layer reading {attr!r}"
    module = obj.get("module")
    if isinstance(module, str) and module.split(".")[0] not in KERAS_MODULES:
        return f"a {cls} from module '{module}', which loading would import"
    return None


def _safe_tf_function(fn) -> bool:
    if not isinstance(fn, str) or fn.startswith("_") and not fn.startswith("__operators__."):
        return False
    return fn in SAFE_TF_FUNCTIONS or fn.split(".")[0] in SAFE_TF_NAMESPACES


def refuse_code(config, path: Path) -> None:
    """InputError when ``config`` carries code (see the module docstring)."""
    reason = find_code(config) if config is not None else None
    if reason:
        raise InputError(path, f"carries code: {reason}; edge-inception does not run code from model files",
                         fix=TRUST_HINT)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def saved_model_configs(path: Path) -> list:
    """The Keras layer configs a SavedModel folder carries (keras_metadata.pb, and the object graph's
    legacy metadata): what tf_keras rebuilds, Lambda bytecode included, when it loads the folder."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tf_keras.protobuf import saved_metadata_pb2

    texts = []
    meta_file = Path(path) / "keras_metadata.pb"
    if meta_file.is_file():
        meta = saved_metadata_pb2.SavedMetadata()
        meta.ParseFromString(meta_file.read_bytes())
        texts += [n.metadata for n in meta.nodes]
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    for graph in sm.meta_graphs:
        texts += [n.user_object.metadata for n in graph.object_graph_def.nodes if n.HasField("user_object")]
    configs = []
    for text in texts:
        if text:
            try:
                configs.append(json.loads(text))
            except ValueError:
                configs.append({"class_name": "unreadable metadata", "module": "unknown"})
    return configs


def refuse_saved_model_code(path: Path) -> None:
    for config in saved_model_configs(path):
        refuse_code(config, path)
