"""OpenVINO tracer: NNCF-quantized IR (FakeQuantize on activations), quantized tensors read as extra outputs.

    tracer = OpenVINOTracer(Path("m.xml"), threads=2)

A point is an activation FakeQuantize: the tensor it quantizes, its range and levels (scale and zero
point follow from them) and its output, which the next op reads (the accumulated value). For the local
error each fed FakeQuantize reads a new Parameter (the float reference) instead of its producer; the op's
own output is read before its FakeQuantize and quantized here with that node's range. OpenVINO's Keras
frontend renames ops during transpose sinking ('Transpose_1234'), so the names may say nothing: ``twin``
runs the IR with every activation FakeQuantize bypassed, for the name map by value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception.diagnose.tracers import Point, register_tracer


def _const(output) -> np.ndarray | None:
    node = output.get_node()
    if node.get_type_name() == "Constant":
        return np.asarray(node.get_data())
    return None


def _fake_quantize(x: np.ndarray, lo: float, hi: float, levels: int) -> np.ndarray:
    """OpenVINO's FakeQuantize (input and output ranges equal, as NNCF writes them): clip to [lo, hi] and
    round to the nearest of ``levels`` evenly spaced values from lo, so lo need not be a whole number of
    steps from zero (an asymmetric range) as a zero point would need."""
    step = (hi - lo) / (levels - 1)
    if not step:
        return np.full_like(x, lo, dtype=np.float32)
    return (np.round((np.clip(x, lo, hi) - lo) / step) * step + lo).astype(np.float32)


def _upstream(node, keys: set) -> list[str]:
    """Activation FakeQuantize points feeding ``node`` through unquantized ops."""
    found, stack, seen = [], [node], set()
    while stack:
        n = stack.pop()
        if n.get_friendly_name() in seen:
            continue
        seen.add(n.get_friendly_name())
        for value in n.input_values():
            src = value.get_node()
            if src.get_type_name() == "FakeQuantize" and src.get_friendly_name() in keys:
                found.append(src.get_friendly_name())
            elif src.get_type_name() not in ("Constant", "Parameter"):
                stack.append(src)
    return found


@register_tracer("openvino")
class OpenVINOTracer:
    def __init__(self, path: Path, *, threads: int = 2):
        import openvino as ov

        self.path, self.threads = Path(path), threads
        self._core = ov.Core()
        model = self._read()
        self.points: list[Point] = []
        for fq in self._fqs(model):
            src = fq.input_value(0)
            lo, hi = _const(fq.input_value(1)), _const(fq.input_value(2))
            if lo is None or hi is None or lo.size != 1:
                continue  # per-channel: a weight quantizer, not an activation
            levels = int(fq.get_attributes()["levels"])
            lo, hi = float(lo.ravel()[0]), float(hi.ravel()[0])
            scale = (hi - lo) / (levels - 1)
            zp = int(round(-lo / scale)) if scale else 0
            producer = src.get_node()
            names = (producer.get_friendly_name(), *src.get_names())
            readers = tuple(t.get_node().get_type_name() for t in fq.output(0).get_target_inputs())
            # FakeQuantize's integers are 0..levels-1 with lo at 0 (zp in the same units), not a signed range
            # around zp: with qmin = -zp a signed tensor's positive half was clipped to zero in the local pass.
            self.points.append(Point(fq.get_friendly_name(), producer.get_type_name(), names, scale, zp, 0,
                                     levels - 1, reads_input=producer.get_type_name() == "Parameter",
                                     consumers=readers, extra={"levels": levels, "low": lo, "high": hi}))
        keys = {p.key for p in self.points}
        fq_of = {fq.get_friendly_name(): fq for fq in self._fqs(model)}
        for p in self.points:
            p.upstream = tuple(_upstream(fq_of[p.key].input_value(0).get_node(), keys))
        self._acc = self._compile_with(model, lambda m, fqs: [fqs[p.key].output(0) for p in self.points])
        self._local = None
        self._fed: list[str] = []

    def _read(self):
        from edge_inception.formats.openvino import read_ir

        return read_ir(self.path)

    @staticmethod
    def _fqs(model) -> list:
        found = []
        for op in model.get_ordered_ops():
            if op.get_type_name() != "FakeQuantize":
                continue
            if _const(op.input_value(0)) is not None:
                continue
            found.append(op)
        return found

    def _compile_with(self, model, outputs_of, params=()):
        import openvino as ov

        fqs = {fq.get_friendly_name(): fq for fq in self._fqs(model)}
        extra = outputs_of(model, fqs)
        new = ov.Model([*model.outputs, *extra], [*model.get_parameters(), *params])
        config = {ov.properties.inference_num_threads: self.threads,
                  ov.properties.hint.inference_precision: ov.Type.f32}
        compiled = self._core.compile_model(new, "CPU", config)
        return compiled, len(model.outputs)

    def _infer(self, state, inputs: list[np.ndarray]) -> list[np.ndarray]:
        compiled, skip = state
        result = compiled.create_infer_request().infer({i: v for i, v in enumerate(inputs)})
        return [np.array(result[compiled.output(i)], copy=True) for i in range(skip, len(compiled.outputs))]

    def accumulated(self, x: np.ndarray) -> dict[str, np.ndarray]:
        values = self._infer(self._acc, [np.ascontiguousarray(x, dtype=np.float32)])
        return {p.key: v for p, v in zip(self.points, values, strict=True)}

    def prepare_local(self, keys) -> None:
        import openvino as ov
        from openvino import opset13 as ops

        model = self._read()
        fqs = {fq.get_friendly_name(): fq for fq in self._fqs(model)}
        by_key = {p.key: p for p in self.points}
        self._fed = [k for k in keys if k in fqs and not by_key[k].reads_input]
        sources = {p.key: fqs[p.key].input_value(0) for p in self.points}  # before the cut: the op outputs
        params = []
        for k in self._fed:
            fq = fqs[k]
            param = ops.parameter(fq.input_value(0).get_partial_shape(), ov.Type.f32, name=f"{k}@float")
            fq.input(0).replace_source_output(param.output(0))
            params.append(param)
        self._local = self._compile_with(model, lambda m, _: [sources[p.key] for p in self.points], params)

    def local(self, x: np.ndarray, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = [np.ascontiguousarray(x, dtype=np.float32)]
        inputs += [np.ascontiguousarray(feeds[k], dtype=np.float32) for k in self._fed]
        values = self._infer(self._local, inputs)
        return {p.key: _fake_quantize(v, p.extra["low"], p.extra["high"], p.extra["levels"])
                for p, v in zip(self.points, values, strict=True)}

    def twin(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every activation FakeQuantize bypassed: the IR's graph with float activations (weights stay as
        quantized), whose tensors equal the source layers' outputs closely enough to be matched by value."""
        model = self._read()
        fqs = {fq.get_friendly_name(): fq for fq in self._fqs(model)}
        sources = {p.key: fqs[p.key].input_value(0) for p in self.points}
        for fq in fqs.values():
            for target in list(fq.output(0).get_target_inputs()):
                target.replace_source_output(fq.input_value(0))
        state = self._compile_with(model, lambda m, _: [sources[p.key] for p in self.points])
        values = self._infer(state, [np.ascontiguousarray(x, dtype=np.float32)])
        return {p.key: v for p, v in zip(self.points, values, strict=True)}
