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

TFLite: litert-torch lowers only its own PT2E graph, which cannot carry NNCF's quantizers, so a
tflite-int8 target is fine-tuned on that graph instead (pt2e_qat.py: torchao PT2E QAT with
litert-torch's quantizer, same data, epochs and optimizer). Each route is trained only when a target
needs it; the tflite row's ``conversion["training"]`` says what its own training did.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import time
from pathlib import Path

from edge_inception._core.errors import TargetFailed
from edge_inception._core.native import quiet_native
from edge_inception.qat import (
    QatModel,
    QatSettings,
    fit_epoch_torch,
    loss_description,
    onnx_qdq,
    register_qat_exports,
    register_trainer,
    shuffled_batches,
)


def _use_reference_kernels() -> None:
    from types import SimpleNamespace

    from nncf.torch.quantization.extensions import QuantizedFunctionsCPU
    from nncf.torch.quantization.reference import ReferenceBackendType, ReferenceQuantize

    ref = ReferenceQuantize(ReferenceBackendType.TORCH)
    QuantizedFunctionsCPU._loaded_namespace = SimpleNamespace(Quantize_forward=ref.forward,
                                                              Quantize_backward=ref.backward)


# Which training each quantizer library's artifacts come from: NNCF's QAT model exports to ONNX QDQ and
# OpenVINO; TFLite comes from PT2E QAT in litert-torch's venv (pt2e_qat.py).
NNCF_LIBRARIES = ("onnxruntime", "nncf")
PT2E_LIBRARIES = ("tflite",)


@register_trainer("torch")
def train_torch(lm, *, train, calibration, settings: QatSettings, targets=None) -> QatModel:
    """NNCF QAT when an onnx/openvino target is asked for, PT2E QAT for each tflite one (``targets``
    None: NNCF only, the PT2E training then runs at the first tflite export)."""
    targets = [t for t in (targets or []) if t.is_quantized]
    nncf_needed = targets == [] or any(t.quantizer["library"] in NNCF_LIBRARIES for t in targets)
    qat = TorchQat(lm, train=train, calibration=calibration, settings=settings,
                   nncf=_train_nncf(lm, train=train, calibration=calibration, settings=settings) if nncf_needed
                   else None)
    for t in targets:
        if t.quantizer["library"] in PT2E_LIBRARIES:
            qat.tflite_model(t)
    return qat


def _train_nncf(lm, *, train, calibration, settings: QatSettings):
    import torch

    from edge_inception._core.progress import progress

    with quiet_native():
        import nncf
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
    from edge_inception._core.host import host_facts
    from edge_inception.quantizers.nncf_ptq import choose_overflow_fix

    _use_reference_kernels()
    torch.manual_seed(settings.seed)
    model = copy.deepcopy(lm.model).eval()
    _, fold_note = fold_batch_norms(model)
    teacher = copy.deepcopy(model).requires_grad_(False) if settings.distill else None  # float, folded, eval
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
    history = []
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        _train_mode(qmodel)
        with progress(f"QAT epoch {epoch + 1}/{settings.epochs}", total=len(train)) as advance:
            batches = shuffled_batches(train, lm.spec, batch_size=settings.batch_size, seed=settings.seed + epoch)
            history.append({"epoch": epoch + 1, **fit_epoch_torch(qmodel, batches, optimizer, on_batch=advance,
                                                                       teacher=teacher)})
    qmodel.eval()
    info = {"library": f"nncf {nncf.__version__} (torch {torch.__version__})", **settings.to_dict(),
            "train_data": train.name, "train_samples": len(train), "loss": loss_description(settings),
            "batch_norm": fold_note,
            "overflow_fix": fix, "overflow_fix_reason": why,
            "ranges": f"nncf.quantize on {len(calibration)} calibration images, then trained",
            "seconds": round(time.perf_counter() - t0, 1), "history": history}
    return qmodel, info


def fold_batch_norms(model) -> tuple[int, str]:
    """Fold every BatchNorm2d that directly follows a Conv2d into that conv, in place (inference
    statistics, as deployed), so that QAT trains and fake-quantizes the weights that will be deployed.

    Left unfolded, NNCF quantizes the conv's own weights and the exported graph keeps a float
    BatchNormalization between Conv and QuantizeLinear, which ONNX Runtime cannot fuse into an int8 conv
    (measured on inception-mini: 15 ms against 1.1 ms in float). tfmot and PT2E QAT fold the same way.
    Found with torch.fx; a model fx cannot trace keeps its BatchNorms (and says so)."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as e:  # noqa: BLE001 - tracing raises many types
        return 0, f"frozen, not folded (torch.fx cannot trace the model: {str(e).splitlines()[0][:120]})"
    modules = dict(model.named_modules())
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    pairs = []
    for node in graph.nodes:
        src = node.args[0] if node.args else None
        if (node.op == "call_module" and isinstance(modules.get(node.target), torch.nn.BatchNorm2d)
                and getattr(src, "op", None) == "call_module" and isinstance(modules.get(src.target), torch.nn.Conv2d)
                and len(src.users) == 1 and calls[src.target] == 1 and calls[node.target] == 1):
            pairs.append((src.target, node.target))
    for conv, bn in pairs:
        model.set_submodule(conv, fuse_conv_bn_eval(modules[conv], modules[bn]))
        model.set_submodule(bn, torch.nn.Identity())
    left = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    note = f"folded into the preceding conv ({len(pairs)} layers)" + (f", {left} left frozen" if left else "")
    return len(pairs), note


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
    kind = "qat-torch"

    def __init__(self, lm, *, train, calibration, settings: QatSettings, nncf=None):
        self.qmodel, nncf_info = nncf if nncf is not None else (None, None)
        super().__init__(nncf_info)  # set to the first PT2E training's when there is no NNCF one
        self.lm, self.train, self.calibration, self.settings = lm, train, calibration, settings
        self._qdq = None
        self._tflite: dict[bool, object] = {}  # per_channel -> pt2e_qat.TrainedTflite

    def _nncf_model(self, target):
        if self.qmodel is None:
            name = target.name if target is not None else "onnx/openvino"
            raise TargetFailed(f"{name}: this QAT run trained for TFLite only; pass the ONNX or OpenVINO target "
                               "to the same convert to have it trained with NNCF")
        return self.qmodel

    def qdq_proto(self, target=None):
        if self._qdq is None:
            import onnx
            import torch

            qmodel = self._nncf_model(target)
            spec = self.lm.spec
            example = torch.zeros(1, spec.channels, spec.height, spec.width)
            with tempfile.TemporaryDirectory(prefix="edge-inception-qat-onnx-") as tmp:
                path = Path(tmp) / "model.onnx"
                try:
                    with _qdq_export_mode(qmodel), quiet_native(), torch.no_grad():
                        torch.onnx.export(qmodel, (example,), str(path), dynamo=False, opset_version=17,
                                          input_names=["image"], output_names=["logits"],
                                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
                except Exception as e:  # noqa: BLE001 - the exporter raises many types
                    raise TargetFailed(f"ONNX export of the NNCF QAT model failed: "
                                       f"{' '.join(str(e).split())[:300]}") from None
                self._qdq = onnx.load(str(path))
        return self._qdq

    def _export_onnx(self, target, dest: Path) -> dict:
        import torch

        return onnx_qdq.write_onnx(self.qdq_proto(target), self.lm, dest, target=target,
                                   converter=f"torch {torch.__version__} TorchScript ONNX exporter, NNCF quantizers "
                                   "as QuantizeLinear/DequantizeLinear pairs")

    def _export_openvino(self, target, dest: Path) -> dict:
        return onnx_qdq.write_openvino(self.qdq_proto(target), self.lm, dest, target=target)

    def tflite_model(self, target):
        """The PT2E-trained int8-I/O TFLite model for ``target``'s weight granularity, trained on first use."""
        from edge_inception.qat.pt2e_qat import train_for_tflite

        per_channel = bool(target.quantizer.get("per_channel", True))
        if per_channel not in self._tflite:
            self._tflite[per_channel] = train_for_tflite(self.lm, train=self.train, calibration=self.calibration,
                                                         settings=self.settings, per_channel=per_channel)
            if self.info is None:
                self.info = {"train_data": self.train.name, **self._tflite[per_channel].info}
        return self._tflite[per_channel]

    def _export_tflite(self, target, dest: Path) -> dict:
        from edge_inception._core.atomic import atomic_write_bytes
        from edge_inception.exporters._litert_torch import with_io_dtype

        trained = self.tflite_model(target)
        io = target.quantizer.get("io_dtype", "float32")
        atomic_write_bytes(dest, trained.flatbuffer if io == "int8" else with_io_dtype(trained.flatbuffer, io))
        return {"library": trained.info["library"], "weights": trained.info["weights"], "activations": "int8",
                "io_dtype": io, "batch": 1, "ranges": "fake-quant ranges learned in PT2E training (no re-calibration)",
                **({"io_edges": f"{io} input and output added around litert-torch's int8 I/O"} if io != "int8" else {}),
                "training": trained.info}


register_qat_exports(TorchQat.kind, {"tflite": "_export_tflite", "onnxruntime": "_export_onnx",
                                     "nncf": "_export_openvino"})
