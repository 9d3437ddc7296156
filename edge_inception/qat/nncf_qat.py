"""PyTorch QAT with NNCF: ``nncf.quantize`` with calibration data inserts fake quantizers with
calibrated ranges, then an ordinary torch training loop fine-tunes weights and ranges together.

    qat = train_torch(lm, train=src, calibration=calib, settings=QatSettings())
    qat.export(get_target("onnx-int8"), dest)       # standard QDQ ONNX (no NNCF custom ops)
    qat.export(get_target("openvino-int8"), dest)   # IR from that QDQ graph

NNCF's CPU fake-quantize kernels are a C++ extension compiled on first use (g++ and ninja, minutes on
a small machine, and a stale lock if interrupted); its pure-torch reference functions compute the same
forward and backward, so they are used instead (``_use_reference_kernels``).

Export: every NNCF quantizer is switched to QuantizerExportMode.ONNX_QUANTIZE_DEQUANTIZE_PAIRS and the
model goes through torch.onnx's TorchScript exporter, which is what turns those quantizers into plain
QuantizeLinear/DequantizeLinear (the dynamo exporter does not know NNCF's autograd functions, and
NNCF's own strip needs torchao). OpenVINO reads that QDQ graph.

TFLite: litert-torch quantizes through its own PT2E graph, which cannot carry NNCF's quantizers; a
tflite-int8 target fails with a message saying so instead of silently falling back to PTQ.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_inception._native import quiet_native
from edge_inception.errors import TargetFailed
from edge_inception.qat import QatModel, QatSettings, onnx_qdq, register_trainer, shuffled_batches


def _use_reference_kernels() -> None:
    from types import SimpleNamespace

    from nncf.torch.quantization.extensions import QuantizedFunctionsCPU
    from nncf.torch.quantization.reference import ReferenceBackendType, ReferenceQuantize

    ref = ReferenceQuantize(ReferenceBackendType.TORCH)
    QuantizedFunctionsCPU._loaded_namespace = SimpleNamespace(Quantize_forward=ref.forward,
                                                              Quantize_backward=ref.backward)


@register_trainer("torch")
def train_torch(lm, *, train, calibration, settings: QatSettings) -> QatModel:
    import torch

    from edge_inception.report.progress import progress

    with quiet_native():
        import nncf
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
    from edge_inception.quantizers.nncf_ptq import choose_overflow_fix
    from edge_inception.runtimes.host import host_facts

    _use_reference_kernels()
    torch.manual_seed(settings.seed)
    model = copy.deepcopy(lm.model).eval()
    fix, why = choose_overflow_fix("auto", host_facts()["isa"])
    overflow = {"enable": OverflowFix.ENABLE, "first_layer": OverflowFix.FIRST_LAYER}[fix]
    # NNCF counts items, and statistics are per item: whole calibration batches are fewer, faster calls.
    batches = [torch.from_numpy(b) for b in calibration.float_batches()]
    with progress(f"QAT: inserting fake quantizers (nncf.quantize, {len(calibration)} images)"), quiet_native(), \
            torch.no_grad():
        qmodel = nncf.quantize(model, nncf.Dataset(batches), preset=nncf.QuantizationPreset.PERFORMANCE,
                               target_device=nncf.TargetDevice.CPU, subset_size=len(batches),
                               fast_bias_correction=True,
                               advanced_parameters=AdvancedQuantizationParameters(overflow_fix=overflow))
    optimizer = torch.optim.Adam(qmodel.parameters(), lr=settings.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    history = []
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        _train_mode(qmodel)
        losses, correct, seen = [], 0, 0
        with progress(f"QAT epoch {epoch + 1}/{settings.epochs}", total=len(train)) as advance:
            for x, y in shuffled_batches(train, lm.spec, batch_size=settings.batch_size, seed=settings.seed + epoch):
                x, y = torch.from_numpy(x), torch.from_numpy(y)
                optimizer.zero_grad(set_to_none=True)
                logits = qmodel(x)
                loss = loss_fn(logits, y)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                advance(len(y))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "train_top1": correct / max(seen, 1)})
    qmodel.eval()
    info = {"library": f"nncf {nncf.__version__} (torch {torch.__version__})", **settings.to_dict(),
            "train_data": train.name, "train_samples": len(train), "batch_norm": "frozen",
            "overflow_fix": fix, "overflow_fix_reason": why,
            "ranges": f"nncf.quantize on {len(calibration)} calibration images, then trained",
            "seconds": round(time.perf_counter() - t0, 1), "history": history}
    return TorchQat(qmodel, lm, info)


def _train_mode(model) -> None:
    """Train mode, but BatchNorm keeps its running statistics (what deployment folds into the conv)."""
    import torch

    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _quantizers(model):
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.quantization.layers import BaseQuantizer

    return [m for _, m in get_hook_storage(model).named_hooks() if isinstance(m, BaseQuantizer)]


@contextlib.contextmanager
def _qdq_export_mode(model):
    from nncf.torch.quantization.layers import QuantizerExportMode

    quantizers = _quantizers(model)
    for q in quantizers:
        q.set_export_mode(QuantizerExportMode.ONNX_QUANTIZE_DEQUANTIZE_PAIRS)
    try:
        yield len(quantizers)
    finally:
        for q in quantizers:
            q.set_export_mode(QuantizerExportMode.FAKE_QUANTIZE)


class TorchQat(QatModel):
    framework = "PyTorch"

    def __init__(self, qmodel, lm, info: dict):
        super().__init__(info)
        self.qmodel, self.lm = qmodel, lm
        self._qdq = None
        self.exporters = {"onnx": self._export_onnx, "openvino": self._export_openvino,
                          "tflite": self._export_tflite}

    def qdq_proto(self):
        if self._qdq is None:
            import onnx
            import torch

            spec = self.lm.spec
            example = torch.zeros(1, spec.channels, spec.height, spec.width)
            with tempfile.TemporaryDirectory(prefix="edge-inception-qat-onnx-") as tmp:
                path = Path(tmp) / "model.onnx"
                try:
                    with _qdq_export_mode(self.qmodel), quiet_native(), torch.no_grad():
                        torch.onnx.export(self.qmodel, (example,), str(path), dynamo=False, opset_version=17,
                                          input_names=["image"], output_names=["logits"],
                                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
                except Exception as e:  # noqa: BLE001 - the exporter raises many types
                    raise TargetFailed(f"ONNX export of the NNCF QAT model failed: "
                                       f"{' '.join(str(e).split())[:300]}") from None
                self._qdq = onnx.load(str(path))
        return self._qdq

    def _export_onnx(self, target, dest: Path) -> dict:
        import torch

        return onnx_qdq.write_onnx(self.qdq_proto(), self.lm, dest, target=target,
                                   converter=f"torch {torch.__version__} TorchScript ONNX exporter, NNCF quantizers "
                                   "as QuantizeLinear/DequantizeLinear pairs")

    def _export_openvino(self, target, dest: Path) -> dict:
        return onnx_qdq.write_openvino(self.qdq_proto(), self.lm, dest, target=target)

    def _export_tflite(self, target, dest: Path) -> dict:
        raise TargetFailed(f"{target.name}: QAT of a PyTorch model does not export to TFLite: the TFLite route "
                           "(litert-torch) quantizes its own PT2E graph, which cannot carry NNCF's trained "
                           "ranges; use --method ptq for tflite-int8, or QAT for onnx-int8/openvino-int8")
