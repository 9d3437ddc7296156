"""Typed options of `convert`, grouped by the stage that reads them and range-checked once, here.

    opts = ConvertOptions.from_keywords(targets="tflite-int8", threads=4, method="qat", train_data="fashion-mnist")
    opts.measure.threads, opts.qat.method, opts.data.calibration_samples

``edge_inception.convert`` keeps its keyword-only signature as the front; the CLI passes its flags by
the same names; each stage receives only its group (as ONNX Runtime's StaticQuantConfig mirrors
quantize_static's keywords). A value out of range is a UsageError naming the option.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path

from edge_inception._core.errors import UsageError

MAX_THREADS = 1024  # more than any machine here has cores; a typo like 20000 is refused before any work


def _at_least(name: str, value, low: int | float, *, high: int | float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low or (
            high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise UsageError(f"--{name.replace('_', '-')} must be {span}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    framework: str = "keras"                     # which twin of a zoo model
    preprocessing: str | None = None             # unit | inception | imagenet | raw
    weights: str | Path | None = None            # PyTorch state_dict for a factory
    input_shape: tuple[int, ...] | None = None   # C,H,W (or H,W,C) where it cannot be inferred

    def __post_init__(self) -> None:
        if self.framework not in ("keras", "torch"):
            raise UsageError(f"unknown --framework '{self.framework}'", fix="use keras or torch")
        if self.input_shape is not None and (len(self.input_shape) != 3 or any(
                not isinstance(d, int) or d < 1 for d in self.input_shape)):
            raise UsageError(f"--input-shape {','.join(map(str, self.input_shape))} is not an image shape",
                             fix="write three positive sizes, C,H,W, e.g. 3,299,299")


@dataclass(frozen=True, kw_only=True)
class DataOptions:
    calibration: str | Path | None = None
    calibration_samples: int | None = None
    eval_data: str | Path | None = None
    eval_limit: int | None = None

    def __post_init__(self) -> None:
        _at_least("calibration_samples", self.calibration_samples, 1)
        _at_least("eval_limit", self.eval_limit, 1)


@dataclass(frozen=True, kw_only=True)
class MeasureOptions:
    threads: int = 2
    latency_runs: int = 50

    def __post_init__(self) -> None:
        _at_least("threads", self.threads, 1, high=MAX_THREADS)
        _at_least("latency_runs", self.latency_runs, 1)


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
        _at_least("epochs", self.epochs, 1)
        _at_least("train_limit", self.train_limit, 1)
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise UsageError(f"--learning-rate must be positive, not {self.learning_rate}")


@dataclass(frozen=True, kw_only=True)
class DeviceOptions:
    device: str | tuple[str, ...] | None = None  # URLs (ssh://, adb[:SERIAL], local) or declared names
    accept_new_host_key: bool = False            # SSH: accept (and remember) an unknown host key

    def __post_init__(self) -> None:
        devices = (self.device,) if isinstance(self.device, str) else tuple(self.device or ())
        object.__setattr__(self, "device", devices)


_GROUPS = {"model": ModelOptions, "data": DataOptions, "measure": MeasureOptions, "output": OutputOptions,
           "qat": QatOptions, "device": DeviceOptions}


@dataclass(frozen=True, kw_only=True)
class ConvertOptions:
    targets: str | list[str] = "tflite-int8"
    target_files: tuple[str | Path, ...] = ()
    model: ModelOptions = field(default_factory=ModelOptions)
    data: DataOptions = field(default_factory=DataOptions)
    measure: MeasureOptions = field(default_factory=MeasureOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    qat: QatOptions = field(default_factory=QatOptions)
    device: DeviceOptions = field(default_factory=DeviceOptions)

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

    def to_keywords(self) -> dict:
        """The inverse of from_keywords (for reproducing a run)."""
        flat = {k: v for k, v in dataclasses.asdict(self).items() if k not in _GROUPS}
        for name in _GROUPS:
            flat.update(dataclasses.asdict(getattr(self, name)))
        return flat
