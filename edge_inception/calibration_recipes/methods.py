"""What each quantization library is told for each range method and bias-correction setting, as data.

    check_supported(recipe, "tflite", where="calibration/robust.toml")   # InputError naming what tflite supports
    told("onnxruntime", method="percentile", percentile=99.99)           # {'calibrate_method': 'Percentile', ...}

A method or bias correction missing from a library's table is refused for that target before any work;
it is never replaced by another. The quantizers (quantizers/*.py) turn these names into the library's
own objects (``getattr(CalibrationMethod, name)``, ``RangeEstimatorParametersSet.<name>``) and record
what they passed in the report.

Sources, per library:
- TFLite converter: the calibrator keeps a running min and max of every tensor over the representative
  dataset (tensorflow/lite/tools/optimize/calibration); there is no other estimator and no bias correction.
- ONNX Runtime quantize_static: ``calibrate_method`` MinMax (global), Entropy (KL over a histogram),
  Percentile (of |x| over a histogram of every batch, ``extra_options['CalibPercentile']``) and
  Distribution (for float8, not a range estimator we map); no bias correction.
- NNCF quantize: ``advanced_parameters.activations_range_estimator_params``. Its default for per-tensor
  activations is MEAN_MINMAX (the mean over images of each image's min/max), weights MINMAX; QUANTILE
  statistics averaged over images for a percentile; HISTOGRAM, the L2 quantization-error search of
  torchao's HistogramObserver, for mse. Bias correction: ``fast_bias_correction`` True (its default,
  FastBiasCorrection) or False (BiasCorrection, layer by layer), or
  ``advanced_parameters.disable_bias_correction``.
"""

from __future__ import annotations

from edge_inception._core.errors import InputError

LIBRARY_NAMES = {"tflite": "the TFLite converter", "onnxruntime": "ONNX Runtime quantize_static",
                 "nncf": "NNCF quantize", "litert-torch": "litert-torch's PT2E quantizer (PyTorch to TFLite)",
                 "qat": "quantization-aware training (ranges are trained)"}

# library -> method -> the arguments it is given ("{percentile}" is the recipe's value). {} means
# "nothing is passed": the library's own default runs, which 'library' always is.
RANGE_METHODS: dict[str, dict[str, dict]] = {
    "tflite": {
        "library": {},
        "minmax": {},  # the converter's only estimator: min/max over the representative dataset
    },
    # PyTorch to TFLite: litert-torch's symmetric PT2E config brings its own observers; none is set here.
    "litert-torch": {"library": {}},
    # QAT: the calibration set only starts the ranges that training then learns.
    "qat": {"library": {}},
    "onnxruntime": {
        "library": {"calibrate_method": "MinMax"},
        "minmax": {"calibrate_method": "MinMax"},
        "percentile": {"calibrate_method": "Percentile", "extra_options": {"CalibPercentile": "{percentile}"}},
        "entropy": {"calibrate_method": "Entropy"},
    },
    "nncf": {
        "library": {},  # MEAN_MINMAX for per-tensor activations, MINMAX for weights
        "minmax": {"activations_range_estimator_params": "MINMAX"},
        "mean_minmax": {"activations_range_estimator_params": "MEAN_MINMAX"},
        "percentile": {"activations_range_estimator_params": "QUANTILE", "quantile_outlier_prob": "{outlier}"},
        "mse": {"activations_range_estimator_params": "HISTOGRAM"},
    },
}

# What 'library' resolves to, for the report: the method each library runs when told nothing.
LIBRARY_DEFAULT_METHOD = {"tflite": "minmax", "onnxruntime": "minmax", "nncf": "mean_minmax",
                          "litert-torch": "PT2E observers", "qat": "trained"}

# (profile library, source kind) -> the table above that applies, where it is not the library itself.
ROUTES = {("tflite", "torch"): "litert-torch"}


def route(library: str, kind: str, *, qat: bool = False) -> str:
    """Which row of the tables a target's calibration goes through: QAT, a PyTorch route, or the library."""
    return "qat" if qat else ROUTES.get((library, kind), library)

BIAS_CORRECTION: dict[str, dict[str, dict]] = {
    "tflite": {"library": {}, "none": {}},
    "litert-torch": {"library": {}, "none": {}},
    "qat": {"library": {}},
    "onnxruntime": {"library": {}, "none": {}},
    "nncf": {
        "library": {},  # fast_bias_correction=True
        "none": {"disable_bias_correction": True},
        "fast": {"fast_bias_correction": True},
        "full": {"fast_bias_correction": False},
    },
}
LIBRARY_DEFAULT_BIAS = {"tflite": "none", "onnxruntime": "none", "nncf": "fast", "litert-torch": "none", "qat": "none"}


def _fill(value, percentile: float | None):
    if isinstance(value, dict):
        return {k: _fill(v, percentile) for k, v in value.items()}
    if value == "{percentile}":
        return percentile
    if value == "{outlier}":  # NNCF takes the share of values outside the quantile, e.g. 99.99 -> 1e-4
        return round((100.0 - percentile) / 100.0, 12)
    return value


def told(library: str, *, method: str, percentile: float | None = None, bias_correction: str = "library") -> dict:
    """The arguments ``library`` is given for this method and bias correction (names, not objects)."""
    return {**_fill(RANGE_METHODS[library][method], percentile), **BIAS_CORRECTION[library][bias_correction]}


def supported(library: str) -> tuple[list[str], list[str]]:
    return list(RANGE_METHODS[library]), list(BIAS_CORRECTION[library])


def check_supported(recipe, library: str, *, where, target: str | None = None) -> None:
    """Refuse, up front, a recipe whose method or bias correction ``library`` cannot do."""
    methods, biases = supported(library)
    on = f" for target '{target}'" if target else ""
    if recipe.method not in methods:
        raise InputError(where, f"'method' = '{recipe.method}' is not supported by {library} "
                         f"({LIBRARY_NAMES[library]}){on}", fix=f"{library} supports: {', '.join(methods)}")
    if recipe.bias_correction not in biases:
        raise InputError(where, f"'bias_correction' = '{recipe.bias_correction}' is not supported by {library} "
                         f"({LIBRARY_NAMES[library]}){on}", fix=f"{library} supports: {', '.join(biases)}")
