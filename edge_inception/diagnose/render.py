"""Views of a diagnosis (the dict ``diagnose()`` returns): a ranked terminal table and a self-contained
HTML page with a module x branch heat map per runtime and the per-layer SQNR along the network depth
(the plots are report/diagnosis.py's, which report.html uses too for ``convert --diagnose``).

    print_diagnose_table(result, top=15)
    Path("diagnose.html").write_text(render_html(result))

Rows are source layers; each runtime gives its local and accumulated SQNR side by side, so a loss that
is the model's shows in every column and one that is a runtime's in one.
"""

from __future__ import annotations

from edge_inception.report.diagnosis import SHORT, db, runtime_blocks, table_rows
from edge_inception.report.svg import e

_db = db


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
    parts += runtime_blocks(result, level=2)
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
