"""The .tflite inspector: operators, tensor dtypes, I/O and weight quantization, read with LiteRT.

    desc = describe_tflite(Path("model.tflite"))
"""

from __future__ import annotations

from pathlib import Path

from edge_inception._core.native import quiet_native
from edge_inception.formats.description import ArtifactDescription, Op, Tensor, Weights

# Builtin operators whose weights are their second input (TRANSPOSE_CONV: output shape, weights, data).
_MAC = {"CONV_2D": (0, 1), "DEPTHWISE_CONV_2D": (0, 1), "FULLY_CONNECTED": (0, 1), "CONV_3D": (0, 1),
        "TRANSPOSE_CONV": (2, 1)}


def describe_tflite(path: Path) -> ArtifactDescription:
    import numpy as np
    from ai_edge_litert import interpreter as litert

    from edge_inception._core.errors import InputError

    try:
        with quiet_native():
            interp = litert.Interpreter(model_path=str(path))
    except (ValueError, RuntimeError) as e:
        raise InputError(path, f"is not a TFLite model LiteRT can load ({str(e).splitlines()[0]})") from None
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    in_order = [d["index"] for d in interp.get_input_details()]
    out_order = [d["index"] for d in interp.get_output_details()]
    graph_in, graph_out = set(in_order), set(out_order)
    ops_details = interp._get_ops_details()  # the only LiteRT API that lists operators
    producer = {o: op for op in ops_details for o in op["outputs"]}

    def dtype(i: int) -> str:
        return np.dtype(tensors[i]["dtype"]).name

    def tensor(i: int) -> Tensor:
        t = tensors[i]
        sig = t.get("shape_signature")
        shape = sig if sig is not None and len(sig) else t["shape"]
        return Tensor(t["name"], dtype(i), tuple(None if d < 0 else int(d) for d in shape))

    def weights(i: int) -> Weights:
        # float16 weights are stored as a float16 constant behind a DEQUANTIZE to float32
        src = producer.get(i)
        if src is not None and src["op_name"] == "DEQUANTIZE" and src["inputs"][0] not in producer:
            i = src["inputs"][0]
        q = tensors[i].get("quantization_parameters") or {}
        scales, zps = q.get("scales", []), q.get("zero_points", [])
        d = dtype(i)
        if d.startswith("float") or len(scales) == 0:
            return Weights(tensors[i]["name"], d, "none", None)
        centre = 128 if d == "uint8" else 0
        return Weights(tensors[i]["name"], d, "per-channel" if len(scales) > 1 else "per-tensor",
                       bool(np.all(np.asarray(zps) == centre)))

    ops = []
    for op in ops_details:
        kind = op["op_name"]
        ins = [i for i in op["inputs"] if i >= 0 and i in tensors]
        outs = [i for i in op["outputs"] if i in tensors]
        # The converter names a fused operator's output "a;b;c" after every op it fused: the first one names it
        layer = tensors[outs[0]]["name"].split(";")[0] if outs else f"#{op['index']}"
        floats = tuple((tensors[i]["name"], dtype(i)) for i in ins + outs if dtype(i).startswith("float"))
        edge = (kind == "QUANTIZE" and bool(ins) and ins[0] in graph_in) or \
               (kind == "DEQUANTIZE" and bool(outs) and outs[0] in graph_out)
        if kind in _MAC and len(op["inputs"]) > max(_MAC[kind]):
            data, w = (op["inputs"][k] for k in _MAC[kind])
            ops.append(Op(kind, layer, mac=True, weights=weights(w), activation=dtype(data), float_tensors=floats,
                          io_edge=edge))
        else:
            ops.append(Op(kind, layer, float_tensors=floats, io_edge=edge))
    return ArtifactDescription("tflite", "layer", inputs=[tensor(i) for i in in_order],
                               outputs=[tensor(i) for i in out_order], ops=ops)
