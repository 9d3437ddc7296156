"""Markdown view of a report.json, compact enough for a GitHub Actions step summary.

    text = render_markdown(report)          # report: the dict convert/evaluate/benchmark return
    Path(os.environ["GITHUB_STEP_SUMMARY"]).write_text(text)

Renders the three report kinds (convert, eval, bench) of schema 1.x from the JSON alone. Numbers are
formatted by report/numbers.py, as in every other view, so all say the same numbers the same way.
"""

from __future__ import annotations

import re

# The one set of formatters every view uses; html.py imports them from here.
from edge_inception.report.numbers import DASH, MINUS, db, mb, ms, num, pct, points, pvalue, ratio, signed  # noqa: F401


def check_schema(report: dict) -> None:
    """The report checked against the one schema (report/schema.py): UsageError naming the key."""
    from edge_inception.report.schema import check_report

    check_report(report)


def isa_text(host: dict) -> str:
    isa = host.get("isa") or {}
    have = [name for key, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "AVX-512 VNNI"),
                                   ("avx_vnni", "AVX-VNNI"), ("amx", "AMX"), ("neon", "NEON"),
                                   ("dotprod", "dotprod")) if isa.get(key)]
    vnni = "int8 dot-product (VNNI/AMX/dotprod)" if isa.get("vnni") or isa.get("dotprod") else "no VNNI"
    return (", ".join(have) + " · " if have else "") + vnni


def host_text(host: dict | None) -> str:
    host = host or {}
    cpu = host.get("cpu") or host.get("machine") or "unknown CPU"
    cores = f", {host['cores']} cores" if host.get("cores") else ""
    return f"{cpu}{cores}"


def model_text(model: dict | None) -> str:
    model = model or {}
    name = model.get("name") or model.get("source") or "model"
    extra = [str(model[k]) for k in ("source", "kind") if model.get(k) and model.get(k) != name]
    if model.get("random_weights"):
        extra.append("random weights")
    return name + (f" ({', '.join(extra)})" if extra else "")


def data_text(data: dict | None) -> str:
    data = data or {}
    parts = []
    ev = data.get("evaluation")
    if ev:
        parts.append(f"evaluated on {ev.get('samples', '?')} images of {ev.get('source', '?')}"
                     + (f" (sha256 {str(ev['fingerprint'])[:12]}…)" if ev.get("fingerprint") else ""))
    else:
        parts.append("no evaluation data (no accuracy measured)")
    cal = data.get("calibration")
    if cal:
        parts.append(f"calibrated on {cal.get('samples', '?')} images of {cal.get('source', '?')}")
    return "; ".join(parts)


def latency_stats(lat: dict | None, side: str) -> dict:
    """``side`` = 'reference' or 'candidate'. Bench rows of a single artifact may carry the candidate's
    statistics at the top level of ``latency`` instead of under 'candidate'."""
    lat = lat or {}
    stats = lat.get(side)
    if isinstance(stats, dict):
        return stats
    if side == "candidate" and num(lat.get("p50_ms")) is not None:
        return {k: lat[k] for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "samples_ms") if k in lat}
    if side == "reference" and num(lat.get("reference_p50_ms")) is not None:
        return {"p50_ms": lat["reference_p50_ms"]}
    return {}


def reference_label(row: dict) -> str:
    ref = row.get("reference") or {}
    return str(ref.get("target") or "float reference")


def failure_text(row: dict) -> str:
    """The row's message without a leading "target: " (the views name the target already)."""
    msg = " ".join(str(row.get("message") or "no message given").split())
    prefix = f"{row.get('target', '')}: "
    return msg[len(prefix):] if msg.startswith(prefix) and len(msg) > len(prefix) else msg


def row_notes(row: dict) -> list[str]:
    notes = [str(n) for n in row.get("notes") or []]
    # convert writes its own note naming the device; a report without one still gets the fact.
    if row.get("device_run") is False and not any("not run on" in n for n in notes):
        notes.insert(0, "not run on device: checked statically against the profile; latency is this host's")
    return notes


def gate_threshold(report: dict, row: dict) -> float | None:
    """The top-1 drop (points) the row's gate allows, as the report recorded it (schema 1.2); None for a
    row without one. Views read only the report: no profile is looked up, so a saved report renders the
    same in any folder."""
    return num((row.get("gate") or {}).get("max_top1_drop"))


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


def status_word(row: dict) -> str:
    if row.get("status") != "ok":
        return "failed"
    if (row.get("verification") or {}).get("ok") is False:
        return "violations"
    return "ok · not run on device" if row.get("device_run") is False else "ok"


def size_text(row: dict) -> str:
    text = mb(row.get("size_bytes"))
    r = num(row.get("size_ratio"))
    if r is not None and r > 0 and text != DASH:
        text += f" ({r:.1f}× smaller)" if r >= 1 else f" ({1 / r:.1f}× larger)"
    return text


def convert_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """Plain-text cells (not escaped) of the convert summary; the views escape them their own way."""
    headers = ["target", "status", "method", "size", "float top-1", "top-1", "change [95% CI]", "McNemar p",
               "agreement", "p50 ref / target", "ratio [95% CI]"]
    rows = []
    for r in report.get("targets") or []:
        acc, lat = r.get("accuracy") or {}, r.get("latency") or {}
        ref, cand = latency_stats(lat, "reference"), latency_stats(lat, "candidate")
        p50 = DASH if num(cand.get("p50_ms")) is None else f"{ms(ref.get('p50_ms'))} / {ms(cand.get('p50_ms'))} ms"
        rows.append([str(r.get("target", "?")), status_word(r), str(r["method"]) if r.get("method") else DASH,
                     size_text(r), pct(acc.get("float_top1")), pct(acc.get("top1")),
                     points(acc.get("delta_points"), acc.get("delta_ci95")), pvalue(acc.get("mcnemar_p")),
                     pct(acc.get("agreement")), p50, ratio(lat.get("ratio"), lat.get("ratio_ci95"))])
    if all(r[2] in ("ptq", DASH) for r in rows):  # post-training is the default: say "method" only when mixed
        for r in rows:
            r[2] = DASH
    return headers, rows


def ptq_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """QAT rows beside their post-training-quantized twin (``row["ptq"]``); no rows when none has one."""
    rows = []
    for r in report.get("targets") or []:
        ptq = r.get("ptq") or {}
        if not ptq:
            continue
        qat, pacc = r.get("accuracy") or {}, ptq.get("accuracy") or {}
        rows.append([str(r.get("target", "?")), pct(qat.get("float_top1") or pacc.get("float_top1")),
                     pct(qat.get("top1")), points(qat.get("delta_points"), qat.get("delta_ci95")),
                     pct(pacc.get("top1")), points(pacc.get("delta_points"), pacc.get("delta_ci95")),
                     pct(qat.get("agreement")), pct(pacc.get("agreement"))])
    headers = ["target", "float top-1", "QAT top-1", "QAT change", "PTQ top-1", "PTQ change",
               "QAT agreement", "PTQ agreement"]
    return headers, rows


def eval_table(report: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["artifact", "status", "size", "images", "reference top-1", "top-1", "top-5", "change [95% CI]",
               "McNemar p", "agreement [95% CI]", "SQNR", "cosine"]
    rows = []
    for r in report.get("targets") or []:
        acc = r.get("accuracy") or {}
        agree = pct(acc.get("agreement"))
        ci = acc.get("agreement_ci95")
        if agree != DASH and ci and len(ci) == 2 and num(ci[0]) is not None and num(ci[1]) is not None:
            agree += f" [{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"
        has_fidelity = "sqnr_db" in acc or "cosine" in acc
        cos = num(acc.get("cosine"))
        rows.append([str(r.get("target", "?")), status_word(r), mb(r.get("size_bytes")),
                     str(acc["n"]) if acc.get("n") is not None else DASH, pct(acc.get("float_top1")),
                     pct(acc.get("top1")), pct(acc.get("top5")),
                     points(acc.get("delta_points"), acc.get("delta_ci95")), pvalue(acc.get("mcnemar_p")), agree,
                     db(acc.get("sqnr_db")) if has_fidelity else DASH, DASH if cos is None else f"{cos:.5f}"])
    return headers, rows


def bench_table(report: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["artifact", "status", "p50 ms", "p90 ms", "p99 ms", "mean ± std ms", "vs reference", "throughput",
               "load", "memory (RSS / peak)", "size"]
    rows = []
    for r in report.get("targets") or []:
        lat = r.get("latency") or {}
        c = latency_stats(lat, "candidate")
        mean = DASH if num(c.get("mean_ms")) is None else f"{ms(c['mean_ms'])} ± {ms(c.get('std_ms'))}"
        tput = num(lat.get("throughput_ips"))
        rss, peak = num(r.get("rss_mb")), num(r.get("peak_rss_mb"))
        mem = DASH if rss is None and peak is None else (
            f"{rss:.0f} / {peak:.0f} MB" if rss is not None and peak is not None else f"{rss or peak:.0f} MB")
        rows.append([str(r.get("target", "?")), status_word(r), ms(c.get("p50_ms")), ms(c.get("p90_ms")),
                     ms(c.get("p99_ms")), mean, ratio(lat.get("ratio"), lat.get("ratio_ci95")),
                     DASH if tput is None else f"{tput:.1f} img/s",
                     DASH if num(r.get("load_ms")) is None else f"{ms(r['load_ms'])} ms", mem, mb(r.get("size_bytes"))])
    return headers, rows


def used_columns(rows: list[list[str]], n: int, *, keep: int = 2) -> list[int]:
    """Indexes of the columns worth showing: the first ``keep`` and any with a value in some row."""
    return [i for i in range(n) if i < keep or any(r[i] not in (DASH, "") for r in rows)]


TABLES = {"convert": convert_table, "eval": eval_table, "bench": bench_table}


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
    check_schema(report)
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
