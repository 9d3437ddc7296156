"""Numeric options range-checked in one place, before any work: command-line options, the numbers in
and an --input-shape (a target profile's numbers are ranged by its schema, targets/schema.py).

    check_ranges(threads=2, latency_runs=50, calibration_samples=None)    # UsageError naming the flag
    check_input_shape((1, 0, -5))                                         # UsageError: dimensions

click's IntRange stops a 0 at the command line, but not a billion threads (two conversions ran before
a runtime refused it) nor the same value passed through the Python API; these checks hold for both.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from edge_inception._core.errors import UsageError


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str
    low_open: bool = False  # low itself is not allowed (a learning rate of 0)

    def holds(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        return (value > self.low if self.low_open else value >= self.low) and value <= self.high

    def text(self) -> str:
        return f"{'more than' if self.low_open else 'from'} {self.low:g} to {self.high:g} {self.unit}".strip()


# Option name (as the Python API spells it; the CLI flag is the same with dashes) -> allowed range.
OPTIONS: dict[str, Range] = {
    "threads": Range(1, 1024, "threads"),
    "latency_runs": Range(1, 1_000_000, "runs"),
    "jobs": Range(1, 256, "targets at once"),
    "calibration_samples": Range(1, 1_000_000, "images"),
    "eval_limit": Range(1, 100_000_000, "images"),
    "train_limit": Range(1, 100_000_000, "images"),
    "limit": Range(1, 100_000_000, "images"),
    "samples": Range(1, 1_000_000, "images"),  # diagnose
    "max_drop": Range(0, 100, "points of top-1"),  # convert's fallback budget
    "min_agreement": Range(0, 1, "(a share of the images)"),
    "epochs": Range(1, 10_000, "epochs"),
    "learning_rate": Range(0, 1, "", low_open=True),
    "batch": Range(1, 4096, "images"),
    "batch_size": Range(1, 4096, "images"),
    "runs": Range(1, 1_000_000, "runs"),
    "warmup": Range(0, 100_000, "runs"),
    "min_time": Range(0, 86_400, "seconds"),
    "max_time": Range(0, 86_400, "seconds", low_open=True),
    "precision": Range(0, 0.5, "(a fraction of the median)", low_open=True),
}
# CLI spellings where the flag is not the option name with dashes.
FLAGS = {"batch_size": "--batch", "eval_limit": "--eval-limit", "limit": "--limit"}

MAX_SIDE = 8192  # pixels: an image side beyond this is a typo, not an image classifier's input


def flag(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def check_ranges(**values) -> None:
    """Each given option (None means 'not set') must lie in its range; the first that does not is a
    UsageError naming its flag, the value and the range."""
    for name, value in values.items():
        if value is None:
            continue
        allowed = OPTIONS[name]
        if not allowed.holds(value):
            extra = f"; this machine has {os.cpu_count()} cores" if name == "threads" else ""
            raise UsageError(f"{flag(name)} {value} is out of range", fix=f"use {allowed.text()}{extra}")


def check_input_shape(shape) -> tuple[int, ...] | None:
    """--input-shape C,H,W (or N,C,H,W): positive sides up to MAX_SIDE, 1 or 3 channels."""
    if shape is None:
        return None
    dims = tuple(shape)
    written = ",".join(str(d) for d in dims)
    if len(dims) == 4:
        dims = dims[1:]
    if len(dims) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise UsageError(f"--input-shape {written} is not C,H,W", fix="write it as C,H,W, e.g. 3,299,299")
    c, h, w = dims
    if c not in (1, 3):
        raise UsageError(f"--input-shape {written}: {c} channels; edge-inception takes 1 or 3",
                         fix="write it as C,H,W, e.g. 3,299,299")
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise UsageError(f"--input-shape {written}: height and width must be 1 to {MAX_SIDE} pixels",
                         fix="write it as C,H,W, e.g. 3,299,299")
    return tuple(shape)
