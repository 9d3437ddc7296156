"""Views of a diagnosis (the dict ``diagnose()`` returns): a ranked terminal table and a self-contained
HTML page with a module x branch heat map per runtime and the per-layer SQNR along the network depth.

    print_diagnose_table(result, top=15)
    Path("diagnose.html").write_text(render_html(result))

Rows are source layers; each runtime gives its local and accumulated SQNR side by side, so a loss that
is the model's shows in every column and one that is a runtime's in one.
"""

from __future__ import annotations

import math

from edge_inception.report.numbers import DASH
from edge_inception.report.svg import BAD, GOOD, GRID, MUTED, WARN, e, label, svg

SHORT = {"litert": "LiteRT", "onnxruntime": "ORT", "openvino": "OpenVINO"}


def _db(v) -> str:
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
            local = _db(c["local"].get("sqnr_db"))
            if worst_branch is not None and worst_branch < (c["local"].get("sqnr_db") or 0):
                local += f" (worst branch {_db(worst_branch)})"
            step = c["local"].get("rmse_per_step")
            row.append(f"{local} / {_db(c['accumulated'].get('sqnr_db'))}" + ("" if step is None else f" ({step:.2f})"))
        rows.append(row)
    return heads, rows


def print_diagnose_table(result: dict, *, top: int = 15) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    heads, rows = table_rows(result, top)
    data = result["data"]
    t = Table(title=f"int8 error per layer, worst first ({data['samples']} images of {data['source']})")
    for h in heads:
        t.add_column(h, justify="left" if h in ("source layer", "module / branch") else "right",
                     overflow="fold")
    for r in rows:
        t.add_row(*(escape(c) for c in r))  # layer names and figures are text, never rich markup
    con = Console(width=max(Console().width, 150))  # wide enough for one column per runtime
    con.print(t)
    for rt in result["runtimes"]:
        o = rt["output"]
        con.print(f"[bold]{SHORT.get(rt['runtime'], rt['runtime'])}[/] {rt['artifact']}: output SQNR "
                  f"{_db(o['sqnr_db'])} dB, top-1 agreement {o['top1_agreement']:.1%}; {rt['mapped']} of "
                  f"{rt['quantized_tensors']} quantized tensors mapped to source layers; {rt['wall_s']} s")
        for f in rt["findings"]:
            if f["kind"] != "first_last":
                con.print(f"  - {f['text']}", markup=False, highlight=False)
    con.print("local: the layer fed the float reference; accumulated: the int8 model up to there; step: RMSE / "
              "quantization step of the local error (0.29 is pure rounding)", style="dim")


# --- HTML --------------------------------------------------------------------------------------------


def _colour(db: float | None) -> str:
    if db is None:
        return "#f1f3f5"
    if db >= 30:
        return GOOD
    if db >= 20:
        return "#7bb661"
    if db >= 12:
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
                        f'<title>{e(m["name"])} {c}: {_db(v)} dB</title></rect>')
            body.append(f'<text x="{left + i * cw + cw / 2}" y="{y + 16}" text-anchor="middle" class="inbar">'
                        f'{e(_db(v))}</text>')
    return svg(top + len(modules) * ch + 8, body, cls="heat", label=f"SQNR heat map, {rt['runtime']}")


def depth_plot(rt: dict) -> str:
    """Local and accumulated SQNR of every quantized tensor in execution order."""
    rows = sorted((r for r in rt["layers"] if "local" in r), key=lambda r: r["depth"])
    if not rows:
        return '<p class="muted">No mapped tensors.</p>'
    vals = [min(v, 80) for r in rows for v in (r["local"].get("sqnr_db"), r["accumulated"].get("sqnr_db"))
            if v is not None]
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
                        f'{_db(v)} dB</title></circle>')
    body.append(f'<text x="{x1}" y="{y1 + 18}" text-anchor="end" class="tick">depth (execution order) →</text>')
    body.append(f'<text x="{x0}" y="{y1 + 18}" class="tick" fill="{MUTED}">'
                'blue: local, orange: accumulated (dB)</text>')
    return svg(y1 + 28, body, cls="depth", label=f"SQNR along depth, {rt['runtime']}")


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328}
table{border-collapse:collapse;font-size:12.5px}
th,td{padding:4px 7px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th:nth-child(2),td:nth-child(2),th:nth-child(3),td:nth-child(3){text-align:left}.muted{color:#5f6670}
.tick{font-size:11px;fill:#5f6670}.lbl{font-size:12px}.inbar{font-size:11px;fill:#fff}svg{max-width:960px}"""


def render_html(result: dict) -> str:
    heads, rows = table_rows(result, top=30)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>diagnose {e(result['model']['name'])}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>Where int8 loses accuracy: {e(result['model']['name'])}</h1>",
             f"<p class='muted'>{result['data']['samples']} images of {e(result['data']['source'])}; "
             "local = the layer fed the float reference, accumulated = the int8 model up to there.</p>",
             "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
    parts.append("</table>")
    for rt in result["runtimes"]:
        o = rt["output"]
        parts.append(f"<h2>{e(rt['runtime'])}: {e(rt['artifact'])}</h2><p>output SQNR {_db(o['sqnr_db'])} dB, "
                     f"top-1 agreement {o['top1_agreement']:.1%}; {rt['mapped']} of {rt['quantized_tensors']} "
                     "tensors mapped</p>")
        if result["modules"]:
            parts.append("<h3>Inception modules x branches (worst local SQNR, dB)</h3>"
                         + heat_map(rt, result["modules"]))
        parts.append("<h3>SQNR along the depth</h3>" + depth_plot(rt))
        if rt["findings"]:
            parts.append("<ul>" + "".join(f"<li>{e(f['text'])}</li>" for f in rt["findings"]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def fallback_lines(report: dict) -> list[str]:
    """One line per int8 target of a convert report that ran a fallback plan (--keep-float, --max-drop)."""
    out = []
    for r in report.get("targets", []):
        fb = r.get("fallback")
        kept = (r.get("conversion") or {}).get("keep_float")
        if fb is not None:
            state = "met" if fb.get("met") else "NOT met"
            layers = ", ".join(fb.get("kept_layers", [])) or "none"
            size = ""
            if fb.get("size_bytes_plain"):
                size = f"; size {fb['size_bytes_plain']} -> {fb['size_bytes']} bytes"
            out.append(f"{r['target']}: budget {fb['budget']} {state}; plain int8 drop {fb['plain']['drop_points']} "
                       f"points; kept float: {layers}{size}")
        elif kept:
            out.append(f"{r['target']}: kept float by --keep-float: {', '.join(kept['layers'])}")
    return out
