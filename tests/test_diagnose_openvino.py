"""OpenVINO tracer: the local pass quantizes an op's float output exactly as the IR's own FakeQuantize does.

The local error of a layer is its op fed the float reference, its output quantized outside the runtime
with that FakeQuantize's range. Fed the very values the int8 model computes, the local pass must give
the accumulated pass's tensor back: a signed range (OpenVINO's residual projections of
inception-resnet-mini) once had its positive half clipped to zero there, and read 4-11 dB local
against 20-24 dB accumulated.
"""

from __future__ import annotations

import numpy as np
import pytest


def _ir(path, w, b, lo, hi):
    """x (N, 8) -> FakeQuantize [0, 1] -> MatMul w + b -> FakeQuantize [lo, hi] -> MatMul -> output."""
    import openvino as ov
    from openvino import opset13 as ops

    def fq(v, low, high, name):
        c = [ops.constant(np.float32(t)) for t in (low, high, low, high)]
        return ops.fake_quantize(v, *c, 256, name=name)

    x = ops.parameter([-1, 8], ov.Type.f32, name="x")
    q_in = fq(x, 0.0, 1.0, "fq_in")
    mid = ops.add(ops.matmul(q_in, ops.constant(w), False, False), ops.constant(b), name="proj")
    q_mid = fq(mid, lo, hi, "fq_signed")
    out = ops.matmul(q_mid, ops.constant(np.ones((w.shape[1], 2), np.float32)), False, False, name="head")
    ov.save_model(ov.Model([out], [x], "tiny"), str(path), compress_to_fp16=False)
    return path


@pytest.mark.parametrize("lo, hi", [(-1.0, 127 / 128), (-0.37, 1.21)], ids=["symmetric", "asymmetric"])
def test_local_pass_fed_the_models_own_values_gives_the_accumulated_tensor(tmp_path, lo, hi):
    from edge_inception.diagnose.trace_openvino import OpenVINOTracer

    rng = np.random.default_rng(0)
    w = rng.normal(scale=0.3, size=(8, 16)).astype(np.float32)
    b = rng.normal(scale=0.1, size=16).astype(np.float32)
    tracer = OpenVINOTracer(_ir(tmp_path / "tiny.xml", w, b, lo, hi), threads=1)
    key = next(p.key for p in tracer.points if not p.reads_input)
    point = next(p for p in tracer.points if p.key == key)
    assert (point.qmin, point.qmax) == (0, 255)  # FakeQuantize's integers: 0..levels-1, lo at 0

    x = rng.uniform(0, 1, size=(64, 8)).astype(np.float32)
    acc = tracer.accumulated(x)[key]
    assert acc.min() < -0.2 and acc.max() > 0.2  # a signed tensor, both halves used
    tracer.prepare_local([key])
    # what its readers are fed: its producer's float output on the int8 model's own input
    x_q = np.round(np.clip(x, 0, 1) * 255) / 255
    feed = x_q @ w + b
    local = tracer.local(x, {key: feed})[key]
    step = (hi - lo) / 255
    assert np.abs(local - acc).max() <= step * 1.001  # at most a rounding tie apart (float32 vs float64)
    assert np.mean(np.isclose(local, acc, atol=step / 100)) > 0.99
