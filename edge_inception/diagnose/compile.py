"""A fallback plan (source layers kept float) compiled to each quantizer backend's own knob.

    nodes = tflite_denylist(calibrated_flatbuffer, graph, keep)   # -> QuantizationDebugOptions(denylisted_nodes=)
    nodes = ort_nodes_to_exclude(onnx_proto, graph, keep)         # -> quantize_static(nodes_to_exclude=)
    names = nncf_ignored_names(ov_model, lm, graph, keep)         # -> nncf.IgnoredScope(names=)

Each returns the artifact-side names, found with the same name map diagnose uses (names.py): by name for
TFLite and ONNX, by value for OpenVINO models whose Keras op names were dropped. A kept layer that
matches nothing in the artifact is an error rather than a silent no-op (onnxruntime#14233).
"""

from __future__ import annotations

import numpy as np

from edge_inception._core.errors import UsageError


def _missing(keep, found: set[str], what: str) -> None:
    macs = [k for k in keep if k not in found]
    if macs and not found:
        raise UsageError(f"none of the layers to keep float ({', '.join(macs[:3])}) was found in the {what}",
                         fix="check the names with `edge-inception inspect MODEL`")


def tflite_denylist(calibrated: bytes, graph, keep) -> list[str]:
    """Output tensor names of the calibrated model's ops that compute a kept layer."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(calibrated, 0)
    sg = model.Subgraphs(0)
    keep, out, found = set(keep), [], set()
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        for k in range(op.OutputsLength()):
            name = sg.Tensors(op.Outputs(k)).Name().decode()
            layer = graph.layer_for(name)
            if layer in keep:
                out.append(name)
                found.add(layer)
    _missing(keep, found, "TFLite model")
    return out


def kernel_names(node, inits) -> list[str]:
    """The first constant input of an ONNX node (a convolution's kernel): tf2onnx shares one constant between
    layers whose values are equal, which happens to biases (a zero or a BatchNorm's shift), hardly to kernels."""
    return [i for i in node.input if i in inits][:1]


def ort_nodes_to_exclude(proto, graph, keep) -> list[str]:
    """Names of the ONNX nodes (of the model quantize_static reads) that compute a kept layer."""
    inits = {i.name for i in proto.graph.initializer}
    keep, out, found = set(keep), [], set()
    for node in proto.graph.node:
        layer = graph.layer_for(node.name, *node.output) or graph.layer_for(*kernel_names(node, inits))
        if layer in keep:
            out.append(node.name)
            found.add(layer)
    _missing(keep, found, "ONNX model")
    return out


_ELEMENTWISE = {"Add", "Multiply", "Subtract", "Relu", "Clamp", "Swish", "HSwish", "Sigmoid", "Tanh", "PRelu",
                "Elu", "Gelu", "Convert"}
_MATCHED = {"Convolution", "GroupConvolution", "MatMul", "Concat", "MaxPool", "AvgPool", "ReduceMean", "Add"}


def nncf_ignored_names(ov_model, lm, graph, keep, *, images: np.ndarray) -> list[str]:
    """Friendly names of the float OpenVINO model's ops that compute a kept layer. Each MAC op is followed
    through the elementwise ops folded onto it (bias, BatchNorm, activation); the value at the end of that
    chain is matched to a source layer's output on ``images``, and every op of the chain gets that layer."""
    import openvino as ov

    from edge_inception.diagnose.names import match_by_value
    from edge_inception.diagnose.source import LOGITS, probe_for

    chains = {}
    for op in ov_model.get_ordered_ops():
        if op.get_type_name() not in _MATCHED:
            continue
        chain, end = [op], op
        while len(end.output(0).get_target_inputs()) == 1:
            nxt = next(iter(end.output(0).get_target_inputs())).get_node()
            if nxt.get_type_name() not in _ELEMENTWISE:
                break
            chain.append(nxt)
            end = nxt
        chains[op.get_friendly_name()] = (chain, end.output(0))
    extra = [out for _, out in chains.values()]
    probe_model = ov.Model([*ov_model.outputs, *extra], ov_model.get_parameters())
    compiled = ov.Core().compile_model(probe_model, "CPU", {ov.properties.hint.inference_precision: ov.Type.f32})
    result = compiled.create_infer_request().infer({0: images})
    skip = len(ov_model.outputs)
    values = {name: np.array(result[compiled.output(skip + i)]) for i, name in enumerate(chains)}
    probe = probe_for(lm, [lay.name for lay in graph.order if lay.kind != "input"])
    refs = probe.run(images)
    refs.pop(LOGITS)
    matched = match_by_value(values, refs, graph)
    keep, out, found = set(keep), [], set()
    for name, (layer, _) in matched.items():
        if layer in keep:
            out += [op.get_friendly_name() for op in chains[name][0]]
            found.add(layer)
    _missing(keep, found, "OpenVINO model")
    return sorted(set(out))


def tflite_keep_float(converter, lm, keep, calibration) -> tuple[bytes, list[str]]:
    """The converter's int8 model with the kept layers float, through LiteRT's QuantizationDebugger:
    calibrate once, find the calibrated model's tensors of those layers, quantize with them denylisted."""
    from edge_inception._core.native import import_tensorflow, quiet_native
    from edge_inception.diagnose.names import SourceGraph

    tf = import_tensorflow()
    # Kept layers run TFLite's float kernels, so the builtin float op set is allowed beside the int8 one.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    debug = tf.lite.experimental
    with quiet_native():
        debugger = debug.QuantizationDebugger(converter=converter,
                                              debug_dataset=calibration.tflite_representative_dataset)
        nodes = tflite_denylist(debugger.calibrated_model, SourceGraph.of(lm), keep)
        debugger.options = debug.QuantizationDebugOptions(denylisted_nodes=nodes)
        return debugger.get_nondebug_quantized_model(), nodes
