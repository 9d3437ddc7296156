"""The target profile's schema, defined once with pydantic: types, allowed values, ranges and defaults.
The loader (targets/__init__.py) validates every TOML file with it and turns the first problem into one
line naming the file, the key and the allowed values; docs/schema/target.schema.json is generated from it.

    Profile.model_validate(tomllib.loads(text))
    python -m edge_inception.report.schema --write docs/schema    # every published JSON Schema
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from edge_inception._core.names import IDENTIFIER_FIX, is_identifier
from edge_inception.targets.thresholds import FloatThresholds

DTYPES = ("float32", "float16", "int8", "uint8", "int16", "uint16")
Dtype = Literal["float32", "float16", "int8", "uint8", "int16", "uint16"]


def _identifier(value: str) -> str:
    if not is_identifier(value):
        raise ValueError("is not a plain identifier (it becomes part of file names)")
    return value


# A profile name is part of every artifact's file name: no path separators, no '..' (_core/names.py).
Identifier = Annotated[str, AfterValidator(_identifier)]

# Where a target's artifact is meant to run, and whether that device is on this machine. An artifact for
# a device that is not here is still converted and checked statically; its accuracy and latency are
# measured with the target's runtime on this CPU, and the report says so.
DEVICES = {
    "cpu": ("this machine's CPU", True),
    "gpu": ("a mobile GPU (LiteRT GPU delegate)", False),
    "edge-tpu": ("an Edge TPU", False),
    "qnn-htp": ("a Qualcomm Hexagon NPU (ONNX Runtime QNN execution provider, HTP backend)", False),
    "npu": ("an Intel NPU (OpenVINO NPU plugin)", False),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Quantizer(_Section):
    library: Literal["none", "tflite", "onnxruntime", "nncf"] = "none"
    per_channel: bool = True
    # "auto": chosen from the host's ISA by the quantizer, which records its choice in the report
    activations: Literal["int8", "uint8", "uint16", "auto"] = "int8"  # uint16: ONNX Runtime only (a16w8)
    weights: Literal["int8", "uint8", "auto"] = "int8"
    reduce_range: bool = False
    preset: Literal["performance", "mixed"] = "performance"  # NNCF: symmetric / asymmetric activations
    overflow_fix: Literal["enable", "disable", "first_layer", "auto"] = "auto"  # NNCF on non-VNNI CPUs
    io_dtype: Literal["float32", "int8", "uint8"] = "float32"
    # The calibration recipe (calibration/NAME.toml: images, count, selection, range method, bias
    # correction); convert --calibration-recipe replaces it for every target.
    calibration_recipe: Identifier = "default"
    # ONNX Runtime: "qnn" builds the QDQ settings with get_qnn_qdq_config (the QNN execution provider's)
    qdq_config: Literal["standard", "qnn"] = "standard"
    target_device: Literal["cpu", "gpu", "npu", "any"] = "cpu"  # NNCF's target_device


class Export(_Section):
    opset: int = Field(17, ge=7, le=23)


class Constraints(_Section):
    """What the deployment device accepts; every artifact is checked against these after conversion
    (edge_inception/validate). Empty lists mean "any"."""

    device: Literal[tuple(DEVICES)] = "cpu"  # where the artifact is meant to run
    full_integer: bool = False  # no operator computes in float (the I/O edges may convert)
    io_dtypes: list[Dtype] = []  # allowed dtypes of the model's inputs and outputs
    static_shapes: bool = False  # no dynamic dimension (batch fixed to 1) in inputs and outputs
    weight_granularity: Literal["any", "per-tensor", "per-channel"] = "any"
    symmetric_weights: bool = False  # integer weights with zero point 0 (128 for uint8)
    allowed_ops: list[str] = []  # operator names in the format's own spelling (CONV_2D, Conv, ...)


class Profile(_Section):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="edge-inception target profile")

    name: Identifier
    description: str = ""
    format: str  # a registered format (edge_inception/formats/), checked by the loader
    precision: Literal["float32", "float16", "int8"]
    runtime: str  # the format's runtime, checked by the loader
    float_reference: Identifier | None = None
    quantizer: Quantizer = Quantizer()
    export: Export = Export()
    constraints: Constraints = Constraints()
    gate: FloatThresholds = FloatThresholds()  # this target's default gate thresholds


def _allowed(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names allowed where ``loc`` points (for unknown keys)."""
    for part in loc[:-1]:
        model = model.model_fields[part].annotation
    return list(model.model_fields)


def first_problem(error: ValidationError) -> tuple[str, str | None]:
    """(problem, fix) for the first error, in the profile's own words: '[quantizer] 'per_chanel'' ..."""
    err = error.errors()[0]
    loc = tuple(p for p in err["loc"] if isinstance(p, str))
    section = f"[{'.'.join(loc[:-1])}] " if len(loc) > 1 else ""
    key = loc[-1] if loc else "?"
    where = f"{section}'{key}'"
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        kind = "section" if isinstance(value, dict) else "key"
        return f"unknown {kind} {where}", f"allowed: {', '.join(_allowed(Profile, loc))}"
    if err["type"] == "missing":
        return f"missing required key {where}", None
    if err["type"] == "literal_error":
        return f"{where} = {value!r} is not allowed", f"allowed: {err['ctx']['expected'].replace(chr(39), '')}"
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("is not a plain identifier"):
        return f"{where} = {value!r} {msg}", IDENTIFIER_FIX
    return f"{where} = {value!r}: {msg}", None
