"""Where int8 loses accuracy: every quantized tensor of an artifact against the float source model, keyed
by source layer, Inception module and branch, in LiteRT, ONNX Runtime and OpenVINO.

    from edge_inception import diagnose
    result = diagnose(["m.tflite-int8.tflite", "m.onnx-int8.onnx"], reference="model.keras",
                      data="fashion-mnist", samples=200, out="diag/")
    result["runtimes"][0]["layers"][0]      # the worst layer: local and accumulated SQNR, cosine, ...
    result["findings"]                      # concatenations whose one scale starves a branch, ...

    edge-inception diagnose m.tflite-int8.tflite --reference model.keras --data fashion-mnist --samples 200

Modules: names.py (the name map), stats.py (per-batch statistics), tracers.py and trace_*.py (one per
artifact format), run.py (one artifact), findings.py (Inception-aware findings), render.py (table, HTML).
"""

import sys as _sys
import types as _types

from edge_inception.diagnose.api import diagnose

__all__ = ["diagnose"]


class _CallablePackage(_types.ModuleType):
    """``edge_inception.diagnose`` is both this package and the public function: once the package is
    imported, Python sets it as the parent's attribute, hiding the lazy function of the same name, so the
    package itself calls ``diagnose``."""

    def __call__(self, *args, **kwargs):
        return diagnose(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
