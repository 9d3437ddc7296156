"""A float artifact as the reference: the int8 artifact compared with its float twin (the run's
``*-fp32.tflite``, ``.onnx`` or ``.xml``) instead of the source model, keyed by the float artifact's names.

    ref = FloatArtifactReference(Path("out/m.tflite-fp32.tflite"))   # stands where a LoadedModel would
    graph = SourceGraph.of(ref)       # its ops as layers, Inception modules found in its own graph
    probe_for(ref, names).run(batch)  # {op output name: float value, LOGITS: the model output}

The float artifact is read once: every op output becomes a row of the graph (named after its output
tensor, TFLite/ONNX, or its friendly name, OpenVINO), with the op's kind (conv, dense, pool, concat,
merge) so ``inspect``'s module finder runs on it unchanged, and the probe runs it in its own runtime with
every row's tensor added as an output. An int8 tensor maps to the float tensor of the same name (both
artifacts come from the same exporter); OpenVINO, whose Keras frontend numbers its ops per conversion,
is matched by value as with a source model. A pair from different formats shares no names: nothing
maps, and diagnose says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError
from edge_inception.inspect._graph import Conv

KIND = "float-artifact"
_TFLITE_KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "FULLY_CONNECTED": "dense",
                 "CONCATENATION": "concat", "MAX_POOL_2D": "pool", "AVERAGE_POOL_2D": "pool", "MEAN": "pool",
                 "ADD": "merge", "MUL": "merge"}
_ONNX_KINDS = {"Conv": "conv", "Gemm": "dense", "MatMul": "dense", "Concat": "concat", "MaxPool": "pool",
               "AveragePool": "pool", "GlobalAveragePool": "pool", "ReduceMean": "pool", "Add": "merge",
               "Mul": "merge"}
_OV_KINDS = {"Convolution": "conv", "GroupConvolution": "conv", "MatMul": "dense", "Concat": "concat",
             "MaxPool": "pool", "AvgPool": "pool", "ReduceMean": "pool", "Add": "merge", "Multiply": "merge"}


class FloatArtifactReference:
    """What diagnose needs of a reference (spec, kind, source), made from a float artifact."""

    random_weights = False
    classes = None

    def __init__(self, path: Path, *, threads: int = 2):
        from edge_inception.formats import list_formats

        self.path, self.threads = Path(path), threads
        self.format = next((f for f in list_formats() if f.suffix == self.path.suffix), None)
        spec = self.format.read_spec(self.path) if self.format else None
        if spec is None:
            raise InputError(self.path, "carries no ModelSpec, so its preprocessing is not known",
                             fix="pass a float artifact written by edge-inception convert, or the source model")
        self.spec, self.kind, self.source, self.model = spec, KIND, str(self.path), None
        self.rows, self.outputs, self._run = _READERS[self.format.name](self.path, threads)

    def to_dict(self) -> dict:
        return {"source": self.source, "kind": f"float {self.format.name} artifact", "random_weights": False,
                **self.spec.to_dict()}


def quantized_tensors(path: Path) -> int:
    """How many int8 activations the artifact holds (0: a float artifact, fit to be a reference)."""
    from edge_inception.diagnose.tracers import get_tracer
    from edge_inception.formats import list_formats

    fmt = next(f for f in list_formats() if f.suffix == Path(path).suffix)
    try:
        return len(get_tracer(fmt.name)(Path(path), threads=1).points)
    except Exception:  # noqa: BLE001 - a float graph some tracer cannot even build has no int8 tensors either
        return 0


class ArtifactProbe:
    def __init__(self, ref: FloatArtifactReference, names):
        self.names, self._ref = list(names), ref

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        from edge_inception.diagnose.source import LOGITS

        values = self._ref._run(np.ascontiguousarray(batch, dtype=np.float32), self.names)
        values[LOGITS] = values.pop("@out")
        return values


def _row(name, op, kind, inputs, shape, index, axis=None, conv=None):
    from edge_inception.inspect._graph import Layer

    return Layer(name, op, inputs, tuple(shape) if shape is not None else None, kind=kind, axis=axis, conv=conv,
                 attrs={"index": index})


# --- TFLite --------------------------------------------------------------------------------------------


def _tflite(path: Path, threads: int):
    import copy

    import flatbuffers
    from ai_edge_litert import interpreter as litert
    from ai_edge_litert import schema_py_generated as schema

    from edge_inception._core.native import quiet_native
    from edge_inception.diagnose.trace_litert import _op_names

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(path.read_bytes(), 0))
    sg = model.subgraphs[0]
    ops = _op_names(model)

    def name(i):
        n = sg.tensors[i].name
        return n.decode() if isinstance(n, bytes) else n

    rows, by_tensor, index = [], {}, {}
    for i in sg.inputs:
        rows.append(_row("input", "input", "input", [], list(sg.tensors[i].shape)[1:], i))
        by_tensor[i] = "input"
    for op in sg.operators:
        kind_name = ops[op.opcodeIndex]
        out = op.outputs[0]
        inputs = [by_tensor[i] for i in op.inputs if i >= 0 and i in by_tensor]
        shape = list(sg.tensors[out].shape)[1:]
        kind, axis, conv = _TFLITE_KINDS.get(kind_name, "other"), None, None
        if kind == "merge" and len(inputs) != 2:
            kind = "other"
        if kind == "concat":
            axis = int(op.builtinOptions.axis) % (len(shape) + 1) - 1
        if kind == "conv":
            w = list(sg.tensors[op.inputs[1]].shape)  # (cout, kh, kw, cin), depthwise (1, kh, kw, cout)
            conv = Conv(w[1], w[2], 1, 1, w[3], w[0])
        rows.append(_row(name(out), kind_name, kind, inputs, shape, out, axis, conv))
        by_tensor[out] = name(out)
        index[name(out)] = out
    out_index = sg.outputs[0]
    state = {}

    def run(x, names):
        key = tuple(names)
        if state.get("key") != key:
            m = copy.deepcopy(model)
            m.subgraphs[0].outputs = [out_index, *(index[n] for n in names)]
            m.signatureDefs = []
            b = flatbuffers.Builder(1024)
            b.Finish(m.Pack(b), file_identifier=b"TFL3")
            with quiet_native():
                state.update(key=key, interp=litert.Interpreter(model_content=bytes(b.Output()), num_threads=threads),
                             batch=None)
        interp = state["interp"]
        if state["batch"] != len(x):
            d = interp.get_input_details()[0]
            interp.resize_tensor_input(d["index"], [len(x), *d["shape"][1:]])
            with quiet_native():
                interp.allocate_tensors()
            state["batch"] = len(x)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        got = {n: np.array(interp.get_tensor(index[n]), dtype=np.float32) for n in names}
        got["@out"] = np.array(interp.get_tensor(out_index), dtype=np.float32)
        return got

    return rows, [name(out_index)], run


# --- ONNX ----------------------------------------------------------------------------------------------


def _onnx(path: Path, threads: int):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    proto = onnx.load(str(path))
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value or None for d in dims][1:]
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    rows, by_tensor = [], {}
    main = g.input[0].name
    rows.append(_row("input", "input", "input", [], shapes.get(main), 0))
    by_tensor[main] = "input"
    for k, node in enumerate(g.node):
        if node.op_type == "Constant":
            continue
        out = node.output[0]
        inputs = [by_tensor[i] for i in node.input if i in by_tensor]
        kind, axis, conv = _ONNX_KINDS.get(node.op_type, "other"), None, None
        if kind == "merge" and len(inputs) != 2:
            kind = "other"
        if kind == "concat":
            ax = next(a.i for a in node.attribute if a.name == "axis")
            axis = ax % (len(shapes.get(out) or [0, 0, 0]) + 1) - 1
        if kind == "conv" and node.input[1] in inits:
            w = list(inits[node.input[1]].dims)  # (cout, cin/groups, kh, kw)
            conv = Conv(w[2], w[3], 1, 1, w[1], w[0])
        rows.append(_row(out, node.op_type, kind, inputs, shapes.get(out), k + 1, axis, conv))
        by_tensor[out] = out
    have = {o.name for o in g.output}
    for r in rows[1:]:
        if r.name not in have:
            g.output.append(helper.make_tensor_value_info(r.name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = threads, 1, 3
    session = ort.InferenceSession(proto.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    first_out = g.output[0].name

    def run(x, names):
        values = session.run([first_out, *names], {main: x})
        return {"@out": values[0], **dict(zip(names, values[1:], strict=True))}

    return rows, [first_out], run


# --- OpenVINO ------------------------------------------------------------------------------------------


def _openvino(path: Path, threads: int):
    import openvino as ov

    from edge_inception.formats.openvino import read_ir

    model = read_ir(path)
    rows, by_op, outs = [], {}, {}
    skip = ("Constant", "Result", "Convert", "ShapeOf")
    for k, op in enumerate(model.get_ordered_ops()):
        t = op.get_type_name()
        if t in skip:
            continue
        shape = op.output(0).get_partial_shape()
        shape = [d.get_length() if d.is_static else None for d in shape][1:] if shape.rank.is_static else None
        if t == "Parameter":
            rows.append(_row("input", "input", "input", [], shape, k))
            by_op[op.get_friendly_name()] = "input"
            continue
        name = op.get_friendly_name()
        inputs = [by_op[v.get_node().get_friendly_name()] for v in op.input_values()
                  if v.get_node().get_friendly_name() in by_op]
        kind, axis, conv = _OV_KINDS.get(t, "other"), None, None
        if kind == "merge" and len(inputs) != 2:
            kind = "other"
        if kind == "concat":
            axis = int(op.get_attributes()["axis"]) % (len(shape or [0, 0, 0]) + 1) - 1
        if kind == "conv":
            w = list(op.input_value(1).get_partial_shape().to_shape())
            conv = Conv(w[-2], w[-1], 1, 1, w[-3], w[-4] if len(w) == 4 else w[0] * w[1])
        rows.append(_row(name, t, kind, inputs, shape, k, axis, conv))
        by_op[name] = name
        outs[name] = op.output(0)
    core = ov.Core()
    state = {}

    def run(x, names):
        key = tuple(names)
        if state.get("key") != key:
            probe = ov.Model([*model.outputs, *(outs[n] for n in names)], model.get_parameters())
            state.update(key=key, compiled=core.compile_model(probe, "CPU", {
                ov.properties.inference_num_threads: threads, ov.properties.hint.inference_precision: ov.Type.f32}))
        compiled = state["compiled"]
        result = compiled.create_infer_request().infer({0: x})
        skip_n = len(model.outputs)
        got = {n: np.array(result[compiled.output(skip_n + i)], copy=True) for i, n in enumerate(names)}
        got["@out"] = np.array(result[compiled.output(0)], copy=True)
        return got

    return rows, [model.output(0).get_any_name()], run


_READERS = {"tflite": _tflite, "onnx": _onnx, "openvino": _openvino}
