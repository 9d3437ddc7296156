"""Static post-training quantization with ONNX Runtime's quantization tool, QDQ format.

    info = quantize(loaded_model, dest, target=target, calibration=calib)
    info["activations"], info["weights"], info["isa_reason"]     # what 'auto' became, and why

Float ONNX from the ONNX exporter -> ``quant_pre_process`` (shape inference and graph optimization,
as ORT recommends before quantizing) -> ``quantize_static`` with QDQ and per-channel weights.

The 8-bit types follow the CPU when the profile says 'auto' (``choose_ort_types``): on x86 without
VNNI, ORT's u8 x s8 kernels add pairs of products in 16 bits (VPMADDUBSW) and saturate, so signed
weights lose accuracy; uint8 weights take ORT's u8 x u8 kernels, which widen first.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from edge_inception._core.atomic import atomic_path
from edge_inception._core.errors import TargetFailed
from edge_inception._core.native import quiet_native
from edge_inception.data.calibration import CalibrationSet
from edge_inception.exporters import SOURCE_KINDS
from edge_inception.exporters.onnx import INPUT_NAME, onnx_model, save_onnx
from edge_inception.models.loader import LoadedModel
from edge_inception.quantizers import register_quantizer

_QTYPES = {"int8": "QInt8", "uint8": "QUInt8", "uint16": "QUInt16"}


def choose_ort_types(isa: dict, activations: str, weights: str) -> tuple[str, str, str]:
    """(activations, weights, reason): the profile's 8-bit types, with 'auto' resolved for this ISA.

    x86 with VNNI (AVX-512 VNNI, AVX-VNNI, AMX): U8S8. VPDPBUSD multiplies uint8 by int8 and
    accumulates in 32 bits, so nothing saturates, and it is the pair ORT fuses into int8 convolutions
    there: measured on an AVX-512 VNNI EPYC, inception-mini batch 1 against float, U8S8 0.54x (Keras)
    and 0.71x (PyTorch), S8S8 1.53x and 1.43x (most convolutions left unfused), U8U8 1.04x and 0.75x;
    S8S8 and U8S8 gave the same predictions. ARM dot-product kernels widen before accumulating, so
    S8S8, ORT's default, holds accuracy there. x86 without VNNI: U8U8, because S8S8 and U8S8
    saturate in ORT's fused kernels. Measured on an AVX2 Zen 1, top-1 agreement with float: Inception
    v3 28% (S8S8) vs 94% (U8U8); inception-mini 97.6% (S8S8, U8S8), 98.9% (either with
    ``reduce_range``), 99.5% (U8U8). U8U8 costs speed there (inception-mini, batch 1: about as fast
    as float, U8S8 ~1.3x faster), but it is the one choice that never collapses."""
    if "auto" not in (activations, weights):
        return activations, weights, "set in the target profile"
    x86 = any(isa.get(f) for f in ("sse4_2", "avx2", "avx512f"))
    arm = any(isa.get(f) for f in ("neon", "dotprod"))
    if isa.get("vnni"):
        pick, reason = ("uint8", "int8"), ("x86 CPU with VNNI/AMX: its u8 x s8 dot products (VPDPBUSD) accumulate "
                                            "in 32 bits without saturation, and U8S8 is the pair ORT fuses into int8 "
                                            "convolutions there (S8S8 left most unfused, slower than float)")
    elif arm and not x86:
        pick, reason = ("int8", "int8"), ("ARM CPU: ORT's int8 kernels widen before accumulating, so S8S8 "
                                           "(ORT's default) holds accuracy")
    elif x86:
        pick, reason = ("uint8", "uint8"), ("x86 CPU without VNNI (AVX2/AVX-512 only): ORT's u8 x s8 kernels "
                                             "(VPMADDUBSW) add product pairs in 16 bits and saturate with int8 "
                                             "weights; U8U8 takes kernels that widen first")
    else:
        pick, reason = ("uint8", "uint8"), ("CPU instruction set unknown: U8U8 avoids the int8-weight saturation "
                                             "of non-VNNI x86 kernels")
    act = pick[0] if activations == "auto" else activations
    wt = pick[1] if weights == "auto" else weights
    if (act, wt) != pick:
        reason += f"; {'weights' if activations == 'auto' else 'activations'} set in the target profile"
    if (act, wt) == ("int8", "uint8"):  # ORT refuses this pair (it has no S8U8 kernels): move the 'auto' side
        act, wt = ("uint8", "uint8") if activations == "auto" else ("int8", "int8")
        reason += ", and ORT has no int8-activation/uint8-weight kernels"
    return act, wt, reason


def calibration_arguments(calibration: CalibrationSet) -> tuple[object, dict, dict]:
    """(calibrate_method, extra_options, what the report records as told) for the recipe's range method,
    from the data table in calibration_recipes/methods.py."""
    from onnxruntime.quantization import CalibrationMethod

    from edge_inception.calibration_recipes.methods import told

    args = told("onnxruntime", method=calibration.method, percentile=calibration.percentile,
                bias_correction=calibration.bias_correction)
    extra = args.get("extra_options", {})
    record = {"calibrate_method": f"CalibrationMethod.{args['calibrate_method']}",
              **{f"extra_options.{k}": v for k, v in extra.items()}}
    return getattr(CalibrationMethod, args["calibrate_method"]), extra, record


# A model of at least this much float weights calibrates one image per ONNX Runtime run when that gives
# the same ranges (plain MinMax): the calibrator's model outputs every intermediate tensor, so a run holds
# all of a batch's activations (Keras Inception-ResNet v2: quantize_static peaked at 6.66 GiB with 8 images
# per run; docs/benchmarks.md#full-size-conversion-within-4-gib).
ONE_IMAGE_PER_RUN_BYTES = 128 << 20


def _one_image_per_run(lm: LoadedModel, method, extra: dict) -> bool:
    """Min and max over single images are the min and max over their batch, so plain MinMax ranges do
    not depend on the batching; histogram methods and the moving average do, and keep the recipe's."""
    from onnxruntime.quantization import CalibrationMethod

    from edge_inception.models.loader import weight_bytes

    return (method == CalibrationMethod.MinMax and not extra.get("CalibMovingAverage")
            and weight_bytes(lm) >= ONE_IMAGE_PER_RUN_BYTES)


def _single_samples(calibration: CalibrationSet):
    """The calibration set one image per batch, for a model whose batch is fixed to 1."""

    class Single:
        def __len__(self) -> int:
            return len(calibration)

        batch_size = 1

        def float_batches(self):
            for batch in calibration.float_batches():
                for x in batch:
                    yield x[None]

    return Single()


def _reader(calibration: CalibrationSet):
    """A CalibrationDataReader streaming ``calibration.float_batches()``.

    ``set_range`` is ORT's hook for strided calibration (extra option CalibStridedMinMax): each
    stride is collected and reduced before the next is read, so the calibrator holds one batch of
    activations at a time, not all of them (6.5 GiB for Inception v3 otherwise)."""
    from onnxruntime.quantization import CalibrationDataReader

    class StreamingReader(CalibrationDataReader):
        def __init__(self):
            self._batches = calibration.float_batches()
            self._n = math.ceil(len(calibration) / calibration.batch_size)
            self._left = self._n

        def __len__(self) -> int:
            return self._n

        def set_range(self, start_index: int, end_index: int) -> None:
            self._left = end_index - start_index

        def get_next(self):
            if self._left <= 0:
                return None
            batch = next(self._batches, None)
            if batch is None:
                return None
            self._left -= 1
            return {INPUT_NAME: batch}

    return StreamingReader()


def _fix_batch(proto) -> None:
    """Batch dimension fixed to 1, with ONNX Runtime's own tool for it (make_dynamic_shape_fixed)."""
    from onnxruntime.tools.onnx_model_utils import fix_output_shapes, make_dim_param_fixed

    from edge_inception.exporters.onnx import BATCH_DIM

    make_dim_param_fixed(proto.graph, BATCH_DIM, 1)
    fix_output_shapes(proto)


def _quantize_qnn(float_path: Path, pre_path: Path, dest: Path, q: dict, act: str, wt: str,
                  calibration: CalibrationSet, *, method, extra: dict) -> None:
    """The QNN execution provider's recipe: qnn_preprocess_model, get_qnn_qdq_config, quantize.

    get_qnn_qdq_config sets the tensor-level overrides the HTP needs (e.g. shared scales across Concat
    inputs, fixed output ranges for Sigmoid/Tanh) and quantizes signed weights symmetrically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    # qnn_preprocess_model (ORT 1.32) fails on a model with metadata_props (it updates a dict with the
    # protobuf entries): strip them for quantization and put them back on the result.
    proto = onnx.load(str(float_path))
    props = {p.key: p.value for p in proto.metadata_props}
    del proto.metadata_props[:]
    onnx.save_model(proto, str(float_path))
    with quiet_native():
        model_path = pre_path if qnn_preprocess_model(float_path, pre_path) else float_path
        config = get_qnn_qdq_config(
            model_path, _reader(calibration),
            calibrate_method=method,
            activation_type=getattr(QuantType, _QTYPES[act]),
            weight_type=getattr(QuantType, _QTYPES[wt]),
            per_channel=q["per_channel"],
            stride=1,  # one batch per calibration stride: see _reader
            calibration_providers=["CPUExecutionProvider"],
        )
        # A layout op on the float input (tf2onnx's NHWC->NCHW Reshape/Transpose) is left float unless forced;
        # the HTP runs integer operators only, so quantize it too.
        config.extra_options["ForceQuantizeNoInputCheck"] = True
        config.extra_options.update(extra)  # the recipe's, e.g. CalibPercentile
        with atomic_path(dest) as out:
            quantize(model_path, out, config)
            quantized = onnx.load(str(out))
            onnx.helper.set_model_props(quantized, props)
            onnx.save_model(quantized, str(out))


@register_quantizer("onnxruntime", *SOURCE_KINDS)
def quantize_ort(lm: LoadedModel, dest: Path, *, target, calibration: CalibrationSet,
                 keep_float=None) -> dict:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edge_inception._core.host import host_facts

    q = target.quantizer
    act, wt, reason = choose_ort_types(host_facts()["isa"], q["activations"], q["weights"])
    opset = target.export["opset"]
    static = target.constraints.get("static_shapes", False)
    method, extra, told = calibration_arguments(calibration)
    with tempfile.TemporaryDirectory(prefix="edge-inception-ort.") as tmp:
        float_path, pre_path = Path(tmp) / "float.onnx", Path(tmp) / "preprocessed.onnx"
        proto = onnx_model(lm, opset=opset)
        if static:
            _fix_batch(proto)
        one_at_a_time = static or _one_image_per_run(lm, method, extra)
        samples = _single_samples(calibration) if one_at_a_time else calibration
        save_onnx(proto, float_path)
        try:
            if q["qdq_config"] == "qnn":
                _quantize_qnn(float_path, pre_path, dest, q, act, wt, samples, method=method, extra=extra)
            else:
                with quiet_native():
                    quant_pre_process(float_path, pre_path)
                exclude = []
                if keep_float:  # a fallback plan in the names of the model quantize_static reads
                    import onnx

                    exclude = keep_float.onnxruntime(onnx.load(str(pre_path)), lm)
                with atomic_path(dest) as out, quiet_native():
                    quantize_static(
                        pre_path, out, _reader(samples),
                        quant_format=QuantFormat.QDQ,
                        per_channel=q["per_channel"],
                        reduce_range=q["reduce_range"],
                        activation_type=getattr(QuantType, _QTYPES[act]),
                        weight_type=getattr(QuantType, _QTYPES[wt]),
                        calibrate_method=method,
                        calibration_providers=["CPUExecutionProvider"],
                        # one batch per stride (see _reader), and the recipe's own, e.g. CalibPercentile
                        extra_options={"CalibStridedMinMax": 1, **extra},
                        nodes_to_exclude=exclude,
                    )
        except Exception as e:  # noqa: BLE001 - ORT and onnx raise their own Exception subclasses
            msg = " ".join(str(e).split())
            raise TargetFailed(f"ONNX Runtime quantization failed: {msg[:300] or type(e).__name__}") from None
    per = "per-channel" if q["per_channel"] else "per-tensor"
    qnn = {"qdq_config": "get_qnn_qdq_config (QNN execution provider)", "weights_symmetric": wt == "int8"} \
        if q["qdq_config"] == "qnn" else {}
    return {"library": f"onnxruntime {ort.__version__} quantize_static", "format": "QDQ", "opset": opset,
            "batch": 1 if static else "dynamic", **qnn, "calibration_images_per_run": 1 if one_at_a_time else
            calibration.batch_size,
            "activations": act, "weights": f"{wt} {per}", "reduce_range": q["reduce_range"],
            "requested": {"activations": q["activations"], "weights": q["weights"]}, "isa_reason": reason,
            "calibration_method": told["calibrate_method"],
            "calibration": {**calibration.to_dict(), "told": told},
            **({"keep_float": {"layers": list(keep_float), "nodes_to_exclude": exclude}} if keep_float else {})}
