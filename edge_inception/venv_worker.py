"""The one entry point into the litert-torch venv (exporters/_litert_torch.py); not imported by the main
process, so it sits with the other entry points (cli, api) at the top of the package.

    python -m edge_inception.venv_worker job.json

Protocol: job.json holds ``task`` ('convert' or 'qat') and its arguments; the worker writes the task's
result as JSON to ``job["result"]`` and may print ``progress N`` lines on stdout; a failure is a
non-zero exit with the exception on stderr.
"""

from __future__ import annotations

import json
import sys

# ai-edge-quantizer's float-casting algorithm: float16 weights, float32 compute (the TFLite converter's
# float16 post-training quantization, for a model that did not come through the converter).
FLOAT16_RECIPE = [{"regex": ".*", "operation": "*", "algorithm_key": "float_casting",
                   "op_config": {"weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
                                 "compute_precision": "FLOAT", "explicit_dequantize": True}}]


def convert(job: dict) -> dict:
    """job: program (.pt2 at batch 1), out (.tflite), calibration (.npy, for int8) or float16, per_channel."""
    import litert_torch
    import numpy as np
    import torch

    ep = torch.export.load(job["program"])
    args = tuple(ep.example_inputs[0])
    if job.get("calibration") is None:
        edge = litert_torch.convert(ep.module(), args)
    else:
        from litert_torch.quantize import pt2e_quantizer
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import quantize_pt2e

        quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
            pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=job.get("per_channel", True)))
        _keep_float(pt2e_quantizer, quantizer, job.get("keep_float") or [])
        module = quantize_pt2e.prepare_pt2e(ep.module(), quantizer)
        samples = np.load(job["calibration"])
        with torch.no_grad():
            for i in range(len(samples)):  # the exported graph has batch 1
                module(torch.from_numpy(samples[i : i + 1]))
        module = quantize_pt2e.convert_pt2e(module, fold_quantize=False)
        edge = litert_torch.convert(module, args, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    if not job.get("float16"):
        edge.export(job["out"])
        return {}
    from ai_edge_quantizer import quantizer

    float_path = job["out"] + ".fp32.tflite"
    edge.export(float_path)
    q = quantizer.Quantizer(float_path)
    q.load_quantization_recipe(FLOAT16_RECIPE)
    q.quantize().export_model(job["out"], overwrite=True)
    return {}


def _keep_float(pt2e_quantizer, quantizer, modules: list[str]) -> None:
    """Leave the operators of ``modules`` (module paths) unannotated, so they stay float. PT2EQuantizer's
    own set_module_name(name, None) asserts 'quantization_config == None is not supported yet', and its
    module filter rebuilds names from nn_module_stack keys by turning every '_' into '.' and matches a whole
    subtree (keeping an Inception block's concatenation float would keep all its branches float). So the
    filter of the global annotation is wrapped instead: a node whose innermost module path is one of
    ``modules`` is not annotated."""
    if not modules:
        return
    keep, original = set(modules), pt2e_quantizer._get_not_module_type_or_name_filter

    def innermost(n) -> str | None:
        stack = n.meta.get("nn_module_stack") or {}
        if not stack:
            return None
        return list(stack.values())[-1][0].replace("L['self'].", "").replace("L__self___", "")

    def not_kept(tp_list, module_name_list):
        rest = original(tp_list, module_name_list)
        return lambda n: rest(n) and innermost(n) not in keep

    pt2e_quantizer._get_not_module_type_or_name_filter = not_kept


def qat(job: dict) -> dict:
    from edge_inception.qat._pt2e_worker import run

    return run(job)


TASKS = {"convert": convert, "qat": qat}


def main(path: str) -> None:
    with open(path) as fh:
        job = json.load(fh)
    result = TASKS[job["task"]](job)
    with open(job["result"], "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1])
