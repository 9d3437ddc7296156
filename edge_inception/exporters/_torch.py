"""PyTorch sources for the ONNX and OpenVINO exporters.

    torch_to_onnx(module, spec, dest, opset=18)   # torch.onnx.export(dynamo=True), dynamic batch
    ov_model = torch_to_openvino(module, spec)    # openvino.convert_model with a static C,H,W

Export failures become TargetFailed naming the operator the exporter could not handle. Every ONNX node is
named after the module that made it (``block.b2.0/Conv``), so verifier messages, ``nodes_to_exclude`` and
diagnosis speak the user's module paths rather than the exporter's ``node_conv2d_1``.
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


def _module_of(node) -> str:
    """The module path torch.onnx recorded for a node ('' at the top level or when it recorded none).

    ``pkg.torch.onnx.name_scopes`` lists the scopes from the root down and ends with the FX node's own
    name: ``['', 'block', 'block.b2', 'block.b2.0', 'conv2d_1']``."""
    import ast

    text = node.metadata_props.get("pkg.torch.onnx.name_scopes")
    try:
        scopes = ast.literal_eval(text) if text else []
    except (ValueError, SyntaxError):
        return ""
    return str(scopes[-2]) if isinstance(scopes, list) and len(scopes) >= 2 else ""


def name_nodes_after_modules(graph, root: str, modules: set[str] = frozenset()) -> None:
    """Rename every node to ``<module path>/<OpType>`` (``_2``, ``_3``... for repeats; the model's class
    name for nodes of its own forward()). Node names are free labels in ONNX: no edge refers to them.

    The exporter's optimizer folds a BatchNorm into the Conv before it and keeps the BatchNorm's scope
    on the fused node; the weight keeps the Conv's parameter name (``stem.0.weight``), so a node whose
    weight is a parameter of one of ``modules`` is named after that module, the layer the user wrote."""
    seen: dict[str, int] = {}
    for node in graph:
        weight = node.inputs[1].name if len(node.inputs) > 1 and node.inputs[1] is not None else ""
        owner = weight.rsplit(".", 1)[0] if weight.endswith(".weight") else ""
        base = f"{owner if owner in modules else (_module_of(node) or root)}/{node.op_type}"
        seen[base] = seen.get(base, 0) + 1
        node.name = base if seen[base] == 1 else f"{base}_{seen[base]}"


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
        name_nodes_after_modules(program.model.graph, type(model).__name__,
                                 {name for name, _ in model.named_modules() if name})
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
            ov_model = ov.convert_model(model, example_input=_example(spec),
                                        input=[(-1, spec.channels, spec.height, spec.width)])
    except Exception as e:  # noqa: BLE001
        raise _failure("OpenVINO", e) from None
    _name_folded_convolutions(ov_model, _batchnorm_inputs(model))
    return ov_model


def _batchnorm_inputs(model) -> dict[str, str]:
    """{BatchNorm module path: path of the Conv/Linear module feeding it}, from torch.fx's module-level
    trace; {} when the model's forward() cannot be traced symbolically (then names stay as they are)."""
    import torch

    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - data-dependent Python: fx refuses many things, none of them errors here
        return {}
    mods = dict(model.named_modules())
    out = {}
    for node in traced.graph.nodes:
        if node.op == "call_module" and isinstance(mods.get(node.target), torch.nn.modules.batchnorm._BatchNorm):
            src = node.args[0] if node.args else None
            if getattr(src, "op", "") == "call_module" and len(src.users) == 1:
                out[node.target] = src.target
    return out


def _name_folded_convolutions(ov_model, feeding: dict[str, str]) -> None:
    """OpenVINO folds each BatchNorm into the Convolution before it and names the fused Convolution after
    an internal Multiply (``Multiply_7452``); name it after the user's Conv module again, in the PyTorch
    frontend's own form (``__module.stem.0/aten::_convolution/Convolution``)."""
    for op in ov_model.get_ops():
        name = op.get_friendly_name()
        if op.get_type_name() != "Add" or not name.startswith("__module.") or "/aten::batch_norm" not in name:
            continue
        src = op.input_value(0).get_node()
        conv = feeding.get(name[len("__module."):].split("/", 1)[0])
        if conv and not src.get_friendly_name().startswith("__module."):
            src.set_friendly_name(f"__module.{conv}/aten::_convolution/{src.get_type_name()}")
            weight = src.input_value(1).get_node()
            if weight.get_type_name() == "Constant" and not weight.get_friendly_name().startswith("__module."):
                weight.set_friendly_name(f"{conv}.weight")  # the folded weight, named as its parameter
