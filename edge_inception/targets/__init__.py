"""Targets: deployment profiles loaded from TOML files and validated before any work starts.

    t = get_target("tflite-int8")          # shipped profile, or ./targets/tflite-int8.toml
    t = load_target_file("my-npu.toml")    # a user's own profile
    [t.name for t in list_targets()]

Profiles are searched in this package's folder and in ``./targets/`` of the working directory; a
user's profile of the same name as a shipped one replaces it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.files import check_regular_file
from edge_inception._core.limits import check_profile_numbers
from edge_inception._core.names import check_identifier

SHIPPED_DIR = Path(__file__).parent

_DTYPES = ("float32", "float16", "int8", "uint8", "int16", "uint16")

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

# section -> key -> (type, allowed values or None, default). Unknown keys and values are refused.
_SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], tuple | None, object]]] = {
    "": {
        "name": (str, None, None),
        "description": (str, None, ""),
        "format": (str, ("tflite", "onnx", "openvino"), None),
        "precision": (str, ("float32", "float16", "int8"), None),
        "runtime": (str, ("litert", "onnxruntime", "openvino"), None),
        "float_reference": (str, None, None),
    },
    "quantizer": {
        "library": (str, ("none", "tflite", "onnxruntime", "nncf"), "none"),
        "per_channel": (bool, None, True),
        # "auto": chosen from the host's ISA by the quantizer, which records its choice in the report
        "activations": (str, ("int8", "uint8", "uint16", "auto"), "int8"),  # uint16: ONNX Runtime only (a16w8)
        "weights": (str, ("int8", "uint8", "auto"), "int8"),
        "reduce_range": (bool, None, False),
        "calibration_method": (str, ("minmax", "entropy", "percentile"), "minmax"),
        "preset": (str, ("performance", "mixed"), "performance"),  # NNCF: symmetric / asymmetric activations
        "overflow_fix": (str, ("enable", "disable", "first_layer", "auto"), "auto"),  # NNCF on non-VNNI CPUs
        "io_dtype": (str, ("float32", "int8", "uint8"), "float32"),
        "calibration_samples": (int, None, 500),
        # ONNX Runtime: "qnn" builds the QDQ settings with get_qnn_qdq_config (the QNN execution provider's)
        "qdq_config": (str, ("standard", "qnn"), "standard"),
        "target_device": (str, ("cpu", "gpu", "npu", "any"), "cpu"),  # NNCF's target_device
    },
    "export": {
        "opset": (int, None, 17),
    },
    # What the deployment device accepts; every artifact is checked against these after conversion
    # (edge_inception/validate). Empty lists mean "any".
    "constraints": {
        "device": (str, None, "cpu"),  # a key of DEVICES
        "full_integer": (bool, None, False),  # no operator computes in float (the I/O edges may convert)
        "io_dtypes": (list, _DTYPES, []),  # allowed dtypes of the model's inputs and outputs
        "static_shapes": (bool, None, False),  # no dynamic dimension (batch fixed to 1) in inputs and outputs
        "weight_granularity": (str, ("any", "per-tensor", "per-channel"), "any"),
        "symmetric_weights": (bool, None, False),  # integer weights with zero point 0 (128 for uint8)
        "allowed_ops": (list, None, []),  # operator names in the format's own spelling (CONV_2D, Conv, ...)
    },
    "gate": {
        "max_top1_drop": ((int, float), None, 1.0),
        "min_agreement": ((int, float), None, 0.97),
        "max_latency_ratio": ((int, float), None, 1.5),  # int8/float median latency on the same runtime
    },
}


# What each format can be, and which engine verifies it here: capabilities as data, checked on load.
FORMATS = {
    "tflite": {"precisions": ("float32", "float16", "int8"), "runtime": "litert", "libraries": ("tflite",)},
    "onnx": {"precisions": ("float32", "int8"), "runtime": "onnxruntime", "libraries": ("onnxruntime",)},
    # The IR inspector sees quantization at multiply-accumulates only (NNCF leaves the rest to the plugin,
    # which computes it in f16/f32 on NPU and CPU alike), so full_integer cannot be checked there.
    "openvino": {"precisions": ("float32", "float16", "int8"), "runtime": "openvino", "libraries": ("nncf",),
                 "full_integer": False},
}


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    format: str
    precision: str
    runtime: str
    float_reference: str | None
    quantizer: dict = field(default_factory=dict)
    export: dict = field(default_factory=dict)
    constraints: dict = field(default_factory=dict)
    gate: dict = field(default_factory=dict)
    source: str = ""

    @property
    def is_quantized(self) -> bool:
        return self.precision == "int8"

    @property
    def device(self) -> str:
        return self.constraints.get("device", "cpu")

    @property
    def device_here(self) -> bool:
        """Whether the target's device is on this machine (only the CPU is); otherwise it is checked statically."""
        return DEVICES[self.device][1]

    @property
    def device_description(self) -> str:
        return DEVICES[self.device][0]

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in
                ("name", "description", "format", "precision", "runtime", "float_reference",
                 "quantizer", "export", "constraints", "gate", "source")}


def _check(section: str, key: str, value, path: Path) -> object:
    schema = _SCHEMA[section]
    where = f"[{section}] " if section else ""
    if key not in schema:
        raise InputError(path, f"unknown key {where}'{key}'", fix=f"allowed: {', '.join(schema)}")
    typ, allowed, _ = schema[key]
    if typ is list:  # a list of strings, each one checked against the allowed values
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(path, f"{where}'{key}' must be a list of strings, got {value!r}")
        bad = [v for v in value if allowed is not None and v not in allowed]
        if bad:
            raise InputError(path, f"{where}'{key}' has {bad[0]!r}, which is not allowed",
                             fix=f"allowed: {', '.join(allowed)}")
        return list(value)
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        names = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
        raise InputError(path, f"{where}'{key}' must be {names}, got {value!r}")
    if key == "device" and value not in DEVICES:
        allowed = tuple(DEVICES)
    if allowed is not None and value not in allowed:
        raise InputError(path, f"{where}'{key}' = {value!r} is not allowed", fix=f"allowed: {', '.join(allowed)}")
    return value


def load_target_file(path: str | Path) -> Target:
    """Parse and validate one profile. Every problem is an InputError naming the file and key."""
    path = Path(path)
    if path.exists():  # a FIFO would block read_text(); missing files keep the message below
        check_regular_file(path, what="target profile (TOML)", allow_empty=True)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "does not exist", fix="pass the path of a target TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"is not valid TOML ({e})") from None
    values: dict[str, dict] = {s: {} for s in _SCHEMA}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in _SCHEMA or not key:
                raise InputError(path, f"unknown section [{key}]", fix=f"allowed: {', '.join(s for s in _SCHEMA if s)}")
            for k, v in value.items():
                values[key][k] = _check(key, k, v, path)
        else:
            values[""][key] = _check("", key, value, path)
    for section, schema in _SCHEMA.items():
        for key, (_, _, default) in schema.items():
            if key not in values[section]:
                if default is None and key not in ("float_reference",):
                    where = f"[{section}] " if section else ""
                    raise InputError(path, f"missing required key {where}'{key}'")
                values[section][key] = list(default) if isinstance(default, list) else default
    top = values[""]
    t = Target(name=top["name"], description=top["description"], format=top["format"],
               precision=top["precision"], runtime=top["runtime"], float_reference=top["float_reference"],
               quantizer=values["quantizer"], export=values["export"], constraints=values["constraints"],
               gate=values["gate"], source=str(path))
    check_identifier(t.name, what="target name", path=path)  # it becomes part of every artifact's file name
    check_profile_numbers(t, path)
    caps = FORMATS[t.format]
    if t.precision not in caps["precisions"]:
        raise InputError(path, f"format '{t.format}' cannot be {t.precision}",
                         fix=f"{t.format} supports {', '.join(caps['precisions'])}")
    if t.runtime != caps["runtime"]:
        raise InputError(path, f"runtime '{t.runtime}' does not run {t.format}",
                         fix=f"use runtime = '{caps['runtime']}'")
    if t.is_quantized and t.quantizer["library"] == "none":
        raise InputError(path, "an int8 target needs [quantizer] library",
                         fix="set library = 'tflite', 'onnxruntime' or 'nncf'")
    if t.is_quantized and t.quantizer["library"] not in caps["libraries"]:
        raise InputError(path, f"quantizer library '{t.quantizer['library']}' does not produce {t.format}",
                         fix=f"use library = '{caps['libraries'][0]}'")
    if t.is_quantized and not t.float_reference:
        raise InputError(path, "an int8 target needs 'float_reference', the float target it is compared with")
    _check_constraints(t, caps, path)
    return t


def _check_constraints(t: Target, caps: dict, path: Path) -> None:
    """Constraints that contradict the rest of the profile are refused before any conversion."""
    c, q = t.constraints, t.quantizer
    if c["full_integer"] and not t.is_quantized:
        raise InputError(path, f"[constraints] full_integer needs precision = 'int8', not '{t.precision}'")
    if c["full_integer"] and not caps.get("full_integer", True):
        raise InputError(path, f"[constraints] full_integer cannot be checked for {t.format} artifacts",
                         fix="remove full_integer; int8 targets are checked for quantized weights and activations")
    if t.is_quantized and c["io_dtypes"] and q["library"] == "tflite" and q["io_dtype"] not in c["io_dtypes"]:
        raise InputError(path, f"[quantizer] io_dtype = '{q['io_dtype']}' is not in [constraints] io_dtypes",
                         fix=f"set io_dtype to one of {', '.join(c['io_dtypes'])}")
    if c["weight_granularity"] == "per-tensor" and q["per_channel"] and t.is_quantized:
        raise InputError(path, "[constraints] weight_granularity = 'per-tensor' but [quantizer] per_channel = true",
                         fix="set per_channel = false")
    if q["activations"] == "uint16" and q["library"] != "onnxruntime":
        raise InputError(path, "[quantizer] activations = 'uint16' is an ONNX Runtime option",
                         fix=f"{q['library']} quantizes activations to int8")
    if q["qdq_config"] != "standard" and q["library"] != "onnxruntime":
        raise InputError(path, "[quantizer] qdq_config applies to the onnxruntime library only")
    if q["target_device"] != "cpu" and q["library"] != "nncf":
        raise InputError(path, "[quantizer] target_device applies to the nncf library only")


def _search_dirs() -> list[Path]:
    return [SHIPPED_DIR, Path.cwd() / "targets"]


def _all_profiles() -> dict[str, Target]:
    found: dict[str, Target] = {}
    for d in _search_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                t = load_target_file(f)
                if t.name != f.stem:
                    raise InputError(f, f"declares name '{t.name}' but the file is {f.name}",
                                     fix=f"rename the file to {t.name}.toml or fix 'name'")
                found[t.name] = t  # later folders (the user's) replace shipped profiles
    return found


def list_targets() -> list[Target]:
    return sorted(_all_profiles().values(), key=lambda t: t.name)


def get_target(name: str) -> Target:
    profiles = _all_profiles()
    if name not in profiles:
        raise UsageError(f"unknown target '{name}'", fix=f"known targets: {', '.join(sorted(profiles))}")
    return profiles[name]


def resolve_targets(names: str | list[str], *, target_files: list[str | Path] = ()) -> list[Target]:
    """'a,b' or ['a', 'b'] plus profile files -> validated Targets, in order, without duplicates."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out = [get_target(n) for n in names] + [load_target_file(f) for f in target_files]
    seen: set[str] = set()
    for t in out:
        if t.name in seen:
            raise UsageError(f"target '{t.name}' is named twice")
        seen.add(t.name)
    if not out:
        raise UsageError("no target given", fix="pass --target, e.g. --target tflite-int8")
    return out
