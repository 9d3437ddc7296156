"""PyTorch sources for the ONNX and OpenVINO exporters.

    torch_to_onnx(module, spec, dest, opset=18)   # torch.onnx.export(dynamo=True), dynamic batch
    ov_model = torch_to_openvino(module, spec)    # openvino.convert_model with a static C,H,W

Export failures become TargetFailed naming the operator the exporter could not handle.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from edge_inception._native import quiet_native
from edge_inception.errors import TargetFailed
from edge_inception.models.spec import ModelSpec


def _example(spec: ModelSpec, batch: int = 2):
    import torch

    return torch.zeros(batch, spec.channels, spec.height, spec.width)


def _failure(kind: str, e: BaseException) -> TargetFailed:
    text = " ".join(str(e).split())
    # Name the operator/node when the exporter says which one it could not translate.
    m = re.search(r"(aten::[\w.]+|torch\.ops\.[\w.]+|node[^\s,:]*\s*[`'\"]?[\w.]+)", text)
    where = f" at {m.group(1)}" if m else ""
    return TargetFailed(f"{kind} export failed{where}: {text[:300] or type(e).__name__}")


def torch_to_onnx(model, spec: ModelSpec, dest: Path, *, opset: int) -> None:
    """Write ``dest`` (and, for models over 2 GB, its external data file beside it) atomically."""
    import torch

    dest = Path(dest)
    try:
        with quiet_native():
            program = torch.onnx.export(model, (_example(spec),), dynamo=True, opset_version=opset,
                                        dynamic_shapes=({0: "batch"},), verbose=False)
    except Exception as e:  # noqa: BLE001 - the exporter raises many types
        raise _failure("ONNX", e) from None
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
        tmp_file = Path(tmp) / dest.name
        big = sum(p.numel() * p.element_size() for p in model.parameters()) > 1.8e9
        program.save(str(tmp_file), external_data=big)
        for f in sorted(Path(tmp).iterdir(), key=lambda p: p == tmp_file):  # data files first, model last
            shutil.move(str(f), dest.parent / f.name)


def torch_to_openvino(model, spec: ModelSpec):
    import openvino as ov

    try:
        with quiet_native():
            return ov.convert_model(model, example_input=_example(spec),
                                    input=[(-1, spec.channels, spec.height, spec.width)])
    except Exception as e:  # noqa: BLE001
        raise _failure("OpenVINO", e) from None
