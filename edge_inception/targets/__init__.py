"""Targets: deployment profiles loaded from TOML files and validated before any work starts.

    t = get_target("tflite-int8")          # shipped profile, or ./targets/tflite-int8.toml
    t = load_target_file("my-npu.toml")    # a user's own profile
    [t.name for t in list_targets()]

Profiles are searched in the shipped ``targets/`` folder and in ``./targets/`` of the working directory; a
user's profile of the same name as a shipped one replaces it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.files import check_regular_file
from edge_inception._core.shipped import named_tomls, shipped_dir
from edge_inception.targets.schema import DEVICES, Profile, first_problem

SHIPPED_DIR = shipped_dir("targets")  # the repository's top-level targets/, inside the wheel when installed


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


def load_target_file(path: str | Path) -> Target:
    """Parse and validate one profile (targets/schema.py). Every problem is an InputError naming the
    file and key."""
    from pydantic import ValidationError

    path = Path(path)
    if path.exists():  # a FIFO would block read_text(); missing files keep the message below
        check_regular_file(path, what="target profile (TOML)", allow_empty=True)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "does not exist", fix="pass the path of a target TOML file") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder", fix="pass the path of a target TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"is not valid TOML ({e})") from None
    try:
        profile = Profile.model_validate(data)
    except ValidationError as e:
        problem, fix = first_problem(e)
        raise InputError(path, problem, fix=fix) from None
    t = Target(name=profile.name, description=profile.description, format=profile.format,
               precision=profile.precision, runtime=profile.runtime, float_reference=profile.float_reference,
               quantizer=profile.quantizer.model_dump(), export=profile.export.model_dump(),
               constraints=profile.constraints.model_dump(), gate=profile.gate.model_dump(), source=str(path))
    from edge_inception.formats import FORMATS

    if t.format not in FORMATS:
        raise InputError(path, f"'format' = {t.format!r} is not allowed", fix=f"allowed: {', '.join(FORMATS)}")
    caps = FORMATS.get(t.format)
    if t.precision not in caps.precisions:
        raise InputError(path, f"format '{t.format}' cannot be {t.precision}",
                         fix=f"{t.format} supports {', '.join(caps.precisions)}")
    if t.runtime != caps.runtime:
        raise InputError(path, f"runtime '{t.runtime}' does not run {t.format}",
                         fix=f"use runtime = '{caps.runtime}'")
    if t.is_quantized and t.quantizer["library"] == "none":
        raise InputError(path, "an int8 target needs [quantizer] library",
                         fix="set library = 'tflite', 'onnxruntime' or 'nncf'")
    if t.is_quantized and t.quantizer["library"] not in caps.libraries:
        raise InputError(path, f"quantizer library '{t.quantizer['library']}' does not produce {t.format}",
                         fix=f"use library = '{caps.libraries[0]}'")
    if t.is_quantized and not t.float_reference:
        raise InputError(path, "an int8 target needs 'float_reference', the float target it is compared with")
    _check_constraints(t, caps, path)
    return t


def _check_constraints(t: Target, caps, path: Path) -> None:
    """Constraints that contradict the rest of the profile are refused before any conversion."""
    c, q = t.constraints, t.quantizer
    if c["full_integer"] and not t.is_quantized:
        raise InputError(path, f"[constraints] full_integer needs precision = 'int8', not '{t.precision}'")
    if c["full_integer"] and not caps.full_integer_checkable:
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


def _all_profiles() -> dict[str, Target]:
    return named_tomls("targets", load_target_file)  # the user's ./targets/ replaces shipped ones


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
