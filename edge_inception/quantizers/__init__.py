"""Quantizers, one module per library, registered where defined.

    quantize = get_quantizer("tflite")
    info = quantize(loaded_model, dest, target=target, calibration=calib)   # dict for the report
"""

from __future__ import annotations

from collections.abc import Callable

from edge_inception._core.errors import UsageError
from edge_inception._core.registry import import_submodules

_QUANTIZERS: dict[str, Callable] = {}


def register_quantizer(library: str):
    def deco(fn: Callable) -> Callable:
        if library in _QUANTIZERS:
            raise ValueError(f"quantizer {library!r} is registered twice")
        _QUANTIZERS[library] = fn
        return fn

    return deco


def get_quantizer(library: str) -> Callable:
    import_submodules(__name__)
    if library not in _QUANTIZERS:
        raise UsageError(f"no quantizer for library '{library}'", fix=f"known: {', '.join(sorted(_QUANTIZERS))}")
    return _QUANTIZERS[library]
