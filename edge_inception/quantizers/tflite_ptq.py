"""Full-integer post-training quantization with the TFLite converter and a representative dataset.

int8 weights (per-channel unless the profile asks per-tensor) and int8 activations; I/O stays
float32 or becomes int8/uint8 as the target profile says. PyTorch sources go through litert-torch's
PT2E quantizer instead (batch 1; its int8 I/O is given the profile's io_dtype).
"""

from __future__ import annotations

from pathlib import Path

from edge_inception.data.calibration import CalibrationSet
from edge_inception.exporters import TF_KINDS
from edge_inception.exporters.tflite import convert_to_file, make_converter
from edge_inception.models.loader import LoadedModel
from edge_inception.quantizers import register_quantizer

# What the converter is told about ranges: nothing but the representative dataset; its calibrator keeps
# a running min/max (the only method calibration_recipes/methods.py lists for tflite besides 'library').
TOLD = {"representative_dataset": "min/max over every sample (the converter's only estimator)",
        "bias_correction": "none (the converter has none)"}


def _trim_first(dataset):
    """The representative dataset, handing freed heap back to the system as calibration starts: the
    calibrator's allocations then do not come on top of what the converter's MLIR pass freed."""
    from edge_inception._core.memory import release_free_memory

    def samples():
        release_free_memory()
        yield from dataset()

    return samples


@register_quantizer("tflite", "torch")
def quantize_tflite_torch(lm: LoadedModel, dest: Path, *, target, calibration: CalibrationSet,
                          keep_float=None) -> dict:
    from edge_inception.exporters._litert_torch import torch_to_tflite

    q = target.quantizer
    modules = keep_float.pt2e_modules() if keep_float else []  # a fallback plan: those modules left float
    info = torch_to_tflite(lm.model, lm.spec, dest, calibration=calibration, per_channel=q["per_channel"],
                           io_dtype=q["io_dtype"], keep_float_modules=tuple(modules))
    if keep_float:
        info["keep_float"] = {"layers": list(keep_float), "pt2e_module_names": modules}
    told = {"observers": "litert-torch's symmetric PT2E config (not set by the recipe)",
            "bias_correction": "none (PT2E has none)"}
    return {**info, "activations": "int8", "calibration": {**calibration.to_dict(), "told": told}}


@register_quantizer("tflite", *TF_KINDS)
def quantize_tflite(lm: LoadedModel, dest: Path, *, target, calibration: CalibrationSet,
                    keep_float=None) -> dict:
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()

    q = target.quantizer
    static = target.constraints.get("static_shapes", False)
    with make_converter(lm, static_batch=static) as converter:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _trim_first(calibration.tflite_representative_dataset)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[q["io_dtype"]]
        converter.inference_input_type = io
        converter.inference_output_type = io
        if not q["per_channel"]:
            converter._experimental_disable_per_channel = True  # the converter's only per-tensor switch
        kept, library = {}, f"tensorflow {tf.__version__} TFLiteConverter"
        if keep_float:  # a fallback plan: an ai-edge-quantizer recipe on the float model (diagnose/keep.py)
            from importlib.metadata import version

            from edge_inception._core.atomic import atomic_write_bytes

            flatbuffer, ops = keep_float.tflite(converter, lm, calibration)
            atomic_write_bytes(dest, flatbuffer)
            kept = {"keep_float": {"layers": list(keep_float), "no_quantize_ops": ops}}
            library = (f"tensorflow {tf.__version__} TFLiteConverter (float model), ai-edge-quantizer "
                       f"{version('ai-edge-quantizer')} (static int8 recipe, kept layers no_quantize)")
        else:
            convert_to_file(converter, dest)
    return {**kept, "library": library, "weights": "int8 per-channel"
            if q["per_channel"] else "int8 per-tensor", "activations": "int8", "io_dtype": q["io_dtype"],
            "batch": 1 if static else "dynamic", "calibration": {**calibration.to_dict(), "told": TOLD}}
