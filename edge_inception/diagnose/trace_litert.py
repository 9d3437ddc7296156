"""LiteRT tracer: int8 .tflite models, their intermediate tensors read as extra subgraph outputs.

    tracer = LiteRTTracer(Path("m.tflite"), threads=2)

The flatbuffer is rewritten in memory (never on disk): every quantized tensor is appended to the
subgraph's outputs, so the interpreter, XNNPACK included, keeps it (``experimental_preserve_all_tensors``
would keep every tensor but only with the reference kernels, which are not what users run). For the local
error each op input that the driver feeds is cut from its producer: a new subgraph input tensor with the
same shape and quantization takes its place, fed the float reference quantized with that scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception._core.native import quiet_native
from edge_inception.diagnose.tracers import Point, register_tracer


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _op_names(model) -> list[str]:
    schema = _schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for code in model.operatorCodes:
        c = max(code.builtinCode, code.deprecatedBuiltinCode)
        out.append(names.get(c, f"CUSTOM:{code.customCode}"))
    return out


def _upstream(t_index: int, producers: dict, key_of: dict) -> list[str]:
    found, stack, seen = [], [i for i in producers[t_index][1].inputs if i >= 0], set()
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        if i in key_of:
            found.append(key_of[i])
        elif i in producers:
            stack += [j for j in producers[i][1].inputs if j >= 0]
    return found


_INT_TYPES = {"INT8": (np.int8, -128, 127), "UINT8": (np.uint8, 0, 255), "INT16": (np.int16, -32768, 32767)}


@register_tracer("tflite")
class LiteRTTracer:
    def __init__(self, path: Path, *, threads: int = 2):
        import flatbuffers  # noqa: F401 - the rewrite needs it; fail here, not mid-run

        schema = _schema()
        self.path, self.threads = Path(path), threads
        raw = self.path.read_bytes()
        self._model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(raw, 0))
        sg = self._model.subgraphs[0]
        types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
        ops = _op_names(self._model)
        producers = {}
        consumers: dict[int, list[str]] = {}
        for op in sg.operators:
            kind = ops[op.opcodeIndex]
            for o in op.outputs:
                producers[o] = (kind, op)
            for i in op.inputs:
                if i >= 0:
                    consumers.setdefault(i, []).append(kind)
        self._graph_inputs = list(sg.inputs)
        self.points: list[Point] = []
        self._index: dict[str, int] = {}
        for t_index, (kind, op) in producers.items():
            t = sg.tensors[t_index]
            tname = types.get(t.type, "?")
            q = t.quantization
            if tname not in _INT_TYPES or q is None or q.scale is None or len(q.scale) != 1:
                continue
            _, lo, hi = _INT_TYPES[tname]
            name = t.name.decode() if isinstance(t.name, bytes) else t.name
            weights = []
            for i in op.inputs:
                if i >= 0 and i not in producers and i not in self._graph_inputs:
                    w = sg.tensors[i].name
                    weights.append(w.decode() if isinstance(w, bytes) else w)
            reads_input = kind == "QUANTIZE" and op.inputs[0] in self._graph_inputs
            requant = tuple(c for c in consumers.get(t_index, []))
            self.points.append(Point(name, kind, (name,), float(q.scale[0]), int(q.zeroPoint[0]),
                                     lo, hi, weights=tuple(weights[:1]), reads_input=reads_input, consumers=requant,
                                     extra={"dtype": tname.lower()}))
            self._index[name] = t_index
        self._requantize_inputs(sg, ops, producers)
        key_of = {v: k for k, v in self._index.items()}
        for p in self.points:
            p.upstream = tuple(_upstream(self._index[p.key], producers, key_of))
        self._acc = self._interpreter(self._rewrite(feeds=()))
        self._local = None
        self._local_inputs: dict[str, int] = {}

    def _requantize_inputs(self, sg, ops, producers) -> None:
        """A QUANTIZE op reading an int8 tensor is a requantization (a scale change): record which op types
        it serves, so the findings can name requantize ops at concatenation and pooling inputs."""
        by_index = {v: p for p, v in ((p, self._index[p.key]) for p in self.points)}
        readers: dict[int, list[str]] = {}
        for op in sg.operators:
            for i in op.inputs:
                if i >= 0:
                    readers.setdefault(i, []).append(ops[op.opcodeIndex])
        for t_index, (kind, op) in producers.items():
            if kind == "QUANTIZE" and op.inputs[0] in producers and t_index in by_index:
                by_index[t_index].requantized_for = tuple(readers.get(t_index, []))

    def _rewrite(self, feeds) -> bytes:
        import copy

        import flatbuffers

        model = copy.deepcopy(self._model)
        sg = model.subgraphs[0]
        fed = {self._index[k]: k for k in feeds}
        new_inputs = {}
        main = sg.tensors[sg.inputs[0]].shapeSignature
        for t_index, key in fed.items():
            src = sg.tensors[t_index]
            t = copy.deepcopy(src)
            if t.shapeSignature is None and main is not None and len(main) and main[0] == -1:
                # ai-edge-quantizer writes no shape signature: a tensor fed here takes the batch the input takes
                t.shapeSignature = [-1, *list(t.shape)[1:]]
            t.name = f"{key}@float"
            t.buffer = 0  # buffer 0 is the flatbuffer's empty buffer: a tensor the caller fills
            sg.tensors.append(t)
            new_inputs[t_index] = len(sg.tensors) - 1
            self._local_inputs[key] = new_inputs[t_index]
        if new_inputs:
            for op in sg.operators:
                op.inputs = [new_inputs.get(i, i) if i >= 0 else i for i in op.inputs]
            sg.inputs = [*sg.inputs, *new_inputs.values()]
        sg.outputs = [*sg.outputs, *(self._index[p.key] for p in self.points if self._index[p.key] not in sg.outputs)]
        model.signatureDefs = []  # the signature lists the original I/O only
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    def _interpreter(self, content: bytes):
        from ai_edge_litert import interpreter as litert

        with quiet_native():
            interp = litert.Interpreter(model_content=content, num_threads=self.threads)
        return {"interp": interp, "batch": None}

    def _run(self, state, x: np.ndarray, feeds: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
        interp = state["interp"]
        details = {d["index"]: d for d in interp.get_input_details()}
        sig = details[self._graph_inputs[0]].get("shape_signature")
        if len(x) > 1 and sig is not None and len(sig) and sig[0] == 1:  # litert-torch's batch-1 graphs
            parts = [self._run(state, x[i : i + 1], {k: v[i : i + 1] for k, v in feeds.items()})
                     for i in range(len(x))]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        if state["batch"] != len(x):
            for idx, d in details.items():
                sig = d.get("shape_signature")
                if sig is not None and len(sig) and sig[0] == -1:
                    interp.resize_tensor_input(idx, [len(x), *d["shape"][1:]])
            with quiet_native():
                interp.allocate_tensors()
            state["batch"] = len(x)
            details = {d["index"]: d for d in interp.get_input_details()}
        main = self._graph_inputs[0]
        for idx, value in [(main, x), *feeds.items()]:
            d = details[idx]
            dtype = np.dtype(d["dtype"])
            if dtype != np.float32:
                scale, zp = d["quantization"]
                info = np.iinfo(dtype)
                value = np.clip(np.round(value / scale) + zp, info.min, info.max)
            interp.set_tensor(idx, np.ascontiguousarray(value, dtype=dtype))
        interp.invoke()
        out = {}
        for p in self.points:
            q = interp.get_tensor(self._index[p.key])
            out[p.key] = ((q.astype(np.float32) - p.zero_point) * p.scale)
        return out

    def accumulated(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return self._run(self._acc, x, {})

    def prepare_local(self, keys) -> None:
        keys = [k for k in keys if k in self._index and not self._point(k).reads_input]
        self._local = self._interpreter(self._rewrite(feeds=keys))

    def local(self, x: np.ndarray, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        fed = {self._local_inputs[k]: v for k, v in feeds.items() if k in self._local_inputs}
        return self._run(self._local, x, fed)

    def _point(self, key: str) -> Point:
        return next(p for p in self.points if p.key == key)

    def twin(self, x: np.ndarray):
        return None  # TFLite keeps the source names in its tensor names
