"""The neutral description of an artifact that every format's inspector produces and the profile rules
(edge_inception/validate) read: inputs, outputs, operators with their weights and activation types.

    desc = get_format("onnx").inspect(path)
    [op.type for op in desc.ops if op.mac]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
