"""LiteRT (ai-edge-litert) runtime for .tflite files, float or quantized.

Quantized inputs are fed quantized with the input tensor's own scale and zero point, and quantized
outputs are dequantized, so callers always pass and receive float32 tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError
from edge_inception._core.host import host_facts
from edge_inception._core.native import quiet_native
from edge_inception.runtimes import RuntimeBase, register_runtime


class LiteRTSession:
    def __init__(self, path: Path, threads: int):
        from ai_edge_litert import interpreter as litert

        try:
            with quiet_native():
                self._interp = litert.Interpreter(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as e:
            raise InputError(path, f"is not a TFLite model LiteRT can load ({str(e).splitlines()[0]})",
                             fix="pass a .tflite file") from None
        self._inp = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        self._batch = None
        # A model exported with a static batch (litert-torch) cannot be resized: run it sample by sample.
        # (shape_signature holds -1 where a dimension is dynamic.)
        sig = self._inp.get("shape_signature")
        self._fixed_batch = int(sig[0]) if sig is not None and len(sig) and sig[0] != -1 else None
        dims = sig if sig is not None and len(sig) else self._inp["shape"]
        self.input_shape = tuple(None if d == -1 else int(d) for d in dims)
        self.path = path
        self.facts = {"engine": "ai-edge-litert", "version": _version("ai-edge-litert"), "threads": threads,
                      "input_dtype": np.dtype(self._inp["dtype"]).name, **host_facts()}

    def _ensure_batch(self, n: int) -> None:
        if self._batch != n:
            if self._fixed_batch is None:
                shape = list(self._inp["shape"])
                shape[0] = n
                self._interp.resize_tensor_input(self._inp["index"], shape)
            with quiet_native():  # XNNPACK announces itself on the first allocation
                self._interp.allocate_tensors()
            self._inp = self._interp.get_input_details()[0]
            self._out = self._interp.get_output_details()[0]
            self._batch = n

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self._fixed_batch is not None and len(batch) != self._fixed_batch:
            step = self._fixed_batch
            return np.concatenate([self.run(batch[i : i + step]) for i in range(0, len(batch), step)])
        self._ensure_batch(len(batch))
        x = batch
        dtype = np.dtype(self._inp["dtype"])
        if dtype != np.float32:
            scale, zp = self._inp["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(batch / scale) + zp, info.min, info.max)
        self._interp.set_tensor(self._inp["index"], x.astype(dtype, copy=False))  # float input: no copy
        self._interp.invoke()
        y = self._interp.get_tensor(self._out["index"])
        if y.dtype != np.float32:
            scale, zp = self._out["quantization"]
            y = (y.astype(np.float32) - zp) * scale
        return y


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


@register_runtime
class LiteRTRuntime(RuntimeBase):
    name = "litert"
    format = "tflite"

    def load(self, path, *, threads: int) -> LiteRTSession:
        return LiteRTSession(Path(path), threads)
