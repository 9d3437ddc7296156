"""ONNX Runtime tracer: QDQ int8 .onnx models, their quantized tensors read as extra graph outputs.

    tracer = OnnxTracer(Path("m.onnx"), threads=2)

A point is an activation QuantizeLinear: the tensor it quantizes, its scale and zero point, and the
DequantizeLinear after it, whose output is what the next op really reads (the accumulated value). For the
local error the QuantizeLinear of each fed tensor reads a new graph input (the float reference) instead
of its producer, so every op is fed quantized float input; the op's own output is read before its
QuantizeLinear and quantized here with that node's scale and zero point. Only the in-memory proto is
edited; ORT loads it from bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception.diagnose.stats import fake_quant
from edge_inception.diagnose.tracers import Point, register_tracer

_RANGES = {2: (0, 255), 3: (-128, 127), 4: (0, 65535), 5: (-32768, 32767)}  # onnx TensorProto data types


def _upstream(node, producers: dict, q_of: dict) -> list[str]:
    """Points whose QuantizeLinear -> DequantizeLinear pair feeds ``node``, through unquantized nodes."""
    found, stack, seen = [], [node] if node is not None else [], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        for i in n.input:
            src = producers.get(i)
            if src is None:
                continue
            if src.op_type == "DequantizeLinear" and src.input[0] in q_of:
                found.append(q_of[src.input[0]])
            elif src.op_type != "DequantizeLinear":
                stack.append(src)
    return found


@register_tracer("onnx")
class OnnxTracer:
    def __init__(self, path: Path, *, threads: int = 2):
        import onnx
        from onnx import numpy_helper

        self.path, self.threads = Path(path), threads
        self._proto = onnx.load(str(path))
        g = self._proto.graph
        inits = {i.name: i for i in g.initializer}
        producers = {o: n for n in g.node for o in n.output}
        consumers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        self._input = g.input[0].name
        self.points: list[Point] = []
        self._dq: dict[str, str] = {}       # point key -> the DequantizeLinear output that is read
        self._qnode: dict[str, object] = {}

        def const(name):
            if name in inits:
                return numpy_helper.to_array(inits[name])
            node = producers.get(name)
            if node is not None and node.op_type == "Constant":
                return numpy_helper.to_array(node.attribute[0].t)
            return None

        def weight_names(node) -> list[str]:
            out = []
            for i in node.input:
                src = producers.get(i)
                if src is not None and src.op_type == "DequantizeLinear" and src.input[0] in inits:
                    out.append(src.input[0])
                elif i in inits:
                    out.append(i)
            return out

        for n in g.node:
            if n.op_type != "QuantizeLinear" or n.input[0] in inits:
                continue
            x = n.input[0]
            scale, zp = const(n.input[1]), const(n.input[2]) if len(n.input) > 2 else None
            if scale is None or scale.size != 1:
                continue
            dqs = [c for c in consumers.get(n.output[0], []) if c.op_type == "DequantizeLinear"]
            if not dqs:
                continue
            zp_type = (inits[n.input[2]].data_type if len(n.input) > 2 and n.input[2] in inits else 2)
            lo, hi = _RANGES.get(zp_type, (0, 255))
            src = producers.get(x)
            # tf2onnx names the layout op on the image after the first layer reading it: not that layer's value
            reads_input = x == self._input or (src is not None and src.op_type in ("Reshape", "Transpose", "Identity")
                                               and src.input[0] == self._input)
            names = (x, *([src.name, *src.output] if src is not None else []))
            weights = tuple(weight_names(src)[:1]) if src is not None and not reads_input else ()  # the kernel
            if reads_input:
                names = ()
            readers = tuple(c.op_type for d in dqs for c in consumers.get(d.output[0], []))
            key = x
            if key in self._dq:
                continue
            self.points.append(Point(key, src.op_type if src is not None else "input", names, float(scale.ravel()[0]),
                                     int(zp.ravel()[0]) if zp is not None else 0, lo, hi, weights=weights,
                                     reads_input=reads_input, consumers=readers,
                                     extra={"dtype": "uint8" if lo == 0 else "int8"}))
            self._dq[key] = dqs[0].output[0]
            self._qnode[key] = n
        q_of = {n.output[0]: k for k, n in self._qnode.items()}
        for p in self.points:
            p.upstream = tuple(_upstream(producers.get(p.key), producers, q_of))
        self._acc = self._session(self._edited(feeds=(), outputs=[self._dq[p.key] for p in self.points]))
        self._local = None
        self._fed: list[str] = []

    def _edited(self, *, feeds, outputs) -> bytes:
        import copy

        import onnx
        from onnx import TensorProto, helper

        proto = copy.deepcopy(self._proto)
        g = proto.graph
        have = {o.name for o in g.output}
        fed = set(feeds)
        for node in g.node:
            if node.op_type == "QuantizeLinear" and node.input[0] in fed:
                node.input[0] = f"{node.input[0]}@float"
        for name in feeds:
            g.input.append(helper.make_tensor_value_info(f"{name}@float", TensorProto.FLOAT, None))
        for name in outputs:
            if name not in have:
                g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
                have.add(name)
        return onnx._serialize(proto) if hasattr(onnx, "_serialize") else proto.SerializeToString()

    def _session(self, content: bytes):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        return ort.InferenceSession(content, sess_options=opts, providers=["CPUExecutionProvider"])

    def accumulated(self, x: np.ndarray) -> dict[str, np.ndarray]:
        names = [self._dq[p.key] for p in self.points]
        values = self._acc.run(names, {self._input: np.ascontiguousarray(x, dtype=np.float32)})
        return {p.key: v for p, v in zip(self.points, values, strict=True)}

    def prepare_local(self, keys) -> None:
        self._fed = [k for k in keys if k in self._dq and k != self._input]
        # The op outputs themselves (before their QuantizeLinear); the graph input is never cut.
        self._local = self._session(self._edited(feeds=self._fed, outputs=[p.key for p in self.points
                                                                            if p.key != self._input]))

    def local(self, x: np.ndarray, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = {self._input: np.ascontiguousarray(x, dtype=np.float32)}
        inputs |= {f"{k}@float": np.ascontiguousarray(feeds[k], dtype=np.float32) for k in self._fed}
        keys = [p.key for p in self.points if p.key != self._input]
        values = dict(zip(keys, self._local.run(keys, inputs), strict=True))
        values[self._input] = np.asarray(x, dtype=np.float32)
        return {p.key: fake_quant(values[p.key], scale=p.scale, zero_point=p.zero_point, qmin=p.qmin, qmax=p.qmax)
                for p in self.points}

    def twin(self, x: np.ndarray):
        return None  # tf2onnx and torch.onnx keep source names in node, tensor and weight names
