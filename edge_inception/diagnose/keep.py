"""A fallback plan as the quantizers receive it: the source layers kept float, and how each backend turns
them into its own names. The quantizers call these methods on the object they are handed, so they never
import diagnose (it sits above them: tests/test_layers.py).

    keep = KeepFloat(["mix_concat", "head_conv"])
    quantize(lm, dest, target=t, calibration=calib, keep_float=keep)
"""

from __future__ import annotations

import numpy as np


class KeepFloat(list):
    """Source layer names (a list, in plan order) plus their compilation per quantizer backend."""

    def refuse(self, target) -> None:
        """Refuse a profile whose device runs integer operators only (the NPU profiles)."""
        from edge_inception.diagnose.plan import refuse_fallback

        refuse_fallback(target)

    def tflite(self, converter, lm, calibration) -> tuple[bytes, list[str]]:
        """The int8 flatbuffer with these layers float (an ai-edge-quantizer recipe on the converter's float
        model), and the TFLite ops left unquantized."""
        from edge_inception.diagnose.compile import tflite_keep_float

        return tflite_keep_float(converter, lm, list(self), calibration)

    def pt2e_modules(self) -> list[str]:
        """PyTorch module paths whose own operators litert-torch's PT2E quantizer is to leave float: a row
        is named after its module ('b2.0.1') or, for an operator called in a module's forward, 'module/op'
        (the module's own operators then stay float with it)."""
        return list(dict.fromkeys(name.split("/")[0] for name in self))

    def onnxruntime(self, proto, lm) -> list[str]:
        """ONNX Runtime's nodes_to_exclude in the model quantize_static reads."""
        from edge_inception.diagnose.compile import ort_nodes_to_exclude
        from edge_inception.diagnose.names import SourceGraph

        return ort_nodes_to_exclude(proto, SourceGraph.of(lm), list(self))

    def nncf(self, ov_model, lm, *, images: np.ndarray) -> list[str]:
        """NNCF IgnoredScope names in the OpenVINO model it quantizes (matched by value)."""
        from edge_inception.diagnose.compile import nncf_ignored_names
        from edge_inception.diagnose.names import SourceGraph

        return nncf_ignored_names(ov_model, lm, SourceGraph.of(lm), list(self), images=images)
