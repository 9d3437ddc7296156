"""Which layers an artifact really runs in float, read from the artifact itself (not from the plan).

    float_ops("m.tflite", graph)   # {"mix_concat": True, "stem_relu": False, ...}: source layer -> float?
    float_ops("m.xml", None)       # OpenVINO: {op friendly name: float?} for its MAC ops

One reader per format, keyed by format name.
"""

from __future__ import annotations

from pathlib import Path


def _tflite(path: Path, graph) -> dict:
    from edge_inception.diagnose.compile import tflite_op_layers

    out: dict[str, bool] = {}
    for code, names, layer, is_float in tflite_op_layers(Path(path).read_bytes(), graph):
        if code in ("QUANTIZE", "DEQUANTIZE") or not names or not layer:
            continue
        out[layer] = out.get(layer, True) and is_float
    return out


def _onnx(path: Path, graph) -> dict:
    import onnx

    from edge_inception.diagnose.compile import kernel_names

    proto = onnx.load(str(path))
    producers = {o: n for n in proto.graph.node for o in n.output}
    inits = {i.name for i in proto.graph.initializer}
    graph_inputs = {i.name for i in proto.graph.input}
    consumers: dict[str, list] = {}
    for n in proto.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    out: dict[str, bool] = {}
    for node in proto.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") or (node.input and node.input[0] in graph_inputs):
            continue  # the layout op on the image is named after the layer that reads it, not one of its own
        mac = node.op_type in ("Conv", "Gemm", "MatMul", "ConvTranspose")
        layer = graph.layer_for(node.name, *node.output)
        if layer is None and mac:
            layer = graph.layer_for(*kernel_names(node, inits))
        if layer:
            if mac:
                # A float MAC op may read an activation another op quantized, and a bias tf2onnx shares with a
                # quantized layer comes as int32 (exact enough); its kernel is what makes it int8.
                src = producers.get(node.input[1]) if len(node.input) > 1 else None
                is_int8 = src is not None and src.op_type == "DequantizeLinear" and src.input[0] in inits
            else:
                # ORT runs DequantizeLinear -> op -> QuantizeLinear as one int8 op: without the output
                # quantizer the op computes in float.
                is_int8 = any(c.op_type == "QuantizeLinear" for o in node.output for c in consumers.get(o, []))
            out[layer] = out.get(layer, True) and not is_int8
    return out


def _openvino(path: Path, graph) -> dict:
    from edge_inception.formats.openvino import read_ir

    return openvino_float_ops(read_ir(path))


def openvino_float_ops(model) -> dict:
    """{MAC op friendly name: computes in float?} of an openvino.Model: float weights and no FakeQuantize
    on its data input."""
    out = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        data, weights = op.input_value(0).get_node(), op.input_value(1).get_node()
        int_weights = False
        stack = [weights]
        while stack:  # int8 weights are a Constant behind Convert (and Subtract/Multiply for the scale)
            n = stack.pop()
            if n.get_type_name() == "Constant" and n.get_element_type().get_type_name() in ("i8", "u8", "i4", "u4"):
                int_weights = True
            if n.get_type_name() in ("Convert", "Multiply", "Subtract", "Reshape", "Transpose"):
                stack += [v.get_node() for v in n.input_values()]
        out[op.get_friendly_name()] = data.get_type_name() != "FakeQuantize" and not int_weights
    return out


READERS = {"tflite": _tflite, "onnx": _onnx, "openvino": _openvino}


def float_ops(path, graph) -> dict:
    from edge_inception.formats import list_formats

    path = Path(path)
    fmt = next(f for f in list_formats() if f.suffix == path.suffix)
    return READERS[fmt.name](path, graph)
