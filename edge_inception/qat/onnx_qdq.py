"""QDQ ONNX from a QAT model, finished for deployment: the same scales and zero points as trained, in
the 8-bit types ONNX Runtime runs well on this CPU, and OpenVINO IR read from the same QDQ graph.

    info = write_onnx(proto, lm, dest, target=target, converter="tf2onnx from the QAT TFLite")
    info = write_openvino(proto, lm, dest, target=target)

Two exact rewrites, no re-calibration:
- ``propagate_through_pools``: a MaxPool, Concat, Flatten or Reshape between DequantizeLinear and a Conv gets its own
  QuantizeLinear/DequantizeLinear with the same scale and zero point (max and concatenation of grid
  values stay on the grid), so every Conv visibly takes int8 data, as ONNX Runtime's quantizer writes it.
- ``to_uint8``: int8 tensors become uint8 with zero point + 128 (the same real values) where the
  onnx-int8 profile's types resolve to uint8 for this CPU: activations only with VNNI (U8S8, the pair
  ONNX Runtime fuses into int8 convolutions there), weights too on x86 without VNNI (U8U8: S8S8 and
  U8S8 saturate in ONNX Runtime's int16 kernels), see quantizers/ort_ptq.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from edge_inception.models.loader import LoadedModel

_PASS_THROUGH = {"MaxPool", "Concat", "Flatten", "Reshape"}  # these keep values on the grid


def _tensor_tables(graph):
    inits = {i.name: i for i in graph.initializer}
    consts = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    return inits, consts


def _read(name, inits, consts) -> np.ndarray:
    from onnx import numpy_helper

    if name in inits:
        return numpy_helper.to_array(inits[name])
    return numpy_helper.to_array(consts[name].attribute[0].t)


def _write(name, value: np.ndarray, inits, consts) -> None:
    from onnx import numpy_helper

    if name in inits:
        inits[name].CopyFrom(numpy_helper.from_array(value, name))
    else:
        consts[name].attribute[0].t.CopyFrom(numpy_helper.from_array(value, name))


def propagate_through_pools(proto) -> int:
    """Insert Q/DQ after each MaxPool or Concat whose data inputs all come from DequantizeLinear with the
    same scale and zero point (NNCF unifies the scales in front of a concatenation); returns the count."""
    from onnx import helper

    graph = proto.graph
    inits, consts = _tensor_tables(graph)
    producer = {o: n for n in graph.node for o in n.output}
    added, nodes = 0, []
    for node in graph.node:
        nodes.append(node)
        if node.op_type not in _PASS_THROUGH:
            continue
        sources = [producer.get(i) for i in (node.input if node.op_type == "Concat" else node.input[:1])]
        if not sources or any(s is None or s.op_type != "DequantizeLinear" or len(s.input) < 3 for s in sources):
            continue
        params = [tuple(_read(x, inits, consts).tobytes() for x in s.input[1:3]) for s in sources]
        if len(set(params)) != 1 or _read(sources[0].input[1], inits, consts).size != 1:
            continue  # different or per-channel ranges: not exact, leave it to the runtime
        src, out = sources[0], node.output[0]
        node.output[0] = f"{out}__float"
        q = helper.make_node("QuantizeLinear", [node.output[0], *src.input[1:3]], [f"{out}__q"],
                             name=f"{node.name}_QuantizeLinear")
        dq = helper.make_node("DequantizeLinear", [f"{out}__q", *src.input[1:3]], [out],
                              name=f"{node.name}_DequantizeLinear")
        producer[out] = dq
        nodes += [q, dq]
        added += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return added


def fold_weight_quantize(proto) -> int:
    """Replace QuantizeLinear on a constant (NNCF's weights) with its integer result, computed as ONNX
    defines it (round half to even, saturate), so the file stores 8-bit weights; returns the count."""
    from onnx import numpy_helper

    graph = proto.graph
    inits, consts = _tensor_tables(graph)
    keep, folded = [], 0
    for node in graph.node:
        x = node.input[0] if node.input else ""
        if node.op_type != "QuantizeLinear" or len(node.input) < 3 or x not in inits and x not in consts:
            keep.append(node)
            continue
        data, scale, zp = (_read(n, inits, consts) for n in node.input[:3])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.size > 1:
            shape = [1] * data.ndim
            shape[axis] = scale.size
            scale, zp = scale.reshape(shape), zp.reshape(shape)
        info = np.iinfo(zp.dtype)
        q = np.clip(np.round(data / scale) + zp.astype(np.int32), info.min, info.max).astype(zp.dtype)
        graph.initializer.append(numpy_helper.from_array(q, node.output[0]))
        folded += 1
    del graph.node[:]
    graph.node.extend(keep)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    unused = [i for i in graph.initializer if i.name not in used]
    for init in unused:  # the float weights, now stored quantized
        graph.initializer.remove(init)
    return folded


def drop_relu_before_quantize(proto) -> int:
    """Remove a Relu whose only consumer is a QuantizeLinear that starts its range at 0 (zero point at the
    type's minimum): that quantization already clamps negatives to 0, so the graph computes the same, and
    ONNX Runtime can fuse DequantizeLinear -> Conv -> QuantizeLinear into one int8 kernel (with the Relu
    in between it runs the Conv in float). Returns the count."""
    graph = proto.graph
    inits, consts = _tensor_tables(graph)
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}
    drop = []
    for node in graph.node:
        users = consumers.get(node.output[0], []) if node.op_type == "Relu" else []
        if len(users) != 1 or users[0].op_type != "QuantizeLinear" or len(users[0].input) < 3 \
                or node.output[0] in outputs:
            continue
        zp = _read(users[0].input[2], inits, consts)
        if zp.size == 1 and int(zp.reshape(-1)[0]) == np.iinfo(zp.dtype).min:
            users[0].input[0] = node.input[0]
            drop.append(node)
    for node in drop:
        graph.node.remove(node)
    return len(drop)


def to_uint8(proto, *, weights: bool = True) -> int:
    """Rewrite int8 quantized tensors as uint8 (zero point + 128): exact, returns the count of zero
    points rewritten. ``weights=False`` leaves constant (weight) tensors int8 — U8S8, the pair ONNX
    Runtime's VNNI kernels take — giving an activation that shares its zero-point tensor with a weight
    (exporters deduplicate constants) a copy of its own."""
    from onnx import numpy_helper

    graph = proto.graph
    inits, consts = _tensor_tables(graph)

    def is_weight(node) -> bool:
        return node.op_type == "DequantizeLinear" and (node.input[0] in inits or node.input[0] in consts)

    qdq = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) >= 3]
    weight_zps = {n.input[2] for n in qdq if is_weight(n)}
    done: set[str] = set()
    count = 0
    for node in qdq:
        if not weights and is_weight(node):
            continue
        zp_name = node.input[2]
        if not weights and zp_name in weight_zps:  # shared with a weight that stays int8: a copy of its own
            copy_name = f"{zp_name}__activation"
            if copy_name not in inits:
                graph.initializer.append(numpy_helper.from_array(_read(zp_name, inits, consts), copy_name))
                inits[copy_name] = graph.initializer[-1]  # the stored proto, which _write updates in place
            node.input[2] = zp_name = copy_name
        zp = _read(zp_name, inits, consts)
        if zp.dtype != np.int8 and zp_name not in done:
            continue
        if zp_name not in done:
            _write(zp_name, (zp.astype(np.int16) + 128).astype(np.uint8), inits, consts)
            done.add(zp_name)
            count += 1
        x = node.input[0]
        if weights and is_weight(node) and x not in done:
            data = _read(x, inits, consts)
            if data.dtype == np.int8:
                _write(x, (data.astype(np.int16) + 128).astype(np.uint8), inits, consts)
                done.add(x)
    # QuantizeLinear outputs take the zero point's type; stale int8 value_info would contradict it.
    del graph.value_info[:]
    return count


def finish(proto, lm: LoadedModel, *, converter: str) -> None:
    from edge_inception.exporters.onnx import _rename_io, _set_metadata
    from edge_inception.formats.onnx import SPEC_KEY

    _rename_io(proto)
    _set_metadata(proto, {SPEC_KEY: json.dumps(lm.spec.to_dict()), "edge_inception.source_kind": lm.kind,
                          "edge_inception.converter": converter, "edge_inception.method": "qat"})


def write_onnx(proto, lm: LoadedModel, dest: Path, *, target, converter: str) -> dict:
    """Save the QDQ graph for ONNX Runtime, in the 8-bit types the onnx-int8 profile resolves to here."""
    import onnx

    from edge_inception._core.host import host_facts
    from edge_inception.exporters.onnx import save_onnx
    from edge_inception.quantizers.ort_ptq import choose_ort_types

    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    finish(proto, lm, converter=converter)
    fold_weight_quantize(proto)
    pools = propagate_through_pools(proto)
    q = target.quantizer
    act, wt, reason = choose_ort_types(host_facts()["isa"], q.get("activations", "auto"), q.get("weights", "auto"))
    rewritten = to_uint8(proto, weights=wt == "uint8") if act == "uint8" else 0
    relus = drop_relu_before_quantize(proto)  # after to_uint8: a post-ReLU range then has zero point 0
    save_onnx(proto, dest)
    return {"converter": converter, "format": "QDQ", "ranges": "learned in training (not re-calibrated)",
            "types": (f"{act} activations, {wt} weights (int8 tensors shifted by 128, exact)" if rewritten
                      else "as trained (int8/uint8)"),
            "isa_reason": reason, "qdq_added_after_pools_and_concats": pools,
            "relu_folded_into_quantize": relus}


def write_openvino(proto, lm: LoadedModel, dest: Path, *, target) -> dict:
    """OpenVINO IR read from the QDQ graph: activations become FakeQuantize with the trained ranges,
    weights stay int8 constants."""
    import onnx
    import openvino as ov

    from edge_inception._core.errors import TargetFailed
    from edge_inception._core.native import quiet_native
    from edge_inception.exporters.openvino import save_ir
    from edge_inception.formats.openvino import RT_INFO_KEY

    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    finish(proto, lm, converter="")
    fold_weight_quantize(proto)
    with tempfile.TemporaryDirectory(prefix="edge-inception-qat-ov-") as tmp:
        path = Path(tmp) / "model.onnx"
        onnx.save_model(proto, str(path))
        try:
            with quiet_native():
                ov_model = ov.convert_model(str(path))
        except Exception as e:  # noqa: BLE001 - the frontends raise OpConversionFailure and plain exceptions
            raise TargetFailed(f"OpenVINO conversion of the QAT model failed: {' '.join(str(e).split())[:300]}") \
                from None
    ov_model.set_rt_info(json.dumps(lm.spec.to_dict()), RT_INFO_KEY)
    save_ir(ov_model, dest, compress_to_fp16=False)
    return {"converter": f"openvino {ov.__version__} convert_model from the QAT QDQ ONNX",
            "ranges": "learned in training (not re-calibrated)", "files": [dest.name, dest.with_suffix(".bin").name]}
