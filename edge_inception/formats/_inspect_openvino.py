"""The OpenVINO IR inspector: operations, I/O, and how each multiply-accumulate's inputs are quantized.

    desc = describe_openvino(Path("model.xml"))      # the .bin beside it

NNCF quantizes an IR with FakeQuantize on activations and int8 weight constants behind a
Convert -> (Subtract zero point) -> Multiply scale dequantization; the plugin (CPU or NPU) fuses both
into int8 kernels. An activation is quantized when a FakeQuantize (possibly behind value-moving
operations such as MaxPool or Concat) feeds it.
"""

from __future__ import annotations

from pathlib import Path

from edge_inception.formats.description import ArtifactDescription, Op, Tensor, Weights

# Operations that carry weights into a multiply-accumulate: their inputs must all be quantized in int8.
_MAC_OPS = {"Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData", "GroupConvolutionBackpropData"}
# Operations that move or select values without arithmetic: int8 stays int8 through them, so a
# FakeQuantize in front of one quantizes what follows (NNCF puts it before a MaxPool, not after).
_TRANSPARENT_OPS = {"MaxPool", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split",
                    "VariadicSplit", "StridedSlice", "Slice", "Pad", "DepthToSpace", "SpaceToDepth", "Gather"}
_LOW_BIT = {"i8", "u8", "i4", "u4"}
_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "i8": "int8", "u8": "uint8", "i16": "int16",
           "u16": "uint16", "i32": "int32", "i64": "int64", "u4": "uint4", "i4": "int4", "boolean": "bool"}


def _dtype(element_type) -> str:
    name = element_type.get_type_name()
    return _DTYPES.get(name, name)


def _producer(port):
    return port.get_source_output().get_node()


def _is_constant(node) -> bool:
    """A Constant, possibly behind Converts: the scale and zero point of a weight dequantization."""
    while node.get_type_name() == "Convert":
        node = _producer(node.input(0))
    return node.get_type_name() == "Constant"


def _is_quantized(node, seen: dict) -> bool:
    """Whether ``node``'s output reaches a multiply-accumulate as int8 data: a FakeQuantize, an int8
    constant (NNCF stores weights as i8 Constant -> Convert -> Subtract -> Multiply), or a value-moving
    op whose data inputs are all quantized."""
    key = node.get_friendly_name()
    if key in seen:
        return seen[key]
    seen[key] = False  # no cycles in an IR, but never recurse forever on a malformed one
    kind = node.get_type_name()
    if kind == "FakeQuantize":
        ok = True
    elif kind == "Constant":
        ok = node.get_element_type().get_type_name() in _LOW_BIT
    elif kind == "Convert":
        ok = _is_quantized(_producer(node.input(0)), seen)
    elif kind in ("Subtract", "Multiply"):
        # Only the weight dequantization pattern: data on input 0, a constant scale or zero point on 1.
        ok = _is_constant(_producer(node.input(1))) and _is_quantized(_producer(node.input(0)), seen)
    elif kind in _TRANSPARENT_OPS:
        data = node.inputs()[: len(node.inputs()) if kind == "Concat" else 1]
        ok = all(_is_quantized(_producer(p), seen) for p in data)
    else:
        ok = False
    seen[key] = ok
    return ok


def _weights(node) -> Weights:
    """How a MAC op's weights are stored: the constant behind Converts and the dequantization, the size
    of the scale (per-channel when it has more than one value) and whether a zero point is subtracted."""
    stored, scale_size, zero_point, stack = None, 0, None, [_producer(node.input(1))]
    while stack:
        n = stack.pop()
        kind = n.get_type_name()
        if kind == "Constant":
            if stored is None or _dtype(n.get_element_type()) in ("int8", "uint8", "int4", "uint4"):
                stored = n
        elif kind in ("Multiply", "Subtract"):
            other = _producer(n.input(1))
            while other.get_type_name() == "Convert":
                other = _producer(other.input(0))
            if other.get_type_name() == "Constant":
                if kind == "Multiply":
                    scale_size = max(scale_size, int(other.get_output_tensor(0).size))
                else:
                    import numpy as np

                    zero_point = np.asarray(other.get_data())
            stack.append(_producer(n.input(0)))
        elif kind in ("Convert", "Reshape", "Transpose", "FakeQuantize", "Unsqueeze", "Squeeze"):
            stack.append(_producer(n.input(0)))
    if stored is None:
        return Weights(node.input(1).get_source_output().get_any_name() if node.input(1).get_source_output()
                       .get_names() else node.get_friendly_name() + ":1", "float32", "none", None)
    d = _dtype(stored.get_element_type())
    if d.startswith("float"):
        return Weights(stored.get_friendly_name(), d, "none", None)
    symmetric = zero_point is None or bool((zero_point.astype("int64") == (128 if d == "uint8" else 0)).all())
    return Weights(stored.get_friendly_name(), d, "per-channel" if scale_size > 1 else "per-tensor", symmetric)


def describe_openvino(path: Path) -> ArtifactDescription:
    from edge_inception.formats.openvino import read_ir

    model = read_ir(path)
    seen: dict = {}
    ops = []
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind in ("Parameter", "Result", "Constant"):
            continue
        layer = node.get_friendly_name()
        if kind in _MAC_OPS:
            data = _producer(node.input(0))
            act = "int8" if _is_quantized(data, seen) else _dtype(node.input(0).get_element_type())
            ops.append(Op(kind, layer, mac=True, weights=_weights(node), activation=act))
        else:
            ops.append(Op(kind, layer, machinery=kind in ("FakeQuantize", "Convert")))

    def io(ports) -> list[Tensor]:
        out = []
        for p in ports:
            shape = tuple(d.get_length() if d.is_static else None for d in p.get_partial_shape())
            out.append(Tensor(p.get_any_name() if p.get_names() else p.get_node().get_friendly_name(),
                              _dtype(p.get_element_type()), shape))
        return out

    return ArtifactDescription("openvino", "layer", inputs=io(model.inputs), outputs=io(model.outputs), ops=ops)
