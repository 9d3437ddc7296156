"""Inspect a model: per-layer shapes, parameters and MACs, its Inception modules and their branches.

    from edge_inception import inspect_model
    r = inspect_model("googlenet")                            # a zoo name, a .keras/.h5/.json file, ...
    r = inspect_model(keras_model)                            # a built Keras 3 or tf_keras model
    r = inspect_model(torch_module, input_shape=(3, 224, 224))
    r["totals"]["macs"], r["modules"][0]["branches"][1]["bottleneck"]["macs_without_reduction"]

MACs count the multiply-accumulates of convolutions and dense/linear layers (pooling, BatchNorm, which
export folds into the convolution, and activations are not counted). Parameters are counted as each
framework does: Keras' count_params() includes BatchNorm's moving statistics, PyTorch's parameters()
leaves buffers out. One backend file per framework registers itself here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.registry import import_submodules


@dataclass(frozen=True)
class Backend:
    name: str
    accepts: Callable[[object], bool]
    layers: Callable  # (model, *, input_shape) -> (list[Layer], layout)


_BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, *, accepts: Callable[[object], bool]):
    def deco(fn: Callable) -> Callable:
        if name in _BACKENDS:
            raise ValueError(f"inspect backend {name!r} is registered twice")
        _BACKENDS[name] = Backend(name, accepts, fn)
        return fn

    return deco


def _backend_for(model, kind: str | None) -> Backend:
    import_submodules(__name__)
    if kind is not None:
        key = "keras" if kind in ("keras", "tf_keras") else kind
        if key in _BACKENDS:
            return _BACKENDS[key]
    for b in _BACKENDS.values():
        if b.accepts(model):
            return b
    raise UsageError(f"cannot inspect a {type(model).__module__}.{type(model).__name__}",
                     fix="pass a Keras 3 or tf_keras model, a torch nn.Module, a zoo name or a model file")


def inspect_model(model, *, framework: str | None = None, input_shape: tuple[int, ...] | None = None,
                  weights: str | Path | None = None, trust_remote_code: bool = False) -> dict:
    """Analyse ``model`` (a built Keras/tf_keras model, a torch nn.Module, a LoadedModel, a zoo name, or a
    path that ``load_model`` takes, or a Keras model JSON). ``framework`` picks a zoo model's twin;
    ``input_shape`` (C,H,W) is needed for a bare torch module. Returns a JSON-ready dict. A model file
    that carries code (a Lambda layer, pickled objects) is refused unless ``trust_remote_code``."""
    from edge_inception.inspect._graph import ShapeProblem, analyse
    from edge_inception.models.loader import LoadedModel, load_model

    name, kind, source = None, None, None
    if model is None or isinstance(model, str | Path):
        ref = model
        if ref is not None and Path(ref).suffix == ".json" and Path(ref).is_file():
            return _inspect_description(Path(ref))
        model = load_model(ref, framework=framework or "keras", weights=weights, input_shape=input_shape,
                           trust_remote_code=trust_remote_code)
    if isinstance(model, LoadedModel):
        lm = model
        name, kind, source = lm.spec.name, lm.kind, lm.source
        if kind == "saved_model":
            model, kind = _saved_model_as_keras(lm.model, trust_remote_code=trust_remote_code), "tf_keras"
        else:
            model = lm.model
        if kind == "torch" and input_shape is None:
            h, w, c = lm.spec.input_shape
            input_shape = (c, h, w)
    backend = _backend_for(model, kind)
    kind = kind or backend.name
    try:
        layers, layout = backend.layers(model, input_shape=input_shape)
    except ShapeProblem as e:
        raise InputError(source, str(e)) from None
    name = name or getattr(model, "name", None) or type(model).__name__
    result = analyse(layers, layout=layout, module_name=getattr(backend.layers, "module_name", None))
    return {"model": name, "framework": kind, "source": source, **result}


def _inspect_description(path: Path) -> dict:
    """A Keras model JSON (``model.to_json()``): built when it can be, else analysed from the config alone."""
    from edge_inception.inspect import keras as keras_backend
    from edge_inception.inspect._graph import ShapeProblem, analyse

    config = keras_backend.read_config(path)
    if not isinstance(config, dict):
        raise InputError(path, "is not a Keras model JSON", fix="write one with model.to_json()")
    try:
        layers, layout = keras_backend.config_layers(config)
    except ShapeProblem as e:
        raise InputError(path, str(e)) from None
    name = config.get("config", config).get("name", path.stem)
    return {"model": name, "framework": "keras", "source": str(path), **analyse(layers, layout=layout)}


def _saved_model_as_keras(path, *, trust_remote_code: bool = False):
    if not trust_remote_code:  # tf_keras rebuilds the layers from the folder's metadata, Lambda bytecode too
        from edge_inception.models.safe_keras import refuse_saved_model_code

        refuse_saved_model_code(path)
    try:
        import tf_keras

        return tf_keras.models.load_model(path, compile=False)
    except Exception:  # noqa: BLE001
        raise InputError(path, "is a SavedModel without a Keras model inside; its layers cannot be inspected",
                         fix="inspect the .keras or .h5 file it was exported from") from None
