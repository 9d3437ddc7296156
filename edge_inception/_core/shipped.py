"""Where the data that ships with edge-inception lives: the target profiles (top-level ``targets/``) and
the calibration data and recipes (top-level ``calibration/``) of the repository, which a wheel carries
inside the package as ``edge_inception/shipped_targets`` and ``edge_inception/shipped_calibration``
(setup.py maps them).

    shipped_dir("targets") / "tflite-int8.toml"
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_dir(name: str) -> Path:
    """``name`` is 'targets' or 'calibration': the wheel's copy, else the source checkout's folder."""
    inside = _PACKAGE / f"shipped_{name}"
    return inside if inside.is_dir() else _PACKAGE.parent / name
