"""Keras backend of ``inspect``: Keras 3 and tf_keras models, and Keras model descriptions (configs).

    layers, layout = keras_layers(model)                 # a built Keras 3 or tf_keras model
    layers, layout = config_layers(json.load(f))         # model.to_json() / a .keras archive's config.json
    problem = explain_keras_file(Path("broken.keras"))  # why a saved model's config cannot be built, or None

The graph comes from the model's functional config (the same for Keras 3 and tf_keras, and readable
when the model itself cannot be built). Shapes and parameters of a built model come from its layers;
for a bare config they are inferred here for the usual CNN layers, which is what lets a shape problem
(an Inception branch whose 'valid' padding shrinks it) be named before Keras' own error hides it.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

from edge_inception.inspect import register_backend
from edge_inception.inspect._graph import Conv, Layer, ShapeProblem, conv_label, conv_macs, explain_merge_mismatch


def accepts(model) -> bool:
    mod = type(model).__module__
    return mod.startswith(("keras.", "tf_keras.")) and hasattr(model, "get_config") and hasattr(model, "layers")


@register_backend("keras", accepts=accepts)
def keras_layers(model, *, input_shape=None) -> tuple[list[Layer], str]:
    """Rows for a built Keras 3 or tf_keras model, shapes and parameter counts taken from its layers."""
    return config_layers(model.get_config(), live=model)


# ------------------------------------------------------------------------------------------ the config


def _unwrap(config: dict) -> tuple[str, dict]:
    if "layers" not in config and isinstance(config.get("config"), dict):
        return config.get("class_name", "Functional"), config["config"]
    return config.get("class_name", "Functional"), config


def _histories(obj) -> list[tuple[str, int]]:
    """(layer name, node index) of every tensor in a Keras 3 inbound node's args, in order."""
    found = []
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            name, node, _ = obj["config"]["keras_history"]
            return [(name, node)]
        for v in obj.values():
            found += _histories(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            found += _histories(v)
    return found


def _calls(layer_cfg: dict) -> list[list[tuple[str, int]]]:
    """The layer's calls, each as the list of (producer, node index) it reads."""
    calls = []
    for node in layer_cfg.get("inbound_nodes") or []:
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            calls.append(_histories(node.get("args", [])) + _histories(node.get("kwargs", {})))
        else:  # tf_keras: [[name, node_index, tensor_index, kwargs], ...]
            calls.append([(t[0], t[1]) for t in node])
    return calls


def _live_shape(layer, call: int, ncalls: int):
    try:
        # a shared layer: its n-th call's output
        out = layer.output if ncalls == 1 else layer._inbound_nodes[call].output_tensors
        if isinstance(out, list | tuple):
            out = out[0]
        shape = out.shape
        shape = shape.as_list() if hasattr(shape, "as_list") else list(shape)
        return tuple(shape[1:])
    except Exception:  # noqa: BLE001 - a layer without a single defined output
        return None


def config_layers(config: dict, *, live=None) -> tuple[list[Layer], str]:
    """Rows in topological order. With ``live`` (the built model) shapes and parameters come from it;
    without, they are inferred, and a merge of branches with different spatial sizes raises ShapeProblem."""
    cls, cfg = _unwrap(config)
    entries = cfg.get("layers", [])
    sequential = cls == "Sequential" or not any("inbound_nodes" in e for e in entries)
    layout = "NHWC"
    for e in entries:
        if e.get("config", {}).get("data_format") == "channels_first":
            layout = "NCHW"
    rows: list[Layer] = []
    shapes: dict[str, tuple | None] = {}
    ids: dict[tuple[str, int], str] = {}
    prev = None
    if sequential:
        shape = cfg.get("build_input_shape")
        if shape and not any(e.get("class_name") == "InputLayer" for e in entries):
            rows.append(Layer("input", "InputLayer", [], tuple(shape[1:]), kind="input"))
            shapes["input"], prev = rows[0].shape, "input"
    for e in entries:
        name = e.get("name") or e["config"]["name"]
        calls = [[(prev, 0)]] if sequential and prev else _calls(e)
        if sequential and not prev:
            calls = [[]]
        live_layer = _get_layer(live, name)
        for k, call in enumerate(calls or [[]]):
            rid = name if k == 0 else f"{name}@{k}"
            ids[(name, k)] = rid
            inputs = [ids.get((n, i)) or ids.get((n, 0)) for n, i in call]
            inputs = [i for i in inputs if i is not None]
            in_shapes = [shapes[i] for i in inputs]
            row = _infer(rid, e["class_name"], e.get("config", {}), inputs, in_shapes, layout)
            if live_layer is not None:
                shape = _live_shape(live_layer, k, len(calls))
                if shape is not None:
                    row.shape = shape
                    if row.kind == "other" and row.macs == 0 and hasattr(live_layer, "layers"):
                        row.macs = _nested_macs(live_layer)
                row.params = int(live_layer.count_params()) if k == 0 and live_layer.built else 0
            if row.kind in ("concat", "merge") and not _joinable(row, in_shapes):
                # A loaded model can carry this too: Keras rebuilds layers from their saved build shapes,
                # so a hand-edited config loads and fails only when run or converted.
                raise ShapeProblem(explain_merge_mismatch(rows, row, in_shapes, layout=layout))
            rows.append(row)
            shapes[rid] = row.shape
        prev = ids.get((name, 0))
    return rows, layout


def _joinable(row: Layer, in_shapes: list) -> bool:
    """False only when every input shape is known and they differ where they must agree (a concat: all
    but its axis; an add: everywhere except size-1 broadcasts)."""
    if len(in_shapes) < 2 or any(s is None or None in s for s in in_shapes) or len({len(s) for s in in_shapes}) > 1:
        return True
    for d in range(len(in_shapes[0])):
        if row.kind == "concat" and d == row.axis:
            continue
        sizes = {s[d] for s in in_shapes} - ({1} if row.kind == "merge" else set())
        if len(sizes) > 1:
            return False
    return True


def _get_layer(model, name):
    if model is None:
        return None
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def _nested_macs(submodel) -> int:
    try:
        rows, _ = config_layers(submodel.get_config(), live=submodel)
    except Exception:  # noqa: BLE001 - an opaque sub-model counts no MACs rather than failing the report
        return 0
    return sum(r.macs for r in rows)


# ----------------------------------------------------------------------------------- shape inference


def _pair(v, default=1) -> tuple[int, int]:
    if v is None:
        return (default, default)
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]) if len(v) > 1 else int(v[0]))


def _out_len(n: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    return (n - (k - 1) * d - 1) // s + 1


def _split(shape, layout):
    """(H, W, C) of a rank-3 shape in either layout."""
    return (shape[0], shape[1], shape[2]) if layout == "NHWC" else (shape[1], shape[2], shape[0])


def _join(h, w, c, layout):
    return (h, w, c) if layout == "NHWC" else (c, h, w)


SAME_SHAPE = {"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Dropout", "SpatialDropout2D",
              "GaussianNoise", "GaussianDropout", "AlphaDropout", "Rescaling", "Normalization", "Identity",
              "ActivityRegularization", "BatchNormalization", "LayerNormalization", "CustomScaleLayer",
              "TFOpLambda", "Masking"}
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}


def _infer(name: str, cls: str, c: dict, inputs: list[str], in_shapes: list, layout: str) -> Layer:
    row = Layer(name, cls, inputs, None)
    x = in_shapes[0] if in_shapes else None
    if cls == "InputLayer":
        shape = c.get("batch_shape") or c.get("batch_input_shape")
        row.shape, row.kind = (tuple(shape[1:]) if shape else None), "input"
        return row
    if cls in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D") and x is not None and len(x) == 3:
        h, w, cin = _split(x, layout)
        kh, kw = _pair(c.get("kernel_size"))
        sh, sw = _pair(c.get("strides"))
        dh, dw = _pair(c.get("dilation_rate"))
        pad = c.get("padding", "valid")
        oh, ow = _out_len(h, kh, sh, dh, pad), _out_len(w, kw, sw, dw, pad)
        bias = c.get("use_bias", True)
        if cls == "Conv2D":
            groups, cout = c.get("groups", 1) or 1, c["filters"]
            row.params = kh * kw * (cin // groups) * cout + (cout if bias else 0)
        elif cls == "DepthwiseConv2D":
            groups, cout = cin, cin * c.get("depth_multiplier", 1)
            row.params = kh * kw * cout + (cout if bias else 0)
        else:  # separable: depthwise then pointwise 1x1
            groups, mid, cout = cin, cin * c.get("depth_multiplier", 1), c["filters"]
            row.params = kh * kw * mid + mid * cout + (cout if bias else 0)
        row.conv = Conv(kh, kw, sh, sw, cin, cout if cls != "SeparableConv2D" else mid, groups, pad)
        row.shape = _join(oh, ow, cout, layout)
        row.kind, row.label = "conv", conv_label(row.conv)
        row.attrs = {"padding": pad, "strides": [sh, sw], "kernel": [kh, kw]}
        if oh is not None and ow is not None:
            row.macs = conv_macs(row.conv, oh, ow) + (oh * ow * mid * cout if cls == "SeparableConv2D" else 0)
        return row
    if cls in ("MaxPooling2D", "AveragePooling2D") and x is not None and len(x) == 3:
        h, w, ch = _split(x, layout)
        kh, kw = _pair(c.get("pool_size"), 2)
        sh, sw = _pair(c.get("strides") or (kh, kw))
        pad = c.get("padding", "valid")
        row.shape = _join(_out_len(h, kh, sh, 1, pad), _out_len(w, kw, sw, 1, pad), ch, layout)
        kind = "max" if cls.startswith("Max") else "avg"
        row.kind, row.label = "pool", f"{kh}x{kw} {kind}-pool" + (f" /{sh}" if sh > 1 else "")
        row.attrs = {"padding": pad, "strides": [sh, sw], "kernel": [kh, kw]}
        return row
    if cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D") and x is not None and len(x) == 3:
        ch = _split(x, layout)[2]
        row.shape = _join(1, 1, ch, layout) if c.get("keepdims") else (ch,)
        row.kind, row.label = "pool", "global " + ("avg" if "Average" in cls else "max") + "-pool"
        return row
    if cls == "Dense" and x is not None:
        units, fin = c["units"], x[-1]
        row.shape = (*x[:-1], units)
        row.params = fin * units + (units if c.get("use_bias", True) else 0)
        row.macs = math.prod(v for v in x[:-1] if v) * fin * units if None not in x else 0
        row.kind, row.label = "dense", f"dense {units}"
        return row
    if cls == "Concatenate":
        row.kind = "concat"
        rank = len(x) if x is not None else 3
        axis = c.get("axis", -1)
        row.axis = axis % (rank + 1) - 1 if axis != 0 else 0  # the config's axis counts the batch dimension
        row.label = "concat"
        if in_shapes and all(s is not None for s in in_shapes):
            others = {tuple(v for d, v in enumerate(s) if d != row.axis) for s in in_shapes}
            if len(others) == 1 and len({len(s) for s in in_shapes}) == 1:
                total = sum(s[row.axis] for s in in_shapes)
                row.shape = tuple(total if d == row.axis else v for d, v in enumerate(x))
        return row
    if cls in MERGES:
        row.kind = "merge"
        if in_shapes and all(s is not None for s in in_shapes) and len(set(map(tuple, in_shapes))) == 1:
            row.shape = tuple(x)
        return row
    if cls in SAME_SHAPE and x is not None:
        row.shape = tuple(x)
        if cls == "BatchNormalization":
            ch = x[-1] if layout == "NHWC" or len(x) != 3 else x[0]
            row.params = ch * (2 + bool(c.get("center", True)) + bool(c.get("scale", True)))
        return row
    if cls == "Flatten" and x is not None and None not in x:
        row.shape = (math.prod(x),)
        return row
    if cls == "ZeroPadding2D" and x is not None and len(x) == 3:
        p = c.get("padding", 1)
        (t, b), (lft, r) = ((p, p), (p, p)) if isinstance(p, int) else (
            (_pair(p[0]), _pair(p[1])) if isinstance(p[0], list | tuple) else ((p[0], p[0]), (p[1], p[1])))
        h, w, ch = _split(x, layout)
        row.shape = _join(h + t + b if h else None, w + lft + r if w else None, ch, layout)
        return row
    if cls == "Reshape" and -1 not in c.get("target_shape", (-1,)):
        row.shape = tuple(c["target_shape"])
    return row


# ------------------------------------------------------------------------------------- saved files


def read_config(path: Path) -> dict | None:
    """The model config inside a .keras archive, an .h5 file, or a model JSON; None if there is none."""
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
            if raw is None:
                return None
            return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        if path.suffix == ".json":
            return json.loads(path.read_text())
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return None


def check_keras_model(model) -> str | None:
    """Why a loaded Keras model's branches cannot be joined, or None (nothing found, or not analysable)."""
    try:
        config_layers(model.get_config(), live=model)
    except ShapeProblem as e:
        return str(e)
    except Exception:  # noqa: BLE001 - a model we cannot analyse is left to the converters
        return None
    return None


def explain_keras_file(path: Path) -> str | None:
    """Why the model described in ``path`` cannot be built (a branch that does not fit its merge), or None
    when its config shows no such problem (the failure lies elsewhere)."""
    config = read_config(Path(path))
    if not isinstance(config, dict):
        return None
    try:
        config_layers(config)
    except ShapeProblem as e:
        return str(e)
    except Exception:  # noqa: BLE001 - a config we cannot read says nothing about shapes
        return None
    return None
