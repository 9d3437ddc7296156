"""Quantization-aware training: fine-tune with fake quantization in the model's own framework, once per
run, then export the fine-tuned model to each int8 target with the ranges learned in training.

    qat = train_qat(loaded_model, train=train_source, calibration=calib, settings=QatSettings(epochs=1))
    info = qat.export(get_target("tflite-int8"), out / "model.tflite")   # no re-calibration
    qat.info                                                            # what training did, for the report

A trainer is registered per LoadedModel kind (``register_trainer``): tfmot_qat.py for Keras (Keras 3
models are rebuilt as tf_keras first, rebuild.py), nncf_qat.py for PyTorch. Each returns a QatModel,
a source of its own kind ('qat-keras', 'qat-torch') that the quantizer registry turns into each int8
target (``register_qat_exports``), as it turns a float source into PTQ artifacts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_inception._core.errors import TargetFailed, UsageError
from edge_inception._core.registry import import_submodules

_TRAINERS: dict[str, Callable] = {}
DEFAULT_LEARNING_RATE = 1e-5  # Adam; fine-tuning a trained model, not training one


@dataclass(frozen=True)
class QatSettings:
    epochs: int = 1
    learning_rate: float = DEFAULT_LEARNING_RATE
    batch_size: int = 64
    seed: int = 0
    # Knowledge distillation: the loss adds KL(float model's softmax || fake-quantized model's softmax)
    # to cross-entropy on the labels, so fine-tuning pulls the int8 model towards what the float model
    # predicts, not only towards the labels it was already trained on.
    distill: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class QatModel:
    """A fine-tuned fake-quantized model: a source of kind ``kind`` for the quantizer registry."""

    framework = ""
    kind = ""

    def __init__(self, info: dict):
        self.info = info

    def export(self, target, dest: Path) -> dict:
        from edge_inception.quantizers import quantize

        return quantize(self, dest, target=target, calibration=None)


def register_qat_exports(kind: str, methods: dict[str, str]) -> None:
    """Register a QatModel kind's writers: quantizer library -> name of the method ``(target, dest) -> info``
    that writes that library's format from the trained model (no re-calibration)."""
    from edge_inception.quantizers import register_quantizer

    for library, method in methods.items():
        def write(qat, dest: Path, *, target, calibration, _method=method) -> dict:
            refuse_untrainable(target)
            return {"method": "qat", **getattr(qat, _method)(target, Path(dest))}  # training: settings.qat

        register_quantizer(library, kind)(write)


# Profile settings that a trained model cannot honour, because they change what is trained or how the
# graph is quantized: refused by name, as post-training quantization refuses what its library lacks.
_UNTRAINABLE = {
    ("quantizer", "qdq_config"): ("standard",),      # QNN's QDQ layout (uint8 activations, symmetric weights)
    ("quantizer", "target_device"): ("cpu",),        # NNCF's device-specific quantizer placement
    ("quantizer", "reduce_range"): (False,),
}


def refuse_untrainable(target) -> None:
    for (section, key), allowed in _UNTRAINABLE.items():
        value = getattr(target, section).get(key, allowed[0])
        if value not in allowed:
            raise TargetFailed(f"{target.name}: [{section}] {key} = {value!r} cannot be honoured by "
                               f"quantization-aware training (it supports {', '.join(map(repr, allowed))}); "
                               "convert this target with --method ptq")


def register_trainer(*kinds: str):
    def deco(fn: Callable) -> Callable:
        for kind in kinds:
            if kind in _TRAINERS:
                raise ValueError(f"QAT trainer for {kind!r} is registered twice")
            _TRAINERS[kind] = fn
        return fn

    return deco


def train_qat(lm, *, train, calibration, settings: QatSettings, targets=None) -> QatModel:
    """Fine-tune ``lm`` (a LoadedModel) on the labelled ImageSource ``train``; ``calibration`` (a
    CalibrationSet) sets the initial ranges, as post-training quantization would. ``targets`` (the run's
    Target list) lets a trainer with one route per format (PyTorch) train only the routes needed."""
    import_submodules(__name__)
    if lm.kind not in _TRAINERS:
        raise UsageError(f"quantization-aware training does not support {lm.kind} models",
                         fix=f"pass a model of kind {', '.join(sorted(_TRAINERS))} (a SavedModel has no layers "
                         "to train: pass the .keras or .h5 file)")
    if not train.labelled:
        raise UsageError(f"{train.name}: QAT training data needs labels",
                         fix="use one sub-folder per class, a .npz with 'labels', or fashion-mnist")
    return _TRAINERS[lm.kind](lm, train=train, calibration=calibration, settings=settings, targets=targets)


def shuffled_batches(src, spec, *, batch_size: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(model input, labels) batches of ``src`` in a seeded random order; folders stay lazy (only the
    file list is shuffled)."""
    from edge_inception.data.readers import ArraySource, FolderSource

    idx = np.random.default_rng(seed).permutation(len(src))
    if isinstance(src, ArraySource):
        src = ArraySource(src.name, src.images[idx], src.labels[idx])
    elif isinstance(src, FolderSource):
        src = dataclasses.replace(src, files=[src.files[i] for i in idx], labels=src.labels[idx])
    for images, labels in src.batches(batch_size):
        yield spec.model_input(images), labels


def fit_epoch_torch(model, batches, optimizer, *, on_batch: Callable[[int], None], teacher=None) -> dict:
    """One epoch of cross-entropy fine-tuning of a torch ``model`` (logits out) on numpy (input, label)
    ``batches``, plus KL divergence to the float ``teacher``'s predictions when one is given; returns the
    mean loss and the running train top-1. Shared by NNCF QAT and the PT2E worker."""
    import torch
    import torch.nn.functional as F

    loss_fn = torch.nn.CrossEntropyLoss()
    losses, correct, seen = [], 0, 0
    for x, y in batches:
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = loss_fn(logits, y)
        if teacher is not None:
            with torch.no_grad():
                target = F.log_softmax(teacher(x), dim=1)
            loss = loss + F.kl_div(F.log_softmax(logits, dim=1), target, log_target=True, reduction="batchmean")
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        on_batch(len(y))
    return {"loss": float(np.mean(losses)), "train_top1": correct / max(seen, 1)}


def loss_description(settings: QatSettings) -> str:
    """The training loss, in words, for the report."""
    return ("cross-entropy on the labels + KL divergence to the float model's softmax (distillation)"
            if settings.distill else "cross-entropy on the labels")


def supported_summary() -> dict[str, list[str]]:
    """Which model kinds have a QAT trainer (for help texts and errors)."""
    import_submodules(__name__)
    return {"kinds": sorted(_TRAINERS)}


def check_options(opts, *, targets) -> QatSettings | None:
    """Validate the QAT group of convert's options (edge_inception.options.QatOptions, already
    range-checked) against the run's targets before any work; QatSettings for a QAT run, else None."""
    if opts.method == "ptq":
        extra = [opt for opt, given in (("--train-data", opts.train_data is not None),
                                        ("--compare-ptq", opts.compare_ptq),
                                        ("--learning-rate", opts.learning_rate is not None),
                                        ("--train-limit", opts.train_limit is not None),
                                        ("--distill/--no-distill", opts.distill is not None)) if given]
        if extra:
            raise UsageError(f"{extra[0]} applies to --method qat only", fix="add --method qat, or drop it")
        return None
    if opts.train_data is None:
        raise UsageError("--method qat needs labelled training images",
                         fix="pass --train-data fashion-mnist, or a folder with one sub-folder per class, or a .npz "
                         "with labels")
    if not any(t.is_quantized for t in targets):
        raise UsageError("--method qat needs an int8 target",
                         fix="add e.g. --target tflite-int8,onnx-int8,openvino-int8")
    return QatSettings(epochs=opts.epochs, learning_rate=opts.learning_rate or DEFAULT_LEARNING_RATE,
                       distill=True if opts.distill is None else opts.distill)
