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


def named_tomls(name: str, load) -> dict:
    """Every ``*.toml`` under the shipped ``name`` folder, then under ``./name`` of the working directory,
    loaded by ``load(path)`` (which returns an object with a ``.name``), keyed by name: a user's file
    replaces a shipped one of the same name. A file whose ``name`` differs from its stem is refused."""
    from edge_inception._core.errors import InputError

    found: dict = {}
    for d in (shipped_dir(name), Path.cwd() / name):
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                item = load(f)
                if item.name != f.stem:
                    raise InputError(f, f"declares name '{item.name}' but the file is {f.name}",
                                     fix=f"rename the file to {item.name}.toml or fix 'name'")
                found[item.name] = item
    return found
