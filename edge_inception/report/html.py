"""Self-contained HTML view of a report.json: one file, inline CSS and SVG, no script, no external URL.

    text = render_html(report)      # report: the dict convert/evaluate/benchmark return
    Path("report.html").write_text(text)

Shows the summary table, the top-1 change of every target with its 95% interval against the gate
threshold the report recorded (a forest plot), the latency distribution of every target beside its
float reference on one shared ms axis, the sizes, the diagnosis of convert --diagnose (a module x branch
heat map per runtime and the SQNR along the depth, diagnosis.py), and the notes and host facts. This
module lays out the page; the plots are in plots.py, their SVG parts in svg.py. Every string that comes from the
report is escaped: model names, paths and messages are user input.
"""

from __future__ import annotations

from edge_inception.report.cells import (
    TABLES,
    convert_table,
    data_text,
    failure_text,
    host_text,
    isa_text,
    model_text,
    ptq_table,
    row_notes,
    used_columns,
)
from edge_inception.report.diagnosis import html_section as diagnosis_section
from edge_inception.report.plots import forest_plot, latency_section, size_section, top1_plot
from edge_inception.report.schema import check_report
from edge_inception.report.svg import e

# --- page ----------------------------------------------------------------------------------------------

CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
 "Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:24px;margin:0 0 2px;overflow-wrap:anywhere}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #e3e6ea}
.kind{color:#5f6670;font-size:13px;text-transform:uppercase;letter-spacing:.06em}
.verdict{display:inline-block;margin:10px 0 4px;padding:4px 10px;border-radius:6px;font-weight:600}
.verdict.ok{background:#e6f4ea;color:#1e6b36}.verdict.failed{background:#fbe9e7;color:#a12a1d}
.facts{display:flex;flex-wrap:wrap;gap:6px 8px;margin:10px 0 0;padding:0;list-style:none}
.facts li{background:#f1f3f5;border-radius:6px;padding:3px 9px;font-size:13px;overflow-wrap:anywhere}
.facts b{color:#5f6670;font-weight:600;margin-right:4px}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{padding:5px 7px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{background:#f6f7f9;font-weight:600;color:#3d444d}
th:first-child,td:first-child,th.l,td.l{text-align:left}
td{font-variant-numeric:tabular-nums}
td.name{font-weight:600}td.name.long{white-space:normal;overflow-wrap:anywhere;min-width:12em}
td small{display:block;color:#5f6670;font-size:11.5px}
tbody tr:nth-child(even){background:#fafbfc}
.st{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600}
.st.ok{background:#e6f4ea;color:#1e6b36}.st.failed{background:#fbe9e7;color:#a12a1d}
.st.warn{background:#fff4d6;color:#7a5600}
figure{margin:6px 0 14px}
figcaption,.muted{color:#5f6670;font-size:12.5px}
svg.plot{display:block;max-width:100%;height:auto;font-family:system-ui,-apple-system,"Segoe UI",Roboto,
 "Noto Sans","DejaVu Sans",sans-serif}
svg .tick{font-size:11px;fill:#5f6670}
svg .lbl{font-size:12.5px;fill:#1f2328}
svg .name{font-size:14px;font-weight:700;fill:#1f2328}
svg .sub{font-size:11px;fill:#5f6670}
svg .val{font-size:12px;fill:#1f2328;font-variant-numeric:tabular-nums}
svg .inbar{font-size:12px;fill:#fff;font-weight:600}
.legend{font-size:12.5px;color:#3d444d;margin:4px 0 8px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}
.sw:first-child{margin-left:0}
ul.notes{padding-left:20px;margin:6px 0}ul.notes li{margin:3px 0;overflow-wrap:anywhere}
li.fail{color:#a12a1d}
dl.host{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:6px 0;font-size:13px}
dl.host dt{color:#5f6670}dl.host dd{margin:0;overflow-wrap:anywhere}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f5;padding:1px 4px;
 border-radius:4px;overflow-wrap:anywhere}
footer{margin-top:28px;color:#8a919a;font-size:12px}
"""


def _status_cell(word: str) -> str:
    cls = "ok" if word.startswith("ok") else "failed" if word == "failed" else "warn"
    return f'<span class="st {cls}">{e(word)}</span>'


def _two_line(text: str) -> str:
    """'0.67 MB (3.6× smaller)' → the value, and its interval or remark on a smaller second line, so
    the table fits a laptop screen."""
    for sep in (" [", " ("):
        head, found, tail = text.partition(sep)
        if found and head:
            return f"{e(head)}<small>{e(found.strip() + tail)}</small>"
    return e(text)


def _html_table(headers: list[str], rows: list[list[str]], *, keep: int = 2) -> str:
    cols = used_columns(rows, len(headers), keep=keep)
    head = "".join(f'<th{" class=l" if i < keep else ""}>{e(headers[i])}</th>' for i in cols)
    body = []
    for r in rows:
        cells = []
        for i in cols:
            if i == 0:
                cells.append(f'<td class="name{" long" if len(r[0]) > 36 else ""}">{e(r[0])}</td>')
            elif i == 1 and keep > 1:
                word, _, more = r[1].partition(" · ")
                cells.append(f"<td class=l>{_status_cell(word)}" + (f"<small>{e(more)}</small>" if more else "")
                             + "</td>")
            else:
                cells.append(f"<td>{_two_line(r[i])}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def summary_section(report: dict) -> str:
    kind = report.get("kind", "convert")
    targets = report.get("targets") or []
    if not targets:
        return '<section><h2>Summary</h2><p class="muted">No targets in this report.</p></section>'
    parts = [_html_table(*TABLES.get(kind, convert_table)(report))]
    headers, rows = ptq_table(report)
    if rows:
        parts.append('<h3>QAT against post-training quantization</h3>' + _html_table(headers, rows, keep=1))
    items = []
    for r in targets:
        if r.get("status") != "ok":
            items.append(f'<li class="fail"><b>{e(str(r.get("target", "?")))}</b> failed: '
                         f'{e(failure_text(r))}</li>')
    for r in targets:
        for note in row_notes(r):
            items.append(f'<li><b>{e(str(r.get("target", "?")))}</b>: {e(note)}</li>')
    if items:
        parts.append('<ul class="notes">' + "".join(items) + "</ul>")
    return '<section><h2>Summary</h2>' + "".join(parts) + "</section>"


def host_section(report: dict) -> str:
    host = report.get("host") or {}
    facts = []
    if host:
        facts.append(("CPU", host_text(host)))
        isa = host.get("isa") or {}
        if isa:
            has = ", ".join(k for k, v in isa.items() if v) or "none of those checked"
            lacks = ", ".join(k for k, v in isa.items() if not v)
            facts.append(("ISA", f"has {has}" + (f" · lacks {lacks}" if lacks else "")))
        for key, label in (("machine", "machine"), ("os", "OS"), ("python", "Python")):
            if host.get(key):
                facts.append((label, str(host[key])))
    engines = []
    for r in report.get("targets") or []:
        eng = r.get("engine") or {}
        if eng.get("engine") or eng.get("version"):
            engines.append(f"{r.get('target', '?')}: {eng.get('engine', '')} {eng.get('version', '')}".strip())
    if engines:
        facts.append(("engines", "; ".join(dict.fromkeys(engines))))
    data = report.get("data") or {}
    ev = data.get("evaluation") or {}
    if ev.get("fingerprint"):
        facts.append(("data fingerprint", f"sha256 {ev['fingerprint']}"))
    settings = {k: v for k, v in (report.get("settings") or {}).items() if v is not None and k != "stop_rule"}
    if settings:
        facts.append(("settings", ", ".join(f"{k} {v}" for k, v in settings.items())))
    rule = (report.get("settings") or {}).get("stop_rule")
    if rule:
        facts.append(("stopping rule", str(rule)))
    model = report.get("model") or {}
    if model.get("input_shape"):
        shape = "×".join(str(v) for v in model["input_shape"])
        facts.append(("input", f"{shape} {model.get('layout', '')}".strip()))
    artifacts = [(str(r.get("target", "?")), str(r["artifact"])) for r in report.get("targets") or []
                 if r.get("artifact") and str(r["artifact"]) != str(r.get("target"))]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    dl += "".join(f"<dt>{e(k)}</dt><dd><code>{e(v)}</code></dd>" for k, v in artifacts)
    if not dl:
        return ""
    return f'<section><h2>Host, settings and artifacts</h2><dl class="host">{dl}</dl></section>'


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; nothing fetched, nothing run)."""
    check_report(report)
    kind = str(report.get("kind", "convert"))
    targets = report.get("targets") or []
    failed = [r for r in targets if r.get("status") != "ok"]
    ok = not failed and report.get("status", "ok") == "ok"
    model = model_text(report.get("model"))
    host = report.get("host") or {}
    noun = "target" if kind == "convert" else "artifact"
    many = f"{noun}s" if len(targets) != 1 else noun
    verdict = ((f"all {len(targets)} {many} ok" if len(targets) > 1 else f"{len(targets)} {many} ok") if ok else
               f"{len(failed)} of {len(targets)} {many} failed" if failed else "failed")
    data = report.get("data") or {}
    facts = [("host", f"{host_text(host)} · {isa_text(host)}")]
    if kind == "bench" and not data.get("evaluation"):
        if data.get("latency_input"):
            facts.append(("input", str(data["latency_input"])))
    else:
        facts.append(("data", data_text(data)))
    ref = report.get("reference")
    if isinstance(ref, dict) and (ref.get("target") or ref.get("artifact")):
        facts.append(("reference", str(ref.get("target") or ref.get("artifact"))))
    tool = report.get("tool") or {}
    head = (f'<header><div class="kind">edge-inception {e(kind)} report</div><h1>{e(model)}</h1>'
            f'<div class="verdict {"ok" if ok else "failed"}">{"✓" if ok else "✗"} {e(verdict)}</div>'
            '<ul class="facts">' + "".join(f"<li><b>{e(k)}</b>{e(v)}</li>" for k, v in facts) + "</ul></header>")
    sections = [summary_section(report), forest_plot(report)]
    if not any((r.get("accuracy") or {}).get("delta_points") is not None for r in targets):
        sections.append(top1_plot(report))
    sections += [latency_section(report), size_section(report), diagnosis_section(report), host_section(report)]
    foot = f"{tool.get('name', 'edge-inception')} {tool.get('version', '')}".strip()
    if report.get("created"):
        foot += f" · {report['created']}"
    foot += f" · report.json schema {report.get('schema_version')}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(model)} · edge-inception {e(kind)}</title><style>{CSS}</style></head>"
            f"<body><main>{head}{''.join(sections)}<footer>{e(foot)}</footer></main></body></html>\n")
