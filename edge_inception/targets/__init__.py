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

from edge_inception.errors import InputError, UsageError

SHIPPED_DIR = Path(__file__).parent

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
        "activations": (str, ("int8", "uint8", "auto"), "int8"),
        "weights": (str, ("int8", "uint8", "auto"), "int8"),
        "reduce_range": (bool, None, False),
        "calibration_method": (str, ("minmax", "entropy", "percentile"), "minmax"),
        "preset": (str, ("performance", "mixed"), "performance"),  # NNCF: symmetric / asymmetric activations
        "overflow_fix": (str, ("enable", "disable", "first_layer", "auto"), "auto"),  # NNCF on non-VNNI CPUs
        "io_dtype": (str, ("float32", "int8", "uint8"), "float32"),
        "calibration_samples": (int, None, 500),
    },
    "export": {
        "opset": (int, None, 17),
    },
    "constraints": {
        "full_integer": (bool, None, False),
    },
    "gate": {
        "max_top1_drop": ((int, float), None, 1.0),
        "min_agreement": ((int, float), None, 0.97),
    },
}


# What each format can be, and which engine verifies it here: capabilities as data, checked on load.
FORMATS = {
    "tflite": {"precisions": ("float32", "float16", "int8"), "runtime": "litert", "libraries": ("tflite",)},
    "onnx": {"precisions": ("float32", "int8"), "runtime": "onnxruntime", "libraries": ("onnxruntime",)},
    "openvino": {"precisions": ("float32", "float16", "int8"), "runtime": "openvino", "libraries": ("nncf",)},
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
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        names = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
        raise InputError(path, f"{where}'{key}' must be {names}, got {value!r}")
    if allowed is not None and value not in allowed:
        raise InputError(path, f"{where}'{key}' = {value!r} is not allowed", fix=f"allowed: {', '.join(allowed)}")
    return value


def load_target_file(path: str | Path) -> Target:
    """Parse and validate one profile. Every problem is an InputError naming the file and key."""
    path = Path(path)
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
                values[section][key] = default
    top = values[""]
    t = Target(name=top["name"], description=top["description"], format=top["format"],
               precision=top["precision"], runtime=top["runtime"], float_reference=top["float_reference"],
               quantizer=values["quantizer"], export=values["export"], constraints=values["constraints"],
               gate=values["gate"], source=str(path))
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
    return t


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
