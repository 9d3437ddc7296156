"""Artifacts checked against their target's constraints: per-format inspectors, one rule engine.

    desc = describe("model.tflite", "tflite")    # neutral description: I/O, operators, weights
    violations = check(desc, get_target("tflite-int8-npu"))   # [] when the artifact meets its profile
    violations = validate("model.onnx", get_target("onnx-int8-qnn"))      # both in one call

An inspector (validate/tflite.py, onnx.py, openvino.py, named by the format's declaration in
edge_inception/formats/) reads one format into an ``ArtifactDescription``; the rules below read only
that, so a constraint means the same thing for every format and a new format needs an inspector, not
new rules. Each violation names the
operator, its layer and the rule it breaks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str                      # numpy spelling: float32, float16, int8, uint8, int32, ...
    shape: tuple                    # None where a dimension is dynamic


@dataclass(frozen=True)
class Weights:
    name: str
    dtype: str                      # as stored in the file: int8/uint8 (quantized), float16, float32
    granularity: str                # "per-channel", "per-tensor", or "none" for float weights
    symmetric: bool | None          # zero point 0 (128 for uint8); None for float weights


@dataclass(frozen=True)
class Op:
    type: str                       # the format's own name: CONV_2D, Conv, Convolution
    layer: str                      # tensor (TFLite), node (ONNX) or friendly (OpenVINO) name
    mac: bool = False               # a multiply-accumulate with weights: convolution, matmul, dense
    weights: Weights | None = None  # MAC only
    activation: str | None = None   # MAC only: dtype its data input arrives in (int8 when dequantized from int8)
    float_tensors: tuple = ()       # (name, dtype) of float tensors it computes on, not counting dequantized ones
    io_edge: bool = False           # converts a model input/output between float and integer
    machinery: bool = False         # QuantizeLinear/DequantizeLinear of a QDQ graph: float on one side by design


@dataclass
class ArtifactDescription:
    format: str
    layer_word: str                 # what the format calls a layer in messages: "layer" or "node"
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


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
