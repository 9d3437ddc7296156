"""Rebuild a Keras model as a tf_keras (Keras 2) model with the same weights, for tfmot, which quantizes
only tf_keras models.

    tk_model = to_tf_keras(keras3_model)                       # layer by layer, from the model's config
    check_same_outputs(keras3_model, tk_model, batch)          # max |difference| <= 1e-5, else an error

Each layer is re-created from its config in tf_keras's class of the same name, connected as in the
original graph, and given the original's weights. Only layers that tfmot's default 8-bit scheme
quantizes (SUPPORTED) are accepted; anything else is refused up front, naming the layer and its class.
"""

from __future__ import annotations

import inspect

import numpy as np

from edge_inception._core.errors import EdgeInceptionError, UsageError

# Layers tfmot's Default8BitQuantizeRegistry knows (quantized, or passed through unquantized).
SUPPORTED = (
    "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "BatchNormalization", "ReLU",
    "Activation", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "Concatenate", "Add", "Dropout", "Flatten", "Reshape", "ZeroPadding2D", "UpSampling2D", "Softmax",
)
_ACTIVATIONS = {"linear", "relu", "relu6", "softmax", "sigmoid", "tanh", "swish", "hard_sigmoid"}
MAX_ABS_DIFF = 1e-5


def unsupported_layer_error(name: str, cls: str, why: str = "") -> UsageError:
    return UsageError(f"layer '{name}' ({cls}) is not supported by quantization-aware training"
                      + (f": {why}" if why else ""),
                      fix=f"QAT (tfmot's default 8-bit scheme) supports {', '.join(SUPPORTED[1:])}; "
                      "use --method ptq for this model")


def check_supported(model) -> None:
    """Refuse the first layer tfmot cannot quantize, by name and class."""
    for layer in model.layers:
        cls = type(layer).__name__
        if cls not in SUPPORTED:
            raise unsupported_layer_error(layer.name, cls)
        act = getattr(layer, "activation", None)
        act_name = getattr(act, "__name__", None)
        if act is not None and act_name not in _ACTIVATIONS:
            raise unsupported_layer_error(layer.name, cls, f"activation {act_name!r}")


def to_tf_keras(model):
    """A tf_keras copy of ``model`` (Keras 3 functional or Sequential, or tf_keras) with its weights."""
    import tf_keras

    if model.__class__.__module__.startswith("tf_keras"):
        check_supported(model)
        clone = tf_keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return clone
    check_supported(model)
    config = model.get_config()
    tensors: dict[str, object] = {}
    layers = config["layers"]
    sequential = all("inbound_nodes" not in spec for spec in layers)
    previous = first = None
    if sequential and layers and layers[0]["class_name"] != "InputLayer":
        previous = first = tf_keras.Input(tuple(model.inputs[0].shape[1:]), name="input")
    for spec in layers:
        cls, cfg = spec["class_name"], spec["config"]
        name = cfg.get("name", spec.get("name"))
        if cls == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            out = tf_keras.Input(tuple(shape[1:]), name=name)
            first = first if first is not None else out
        else:
            layer = _make_layer(tf_keras, cls, cfg, name)
            if sequential:
                inputs = previous
            else:
                refs = _history(spec.get("inbound_nodes", []))
                if any(node for _, node, _ in refs) or len(spec.get("inbound_nodes", [])) > 1:
                    raise unsupported_layer_error(name, cls, "a layer used more than once (shared layer)")
                inputs = [tensors[ref] for ref, _, _ in refs]
                inputs = inputs[0] if len(inputs) == 1 and cls not in ("Concatenate", "Add") else inputs
            out = layer(inputs)
        tensors[name] = previous = out
    if sequential:
        inputs, outputs = first, previous
    else:
        inputs = [tensors[ref] for ref, _, _ in _history_refs(config["input_layers"])]
        outputs = [tensors[ref] for ref, _, _ in _history_refs(config["output_layers"])]
        inputs = inputs[0] if len(inputs) == 1 else inputs
        outputs = outputs[0] if len(outputs) == 1 else outputs
    rebuilt = tf_keras.Model(inputs, outputs, name=model.name)
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
        except ValueError as e:
            raise unsupported_layer_error(layer.name, type(layer).__name__, f"its weights do not fit tf_keras' "
                                          f"{type(layer).__name__} ({str(e).splitlines()[0][:120]})") from None
    return rebuilt


def _make_layer(tf_keras, cls: str, cfg: dict, name: str):
    """tf_keras' layer of the same class from a Keras 3 config: initializers, regularizers and
    constraints are dropped (weights are copied, and fine-tuning is short), and so are keys the tf_keras
    class does not take (Keras 3 additions such as Dense's lora_rank, which must be unset)."""
    target = getattr(tf_keras.layers, cls)
    params = set(inspect.signature(target.__init__).parameters) | {"name", "trainable"}
    kwargs = {}
    for key, value in cfg.items():
        if key == "dtype" or key.endswith(("_initializer", "_regularizer", "_constraint")):
            continue
        if key == "lora_rank" and value:
            raise unsupported_layer_error(name, cls, "LoRA layers")
        if key == "activation" and not isinstance(value, str):
            raise unsupported_layer_error(name, cls, f"a custom activation {value!r:.60}")
        if key in params:
            kwargs[key] = tuple(value) if isinstance(value, list) and key != "axis" else value
    kwargs["name"] = name
    return target(**kwargs)


def _history(nodes) -> list[tuple[str, int, int]]:
    """(layer name, node index, tensor index) of every tensor a Keras 3 inbound node refers to."""
    found: list[tuple[str, int, int]] = []

    def walk(x):
        if isinstance(x, dict):
            if "keras_history" in x.get("config", {}):
                found.append(tuple(x["config"]["keras_history"]))
                return
            for v in x.values():
                walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v)

    walk(nodes)
    return found


def _history_refs(refs) -> list[tuple[str, int, int]]:
    """Model input/output layer references: ['name', 0, 0] or [['name', 0, 0], ...]."""
    if refs and isinstance(refs[0], str):
        refs = [refs]
    return [tuple(r) for r in refs]


def check_same_outputs(original, rebuilt, batch: np.ndarray) -> float:
    """Max absolute difference of the two models' outputs on ``batch``; an error above MAX_ABS_DIFF."""
    a = np.asarray(original(batch, training=False))
    b = np.asarray(rebuilt(batch, training=False))
    diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
    if not diff <= MAX_ABS_DIFF:
        raise EdgeInceptionError(f"the tf_keras rebuild of the model differs from it by {diff:.3g} "
                                 f"(allowed {MAX_ABS_DIFF:g}); QAT would train a different model")
    return diff
