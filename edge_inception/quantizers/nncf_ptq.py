"""int8 post-training quantization of an OpenVINO model with NNCF.

    info = quantize_nncf(loaded_model, out / "model.xml", target=get_target("openvino-int8"), calibration=calib)
    choose_overflow_fix("auto", host_facts()["isa"])    # ('enable', 'why ...')

The source is converted with the OpenVINO exporter's own function, quantized by ``nncf.quantize``
(FakeQuantize on activations, int8 weights) and saved as IR with fp32 scales and biases.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_inception.data.calibration import CalibrationSet
from edge_inception.exporters import SOURCE_KINDS
from edge_inception.exporters.openvino import save_ir, to_openvino_model
from edge_inception.models.loader import LoadedModel
from edge_inception.quantizers import register_quantizer


def choose_overflow_fix(setting: str, isa: dict) -> tuple[str, str]:
    """The overflow fix to use, and why. 'auto' follows the CPU that quantizes: without VNNI, int8
    kernels multiply-add u8 x s8 pairs into saturating int16 (vpmaddubsw), so every layer gets 7-bit
    weights (ENABLE), which measured closest to float here; with VNNI there is no int16 step and NNCF's
    default (FIRST_LAYER) stands."""
    if setting != "auto":
        return setting, "set in the target profile"
    if isa.get("vnni"):
        return "first_layer", "auto: this CPU has VNNI/AMX int8 dot products, so NNCF's default applies"
    if isa.get("neon") and not (isa.get("avx2") or isa.get("sse4_2")):
        return "first_layer", ("auto: ARM CPU, whose int8 kernels have no saturating int16 step, so NNCF's "
                               "default applies")
    return "enable", ("auto: this CPU has no VNNI, so int8 multiply-adds saturate in int16; 7-bit weights "
                      "in every layer avoid it")


class _Samples:
    """The calibration set as NNCF wants it: re-iterable (NNCF passes over it more than once), sized,
    one sample per item, so ``subset_size`` counts images and statistics are per image."""

    def __init__(self, calibration: CalibrationSet):
        self._calibration = calibration

    def __len__(self) -> int:
        return len(self._calibration)

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in self._calibration.float_batches():
            for x in batch:
                yield x[None]


def calibration_arguments(calibration: CalibrationSet) -> tuple[dict, dict, dict]:
    """(nncf.quantize keywords, AdvancedQuantizationParameters fields, what the report records as told) for
    the recipe's range method and bias correction, from the table in calibration_recipes/methods.py."""
    from nncf.quantization.range_estimator import (
        RangeEstimatorParameters,
        RangeEstimatorParametersSet,
        StatisticsCollectorParameters,
        StatisticsType,
    )

    from edge_inception.calibration_recipes.methods import told

    args = told("nncf", method=calibration.method, percentile=calibration.percentile,
                bias_correction=calibration.bias_correction)
    call, advanced, record = {}, {}, {}
    estimator = args.get("activations_range_estimator_params")
    if estimator == "QUANTILE":  # NNCF's MEAN_QUANTILE set, with the recipe's percentile
        stat = StatisticsCollectorParameters(statistics_type=StatisticsType.QUANTILE,
                                             quantile_outlier_prob=args["quantile_outlier_prob"])
        advanced["activations_range_estimator_params"] = RangeEstimatorParameters(min=stat, max=stat)
        record["activations_range_estimator_params"] = (f"RangeEstimatorParameters(QUANTILE, mean over images, "
                                                        f"quantile_outlier_prob={args['quantile_outlier_prob']})")
    elif estimator is not None:
        advanced["activations_range_estimator_params"] = getattr(RangeEstimatorParametersSet, estimator)
        record["activations_range_estimator_params"] = f"RangeEstimatorParametersSet.{estimator}"
    else:
        record["activations_range_estimator_params"] = "not set (NNCF default: MEAN_MINMAX per-tensor)"
    if "disable_bias_correction" in args:
        advanced["disable_bias_correction"] = args["disable_bias_correction"]
        record["disable_bias_correction"] = args["disable_bias_correction"]
    if "fast_bias_correction" in args:
        call["fast_bias_correction"] = args["fast_bias_correction"]
    if "disable_bias_correction" not in record:
        record["fast_bias_correction"] = call.get("fast_bias_correction", "not set (NNCF default: True)")
    return call, advanced, record


def _refuse_unsupported(q: dict) -> None:
    """Profile settings NNCF's OpenVINO PTQ has no equivalent for are refused, not silently ignored."""
    from edge_inception._core.errors import UsageError

    if q["io_dtype"] != "float32":
        raise UsageError(f"the nncf quantizer keeps float32 input and output, not io_dtype = '{q['io_dtype']}'",
                         fix="remove io_dtype from the profile")
    if q["reduce_range"]:
        raise UsageError("the nncf quantizer has no reduce_range; its overflow_fix does that job",
                         fix="set overflow_fix = 'enable' instead of reduce_range")


@register_quantizer("nncf", *SOURCE_KINDS)
def quantize_nncf(lm: LoadedModel, dest: Path, *, target, calibration: CalibrationSet,
                  keep_float=None) -> dict:
    import nncf
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        OverflowFix,
        QuantizationParameters,
    )

    from edge_inception._core.errors import TargetFailed
    from edge_inception._core.host import host_facts
    from edge_inception._core.native import quiet_native

    q = target.quantizer
    _refuse_unsupported(q)
    fix, why = choose_overflow_fix(q["overflow_fix"], host_facts()["isa"])
    overflow = {"enable": OverflowFix.ENABLE, "disable": OverflowFix.DISABLE,
                "first_layer": OverflowFix.FIRST_LAYER}[fix]
    preset = {"performance": nncf.QuantizationPreset.PERFORMANCE, "mixed": nncf.QuantizationPreset.MIXED}[q["preset"]]
    call, recipe_advanced, told = calibration_arguments(calibration)
    advanced = AdvancedQuantizationParameters(overflow_fix=overflow, **recipe_advanced)
    if not q["per_channel"]:  # NNCF's CPU default is per-channel weights; only a per-tensor profile overrides it
        advanced.weights_quantization_params = QuantizationParameters(per_channel=False)
    ov_model = to_openvino_model(lm)
    static = target.constraints.get("static_shapes", False)
    if static:  # NPU compilers take static shapes only: batch 1, as the calibration samples come
        ov_model.reshape([1, *ov_model.input(0).get_partial_shape()[1:]])
    device = getattr(nncf.TargetDevice, q["target_device"].upper())
    ignored = []
    if keep_float:  # a fallback plan, in the float model's op names (edge_inception/diagnose/keep.py)
        ignored = keep_float.nncf(ov_model, lm, images=next(iter(_Samples(calibration))))
    try:
        # NNCF prints progress bars and INFO lines; the tool shows its own progress.
        with quiet_native():
            quantized = nncf.quantize(ov_model, nncf.Dataset(_Samples(calibration)), preset=preset,
                                      target_device=device, subset_size=len(calibration),
                                      advanced_parameters=advanced, **call,
                                      **({"ignored_scope": nncf.IgnoredScope(names=ignored)} if ignored else {}))
    except (nncf.InternalError, nncf.ValidationError, RuntimeError, ValueError) as e:
        msg = " ".join(str(e).split())
        raise TargetFailed(f"NNCF quantization failed: {msg[:300] or type(e).__name__}") from None
    save_ir(quantized, dest, compress_to_fp16=False)  # int8 weights stay int8; scales and biases stay fp32
    return {"library": f"nncf {nncf.__version__}", "preset": q["preset"], "target_device": device.value,
            "batch": 1 if static else "dynamic",
            "overflow_fix": fix, "overflow_fix_reason": why,
            "weights": f"int8 symmetric {'per-channel' if q['per_channel'] else 'per-tensor'}",
            "activations": f"8-bit per-tensor {'symmetric' if q['preset'] == 'performance' else 'asymmetric'}",
            "calibration": {**calibration.to_dict(), "told": told},
            **({"keep_float": {"layers": list(keep_float), "ignored_scope": ignored}} if keep_float else {})}
