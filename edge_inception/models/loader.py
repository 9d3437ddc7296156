"""Load a user's model (or a zoo model) and work out its ModelSpec.

    lm = load_model("inception-mini")                    # zoo, trained weights
    lm = load_model("path/model.keras")                  # Keras 3, safe_mode
    lm = load_model("path/model.h5")                     # tf_keras (Keras 2) HDF5
    lm = load_model("path/saved_model_dir/")             # TensorFlow SavedModel
    lm = load_model("inception-mini", framework="torch") # the zoo's PyTorch twin
    lm = load_model("pkg.mod:factory", weights="sd.pt")  # PyTorch; also file.py:fn, .pt2, TorchScript .pt
    lm.model, lm.spec, lm.kind, lm.classes

A model file is untrusted input: no code it carries runs unless ``trust_remote_code=True``
(`--trust-remote-code`). Keras configs are checked before Keras builds them (safe_keras.py), .pt2
archives before torch deserializes them (safe_pt2.py); see docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.files import NAMES, check_regular_file, sniff
from edge_inception.models.spec import ModelSpec, Preprocessing


@dataclass
class LoadedModel:
    """A model ready to export. ``kind`` says what ``model`` is: a Keras model object
    ('keras' or 'tf_keras'), a SavedModel directory path ('saved_model') or a torch nn.Module in
    eval mode ('torch', from a factory, an ExportedProgram or TorchScript)."""

    model: object
    spec: ModelSpec
    kind: str
    source: str
    random_weights: bool = False  # a zoo architecture built without trained weights
    classes: int | None = None  # width of the (N, classes) output; None where it is not known

    def to_dict(self) -> dict:
        return {"source": self.source, "kind": self.kind, "random_weights": self.random_weights,
                **self.spec.to_dict()}


def weight_bytes(lm) -> int:
    """Bytes of float weights in the loaded model (0 where it cannot tell)."""
    m = lm.model
    if hasattr(m, "count_params"):  # Keras 3 and tf_keras
        return 4 * int(m.count_params())
    if hasattr(m, "parameters"):  # torch.nn.Module
        return sum(p.numel() * p.element_size() for p in m.parameters())
    if isinstance(m, str | Path) and Path(m).is_dir():  # a SavedModel folder: its variables on disk
        return sum(f.stat().st_size for f in (Path(m) / "variables").glob("*") if f.is_file())
    return 0


def load_model(ref: str | Path | None = None, *, framework: str = "keras", preprocessing: str | None = None,
               weights: str | Path | None = None, input_shape: tuple[int, ...] | None = None,
               trust_remote_code: bool | None = None) -> LoadedModel:
    """Resolve ``ref``: None or a zoo name gives the zoo model; a PyTorch factory ('pkg.mod:fn',
    'file.py:fn'), .pt2 or TorchScript file gives a torch model; else a Keras file or SavedModel.
    ``weights`` (a state_dict for a factory) and ``input_shape`` (C,H,W or H,W,C, for TorchScript)
    apply to PyTorch models only. ``trust_remote_code`` lets a Keras Lambda layer or a .pt2's pickled
    objects run; without it such files are refused (None: the enclosing ``trusting`` scope decides,
    which is how eval/bench runtimes get --trust-remote-code)."""
    from edge_inception._core.limits import check_input_shape
    from edge_inception._core.native import import_tensorflow
    from edge_inception._core.trust import trusted
    from edge_inception.models import torch_loader, zoo

    trust_remote_code = trusted(trust_remote_code)
    check_input_shape(input_shape)
    ref = "inception-mini" if ref is None else str(ref)
    if zoo.is_zoo_model(ref) and not Path(ref).exists():
        entry = zoo.get_entry(ref, framework)
        spec = entry.spec
        if preprocessing is not None:
            spec = replace(spec, preprocessing=Preprocessing.preset(preprocessing))
        if framework == "keras":
            import_tensorflow()
        # Zoo entries without shipped weights (Inception v3: nothing can be downloaded here) build with
        # random weights: fine for conversion checks, meaningless for accuracy, and the source says so.
        trained = entry.weights_path is not None and entry.weights_path.is_file()
        model = zoo.create_model(ref, framework=framework, pretrained=trained)
        classes = _keras_classes(model, ref) if framework == "keras" else (len(spec.labels) or None)
        return LoadedModel(model, spec, entry.framework, f"zoo:{ref}", random_weights=not trained, classes=classes)
    if torch_loader.is_torch_ref(ref):
        model, spec, classes = torch_loader.load_torch(ref, weights=weights, input_shape=input_shape,
                                                       preprocessing=Preprocessing.preset(preprocessing or "unit"),
                                                       trust_remote_code=trust_remote_code)
        return LoadedModel(model, spec, "torch", ref, classes=classes)
    if weights is not None or input_shape is not None:
        raise UsageError("--weights and --input-shape apply to PyTorch models only",
                         fix="a Keras model carries its own weights and input shape")
    path = Path(ref)
    if not path.exists():
        raise InputError(path, "does not exist", fix="pass a .keras, .h5, SavedModel, .pt2 or TorchScript path, "
                         "a PyTorch factory 'pkg.module:function', or a zoo model name (edge-inception models)")
    check_regular_file(path, what="model file", allow_dir=True)  # before TensorFlow's 7 s import
    import_tensorflow()
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise InputError(path, "is a folder without saved_model.pb",
                             fix="pass a SavedModel folder, a .keras or a .h5 file")
        model, kind = path, "saved_model"
        shape, classes = _saved_model_shapes(path)
    elif path.suffix == ".keras":
        model, kind = _load_keras3(path, trust_remote_code=trust_remote_code), "keras"
        shape, classes = _keras_input_shape(model, path), _keras_classes(model, path)
    elif path.suffix in (".h5", ".hdf5"):
        model, kind = _load_h5(path, trust_remote_code=trust_remote_code)
        shape, classes = _keras_input_shape(model, path), _keras_classes(model, path)
    else:
        raise InputError(path, f"has an unsupported extension '{path.suffix}'",
                         fix="pass a .keras, .h5 or SavedModel folder")
    spec = ModelSpec(name=path.stem if path.is_file() else path.name, framework=kind,
                     input_shape=_image_shape(shape, path),
                     preprocessing=Preprocessing.preset(preprocessing or "unit"))
    return LoadedModel(model, spec, kind, str(path), classes=classes)


def _expect(path: Path, kind: str, expected: str, fix: str) -> None:
    """A file whose first bytes say it is something else (a renamed PNG, a truncated archive)."""
    found = sniff(path)
    if found == kind:
        return
    if found is not None:
        raise InputError(path, f"cannot be loaded: it is {NAMES[found]}, not {expected}", fix=fix)
    raise InputError(path, f"cannot be loaded: it is not {expected} (its first bytes are not those of one)", fix=fix)


def _load_keras3(path: Path, *, trust_remote_code: bool = False):
    import keras

    from edge_inception.models import safe_keras

    fix = "re-save it with model.save('model.keras') in Keras 3"
    _expect(path, "zip", "a .keras archive (a zip file)", fix)
    data = safe_keras.read_regular_file(path)
    config = safe_keras.keras_archive_config(data, path)
    if config is None:
        raise InputError(path, "is a zip archive without config.json, not a .keras model", fix=fix)
    if not trust_remote_code:
        safe_keras.refuse_code(config, path)
    try:
        with _private_copy(data, ".keras") as copy:  # load the bytes that were checked
            model = keras.saving.load_model(copy, compile=False, safe_mode=not trust_remote_code)
    except Exception as e:  # noqa: BLE001 - Keras raises many types for a bad file
        _raise_if_shape_problem(path)
        raise InputError(path, f"cannot be loaded as a Keras model ({_first_line(e)})",
                         fix="check the file is a .keras archive saved by Keras 3") from None
    return _shapes_checked(path, model)


def _private_copy(data: bytes, suffix: str):
    """A temporary file only this user can read, holding ``data``; removed after the block."""
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def cm():
        with tempfile.TemporaryDirectory(prefix="edge-inception-model-") as tmp:
            copy = Path(tmp) / f"model{suffix}"
            copy.write_bytes(data)
            yield copy

    return cm()


def _raise_if_shape_problem(path: Path) -> None:
    """A saved config whose branches cannot be joined (an Inception branch with padding='valid') fails
    deep inside Keras; name the branch and the layer instead."""
    from edge_inception.inspect.keras import explain_keras_file

    problem = explain_keras_file(path)
    if problem:
        raise InputError(path, problem) from None


def _shapes_checked(path: Path, model):
    # Keras rebuilds each layer from its saved build shapes, so an edited config whose branches no longer
    # fit can load and fail only when run or converted: check the merges before any work starts.
    from edge_inception.inspect.keras import check_keras_model

    problem = check_keras_model(model)
    if problem:
        raise InputError(path, problem)
    return model


def _load_h5(path: Path, *, trust_remote_code: bool = False):
    import io

    import h5py

    from edge_inception.models import safe_keras

    fix = "save it with model.save('model.h5') in tf_keras or Keras 3"
    _expect(path, "hdf5", "an HDF5 model file", fix)
    data = safe_keras.read_regular_file(path)
    config = safe_keras.h5_config(data, path)
    if config is None:
        raise InputError(path, "holds no model config (weights only?)",
                         fix="save the whole model with model.save('model.h5'), not save_weights")
    if not trust_remote_code:
        safe_keras.refuse_code(config, path)  # tf_keras ignores safe_mode for HDF5: check before it builds
    errors = []
    try:
        import tf_keras
        from tf_keras.src.saving.serialization_lib import SafeModeScope

        with SafeModeScope(not trust_remote_code), h5py.File(io.BytesIO(data), "r") as f:
            model, kind = tf_keras.models.load_model(f, compile=False), "tf_keras"
    except Exception as e:  # noqa: BLE001
        errors.append(_first_line(e))
        try:
            import keras

            with _private_copy(data, ".h5") as copy:
                model, kind = keras.saving.load_model(copy, compile=False, safe_mode=not trust_remote_code), "keras"
        except Exception as e:  # noqa: BLE001
            errors.append(_first_line(e))
            _raise_if_shape_problem(path)
            raise InputError(path, f"cannot be loaded as a Keras HDF5 model ({errors[0]})", fix=fix) from None
    return _shapes_checked(path, model), kind


def _keras_input_shape(model, path: Path) -> tuple:
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        raise InputError(path, f"has {len(inputs or [])} inputs; edge-inception needs one image input")
    return tuple(inputs[0].shape)


def _keras_classes(model, where) -> int | None:
    """The class count of a model with one (N, classes) output; a feature map is refused here, before
    any conversion, rather than as a broadcast error at evaluation."""
    outputs = getattr(model, "outputs", None)
    if not outputs:
        return None
    if len(outputs) != 1:
        raise InputError(where, f"has {len(outputs)} outputs; edge-inception needs one (N, classes) output of "
                         "class scores", fix="keep the classifier head as the model's only output")
    return _classes_from_shape(tuple(outputs[0].shape), where)


def _classes_from_shape(shape: tuple, where) -> int | None:
    if len(shape) != 2:
        raise InputError(where, f"gives output of shape {shape}, not class scores (N, classes): a feature map?",
                         fix="end the model with its classifier (e.g. GlobalAveragePooling2D + Dense)")
    return int(shape[1]) if shape[1] is not None else None


def _saved_model_shapes(path: Path) -> tuple[tuple, int | None]:
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()

    try:
        loaded = tf.saved_model.load(str(path))
        sig = loaded.signatures["serving_default"]
    except (KeyError, OSError, ValueError) as e:
        raise InputError(path, f"is not a loadable SavedModel ({_first_line(e)})",
                         fix="export it with a serving_default signature") from None
    specs = list(sig.structured_input_signature[1].values())
    if len(specs) != 1:
        raise InputError(path, f"serving_default has {len(specs)} inputs; edge-inception needs one image input")
    outputs = list(sig.structured_outputs.values()) if isinstance(sig.structured_outputs, dict) else []
    classes = _classes_from_shape(tuple(outputs[0].shape), path) if len(outputs) == 1 else None
    return tuple(specs[0].shape), classes


def _image_shape(shape: tuple, path: Path) -> tuple[int, int, int]:
    if len(shape) == 4 and shape[-1] in (1, 3) and any(d is None for d in shape[1:3]):
        raise InputError(path, f"takes images of any size {shape}; edge-inception needs a fixed image size "
                         "(int8 calibration and the device compilers work on one input shape)",
                         fix=f"rebuild the model on keras.Input((H, W, {shape[-1]})), e.g. (299, 299, {shape[-1]}), "
                             "and save it again")
    if len(shape) != 4 or any(d is None for d in shape[1:]) or shape[-1] not in (1, 3):
        raise InputError(path, f"takes input of shape {shape}, not an image batch (N, H, W, 1 or 3)",
                         fix="edge-inception converts image classifiers with NHWC input")
    return int(shape[1]), int(shape[2]), int(shape[3])


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
