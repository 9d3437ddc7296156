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

from edge_inception._core.errors import TargetFailed
from edge_inception._core.native import quiet_native
from edge_inception.models.spec import ModelSpec


def _example(spec: ModelSpec, batch: int = 2):
    import torch

    return torch.zeros(batch, spec.channels, spec.height, spec.width)


def _failure(kind: str, e: BaseException, program=None) -> TargetFailed:
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(e)).split())
    # Name the operator, and the layer it sits in, when the exporter says which one it could not translate.
    m = re.search(r"(?:torch\.ops\.)?(aten|prims)[.:]+([\w]+)", text)
    where = ""
    if m:
        op = f"{m.group(1)}.{m.group(2)}"
        where = f" at operator {op}" + _layer_of(program, m.group(1), m.group(2))
    return TargetFailed(f"{kind} export failed{where}: {text[:300] or type(e).__name__}")


def _layer_of(program, namespace: str, op: str) -> str:
    """' in layer 'features.3.b2'' for the first graph node calling the operator, from torch.export's
    module stack; '' when unknown."""
    if program is None:
        return ""
    for node in program.graph.nodes:
        # The ONNX step may see a decomposed form (prims.x for aten.special_x): match on the op's name.
        if node.op == "call_function" and op in str(node.target):
            stack = node.meta.get("nn_module_stack") or {}
            path = list(stack.values())[-1][0] if stack else ""
            return f" in layer '{path}'" if path else " in the model's own forward()"
    return ""


def torch_to_onnx(model, spec: ModelSpec, dest: Path, *, opset: int) -> None:
    """Write ``dest`` (and, for models over 2 GB, its external data file beside it) atomically."""
    import torch

    dest = Path(dest)
    exported = None
    try:
        with quiet_native():
            # torch.export first, so a failure can be traced to the layer through the module stack.
            batch = torch.export.Dim("batch", min=1)
            exported = torch.export.export(model, (_example(spec),), dynamic_shapes=({0: batch},))
            program = torch.onnx.export(exported, dynamo=True, opset_version=opset, verbose=False)
    except Exception as e:  # noqa: BLE001 - the exporter raises many types
        raise _failure("ONNX", e, exported) from None
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
