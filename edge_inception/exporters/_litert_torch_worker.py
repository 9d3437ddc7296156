"""Runs inside the litert-torch venv (see _litert_torch.py); not imported by the main process.

    python -m edge_inception.exporters._litert_torch_worker model.pt2 out.tflite [--calibration x.npy | --float16]
"""

from __future__ import annotations

import argparse

# ai-edge-quantizer's float-casting algorithm: float16 weights, float32 compute (the TFLite converter's
# float16 post-training quantization, for a model that did not come through the converter).
FLOAT16_RECIPE = [{"regex": ".*", "operation": "*", "algorithm_key": "float_casting",
                   "op_config": {"weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
                                 "compute_precision": "FLOAT", "explicit_dequantize": True}}]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("program")
    ap.add_argument("out")
    ap.add_argument("--calibration")
    ap.add_argument("--per-tensor", action="store_true")
    ap.add_argument("--float16", action="store_true")
    a = ap.parse_args()

    import litert_torch
    import numpy as np
    import torch

    ep = torch.export.load(a.program)
    args = tuple(ep.example_inputs[0])
    if a.calibration is None:
        edge = litert_torch.convert(ep.module(), args)
    else:
        from litert_torch.quantize import pt2e_quantizer
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import quantize_pt2e

        quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
            pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=not a.per_tensor))
        module = quantize_pt2e.prepare_pt2e(ep.module(), quantizer)
        samples = np.load(a.calibration)
        with torch.no_grad():
            for i in range(len(samples)):  # the exported graph has batch 1
                module(torch.from_numpy(samples[i : i + 1]))
        module = quantize_pt2e.convert_pt2e(module, fold_quantize=False)
        edge = litert_torch.convert(module, args, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    if not a.float16:
        edge.export(a.out)
        return
    from ai_edge_quantizer import quantizer

    float_path = a.out + ".fp32.tflite"
    edge.export(float_path)
    q = quantizer.Quantizer(float_path)
    q.load_quantization_recipe(FLOAT16_RECIPE)
    q.quantize().export_model(a.out, overwrite=True)


if __name__ == "__main__":
    main()
