"""edge-inception: quantize Inception-family CNNs to int8, export, verify and benchmark.

    import edge_inception as ei
    report = ei.convert(targets="tflite-int8")          # the shipped inception-mini, sample data
    ei.list_targets(), ei.list_models(), ei.list_recipes(), ei.get_recipe("robust")
    ei.benchmark(["m.tflite"], device="ssh://pi@raspberrypi.local"), ei.check_device("pi")
    ei.sweep("sweep.toml", out="sweep-out")             # many cells on Ray, cached by content hash

Heavy frameworks load only when a function needs them, so importing the package is fast.
"""

import os as _os

# Must be set before TensorFlow is first imported anywhere in the process. Level 3 also hides the
# "failed call to cuInit" line every CPU-only machine prints; real failures still raise in Python.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

_LAZY = {
    "convert": ("edge_inception.api", "convert"),
    "evaluate": ("edge_inception.measure", "evaluate"),
    "benchmark": ("edge_inception.measure", "benchmark"),
    "gate": ("edge_inception.gating", "gate"),
    "sweep": ("edge_inception.sweep", "sweep"),
    "diagnose": ("edge_inception.diagnose", "diagnose"),
    "open_artifact": ("edge_inception.artifacts", "open_artifact"),
    "load_model": ("edge_inception.models.loader", "load_model"),
    "list_targets": ("edge_inception.targets", "list_targets"),
    "get_target": ("edge_inception.targets", "get_target"),
    "list_recipes": ("edge_inception.calibration_recipes", "list_recipes"),
    "get_recipe": ("edge_inception.calibration_recipes", "resolve_recipe"),
    "list_models": ("edge_inception.models.zoo", "list_models"),
    "create_model": ("edge_inception.models.zoo", "create_model"),
    "open_source": ("edge_inception.data.readers", "open_source"),
    "inspect_model": ("edge_inception.inspect", "inspect_model"),
    "check_device": ("edge_inception.devices", "check_device"),
    "list_devices": ("edge_inception.devices", "list_devices"),
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'edge_inception' has no attribute {name!r}")
