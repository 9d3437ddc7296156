"""Views of a diagnosis (what ``diagnose()`` returns, or the ``diagnose`` key of a convert report.json):
the ranked table, a module x branch heat map per runtime and the per-layer SQNR along the depth.

    heads, rows = table_rows(diagnosis, top=15)      # one row per source layer, a column per runtime
    heat_map(diagnosis["runtimes"][0], diagnosis["modules"])   # inline SVG
    html_section(report)          # report.html's "Where int8 loses accuracy" (empty without a diagnosis)
    markdown_lines(report)        # report.md's ranked table and findings

It lives in report/ so report.html and report.md render from report.json alone; diagnose/render.py
(the standalone diagnose.html and the terminal table) uses the same functions. Rows are source layers;
each runtime gives its local and accumulated SQNR side by side, so a loss that is the model's shows in
every column and one that is a runtime's in one. Every string is escaped: layer names are user input.
"""

from __future__ import annotations

import math

from edge_inception.report.numbers import DASH
from edge_inception.report.svg import BAD, GOOD, GRID, MUTED, WARN, e, label, svg

SHORT = {"litert": "LiteRT", "onnxruntime": "ORT", "openvino": "OpenVINO"}


def db(v) -> str:
    return DASH if v is None else ("exact" if v >= 999 else f"{v:.1f}")


def by_source(result: dict) -> list[dict]:
    """One entry per source layer: each runtime's worst-scoring row for it, ranked by the worst score."""
    table: dict[str, dict] = {}
    for i, rt in enumerate(result["runtimes"]):
        for r in rt["layers"]:
            s = r["source_layer"] or f"(no source layer) {r['artifact_tensor']}"
            entry = table.setdefault(s, {"source_layer": s, "module": r["module"], "branch": r["branch"], "cells": {}})
            old = entry["cells"].get(i)
            better = old is None or (r["score_db"] is not None
                                     and (old["score_db"] is None or r["score_db"] < old["score_db"]))
            if better:
                entry["cells"][i] = r

    def worst(entry):
        scores = [c["score_db"] for c in entry["cells"].values() if c["score_db"] is not None]
        return min(scores) if scores else math.inf
    return sorted(table.values(), key=worst)


def table_rows(result: dict, top: int = 15) -> tuple[list[str], list[list[str]]]:
    heads = ["#", "source layer", "module / branch"]
    heads += [f"{SHORT.get(rt['runtime'], rt['runtime'])} local / acc. dB (step)" for rt in result["runtimes"]]
    rows = []
    for k, entry in enumerate(by_source(result)[:top], 1):
        where = "/".join(x for x in (entry["module"], entry["branch"]) if x) or DASH
        row = [str(k), entry["source_layer"], where]
        for i in range(len(result["runtimes"])):
            c = entry["cells"].get(i)
            if c is None or "local" not in c:
                row.append(DASH)
                continue
            worst_branch = min((b["local"].get("sqnr_db") for b in c.get("branches", [])
                                if b["local"].get("sqnr_db") is not None), default=None)
            local = db(c["local"].get("sqnr_db"))
            if worst_branch is not None and worst_branch < (c["local"].get("sqnr_db") or 0):
                local += f" (worst branch {db(worst_branch)})"
            step = c["local"].get("rmse_per_step")
            row.append(f"{local} / {db(c['accumulated'].get('sqnr_db'))}" + ("" if step is None else f" ({step:.2f})"))
        rows.append(row)
    return heads, rows


def _colour(v: float | None) -> str:
    if v is None:
        return "#f1f3f5"
    if v >= 30:
        return GOOD
    if v >= 20:
        return "#7bb661"
    if v >= 12:
        return WARN
    return BAD


def heat_map(rt: dict, modules: list[dict]) -> str:
    """Modules (rows) x branches (columns); a cell is the worst local SQNR among the branch's layers."""
    cells: dict[tuple[str, str], float] = {}
    for r in rt["layers"]:
        if r["module"] and r["score_db"] is not None:
            key = (r["module"], r["branch"] or "concat")
            cells[key] = min(cells.get(key, math.inf), r["score_db"])
    width = max((m["branches"] for m in modules), default=0)
    cols = [f"branch{i}" for i in range(1, width + 1)] + ["concat"]
    cw, ch, left, top = 92, 24, 200, 26
    body = [f'<text x="{left + i * cw + cw / 2}" y="16" text-anchor="middle" class="tick">{e(c)}</text>'
            for i, c in enumerate(cols)]
    for j, m in enumerate(modules):
        y = top + j * ch
        body.append(label(8, y + 16, m["name"], left - 12, cls="lbl"))
        for i, c in enumerate(cols):
            v = cells.get((m["name"], c))
            v = None if v is None or math.isinf(v) else v
            value = "" if v is None else f"{v:.2f}"
            body.append(f'<rect x="{left + i * cw}" y="{y}" width="{cw - 2}" height="{ch - 2}" '
                        f'fill="{_colour(v)}" data-value="{value}">'
                        f'<title>{e(m["name"])} {c}: {db(v)} dB</title></rect>')
            body.append(f'<text x="{left + i * cw + cw / 2}" y="{y + 16}" text-anchor="middle" class="inbar">'
                        f'{e(db(v))}</text>')
    return svg(top + len(modules) * ch + 8, body, cls="heat", label=f"SQNR heat map, {rt['runtime']}")


def depth_plot(rt: dict) -> str:
    """Local and accumulated SQNR of every quantized tensor in execution order."""
    rows = sorted((r for r in rt["layers"] if "local" in r), key=lambda r: r["depth"])
    vals = [min(v, 80) for r in rows for v in (r["local"].get("sqnr_db"), r["accumulated"].get("sqnr_db"))
            if v is not None]
    if not vals:
        return '<p class="muted">No mapped tensors.</p>'
    lo, hi = min(0.0, min(vals)), max(vals) + 2
    x0, x1, y0, y1 = 60, 940, 20, 220

    def xy(i, v):
        x = x0 + (x1 - x0) * (i / max(len(rows) - 1, 1))
        return x, y1 - (y1 - y0) * ((min(v, 80) - lo) / (hi - lo))

    body = []
    for t in range(int(lo // 10 * 10), int(hi) + 1, 10):
        _, y = xy(0, t)
        body.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{t}</text>')
    for key, colour in (("accumulated", "#e0801f"), ("local", "#3b6ea8")):
        pts = [(i, r[key].get("sqnr_db")) for i, r in enumerate(rows) if r[key].get("sqnr_db") is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in pts))
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        for i, v in pts:
            x, y = xy(i, v)
            name = rows[i]["source_layer"] or rows[i]["artifact_tensor"]
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{colour}"><title>{e(name)} {key}: '
                        f'{db(v)} dB</title></circle>')
    body.append(f'<text x="{x1}" y="{y1 + 18}" text-anchor="end" class="tick">depth (execution order) →</text>')
    body.append(f'<text x="{x0}" y="{y1 + 18}" class="tick" fill="{MUTED}">'
                'blue: local, orange: accumulated (dB)</text>')
    return svg(y1 + 28, body, cls="depth", label=f"SQNR along depth, {rt['runtime']}")


def runtime_line(rt: dict) -> str:
    o = rt.get("output") or {}
    agree = o.get("top1_agreement")
    return (f"{rt['artifact']}: output SQNR {db(o.get('sqnr_db'))} dB, top-1 agreement "
            f"{DASH if agree is None else f'{agree:.1%}'}; {rt['mapped']} of {rt['quantized_tensors']} quantized "
            f"tensors mapped to source layers; {rt['wall_s']} s")


def runtime_blocks(result: dict, *, level: int = 3) -> list[str]:
    """Per runtime: its facts, the heat map, the depth plot and the findings (HTML)."""
    parts = []
    for rt in result["runtimes"]:
        parts.append(f"<h{level}>{e(SHORT.get(rt['runtime'], rt['runtime']))}</h{level}>"
                     f"<p class='muted'>{e(runtime_line(rt))}</p>")
        if result.get("modules"):
            parts.append("<figure>" + heat_map(rt, result["modules"]) + "<figcaption>Inception modules x branches: "
                         "worst local SQNR (dB) of each branch's layers</figcaption></figure>")
        parts.append("<figure>" + depth_plot(rt) + "<figcaption>SQNR of every quantized tensor along the depth"
                     "</figcaption></figure>")
        found = [f for f in rt.get("findings", []) if f["kind"] != "first_last"]
        if found:
            parts.append('<ul class="notes">' + "".join(f"<li>{e(f['text'])}</li>" for f in found) + "</ul>")
    return parts


def _table_html(result: dict, top: int) -> str:
    heads, rows = table_rows(result, top)
    head = "".join(f"<th{' class=l' if i in (1, 2) else ''}>{e(h)}</th>" for i, h in enumerate(heads))
    body = "".join("<tr>" + "".join(f"<td{' class=l' if i in (1, 2) else ''}>{e(c)}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def html_section(report: dict, *, top: int = 15) -> str:
    """report.html's diagnosis section, from report["diagnose"] (convert --diagnose); '' without one."""
    d = report.get("diagnose")
    if not d or not d.get("runtimes"):
        return ""
    data = d.get("data") or {}
    parts = [f"<section><h2>Where int8 loses accuracy</h2><p class='muted'>{data.get('samples')} images of "
             f"{e(str(data.get('source')))}; local = the layer fed the float reference, accumulated = the int8 model "
             "up to there; step = RMSE of the local error over the quantization step (0.29 is pure rounding).</p>",
             _table_html(d, top), *runtime_blocks(d), "</section>"]
    return "".join(parts)


def markdown_lines(report: dict, md, md_cell, *, top: int = 10) -> list[str]:
    """report.md's ranked table and findings (``md``/``md_cell``: markdown.py's escapers)."""
    d = report.get("diagnose")
    if not d or not d.get("runtimes"):
        return []
    heads, rows = table_rows(d, top)
    out = ["", f"**Where int8 loses accuracy** ({d['data']['samples']} images; local / accumulated SQNR, dB)", "",
           "| " + " | ".join(heads) + " |", "| " + " | ".join(["---:", "---", "---"] + ["---:"] * (len(heads) - 3))
           + " |"]
    out += ["| " + " | ".join([r[0], md(r[1]), md(r[2]), *(md_cell(c) for c in r[3:])]) + " |" for r in rows]
    out.append("")
    for rt in d["runtimes"]:
        for f in rt.get("findings", []):
            if f["kind"] != "first_last":
                out.append(f"- {SHORT.get(rt['runtime'], rt['runtime'])}: {md(f['text'])}")
    return out
