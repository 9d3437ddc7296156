"""The .onnx inspector: nodes, tensor types (by ONNX shape inference), I/O and QDQ weight quantization.

    desc = describe_onnx(Path("model.onnx"))

In a QDQ model an operator computes in integer when its float inputs come from DequantizeLinear
(and its outputs go to QuantizeLinear): that is what ONNX Runtime's CPU kernels fuse and what the QNN
execution provider lowers to the NPU. A float input from anywhere else is a float computation.
"""

from __future__ import annotations

from pathlib import Path

from edge_inception.formats.description import ArtifactDescription, Op, Tensor, Weights

# Operators whose second input is a weight tensor in a CNN (Keras Dense becomes MatMul or Gemm).
_MAC = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
_QDQ = {"QuantizeLinear", "DequantizeLinear"}


def _np_dtype(elem_type: int) -> str:
    import onnx

    try:
        return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name
    except (KeyError, TypeError, ValueError):
        return onnx.TensorProto.DataType.Name(elem_type).lower()


def describe_onnx(path: Path) -> ArtifactDescription:
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from edge_inception._core.errors import InputError

    try:
        model = onnx.load(str(path), load_external_data=False)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as e:  # noqa: BLE001 - onnx raises DecodeError, ValidationError and plain exceptions
        raise InputError(path, f"is not an ONNX model onnx can read ({' '.join(str(e).split())[:200]})") from None
    graph = inferred.graph
    types: dict[str, str] = {}
    for v in [*graph.input, *graph.output, *graph.value_info]:
        if v.type.HasField("tensor_type"):
            types[v.name] = _np_dtype(v.type.tensor_type.elem_type)
    inits = {i.name: i for i in model.graph.initializer}
    for name, init in inits.items():
        types[name] = _np_dtype(init.data_type)
    producer = {o: n for n in graph.node for o in n.output}
    for n in graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    types[n.output[0]] = _np_dtype(a.t.data_type)
    # A QuantizeLinear's output type is its zero point's (uint8 when it has none).
    for n in graph.node:
        if n.op_type == "QuantizeLinear" and n.output[0] not in types:
            types[n.output[0]] = types.get(n.input[2], "uint8") if len(n.input) > 2 and n.input[2] else "uint8"
    constants = set(inits) | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    graph_outputs = {o.name for o in model.graph.output}

    def array(name: str):
        if name in inits:
            init = inits[name]
            if init.data_location == onnx.TensorProto.EXTERNAL:
                return None
            return numpy_helper.to_array(init)
        n = producer.get(name)
        if n is not None and n.op_type == "Constant":
            return numpy_helper.to_array(next(a.t for a in n.attribute if a.name == "value"))
        return None

    def weights(name: str) -> Weights | None:
        src = producer.get(name)
        if src is not None and src.op_type == "DequantizeLinear":
            stored = src.input[0]
            scale = array(src.input[1]) if len(src.input) > 1 else None
            zp = array(src.input[2]) if len(src.input) > 2 and src.input[2] else None
            d = types.get(stored, "int8")
            centre = 128 if d == "uint8" else 32768 if d == "uint16" else 0
            per = "per-channel" if scale is not None and scale.size > 1 else "per-tensor"
            sym = True if zp is None else bool(np.all(zp.astype(np.int64) == centre))
            return Weights(stored, d, per, sym)
        if name in constants:
            return Weights(name, types.get(name, "float32"), "none", None)
        return None

    def dequantized_type(name: str) -> str:
        src = producer.get(name)
        if src is not None and src.op_type == "DequantizeLinear":
            return types.get(src.input[0], "int8")
        return types.get(name, "float32")

    def is_float(name: str) -> bool:
        return types.get(name, "float32").startswith(("float", "bfloat"))

    ops = []
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        layer = node.name or (node.output[0] if node.output else node.op_type)
        if node.op_type in _QDQ:
            ops.append(Op(node.op_type, layer, machinery=True))
            continue
        floats = [(i, types.get(i, "float32")) for i in node.input
                  if i and is_float(i) and (producer.get(i) is None or producer[i].op_type != "DequantizeLinear")]
        floats += [(o, types.get(o, "float32")) for o in node.output if o in graph_outputs and is_float(o)]
        w = weights(node.input[1]) if node.op_type in _MAC and len(node.input) > 1 else None
        # A MatMul of two activations has no weight to quantize; Conv and Gemm always do.
        if node.op_type in _MAC and (w is not None or node.op_type != "MatMul"):
            if w is None:  # a weight computed at run time, in float
                w = Weights(node.input[1], types.get(node.input[1], "float32"), "none", None)
            ops.append(Op(node.op_type, layer, mac=True, weights=w, activation=dequantized_type(node.input[0]),
                          float_tensors=tuple(floats)))
        else:
            ops.append(Op(node.op_type, layer, float_tensors=tuple(floats)))

    def io(values) -> list[Tensor]:
        out = []
        for v in values:
            if v.name in inits:
                continue
            dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim)
            out.append(Tensor(v.name, _np_dtype(v.type.tensor_type.elem_type), dims))
        return out

    return ArtifactDescription("onnx", "node", inputs=io(model.graph.input), outputs=io(model.graph.output), ops=ops)
