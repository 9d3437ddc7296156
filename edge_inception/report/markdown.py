"""Markdown view of a report.json, compact enough for a GitHub Actions step summary.

    text = render_markdown(report)          # report: the dict convert/evaluate/benchmark return
    Path(os.environ["GITHUB_STEP_SUMMARY"]).write_text(text)

Renders the three report kinds (convert, eval, bench) of schema 1.x from the JSON alone. The cells and
facts come from cells.py and the numbers from numbers.py, shared with the HTML view, so both say the
same numbers the same way.
"""

from __future__ import annotations

import re

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
from edge_inception.report.diagnosis import markdown_lines as diagnosis_lines
from edge_inception.report.schema import check_report

# --- Markdown ---------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def md(text) -> str:
    """User text (names, paths, messages) made inert inside a Markdown table cell."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(lambda m: {"<": "&lt;", ">": "&gt;", "|": "\\|"}.get(m[1], "\\" + m[1]), text)


def md_cell(text) -> str:
    """A value cell: only what would break the table or inject HTML is escaped, so "[−0.25, +0.03]"
    stays readable in the raw Markdown."""
    text = " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|")


def _md_table(headers: list[str], rows: list[list[str]], *, keep: int = 2) -> list[str]:
    """A GFM table; columns after the first ``keep`` that are empty in every row are dropped."""
    cols = used_columns(rows, len(headers), keep=keep)
    align = ["---" if i < keep else "---:" for i in cols]
    out = ["| " + " | ".join(headers[i] for i in cols) + " |", "| " + " | ".join(align) + " |"]
    for r in rows:
        cells = [f"**{md(r[0])}**", *(_STATUS_MD.get(c, md_cell(c)) if i == 1 and keep > 1 else md_cell(c)
                                      for i, c in enumerate(r[1:], 1))]
        out.append("| " + " | ".join(cells[i] for i in cols) + " |")
    return out


_STATUS_MD = {"ok": "✅ ok", "failed": "❌ failed", "violations": "⚠️ violations",
              "ok · not run on device": "✅ ok · not run on device"}


def _settings_text(report: dict) -> str:
    s = report.get("settings") or {}
    rows = [r for r in report.get("targets") or [] if r.get("latency")]
    lat = rows[0]["latency"] if rows else {}
    parts = []
    threads = s.get("threads", lat.get("threads"))
    if threads is not None:
        parts.append(f"{threads} threads")
    if lat.get("batch") is not None:
        parts.append(f"batch {lat['batch']}")
    runs = lat.get("runs", s.get("latency_runs"))
    if runs is not None:
        parts.append(f"{runs} runs")
    if lat.get("stop_reason"):
        parts.append(f"stopped: {md(lat['stop_reason'])}")
    return ", ".join(parts)


def render_markdown(report: dict) -> str:
    """The report as GitHub-flavoured Markdown: heading, facts, one table for the report's kind,
    failures and notes."""
    check_report(report)
    kind = report.get("kind", "convert")
    targets = report.get("targets") or []
    failed = [r for r in targets if r.get("status") != "ok"]
    mark = "✅" if not failed and report.get("status", "ok") == "ok" else "❌"
    host = report.get("host") or {}
    lines = [f"### {mark} edge-inception {md(kind)}: {md(model_text(report.get('model')))}", ""]
    facts = [f"**Host** {md(host_text(host))} · {isa_text(host)}"]
    data = report.get("data") or {}
    if kind == "bench" and not data.get("evaluation"):
        if data.get("latency_input"):
            facts.append(f"**Input** {md(data['latency_input'])}")
    else:
        facts.append(f"**Data** {md(data_text(data))}")
    ref = report.get("reference")
    if isinstance(ref, dict) and (ref.get("target") or ref.get("artifact")):
        facts.append(f"**Reference** {md(ref.get('target') or ref.get('artifact'))}")
    settings = _settings_text(report) if any(r.get("latency") for r in targets) else ""
    if settings:
        facts.append(f"**Latency** {settings}")
    lines.append("<br>".join(facts))
    lines.append("")
    if targets:
        lines += _md_table(*TABLES.get(kind, convert_table)(report))
        headers, rows = ptq_table(report)
        if rows:
            lines += ["", "**QAT against post-training quantization** (same data, same float reference)", "",
                      *_md_table(headers, rows, keep=1)]
    else:
        lines.append("_No targets in this report._")
    extra = []
    for r in failed:
        extra.append(f"- ❌ **{md(r.get('target', '?'))}** failed: {md(failure_text(r))}")
    for r in targets:
        for note in row_notes(r):
            extra.append(f"- **{md(r.get('target', '?'))}**: {md(note)}")
    if extra:
        lines += ["", *extra]
    lines += diagnosis_lines(report, md, md_cell)  # convert --diagnose: the ranked layers and findings
    ci_method = next((r["accuracy"]["ci_method"] for r in targets if (r.get("accuracy") or {}).get("ci_method")), None)
    foot = []
    if ci_method:
        foot.append(f"Change: top-1 of the target minus its float reference, in points; 95% CI by {md(ci_method)}.")
    if any((r.get("latency") or {}).get("ratio") is not None for r in targets):
        foot.append("Latency ratio: target p50 / reference p50 from interleaved runs (<1× = faster).")
    tool = report.get("tool") or {}
    foot.append(f"{md(tool.get('name', 'edge-inception'))} {md(tool.get('version', ''))}".strip()
                + (f", {md(report['created'])}" if report.get("created") else ""))
    lines += ["", "<sub>" + " ".join(foot) + "</sub>", ""]
    return "\n".join(lines)
