"""OpenVINO runtime for IR files (.xml + .bin), float or NNCF-quantized, on the CPU plugin.

    session = get_runtime("openvino").load("model.xml", threads=2)
    logits = session.run(float32_nhwc_batch)     # any batch size: the IR's batch is dynamic

Compiled for latency with one stream and exactly ``threads`` inference threads, in f32: the CPU plugin
would otherwise run float models in bf16 on AMX CPUs and f16 on ARM, and the float reference would
change with the host.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError
from edge_inception._core.host import host_facts
from edge_inception.runtimes import RuntimeBase, register_runtime, run_fixed_batch

DEVICE = "CPU"


class OpenVINOSession:
    def __init__(self, path: Path, threads: int):
        import openvino as ov

        from edge_inception.formats.openvino import read_ir

        model = read_ir(path)
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise InputError(path, f"has {len(model.inputs)} inputs and {len(model.outputs)} outputs",
                             fix="edge-inception runs image classifiers with one input and one output")
        core = ov.Core()
        config = {
            ov.properties.inference_num_threads: threads,
            ov.properties.hint.performance_mode: ov.properties.hint.PerformanceMode.LATENCY,
            ov.properties.num_streams: 1,
            ov.properties.hint.inference_precision: ov.Type.f32,
        }
        try:
            self._compiled = core.compile_model(model, DEVICE, config)
        except RuntimeError as e:
            first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
            raise InputError(path, f"cannot be compiled for the OpenVINO {DEVICE} plugin ({first[:200]})") from None
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.output(0)
        # The H, W, C the IR was built for; OpenVINO would otherwise reinterpret a wrongly shaped batch.
        self._image_shape = tuple(d.get_length() if d.is_static else None
                                  for d in self._compiled.input(0).get_partial_shape()[1:])
        self.input_shape = tuple(d.get_length() if d.is_static else None
                                 for d in self._compiled.input(0).get_partial_shape())
        self.path = path
        self.facts = {"engine": "openvino", "version": ov.get_version(), "threads": threads, "device": DEVICE,
                      "device_name": core.get_property(DEVICE, "FULL_DEVICE_NAME"),
                      "inference_precision": "f32", "streams": 1, **host_facts()}

    def run(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if len(x.shape) != len(self._image_shape) + 1 or any(
                want is not None and got != want for got, want in zip(x.shape[1:], self._image_shape, strict=True)):
            dims = ", ".join("?" if d is None else str(d) for d in self._image_shape)
            raise ValueError(f"{self.path}: expects a batch of shape (N, {dims}), got {x.shape}")
        return run_fixed_batch(self._infer, x, self.input_shape[0])

    def _infer(self, x: np.ndarray) -> np.ndarray:
        self._request.infer({0: x})
        # The request reuses its output buffer on the next call: copy out.
        return np.array(self._request.get_tensor(self._output).data, dtype=np.float32, copy=True)


@register_runtime
class OpenVINORuntime(RuntimeBase):
    name = "openvino"
    format = "openvino"

    def load(self, path, *, threads: int) -> OpenVINOSession:
        return OpenVINOSession(Path(path), threads)
