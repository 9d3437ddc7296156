"""The sweep file (TOML), its schema defined once with pydantic, and its expansion into cells.

    sweep = load_sweep("sweep.toml")          # InputError naming the file and the key on any problem
    cells = expand(sweep)                     # models x targets x recipes x methods (devices: devices.py)

A sweep file::

    targets = ["tflite-int8", "onnx-int8", "openvino-int8"]
    models = ["inception-mini"]                 # or [[models]] tables: model, framework, name, weights
    [[recipes]]                                 # calibration: today's convert settings, or a recipe
    name = "calib64"
    calibration = "sample"
    calibration_samples = 64
    [[methods]]                                 # "ptq" (the default) or a QAT table
    name = "qat1"
    method = "qat"
    train_data = "fashion-mnist"
    train_limit = 512
    [evaluation]
    data = "sample"
    limit = 500
    [measure]
    threads = 1
    latency_runs = 20
    [run]                                       # what each cell asks Ray for
    cpus_per_cell = 1
    memory_gb_per_cell = 2.0

A float target ignores recipes and methods, so it becomes one cell per model, not one per recipe and
method: nothing is converted twice. Each device of ``devices = [...]`` measures every cell's artifact
as a row of its own (devices.py); the conversion is shared.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge_inception._core.errors import InputError
from edge_inception._core.names import IDENTIFIER_FIX, is_identifier

Ident = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _ident(v: str | None) -> str | None:
    if v is not None and not is_identifier(v):
        raise ValueError(f"{v!r} is not a plain identifier ({IDENTIFIER_FIX})")
    return v


class ModelEntry(_Strict):
    model: str = Field(description="a zoo name or a model path, as `convert MODEL` takes")
    name: str | None = Field(None, description="the label in cell ids (default: derived from model)")
    framework: Literal["keras", "torch"] = "keras"
    weights: str | None = None
    input_shape: list[int] | None = None
    preprocessing: Literal["unit", "inception", "imagenet", "raw"] | None = None

    _check_name = field_validator("name")(classmethod(lambda cls, v: _ident(v)))

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        stem = Path(self.model).stem if ("/" in self.model or "." in self.model) else self.model
        return f"{stem}-torch" if self.framework == "torch" else stem


class Recipe(_Strict):
    name: Ident
    recipe: str | None = Field(None, description="a calibration recipe NAME or FILE (where convert takes one)")
    calibration: str | None = Field(None, description="calibration images, as --calibration")
    calibration_samples: int | None = Field(None, ge=1, le=1_000_000)

    _check_name = field_validator("name")(classmethod(lambda cls, v: _ident(v)))


class Method(_Strict):
    name: Ident
    method: Literal["ptq", "qat"] = "ptq"
    train_data: str | None = None
    epochs: int = Field(1, ge=1, le=1000)
    learning_rate: float | None = Field(None, gt=0)
    train_limit: int | None = Field(None, ge=1)
    distill: bool | None = None

    _check_name = field_validator("name")(classmethod(lambda cls, v: _ident(v)))


class Evaluation(_Strict):
    data: str | None = Field(None, description="labelled evaluation images (default for zoo models: the sample)")
    limit: int | None = Field(None, ge=1)


class Measure(_Strict):
    threads: int = Field(1, ge=1, le=256)
    latency_runs: int = Field(20, ge=1, le=100_000)


class Run(_Strict):
    cpus_per_cell: float = Field(1.0, gt=0, le=256, description="CPUs Ray reserves for each cell")
    memory_gb_per_cell: float = Field(2.0, gt=0, le=4096, description="memory Ray reserves for each cell")
    cells_per_worker: int = Field(1, ge=1, description="cells a Ray worker runs before it exits (1: memory "
                                  "is returned to the system after every cell)")
    max_retries: int = Field(1, ge=0, le=10, description="re-runs of a cell whose worker or node died")
    transfer: Literal["auto", "shared", "object_store"] = Field(
        "auto", description="how artifacts reach --out: shared storage when the worker sees the cache "
        "folder, else through Ray's object store")
    cache: str | None = Field(None, description="the content-addressed cache folder (default: OUT/cache)")


class SweepFile(_Strict):
    models: list[str | ModelEntry] = Field(default_factory=lambda: ["inception-mini"], min_length=1)
    targets: list[str] = Field(min_length=1)
    recipes: list[Recipe] = Field(default_factory=lambda: [Recipe(name="default")], min_length=1)
    methods: list[Literal["ptq"] | Method] = Field(default_factory=lambda: ["ptq"], min_length=1)
    devices: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="devices (URLs or declared names) every cell's artifact is measured on")
    evaluation: Evaluation = Field(default_factory=Evaluation)
    measure: Measure = Field(default_factory=Measure)
    run: Run = Field(default_factory=Run)

    def model_entries(self) -> list[ModelEntry]:
        return [ModelEntry(model=m) if isinstance(m, str) else m for m in self.models]

    def method_entries(self) -> list[Method]:
        return [Method(name="ptq") if isinstance(m, str) else m for m in self.methods]


@dataclass(frozen=True)
class Cell:
    """One independent conversion: one model to one target with one recipe and method. The sweep's
    devices are not part of it: each device measures the cell's artifact as its own row (devices.py)."""

    model: ModelEntry
    target: str
    recipe: Recipe | None        # None for a float target
    method: Method | None        # None for a float target

    @property
    def id(self) -> str:
        parts = [self.model.label, self.target, self.recipe.name if self.recipe else "-",
                 self.method.name if self.method else "float"]
        return "/".join(parts)


def load_sweep(path: str | Path) -> SweepFile:
    from edge_inception._core.files import check_regular_file

    path = Path(path)
    fix = "see `edge-inception sweep --help` for the file's keys"
    if not path.exists():
        raise InputError(path, "does not exist", fix="pass a sweep TOML file")
    check_regular_file(path, what="sweep file (TOML)")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"is not valid TOML ({e})", fix=fix) from None
    try:
        sweep = SweepFile.model_validate(data)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        key = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("str", "literal", "function")))
        more = len(e.errors()) - 1
        raise InputError(path, f"'{key}': {err['msg']}" + (f" (and {more} more)" if more else ""), fix=fix) from None
    _check_unique(path, "model name", [m.label for m in sweep.model_entries()])
    _check_unique(path, "recipe name", [r.name for r in sweep.recipes])
    _check_unique(path, "method name", [m.name for m in sweep.method_entries()])
    _check_unique(path, "target", sweep.targets)
    return sweep


def _check_unique(path: Path, what: str, names: list[str]) -> None:
    seen = set()
    for n in names:
        if n in seen:
            raise InputError(path, f"{what} '{n}' appears twice", fix="give each entry its own name")
        seen.add(n)


def expand(sweep: SweepFile) -> list[Cell]:
    """Every cell, in file order; targets are validated here (an unknown one is refused before any work)."""
    from edge_inception.targets import get_target

    cells = []
    for model in sweep.model_entries():
        for name in sweep.targets:
            if not get_target(name).is_quantized:  # recipes and methods do not apply: one cell
                cells.append(Cell(model, name, None, None))
                continue
            for recipe in sweep.recipes:
                for method in sweep.method_entries():
                    cells.append(Cell(model, name, recipe, method))
    return cells
