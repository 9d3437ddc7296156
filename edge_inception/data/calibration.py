"""One calibration set, adapted to each quantization library's contract.

    calib = CalibrationSet(source, spec, samples=500)
    converter.representative_dataset = calib.tflite_representative_dataset   # TFLite converter

Images stream from the source a batch at a time and are preprocessed exactly as for evaluation.
Image files are decoded once up front (and dropped): a file that cannot be decoded is bad input,
named before any conversion, not an exception inside a converter that reports a failed target.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from edge_inception.data.readers import FolderSource, ImageSource
from edge_inception.models.spec import ModelSpec


class CalibrationSet:
    def __init__(self, source: ImageSource, spec: ModelSpec, *, samples: int | None = None, batch_size: int = 32):
        self.source = source
        self.spec = spec
        self.samples = min(samples or len(source), len(source))
        self.batch_size = batch_size
        if isinstance(source, FolderSource):
            for _ in self.float_batches():  # decode every calibration image once; raises InputError naming it
                pass

    def __len__(self) -> int:
        return self.samples

    def float_batches(self) -> Iterator[np.ndarray]:
        """Preprocessed float32 batches in the model's layout (NHWC, or NCHW for PyTorch), ``samples`` in all."""
        left = self.samples
        for images, _ in self.source.batches(self.batch_size):
            if left <= 0:
                return
            images = images[:left]
            left -= len(images)
            yield self.spec.model_input(images)

    def tflite_representative_dataset(self) -> Iterator[list[np.ndarray]]:
        """The TFLite converter's contract: a generator of single-sample input lists."""
        for batch in self.float_batches():
            for x in batch:
                yield [x[None]]

    def to_dict(self) -> dict:
        return {"source": self.source.name, "samples": self.samples}
