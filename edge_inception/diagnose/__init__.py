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

from edge_inception.diagnose.api import diagnose

__all__ = ["diagnose"]
