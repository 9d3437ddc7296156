"""Exporters (float artifacts) and artifact verifiers, one module per format, registered where defined.

    export = get_exporter("tflite")
    export(loaded_model, dest, target=get_target("onnx-fp32"))
    violations = get_verifier("tflite")(path, target)    # [] when the artifact meets its profile
"""

from __future__ import annotations

from collections.abc import Callable

from edge_inception._core.errors import UsageError
from edge_inception._core.registry import import_submodules

_EXPORTERS: dict[str, Callable] = {}
_VERIFIERS: dict[str, Callable] = {}
SUFFIX = {"tflite": ".tflite", "onnx": ".onnx", "openvino": ".xml"}


def artifact_files(path) -> list:
    """Every file an artifact consists of: an IR's .xml and .bin, an ONNX file and its external data."""
    from pathlib import Path

    path = Path(path)
    companions = {".xml": [path.with_suffix(".bin")], ".onnx": [path.with_name(path.name + ".data")]}
    return [path, *(p for p in companions.get(path.suffix, []) if p.exists())]


def artifact_size(path) -> int:
    return sum(p.stat().st_size for p in artifact_files(path))


def _register(table: dict, kind: str, fmt: str):
    def deco(fn: Callable) -> Callable:
        if fmt in table:
            raise ValueError(f"{kind} for {fmt!r} is registered twice")
        table[fmt] = fn
        return fn

    return deco


def register_exporter(fmt: str):
    return _register(_EXPORTERS, "exporter", fmt)


def register_verifier(fmt: str):
    return _register(_VERIFIERS, "verifier", fmt)


def _get(table: dict, kind: str, fmt: str) -> Callable:
    import_submodules(__name__)
    if fmt not in table:
        raise UsageError(f"no {kind} for format '{fmt}'", fix=f"known: {', '.join(sorted(table))}")
    return table[fmt]


def get_exporter(fmt: str) -> Callable:
    return _get(_EXPORTERS, "exporter", fmt)


def get_verifier(fmt: str) -> Callable:
    return _get(_VERIFIERS, "verifier", fmt)
