"""Keras QAT with tensorflow-model-optimization (tfmot) on tf_keras, exported with the learned ranges.

    qat = train_keras(lm, train=src, calibration=calib, settings=QatSettings())
    qat.export(get_target("tflite-int8"), dest)

tfmot quantizes only tf_keras (Keras 2) models. Its ``compat`` module picks tf_keras by itself when
``tf.keras`` is Keras 3, so this runs in the CLI's process even after TensorFlow was imported without
TF_USE_LEGACY_KERAS (measured with TF 2.21 / tfmot 0.8.1); a Keras 3 model is rebuilt as tf_keras
(rebuild.py) and checked to give the same outputs first.

Steps: quantize_model -> ranges initialised by min/max over the calibration set (tfmot starts every
activation range at [-6, 6] and moves it by an EMA with decay 0.999, which one epoch does not undo) ->
BatchNormalization frozen (inference statistics, as deployed) -> Adam fine-tuning (cross-entropy, plus
distillation from the float model unless turned off) -> exports:
- tflite: TFLiteConverter on the QAT model with no representative dataset, so every activation range is
  a FakeQuant range from training (a missing one leaves a float op, which the full-integer verifier
  refuses, rather than being calibrated);
- onnx: that TFLite model through tf2onnx's TFLite reader (tf2onnx's TensorFlow reader has no
  per-channel or narrow-range FakeQuant), QDQ with the same scales;
- openvino: convert_model on that QDQ ONNX.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_inception._core.errors import TargetFailed, UsageError
from edge_inception._core.native import quiet_native
from edge_inception.qat import (
    QatModel,
    QatSettings,
    loss_description,
    onnx_qdq,
    register_qat_exports,
    register_trainer,
    shuffled_batches,
)


def _tfmot():
    """Import tfmot without changing what ``tf.keras`` means for the rest of the process.

    tfmot's compat module sets TF_USE_LEGACY_KERAS=1 and then touches ``tf.keras``; if TensorFlow had
    not resolved its lazy ``tf.keras`` yet, it would become tf_keras for everyone (OpenVINO's TensorFlow
    frontend then no longer recognises Keras 3 models). So ``tf.keras`` is resolved first, and the
    variable is put back afterwards."""
    import os

    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    _ = tf.keras.Model  # resolve the lazy module under the current setting
    try:
        with quiet_native():
            import tensorflow_model_optimization as tfmot
    finally:
        if before is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = before
    return tfmot


@register_trainer("keras", "tf_keras")
def train_keras(lm, *, train, calibration, settings: QatSettings, targets=None) -> QatModel:
    """One tfmot training serves every format (``targets`` is not needed)."""
    from edge_inception._core.progress import progress
    from edge_inception.qat.rebuild import check_same_outputs, check_supported, to_tf_keras

    check_supported(lm.model)  # refuse an unsupported layer before any work is shown
    tfmot = _tfmot()
    import tf_keras

    first = next(calibration.float_batches())
    with progress("QAT: rebuilding the model in tf_keras"):
        base = to_tf_keras(lm.model)
        diff = check_same_outputs(lm.model, base, first)
    try:
        with quiet_native():
            qmodel = tfmot.quantization.keras.quantize_model(base)
    except (ValueError, RuntimeError, TypeError) as e:
        raise UsageError(f"tfmot cannot quantize this model: {str(e).splitlines()[0][:300]}",
                         fix="use --method ptq for this model") from None
    frozen = _freeze_batch_norm(qmodel)
    n_calib = _init_ranges(qmodel, calibration)
    last = lm.model.layers[-1]
    from_logits = getattr(getattr(last, "activation", None), "__name__", "") != "softmax" \
        and type(last).__name__ != "Softmax"
    step = _train_step(qmodel, base if settings.distill else None, from_logits=from_logits,
                       optimizer=tf_keras.optimizers.Adam(settings.learning_rate))
    history = []
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        losses, correct, seen = [], 0, 0
        with progress(f"QAT epoch {epoch + 1}/{settings.epochs}", total=len(train)) as advance:
            for x, y in shuffled_batches(train, lm.spec, batch_size=settings.batch_size, seed=settings.seed + epoch):
                loss, hits = step(x, y)
                losses.append(float(loss))
                correct += int(hits)
                seen += len(y)
                advance(len(y))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "train_top1": correct / max(seen, 1)})
    info = {"library": f"tensorflow-model-optimization {_version(tfmot)} on tf_keras {tf_keras.__version__}",
            "rebuilt_from": lm.kind, "rebuild_max_abs_diff": diff, **settings.to_dict(),
            "train_data": train.name, "train_samples": len(train), "loss": loss_description(settings),
            "batch_norm": f"frozen ({frozen} layers)",
            "ranges": f"min/max over {n_calib} calibration images, then learned (EMA) in training",
            "seconds": round(time.perf_counter() - t0, 1), "history": history}
    return KerasQat(qmodel, lm, info)


def _train_step(qmodel, teacher, *, from_logits: bool, optimizer):
    """A compiled training step: cross-entropy on the labels, plus KL divergence from the float
    ``teacher``'s softmax when given (its outputs are computed without gradient, in inference mode).
    Returns (loss, number of correct top-1 predictions in the batch)."""
    import tensorflow as tf

    def log_probs(out):  # log-softmax of logits is exact; a softmax output can only be clipped
        return tf.nn.log_softmax(out) if from_logits else tf.math.log(tf.clip_by_value(out, 1e-7, 1.0))

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            out = qmodel(x, training=True)
            log_s = log_probs(out)
            loss = -tf.reduce_mean(tf.gather(log_s, tf.cast(y, tf.int32), batch_dims=1))  # cross-entropy
            if teacher is not None:
                log_t = tf.stop_gradient(log_probs(teacher(x, training=False)))
                loss += tf.reduce_mean(tf.reduce_sum(tf.exp(log_t) * (log_t - log_s), axis=-1))  # KL(t || s)
            if qmodel.losses:
                loss += tf.add_n(qmodel.losses)
        grads = tape.gradient(loss, qmodel.trainable_variables)
        optimizer.apply_gradients(zip(grads, qmodel.trainable_variables, strict=True))
        hits = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(out, axis=-1, output_type=tf.int64), tf.cast(y, tf.int64)),
                                     tf.int32))
        return loss, hits

    return step


def _version(module) -> str:
    from importlib.metadata import version

    try:
        return version("tensorflow-model-optimization")
    except Exception:  # noqa: BLE001
        return getattr(module, "__version__", "?")


def _freeze_batch_norm(qmodel) -> int:
    """BatchNormalization runs on its moving statistics during fine-tuning (tf_keras runs a
    non-trainable BN in inference mode): training then sees what deployment computes, folded."""
    n = 0
    for layer in qmodel.layers:
        inner = getattr(layer, "layer", layer)
        if type(inner).__name__ == "BatchNormalization":
            inner.trainable = False
            n += 1
    return n


@contextlib.contextmanager
def _collecting_ranges():
    """While active, tfmot's activation quantizers record the running min/max of what they see (float
    values pass through unquantized), like post-training min/max calibration."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    original = quant_ops.MovingAvgQuantize
    seen: set[int] = set()

    def collect(inputs, min_var, max_var, **kwargs):
        if not kwargs.get("is_training", True):
            return original(inputs, min_var, max_var, **kwargs)
        old = (min_var.numpy(), max_var.numpy())
        original(inputs, min_var, max_var, **{**kwargs, "ema_decay": 0.0})  # assigns this batch's range
        if id(min_var) in seen:
            min_var.assign(np.minimum(old[0], min_var.numpy()))
            max_var.assign(np.maximum(old[1], max_var.numpy()))
        seen.add(id(min_var))
        return inputs

    quant_ops.MovingAvgQuantize = collect
    try:
        yield
    finally:
        quant_ops.MovingAvgQuantize = original


def _init_ranges(qmodel, calibration) -> int:
    dropouts = [getattr(layer, "layer", layer) for layer in qmodel.layers]
    dropouts = [d for d in dropouts if type(d).__name__ == "Dropout"]
    rates = [d.rate for d in dropouts]
    n = 0
    try:
        for d in dropouts:
            d.rate = 0.0  # training-mode dropout would scale what follows by 1/(1-rate)
        with _collecting_ranges():
            for batch in calibration.float_batches():
                qmodel(batch, training=True)
                n += len(batch)
    finally:
        for d, r in zip(dropouts, rates, strict=True):
            d.rate = r
    return n


class KerasQat(QatModel):
    framework = "Keras"
    kind = "qat-keras"

    def __init__(self, qmodel, lm, info: dict):
        super().__init__(info)
        self.qmodel, self.lm = qmodel, lm
        self._tmp = tempfile.TemporaryDirectory(prefix="edge-inception-qat-")
        self._float_io_tflite: Path | None = None
        self._qdq = None

    def tflite_bytes(self, *, io_dtype: str = "float32", static_batch: bool = False) -> bytes:
        """Full-integer TFLite whose activation ranges are the model's FakeQuant ranges; ``static_batch``
        fixes the batch at 1, as PTQ does for profiles with static_shapes."""
        from dataclasses import replace

        from edge_inception._core.native import import_tensorflow
        from edge_inception.exporters.tflite import make_converter

        tf = import_tensorflow()
        source = replace(self.lm, model=self.qmodel, kind="tf_keras")
        with make_converter(source, static_batch=static_batch) as converter:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            # No representative_dataset: ranges come from training only. (TFLITE_BUILTINS_INT8 would demand
            # one; a tensor without a trained range stays float, and the target's verifier refuses it.)
            io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[io_dtype]
            converter.inference_input_type = io
            converter.inference_output_type = io
            try:
                with quiet_native():
                    return converter.convert()
            except Exception as e:  # noqa: BLE001 - the converter raises ConverterError and plain exceptions
                raise TargetFailed(f"TFLite conversion of the QAT model failed: {' '.join(str(e).split())[:300]}") \
                    from None

    def _float_io_path(self) -> Path:
        if self._float_io_tflite is None:
            path = Path(self._tmp.name) / "qat.tflite"
            path.write_bytes(self.tflite_bytes())
            self._float_io_tflite = path
        return self._float_io_tflite

    def _export_tflite(self, target, dest: Path) -> dict:
        from edge_inception._core.atomic import atomic_write_bytes
        from edge_inception._core.native import import_tensorflow

        tf = import_tensorflow()

        q = target.quantizer
        if not q.get("per_channel", True):
            raise TargetFailed(f"{target.name}: tfmot's default 8-bit scheme trains per-channel weights; a "
                               "per-tensor profile needs --method ptq")
        io, static = q.get("io_dtype", "float32"), target.constraints.get("static_shapes", False)
        data = (self._float_io_path().read_bytes() if io == "float32" and not static
                else self.tflite_bytes(io_dtype=io, static_batch=static))
        atomic_write_bytes(dest, data)
        return {"library": f"tensorflow {tf.__version__} TFLiteConverter on the tfmot QAT model",
                "weights": "int8 per-channel", "activations": "int8", "io_dtype": io,
                "batch": 1 if static else "dynamic",
                "ranges": "FakeQuant ranges learned in training (no representative dataset)"}

    def qdq_proto(self):
        if self._qdq is None:
            import tf2onnx

            try:
                with quiet_native():
                    self._qdq, _ = tf2onnx.convert.from_tflite(str(self._float_io_path()), opset=17)
            except Exception as e:  # noqa: BLE001 - tf2onnx raises plain exceptions of many types
                raise TargetFailed(f"tf2onnx could not read the QAT TFLite model: {' '.join(str(e).split())[:300]}") \
                    from None
        return self._qdq

    def _export_onnx(self, target, dest: Path) -> dict:
        import tf2onnx

        return onnx_qdq.write_onnx(self.qdq_proto(), self.lm, dest, target=target,
                                   converter=f"tf2onnx {tf2onnx.__version__} from the QAT TFLite model")

    def _export_openvino(self, target, dest: Path) -> dict:
        return onnx_qdq.write_openvino(self.qdq_proto(), self.lm, dest, target=target)


register_qat_exports(KerasQat.kind, {"tflite": "_export_tflite", "onnxruntime": "_export_onnx",
                                     "nncf": "_export_openvino"})
