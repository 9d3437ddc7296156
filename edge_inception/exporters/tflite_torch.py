"""TFLite export of PyTorch sources through litert-torch, which runs in its own venv (_litert_torch.py)."""

from __future__ import annotations

from pathlib import Path

from edge_inception.exporters import register_exporter
from edge_inception.models.loader import LoadedModel


@register_exporter("tflite", "torch")
def export_tflite_torch(lm: LoadedModel, dest: Path, *, target) -> dict:
    from edge_inception.exporters._litert_torch import torch_to_tflite

    precision = target.precision
    return {**torch_to_tflite(lm.model, lm.spec, dest, float16=precision == "float16"), "precision": precision}
