"""Inception-aware findings, each named with its module and branch, from one runtime's diagnosis.

    findings(result, graph)   # [{"kind": "concat_shared_scale", "module": ..., "branch": ..., "text": ...}, ...]

- concat_shared_scale: a concatenation quantized with one scale that its widest branch sets; the ratio of
  branch ranges and the int8 levels left to the narrowest branch (tensorflow/model-optimization#1053).
- requantize: a scale change before a concatenation or a pooling (LiteRT inserts QUANTIZE ops; ONNX QDQ
  and OpenVINO give each concatenation input its own scale, requantized to the output's).
- scaled_residual: an add of x + s*r (Inception-ResNet's 0.1-0.3 scales): the levels left to the residual.
- first_last: the first and last quantized layers, usually the most sensitive ones.
"""

from __future__ import annotations

STARVED_LEVELS = 32  # a branch spanning fewer int8 levels than this has lost 3+ of its 8 bits
WIDE_RATIO = 4.0
SCALE_OPS = {"Lambda", "CustomScaleLayer", "Rescaling", "Multiply", "TFOpLambda", "mul"}


def _span(stats: dict) -> float:
    return max(stats.get("ref_max", 0.0), 0.0) - min(stats.get("ref_min", 0.0), 0.0)


def _unified_inputs(rows, by_source, graph) -> list[dict]:
    """A concatenation with no quantizer of its own whose inputs were given one shared scale (NNCF unifies
    the scales of a concatenation's inputs): the same starvation, seen at the inputs."""
    out = []
    for name, lay in graph.layers.items():
        if lay.kind != "concat" or name in by_source:
            continue
        ins = [by_source[i][0] for i in lay.inputs if i in by_source and "accumulated" in by_source[i][0]]
        if len(ins) < 2 or len({round(r["scale"], 9) for r in ins}) != 1:
            continue
        spans = [(_span(r["accumulated"]), r) for r in ins if _span(r["accumulated"]) > 0]
        if len(spans) < 2:
            continue
        (wide, wr), (narrow, nr) = max(spans, key=lambda t: t[0]), min(spans, key=lambda t: t[0])
        ratio, levels = wide / narrow, narrow / nr["scale"]
        if ratio >= WIDE_RATIO or levels < STARVED_LEVELS:
            out.append({"kind": "concat_shared_scale", "module": lay.module or name, "branch": nr["branch"],
                        "layer": name, "narrow_input": nr["source_layer"], "wide_input": wr["source_layer"],
                        "range_ratio": round(ratio, 2), "levels_left": round(levels, 1),
                        "narrow_local_sqnr_db": (nr.get("local") or {}).get("sqnr_db"),
                        "text": f"{name}: its inputs share one scale ({nr['scale']:.4g}), set by "
                                f"'{wr['source_layer']}' (range {wide:.3g}); '{nr['source_layer']}' spans "
                                f"{narrow:.3g}, {ratio:.1f}x less, and is left {levels:.0f} of 256 levels"})
    return out


def findings(result: dict, graph) -> list[dict]:
    rows = result["layers"]
    out = []
    by_source: dict[str, list[dict]] = {}
    for r in rows:
        if r["source_layer"]:
            by_source.setdefault(r["source_layer"], []).append(r)
    for r in rows:
        if r.get("branches") and r.get("scale"):
            spans = [(_span(b["accumulated"]), b) for b in r["branches"]]
            spans = [(s, b) for s, b in spans if s > 0]
            if len(spans) < 2:
                continue
            (wide, wb), (narrow, nb) = max(spans, key=lambda t: t[0]), min(spans, key=lambda t: t[0])
            ratio, levels = wide / narrow, narrow / r["scale"]
            if ratio >= WIDE_RATIO or levels < STARVED_LEVELS:
                nb_mod, nb_branch = graph.place(nb["input"])
                out.append({"kind": "concat_shared_scale", "module": r["module"] or r["source_layer"],
                            "branch": nb_branch, "layer": r["source_layer"], "narrow_input": nb["input"],
                            "wide_input": wb["input"], "range_ratio": round(ratio, 2), "levels_left": round(levels, 1),
                            "narrow_local_sqnr_db": nb["local"].get("sqnr_db"),
                            "text": f"{r['source_layer']}: its one scale ({r['scale']:.4g}) is set by "
                                    f"'{wb['input']}' (range {wide:.3g}); '{nb['input']}' spans {narrow:.3g}, "
                                    f"{ratio:.1f}x less, and is left {levels:.0f} of 256 levels"})
    out += _unified_inputs(rows, by_source, graph)
    for r in rows:
        served = [c for c in r.get("requantized_for", []) if c in ("CONCATENATION", "AVERAGE_POOL_2D")]
        if served:
            out.append({"kind": "requantize", "module": r["module"], "branch": r["branch"], "layer": r["source_layer"],
                        "text": f"a requantize op ({r['artifact_tensor']}) changes the scale before "
                                f"{served[0].lower()}: its input's resolution is lost there"})
    for name, lay in graph.layers.items():
        if lay.kind != "concat" or name not in by_source:
            continue
        out_scale = by_source[name][0]["scale"]
        ins = [(i, by_source[i][0]["scale"]) for i in lay.inputs if i in by_source]
        differ = [(i, s) for i, s in ins if out_scale and abs(s - out_scale) > 0.01 * out_scale]
        if differ:
            worst = max(differ, key=lambda t: t[1] / out_scale if t[1] < out_scale else out_scale / t[1])
            module, branch = graph.place(worst[0])
            out.append({"kind": "requantize", "module": lay.module or name, "branch": branch, "layer": name,
                        "text": f"{name}: {len(differ)} of its {len(lay.inputs)} inputs are quantized at their own "
                                f"scales and requantized to the output's ({out_scale:.4g}); '{worst[0]}' "
                                f"from {worst[1]:.4g}"})
    for name, lay in graph.layers.items():
        if lay.op != "Add" or len(lay.inputs) != 2 or name not in by_source:
            continue
        scaled = [i for i in lay.inputs if graph.layers[i].op in SCALE_OPS]
        if not scaled or scaled[0] not in by_source:
            continue
        res = by_source[scaled[0]][0]
        span = _span(res.get("accumulated", {}))
        levels = span / by_source[name][0]["scale"] if by_source[name][0]["scale"] else None
        if levels is not None:
            out.append({"kind": "scaled_residual", "module": lay.module, "branch": lay.branch, "layer": name,
                        "levels_left": round(levels, 1),
                        "text": f"{name}: the scaled residual '{scaled[0]}' spans {levels:.0f} of the add's "
                                f"256 levels"})
    named = sorted((r for r in rows if r["source_layer"] and graph.layers[r["source_layer"]].kind != "input"
                    and "local" in r), key=lambda r: r["depth"])
    for where, r in (("first", named[0] if named else None), ("last", named[-1] if named else None)):
        if r is not None:
            out.append({"kind": "first_last", "module": r["module"], "branch": r["branch"], "layer": r["source_layer"],
                        "text": f"{where} quantized layer {r['source_layer']}: local SQNR "
                                f"{r['local'].get('sqnr_db')} dB, rank {r['rank']} of {len(rows)}"})
    return out
