"""ONNX Runtime (CPU execution provider) for .onnx files, float or QDQ int8.

    session = get_runtime("onnxruntime").load("model.onnx", threads=2)
    logits = session.run(float32_nhwc_batch)

QDQ models take and return float32, so no I/O quantization is needed here. A model whose input
is NCHW (its embedded ModelSpec says so) is fed transposed, so callers always pass NHWC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError
from edge_inception._core.host import host_facts
from edge_inception.runtimes import RuntimeBase, register_runtime, run_fixed_batch


class OnnxRuntimeSession:
    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # Benchmarks pin threads explicitly: ORT's default takes every core. One model, one stream of
        # batches: inter-op parallelism only adds a second pool competing for the same cores.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # errors only: ORT warns about unused initializers on every load
        try:
            self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own Exception subclasses (InvalidProtobuf, Fail, ...)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InputError(path, f"is not an ONNX model ONNX Runtime can load ({first[:200]})",
                             fix="pass an .onnx file") from None
        inputs = self._sess.get_inputs()
        if len(inputs) != 1:
            raise InputError(path, f"has {len(inputs)} inputs; edge-inception runs models with one image input")
        self._input = inputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        self.path = path
        self.facts = {"engine": "onnxruntime", "version": ort.__version__, "threads": threads,
                      "providers": self._sess.get_providers(), "input_dtype": _dtype_name(inputs[0].type),
                      **host_facts()}

    def run(self, batch: np.ndarray) -> np.ndarray:
        # The batch comes in the artifact's own layout (ModelSpec.model_input), as for every runtime.
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return run_fixed_batch(lambda b: np.asarray(self._sess.run(None, {self._input: b})[0], dtype=np.float32),
                               x, self.input_shape[0] if self.input_shape else None)


def _dtype_name(onnx_type: str) -> str:
    # ORT spells tensor types 'tensor(float)'; report numpy names like the other runtimes.
    inner = onnx_type.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32", "double": "float64", "float16": "float16"}.get(inner, inner)


@register_runtime
class OnnxRuntime(RuntimeBase):
    name = "onnxruntime"
    format = "onnx"

    def load(self, path, *, threads: int) -> OnnxRuntimeSession:
        return OnnxRuntimeSession(Path(path), threads)
