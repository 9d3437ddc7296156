"""Artifacts checked against their target's constraints: per-format inspectors, one rule engine.

    desc = describe("model.tflite", "tflite")    # neutral description: I/O, operators, weights
    violations = check(desc, get_target("tflite-int8-npu"))   # [] when the artifact meets its profile
    violations = validate("model.onnx", get_target("onnx-int8-qnn"))      # both in one call

An inspector (formats/_inspect_tflite.py, _inspect_onnx.py, _inspect_openvino.py, named by each
format's declaration) reads one format into an ``ArtifactDescription`` (formats/description.py); the
rules below read only that, so a constraint means the same thing for every format and a new format
needs an inspector, not new rules. Each violation names the operator, its layer and the rule it breaks.
"""

from __future__ import annotations

from pathlib import Path

from edge_inception.formats.description import ArtifactDescription, Op, Tensor, Weights  # noqa: F401 - re-exported


def describe(path: str | Path, fmt: str) -> ArtifactDescription:
    from edge_inception.formats import get_format

    return get_format(fmt).inspect(Path(path))


def validate(path: str | Path, target) -> list[str]:
    """Rules of ``target`` that the artifact at ``path`` breaks, one message each ([] when it passes)."""
    return check(describe(path, target.format), target)


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def check(desc: ArtifactDescription, target) -> list[str]:
    """Every rule of ``target`` that ``desc`` breaks, one message per operator or tensor."""
    c = target.constraints
    out: list[str] = []
    out += _io_rules(desc, c)
    for op in desc.ops:
        where = f"operator {op.type} ({desc.layer_word} '{op.layer}')"
        if c.get("allowed_ops") and op.type not in c["allowed_ops"]:
            out.append(f"{where} is not supported on {target.device} (not in [constraints] allowed_ops)")
        problem = _precision_rule(op, target) or _weight_rules(op, c)
        if problem:
            out.append(f"{where} {problem}")
    return out


def _io_rules(desc: ArtifactDescription, c: dict) -> list[str]:
    out = []
    for kind, tensors in (("input", desc.inputs), ("output", desc.outputs)):
        for t in tensors:
            if c.get("io_dtypes") and t.dtype not in c["io_dtypes"]:
                out.append(f"{kind} '{t.name}' is {t.dtype}; the target's io_dtypes allow "
                           f"{', '.join(c['io_dtypes'])}")
            if c.get("static_shapes") and any(d is None for d in t.shape):
                dims = ", ".join("?" if d is None else str(d) for d in t.shape)
                out.append(f"{kind} '{t.name}' has a dynamic shape [{dims}]; the target needs static_shapes")
    return out


def _precision_rule(op: Op, target) -> str | None:
    """Weights stored as the precision says; int8 MACs take int8 activations; full-integer: no float at all."""
    w = op.weights
    if op.mac and w is not None:
        if target.is_quantized and _is_float(w.dtype):
            return f"has unquantized {w.dtype} weights '{w.name}' in an int8 model"
        if target.is_quantized and op.activation and _is_float(op.activation):
            return f"takes unquantized {op.activation} activations in an int8 model"
        if target.precision == "float16" and w.dtype != "float16":
            return f"has {w.dtype} weights '{w.name}' in a float16 model"
        if target.precision == "float32" and w.dtype != "float32":
            return f"has {w.dtype} weights '{w.name}' in a float32 model"
    if target.constraints.get("full_integer") and op.float_tensors and not (op.io_edge or op.machinery):
        name, dtype = op.float_tensors[0]
        return f"has {dtype} tensor '{name}' in a full-integer model (full_integer)"
    return None


def _weight_rules(op: Op, c: dict) -> str | None:
    w = op.weights
    if not op.mac or w is None or _is_float(w.dtype):
        return None
    want = c.get("weight_granularity", "any")
    if want != "any" and w.granularity != want:
        return f"has {w.granularity} weights '{w.name}'; the target needs {want} (weight_granularity)"
    if c.get("symmetric_weights") and w.symmetric is False:
        return f"has asymmetric weights '{w.name}' (non-zero zero point); the target needs symmetric_weights"
    return None
