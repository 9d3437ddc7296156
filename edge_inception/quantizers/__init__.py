"""Quantizers, keyed by (library, source kind) and registered where defined: one module per library for
post-training quantization, and the QAT modules register the trained models' kinds ('qat-keras',
'qat-torch') the same way, so the pipeline turns every int8 target into an artifact with one call.

    info = quantize(loaded_model, dest, target=target, calibration=calib)   # dict for the report
    QUANTIZERS.keys()   # [('nncf', 'keras'), ..., ('tflite', 'qat-keras'), ('tflite', 'torch')]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge_inception._core.registry import Registry

# The QAT trainers register their trained models' kinds from their own modules, which are imported by
# the time such a model exists (edge_inception.qat.train_qat).
QUANTIZERS: Registry[Callable] = Registry("quantizer", package=__name__)


def register_quantizer(library: str, *kinds: str):
    """Register ``fn(source, dest, *, target, calibration) -> info`` for ``library`` and each source kind."""
    return QUANTIZERS.register(*((library, kind) for kind in kinds))


def quantize(source, dest: Path, *, target, calibration, keep_float=None) -> dict:
    """``source`` is a LoadedModel, or a trained QAT model (its ``kind`` says which). ``keep_float``: a
    fallback plan (edge_inception.diagnose.keep.KeepFloat: the source layers left float, and the methods
    that name them in each backend), for the quantizers that can; called, never imported from here."""
    library = target.quantizer["library"]
    fn = QUANTIZERS.get((library, source.kind),
                        fix=f"{library} quantizes: {', '.join(k for lib, k in QUANTIZERS if lib == library)}")
    if not keep_float:
        return fn(source, Path(dest), target=target, calibration=calibration)
    import inspect

    from edge_inception._core.errors import UsageError

    keep_float.refuse(target)
    if "keep_float" not in inspect.signature(fn).parameters:
        raise UsageError(f"{library} quantization of {source.kind} models cannot keep layers float",
                         fix="drop --keep-float/--max-drop for this target")
    return fn(source, Path(dest), target=target, calibration=calibration, keep_float=keep_float)
