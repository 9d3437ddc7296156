"""PyTorch QAT for TFLite, run inside the litert-torch venv (see pt2e_qat.py); not imported by the main
process. torchao's PT2E QAT with litert-torch's own quantizer (``is_qat=True``), so the graph that
trains is the graph litert-torch lowers, and the fake-quant ranges it ends with are the scales in the
.tflite file.

The venv worker's 'qat' task (edge_inception/venv_worker.py), with job keys: program (a .pt2
exported with a dynamic batch dimension), out (.tflite), calibration, train_x, train_y (.npy; train_x
is memory-mapped), epochs, learning_rate, batch_size, seed, per_channel, distill (the float program's
predictions as a second target). It returns the per-epoch loss and train top-1 and the output scale
before and after training. Progress goes to stdout as ``progress <images>`` lines, one per batch, for
the parent's bar.
"""

from __future__ import annotations


def _patch_litert_torch_patterns() -> None:
    """litert-torch 0.10's conv+BN QAT annotator hands torchao a plain function to export, which
    torch >= 2.10's ``torch.export.export`` refuses ("Expected `mod` to be an instance of
    `torch.nn.Module`"); torchao's own callers wrap their patterns in ``WrapperModule``. Do the same."""
    import litert_torch.quantize.pt2e_quantizer_utils as utils
    import torch
    from torchao.quantization.pt2e import WrapperModule

    original = utils._get_aten_graph_module_for_pattern
    if getattr(original, "_edge_inception_wrapped", False):
        return

    def wrapped(pattern, *args, **kwargs):
        return original(pattern if isinstance(pattern, torch.nn.Module) else WrapperModule(pattern), *args, **kwargs)

    wrapped._edge_inception_wrapped = True
    utils._get_aten_graph_module_for_pattern = wrapped


def _fake_quantizers(model):
    from torchao.quantization.pt2e.fake_quantize import FakeQuantizeBase

    return [m for m in model.modules() if isinstance(m, FakeQuantizeBase)]


def _calibrate(model, samples, batch_size: int = 32) -> None:
    """Initial ranges where litert-torch's post-training quantization puts them: each per-tensor
    activation range from a HistogramObserver (the PTQ config's observer) over the calibration set, seen
    in float (fake quantization off); weights keep their per-channel min/max. Left alone, the QAT
    observers (EMA, constant 0.01) would let the first calibration batch decide almost everything."""
    import torch
    from torchao.quantization.pt2e.observer import HistogramObserver

    fqs = _fake_quantizers(model)
    histograms, hooks = {}, []
    for k, fq in enumerate(fqs):
        fq.disable_fake_quant()
        obs = fq.activation_post_process
        if obs.qscheme == torch.per_tensor_affine:  # activations (weights are symmetric, per channel)
            histograms[k] = HistogramObserver(dtype=obs.dtype, qscheme=obs.qscheme, quant_min=obs.quant_min,
                                              quant_max=obs.quant_max, eps=float(obs.eps))
            hooks.append(fq.register_forward_pre_hook(lambda _m, args, h=histograms[k]: h(args[0].detach())))
    with torch.no_grad():
        for i in range(0, len(samples), batch_size):
            model(torch.from_numpy(samples[i : i + batch_size]))
        for hook in hooks:
            hook.remove()
        for k, fq in enumerate(fqs):
            obs = fq.activation_post_process
            if k in histograms:
                lo, hi = histograms[k]._non_linear_param_search()
                obs.min_val.resize_(lo.shape).copy_(lo)
                obs.max_val.resize_(hi.shape).copy_(hi)
            scale, zero_point = obs.calculate_qparams()
            fq.scale.resize_(scale.shape).copy_(scale)
            fq.zero_point.resize_(zero_point.shape).copy_(zero_point)
            fq.enable_fake_quant()


def _output_scale(model) -> float | None:
    """The scale of the fake quantizer on the model's output (the logits' int8 scale in the .tflite)."""
    out = next(n for n in model.graph.nodes if n.op == "output")
    first = out.args[0][0] if isinstance(out.args[0], (tuple, list)) else out.args[0]
    if getattr(first, "op", None) != "call_module":
        return None
    return float(model.get_submodule(first.target).scale.reshape(-1)[0])


def run(job: dict) -> dict:
    import litert_torch
    import numpy as np
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    from edge_inception.qat import fit_epoch_torch

    _patch_litert_torch_patterns()
    torch.manual_seed(job["seed"])
    ep = torch.export.load(job["program"])
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=job["per_channel"], is_qat=True))
    model = quantize_pt2e.prepare_qat_pt2e(ep.module(), quantizer)
    # BatchNorm on its running statistics (what the deployed, folded conv computes) and no dropout:
    # the exported graph's train/eval switch.
    move_exported_model_to_eval(model)
    _calibrate(model, np.load(job["calibration"]))
    calibrated_scale = _output_scale(model)

    teacher = None
    if job["distill"]:
        teacher = torch.export.load(job["program"]).module()
        move_exported_model_to_eval(teacher)
        teacher.requires_grad_(False)

    x_all = np.load(job["train_x"], mmap_mode="r")
    y_all = np.load(job["train_y"])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=job["learning_rate"])
    bs = job["batch_size"]
    history = []

    def batches(order):
        for i in range(0, len(order), bs):
            idx = np.sort(order[i : i + bs])  # sorted: sequential reads from the memory map
            yield np.ascontiguousarray(x_all[idx]), y_all[idx]

    for epoch in range(job["epochs"]):
        order = np.random.default_rng(job["seed"] + epoch).permutation(len(y_all))
        stats = fit_epoch_torch(model, batches(order), optimizer, teacher=teacher,
                                on_batch=lambda n: print(f"progress {n}", flush=True))
        history.append({"epoch": epoch + 1, **stats})

    trained_scale = _output_scale(model)
    with torch.no_grad():
        converted = quantize_pt2e.convert_pt2e(model, fold_quantize=False)
        example = (torch.from_numpy(np.load(job["calibration"])[:1]),)
        edge = litert_torch.convert(converted, example, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    edge.export(job["out"])
    from importlib.metadata import version

    return {"history": history, "torchao": version("torchao"),
            "output_scale": {"calibrated": calibrated_scale, "trained": trained_scale}}
