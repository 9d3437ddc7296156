"""PyTorch QAT for tflite-int8: torchao PT2E QAT with litert-torch's quantizer, in litert-torch's venv.

    tflite = train_for_tflite(lm, train=src, calibration=calib, settings=QatSettings(), per_channel=True)
    tflite.flatbuffer, tflite.info          # int8 I/O model, what training did

NNCF's fake quantizers (nncf_qat.py) cannot be carried into litert-torch, which lowers only its own PT2E
graph; so a tflite-int8 target is trained on that graph: BatchNorm is folded into its conv (as for
NNCF), the model is exported with a dynamic batch dimension, ``prepare_qat_pt2e`` inserts
litert-torch's fake quantizers, ranges start where litert-torch's PTQ would put them (histogram search
over the calibration images), the same Adam loop (distilling from the float program unless turned off)
fine-tunes weights (ranges follow by EMA), and
``convert_pt2e`` + ``litert_torch.convert`` write the scales training ended with. The work runs in the
venv as a subprocess (_pt2e_worker.py); its progress lines drive the bar here, and an interrupt kills
it and leaves nothing behind.
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_inception._core.errors import TargetFailed
from edge_inception.qat import loss_description


@dataclass
class TrainedTflite:
    flatbuffer: bytes  # int8 input and output, as litert-torch writes it
    info: dict


def _write_training_arrays(train, spec, folder: Path) -> tuple[Path, Path]:
    """The training split in the model's input layout, as .npy files the venv memory-maps (written
    batch by batch: a folder of photos never has to fit in memory)."""
    from numpy.lib.format import open_memmap

    x_path, y_path = folder / "train_x.npy", folder / "train_y.npy"
    x = open_memmap(x_path, mode="w+", dtype=np.float32, shape=(len(train), spec.channels, spec.height, spec.width))
    labels = np.empty(len(train), dtype=np.int64)
    at = 0
    for images, y in train.batches(256):
        x[at : at + len(images)] = spec.model_input(images)
        labels[at : at + len(images)] = y
        at += len(images)
    x.flush()
    del x
    np.save(y_path, labels)
    return x_path, y_path


def train_for_tflite(lm, *, train, calibration, settings, per_channel: bool = True) -> TrainedTflite:
    import torch

    from edge_inception._core.progress import progress
    from edge_inception.exporters._litert_torch import (
        LITERT_TORCH_VERSION,
        SETUP_HINT,
        VENV,
        litert_torch_python,
        run_in_venv,
    )
    from edge_inception.exporters._module_paths import export_for_quantization
    from edge_inception.qat.nncf_qat import fold_batch_norms

    if litert_torch_python() is None:
        raise TargetFailed(f"QAT of a PyTorch model for TFLite needs litert-torch: {SETUP_HINT}")
    spec = lm.spec
    with tempfile.TemporaryDirectory(prefix="edge-inception-pt2e-qat-") as tmp:
        tmp = Path(tmp)
        example = torch.zeros(2, spec.channels, spec.height, spec.width)
        batch = torch.export.Dim("batch", min=1, max=max(settings.batch_size, 2) * 64)
        model = copy.deepcopy(lm.model).eval()
        # BatchNorm folded into its conv first, as for NNCF: PT2E's QAT conv+BN pattern keeps batch
        # statistics even after move_exported_model_to_eval (measured: the prepared model with fake
        # quantization off agreed with float on 95% of images), so frozen BN is done here instead.
        _, bn_note = fold_batch_norms(model)
        try:
            # strict where Dynamo can: PT2E's add/mul annotators need its source_fn_stack (see there)
            program = export_for_quantization(model, (example,), dynamic_shapes=({0: batch},))
        except Exception as e:  # noqa: BLE001 - torch.export raises many types
            raise TargetFailed("torch.export with a dynamic batch (needed to train for TFLite) failed: "
                               f"{' '.join(str(e).split())[:300]}") from None
        torch.export.save(program, tmp / "model.pt2")
        np.save(tmp / "calibration.npy", np.concatenate(list(calibration.float_batches())))
        x_path, y_path = _write_training_arrays(train, spec, tmp)
        job = {"program": str(tmp / "model.pt2"), "out": str(tmp / "model.tflite"),
               "calibration": str(tmp / "calibration.npy"), "train_x": str(x_path), "train_y": str(y_path),
               "epochs": settings.epochs, "learning_rate": settings.learning_rate,
               "batch_size": settings.batch_size, "seed": settings.seed, "per_channel": per_channel,
               "distill": settings.distill}
        t0 = time.perf_counter()
        total = len(train) * settings.epochs
        with progress(f"QAT for TFLite (PT2E, {settings.epochs} epoch(s))", total=total) as advance:
            trained = run_in_venv("qat", job, tmp, failure="PT2E QAT for TFLite failed", on_progress=advance)
        flatbuffer = (tmp / "model.tflite").read_bytes()
    info = {"library": f"torchao {trained['torchao']} PT2E QAT with litert-torch {LITERT_TORCH_VERSION} "
                       f"PT2EQuantizer (is_qat), own venv {VENV}",
            "weights": f"int8 {'per-channel' if per_channel else 'per-tensor'} symmetric", "activations": "int8",
            "batch_norm": bn_note, "dropout": "off",
            "ranges": f"HistogramObserver over {len(calibration)} calibration images (as litert-torch PTQ), "
                      "then EMA in training",
            "epochs": settings.epochs, "learning_rate": settings.learning_rate, "batch_size": settings.batch_size,
            "seed": settings.seed, "distill": settings.distill, "loss": loss_description(settings),
            "train_samples": len(train), "seconds": round(time.perf_counter() - t0, 1),
            "history": trained["history"], "output_scale": trained["output_scale"]}
    return TrainedTflite(flatbuffer, info)
