"""One calibration set, adapted to each quantization library's contract, carrying its recipe's range
method and bias correction so every quantizer reads them from the same place.

    calib = CalibrationSet(source, spec, samples=500, method="percentile", percentile=99.99)
    converter.representative_dataset = calib.tflite_representative_dataset   # TFLite converter
    calib.method, calib.bias_correction, calib.fingerprint                    # read by quantizers/*.py

Recipes (edge_inception/calibration_recipes) choose the images and build this; the images stream from
the source a batch at a time and are preprocessed exactly as for evaluation. They are read once up
front, to fingerprint them (sha256 of the raw uint8 pixels, in order) and so that a file that cannot be
decoded is bad input, named before any conversion, not an exception inside a converter that reports a
failed target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from edge_inception.data.readers import ImageSource
from edge_inception.models.spec import ModelSpec


class CalibrationSet:
    def __init__(self, source: ImageSource, spec: ModelSpec, *, samples: int | None = None, batch_size: int = 32,
                 method: str = "library", percentile: float | None = None, bias_correction: str = "library",
                 recipe: dict | None = None):
        self.source = source
        self.spec = spec
        self.samples = min(samples or len(source), len(source))
        self.batch_size = batch_size
        # The recipe's words (calibration_recipes/schema.py); each quantizer maps them to its library's call
        # through calibration_recipes/methods.py, where an unsupported one was refused before any work.
        self.method = method
        self.percentile = percentile
        self.bias_correction = bias_correction
        self.recipe = dict(recipe or {})
        self.fingerprint = self._fingerprint()  # decodes every image of a folder once; InputError names a bad one

    def __len__(self) -> int:
        return self.samples

    def _raw_batches(self) -> Iterator[np.ndarray]:
        left = self.samples
        for images, _ in self.source.batches(self.batch_size):
            if left <= 0:
                return
            images = images[:left]
            left -= len(images)
            yield images

    def _fingerprint(self) -> str:
        h = hashlib.sha256()
        for images in self._raw_batches():
            h.update(np.ascontiguousarray(images, np.uint8).tobytes())
        return h.hexdigest()

    def float_batches(self) -> Iterator[np.ndarray]:
        """Preprocessed float32 batches in the model's layout (NHWC, or NCHW for PyTorch), ``samples`` in all."""
        for images in self._raw_batches():
            yield self.spec.model_input(images)

    def tflite_representative_dataset(self) -> Iterator[list[np.ndarray]]:
        """The TFLite converter's contract: a generator of single-sample input lists."""
        for batch in self.float_batches():
            for x in batch:
                yield [x[None]]

    def to_dict(self) -> dict:
        return {"source": self.source.name, "samples": self.samples, **self.recipe, "batch_size": self.batch_size,
                "method": self.method, **({"percentile": self.percentile} if self.percentile is not None else {}),
                "bias_correction": self.bias_correction, "fingerprint": self.fingerprint}
