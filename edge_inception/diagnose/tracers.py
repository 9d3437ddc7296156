"""What diagnosis needs from each artifact format, registered per format (one module each):
the quantized tensors ("points") with their scale and zero point, and three ways to run the artifact.

    tracer = get_tracer("tflite")(path, threads=2)
    tracer.points                        # [Point(key, op, names, scale, zero_point, ...)]
    tracer.accumulated(batch)            # {key: dequantized value}: the whole int8 model up to there
    tracer.prepare_local(keys)           # then tracer.local(batch, {key: float value}) -> {key: value}:
                                         # each op fed the float reference (quantized as the artifact
                                         # would) on every input in ``keys``, its output quantized
    tracer.twin(batch)                   # {key: value} with activations left float, or None: for the
                                         # value-matched name map where the converter dropped the names

The batch and every value are in the artifact's own layout; the driver arranges them like the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_inception._core.registry import Registry


@dataclass
class Point:
    key: str                      # the artifact's tensor name (or the quantizer node's), unique
    op: str                       # the op that produces the tensor
    names: tuple[str, ...]        # the names the artifact gives the tensor and its op
    scale: float | None
    zero_point: int | None
    qmin: int | None = -128
    qmax: int | None = 127
    reads_input: bool = False     # quantizes the model input itself
    consumers: tuple[str, ...] = ()  # op types reading the quantized tensor
    requantized_for: tuple[str, ...] = ()  # op types it is re-quantized for (a scale change before them)
    # The producer's weight and bias names: a second choice only, since converters share one constant
    # between layers whose values are equal (tf2onnx named a stem conv's bias after a later BatchNorm).
    weights: tuple[str, ...] = ()
    # The nearest quantized tensors the producer reads (through unquantized ops): the local error is the
    # op's own only if every one of them is fed the float reference.
    upstream: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


TRACERS: Registry = Registry("diagnose tracer", package=__name__.rpartition(".")[0])


def register_tracer(fmt: str):
    return TRACERS.register(fmt)


def get_tracer(fmt: str):
    return TRACERS.get(fmt, fix="diagnose reads .tflite, .onnx and OpenVINO .xml artifacts")
