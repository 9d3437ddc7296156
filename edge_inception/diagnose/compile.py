"""A fallback plan (source layers kept float) compiled to each quantizer backend's own knob.

    scopes = tflite_no_quantize(float_flatbuffer, graph, keep)    # -> ai-edge-quantizer recipe, 'no_quantize'
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


def tflite_op_layers(flatbuffer: bytes, graph) -> list[tuple[str, list[str], str | None, bool]]:
    """(opcode, output tensor names, source layer, first output float32?) for each op of a TFLite model.
    An op whose outputs carry no layer name (the converter names the model output
    'StatefulPartitionedCall_1:0') is named by its constant inputs (a dense layer's 'logits_1/MatMul'
    kernel), never by the activations it reads."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    sg, out = model.Subgraphs(0), []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        names = [sg.Tensors(op.Outputs(k)).Name().decode() for k in range(op.OutputsLength())]
        layer = graph.layer_for(*names)
        if layer is None:
            consts = [sg.Tensors(t) for t in (op.Inputs(k) for k in range(op.InputsLength())) if t >= 0]
            layer = graph.layer_for(*(t.Name().decode() for t in consts if model.Buffers(t.Buffer()).DataLength()))
        code = codes.get(model.OperatorCodes(op.OpcodeIndex()).BuiltinCode(), "?")
        is_float = op.OutputsLength() > 0 and sg.Tensors(op.Outputs(0)).Type() == schema.TensorType.FLOAT32
        out.append((code, names, layer, is_float))
    return out


def tflite_no_quantize(flatbuffer: bytes, graph, keep) -> list[str]:
    """Output tensor names of the float model's ops that compute a kept layer (an op's scope, for
    ai-edge-quantizer's recipe)."""
    keep, out, found = set(keep), [], set()
    for _, names, layer, _ in tflite_op_layers(flatbuffer, graph):
        if layer in keep:
            out += names
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


class _SignatureSamples(dict):
    """ai-edge-quantizer's calibration data, {signature: samples}; the samples are iterated twice (counted,
    then run), each time afresh from the calibration set, so they are never all held at once."""

    @classmethod
    def of(cls, flatbuffer: bytes, calibration) -> _SignatureSamples:
        from ai_edge_litert.interpreter import Interpreter

        from edge_inception._core.errors import UsageError

        sigs = Interpreter(model_content=flatbuffer).get_signature_list()
        if len(sigs) != 1 or len(next(iter(sigs.values()))["inputs"]) != 1:
            raise UsageError(f"keeping layers float in TFLite needs one signature with one input, not {sigs}")
        key, sig = next(iter(sigs.items()))
        return cls({key: _Iterable(lambda: ({sig["inputs"][0]: x} for (x,) in
                                            calibration.tflite_representative_dataset()))})


class _Iterable:
    def __init__(self, make):
        self.make = make

    def __iter__(self):
        return self.make()


def tflite_keep_float(converter, lm, keep, calibration) -> tuple[bytes, list[str]]:
    """The float TFLite model quantized by ai-edge-quantizer with a recipe: static int8 everywhere (weights as
    the converter was told, activations from min/max over every calibration sample, as the converter's
    calibrator does) except the kept layers' ops, 'no_quantize'. The converter's own quantizer cannot
    do this: with a concatenation denylisted (QuantizationDebugger) it still quantizes the concatenation's
    inputs at the concatenation's one range (its same-scale rule), so a starved branch stays starved;
    ai-edge-quantizer gives each input of a float op its own scale."""
    import os
    import re

    from ai_edge_quantizer import calibrator, qtyping, recipe_manager
    from ai_edge_quantizer import quantizer as aeq
    from ai_edge_quantizer.utils import qsv_utils

    from edge_inception._core.errors import UsageError
    from edge_inception._core.native import import_tensorflow, quiet_native
    from edge_inception.diagnose.names import SourceGraph

    tf = import_tensorflow()
    io = converter.inference_input_type
    if io not in (tf.float32, tf.int8):
        raise UsageError(f"keeping layers float in TFLite goes through ai-edge-quantizer, whose I/O is float32 or "
                         f"int8, not {io.name}", fix="use a profile with io_dtype float32 or int8")
    granularity = "TENSORWISE" if getattr(converter, "_experimental_disable_per_channel", False) else "CHANNELWISE"
    converter.optimizations, converter.representative_dataset = [], None
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = converter.inference_output_type = tf.float32
    with quiet_native():
        flatbuffer = converter.convert()
    scopes = tflite_no_quantize(flatbuffer, SourceGraph.of(lm), keep)
    rm = recipe_manager.RecipeManager()
    rm.add_static_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 8, 8, qtyping.QuantGranularity(granularity))
    if io == tf.float32:  # the model's input and output stay float, quantized/dequantized inside
        for edge in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            rm.add_quantization_config(".*", edge, None, "no_quantize")
    for name in scopes:  # an op's scope is its output names, each followed by ';'
        rm.add_quantization_config(f"(^|;){re.escape(name)};", qtyping.TFLOperationName.ALL_SUPPORTED, None,
                                   "no_quantize")
    with quiet_native():
        cal = calibrator.Calibrator(flatbuffer, num_threads=os.cpu_count() or 1,
                                    qsv_update_func=qsv_utils.min_max_update)
        cal.calibrate(_SignatureSamples.of(flatbuffer, calibration), rm)
        q = aeq.Quantizer(flatbuffer, rm.get_quantization_recipe())
        result = q.quantize(cal.get_model_qsvs(), enable_progress_report=False)
    return _shape_reads_int8(bytes(result.quantized_model)), scopes


def _shape_reads_int8(flatbuffer: bytes) -> bytes:
    """ai-edge-quantizer leaves ops it does not know (SHAPE, which Keras' Flatten brings) float, so it
    dequantizes an int8 tensor only for SHAPE to read its dimensions. SHAPE reads the int8 tensor instead,
    and a DEQUANTIZE nothing reads any more is dropped."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    code = {i: c.builtinCode for i, c in enumerate(model.operatorCodes)}
    ops = schema.BuiltinOperator
    changed = False
    for sg in model.subgraphs:
        made = {o: op for op in sg.operators for o in op.outputs}
        for op in sg.operators:
            src = made.get(op.inputs[0]) if code[op.opcodeIndex] == ops.SHAPE and len(op.inputs) else None
            if src is not None and code[src.opcodeIndex] == ops.DEQUANTIZE:
                op.inputs, changed = [src.inputs[0], *list(op.inputs)[1:]], True
        read = {i for op in sg.operators for i in op.inputs} | set(sg.outputs)
        sg.operators = [op for op in sg.operators
                        if code[op.opcodeIndex] != ops.DEQUANTIZE or any(o in read for o in op.outputs)]
    if not changed:
        return flatbuffer
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
