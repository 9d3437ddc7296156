"""Typed options of `convert`, grouped by the stage that reads them and range-checked once, here.

    opts = ConvertOptions.from_keywords(targets="tflite-int8", threads=4, method="qat", train_data="fashion-mnist")
    opts.measure.threads, opts.qat.method, opts.data.calibration_samples

``edge_inception.convert`` keeps its keyword-only signature as the front; the CLI passes its flags by
the same names; each stage receives only its group (as ONNX Runtime's StaticQuantConfig mirrors
quantize_static's keywords). A value out of range is a UsageError naming the option; the ranges live
in one table, edge_inception/_core/limits.py, which eval and bench use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from edge_inception._core.errors import UsageError
from edge_inception._core.limits import check_input_shape, check_ranges


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    framework: str = "keras"                     # which twin of a zoo model
    preprocessing: str | None = None             # unit | inception | imagenet | raw
    weights: str | Path | None = None            # PyTorch state_dict for a factory
    input_shape: tuple[int, ...] | None = None   # C,H,W (or H,W,C) where it cannot be inferred
    trust_remote_code: bool = False              # let code inside the model file run (docs/security.md)

    def __post_init__(self) -> None:
        if self.framework not in ("keras", "torch"):
            raise UsageError(f"unknown --framework '{self.framework}'", fix="use keras or torch")
        check_input_shape(self.input_shape)


@dataclass(frozen=True, kw_only=True)
class DataOptions:
    calibration: str | Path | None = None
    calibration_samples: int | None = None
    calibration_recipe: str | Path | None = None   # a recipe NAME or FILE, for every int8 target
    eval_data: str | Path | None = None
    eval_limit: int | None = None

    def __post_init__(self) -> None:
        check_ranges(calibration_samples=self.calibration_samples, eval_limit=self.eval_limit)


@dataclass(frozen=True, kw_only=True)
class MeasureOptions:
    threads: int = 2
    latency_runs: int = 50

    def __post_init__(self) -> None:
        check_ranges(threads=self.threads, latency_runs=self.latency_runs)


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    out: str | Path = "edge-inception-out"
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class QatOptions:
    method: str = "ptq"                          # ptq | qat
    train_data: str | Path | None = None
    epochs: int = 1
    learning_rate: float | None = None
    train_limit: int | None = None
    distill: bool | None = None                  # None: yes, for QAT
    compare_ptq: bool = False

    def __post_init__(self) -> None:
        if self.method not in ("ptq", "qat"):
            raise UsageError(f"unknown --method '{self.method}'",
                             fix="use ptq (post-training) or qat (quantization-aware training)")
        check_ranges(epochs=self.epochs, train_limit=self.train_limit, learning_rate=self.learning_rate)


@dataclass(frozen=True, kw_only=True)
class DeviceOptions:
    device: str | tuple[str, ...] | None = None  # URLs (ssh://, adb[:SERIAL], local) or declared names
    accept_new_host_key: bool = False            # SSH: accept (and remember) an unknown host key

    def __post_init__(self) -> None:
        devices = (self.device,) if isinstance(self.device, str) else tuple(self.device or ())
        object.__setattr__(self, "device", devices)


@dataclass(frozen=True, kw_only=True)
class FallbackOptions:
    """Diagnosis and float fallback of int8 targets (edge_inception/diagnose)."""

    keep_float: tuple[str, ...] = ()             # source-layer patterns kept float (with their groups)
    max_drop: float | None = None                # budget: points of top-1 against float
    min_agreement: float | None = None           # budget: share of images with float's top-1
    diagnose: bool = False                       # write diagnose.json/html beside the report

    @property
    def asked(self) -> bool:
        return bool(self.keep_float or self.diagnose or self.max_drop is not None or self.min_agreement is not None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep_float", tuple(self.keep_float or ()))
        check_ranges(max_drop=self.max_drop, min_agreement=self.min_agreement)
        if self.keep_float and (self.max_drop is not None or self.min_agreement is not None):
            raise UsageError("--keep-float writes the plan by hand; --max-drop/--min-agreement search for one",
                             fix="use one or the other")


_GROUPS = {"model": ModelOptions, "data": DataOptions, "measure": MeasureOptions, "output": OutputOptions,
           "qat": QatOptions, "device": DeviceOptions, "fallback": FallbackOptions}


@dataclass(frozen=True, kw_only=True)
class ConvertOptions:
    targets: str | list[str] = "tflite-int8"
    target_files: tuple[str | Path, ...] = ()
    jobs: int = 1                                # targets converted at once, each in a worker process
    model: ModelOptions = field(default_factory=ModelOptions)
    data: DataOptions = field(default_factory=DataOptions)
    measure: MeasureOptions = field(default_factory=MeasureOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    qat: QatOptions = field(default_factory=QatOptions)
    device: DeviceOptions = field(default_factory=DeviceOptions)
    fallback: FallbackOptions = field(default_factory=FallbackOptions)

    def __post_init__(self) -> None:
        check_ranges(jobs=self.jobs)
        if self.jobs > 1 and (self.qat.method == "qat" or self.fallback.asked):
            raise UsageError(f"--jobs {self.jobs} converts targets in separate processes, but QAT and "
                             "--diagnose/--keep-float/--max-drop/--min-agreement share one model across targets",
                             fix="drop --jobs")

    @classmethod
    def from_keywords(cls, **keywords) -> ConvertOptions:
        """Flat keywords (convert's, the CLI's flags) -> the grouped options; an unknown one is refused."""
        groups = {}
        for name, group in _GROUPS.items():
            names = {f.name for f in fields(group)}
            groups[name] = group(**{k: keywords.pop(k) for k in list(keywords) if k in names})
        top = {f.name for f in fields(cls)} - set(_GROUPS)
        unknown = set(keywords) - top
        if unknown:
            raise TypeError(f"convert() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        if "target_files" in keywords:
            keywords["target_files"] = tuple(keywords["target_files"] or ())
        return cls(**keywords, **groups)
