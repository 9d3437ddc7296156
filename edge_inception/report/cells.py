"""What the Markdown and HTML views say about a report, as plain text: the facts (host, model, data), each
row's status and notes, and the cells of the summary table of each report kind. The views escape the
text their own way.

    headers, rows = TABLES[report["kind"]](report)    # convert_table, eval_table or bench_table
    host_text(report["host"]), isa_text(report["host"]), data_text(report["data"])
    gate_threshold(row)                               # the row's recorded max_top1_drop, or None
"""

from __future__ import annotations

from edge_inception.report.numbers import (
    DASH,
    cosine,
    count,
    db,
    interval,
    mb,
    ms,
    num,
    pct,
    plain,
    points,
    pvalue,
    ratio,
    times,
)


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


def gate_threshold(row: dict) -> float | None:
    """The top-1 drop (points) the row's gate allows, as the report recorded it (schema 1.2); None for a
    row without one. Views read only the report: no profile is looked up, so a saved report renders the
    same in any folder."""
    return num((row.get("gate") or {}).get("max_top1_drop"))


def status_word(row: dict) -> str:
    if row.get("status") != "ok":
        return "failed"
    if (row.get("verification") or {}).get("ok") is False:
        return "violations"
    return "ok · not run on device" if row.get("device_run") is False else "ok"


def size_text(row: dict) -> str:
    text, smaller = mb(row.get("size_bytes")), times(row.get("size_ratio"))
    return f"{text} ({smaller})" if smaller and text != DASH else text


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
        if agree != DASH:
            agree += interval(ci, lambda v: plain(v * 100, 1))
        has_fidelity = "sqnr_db" in acc or "cosine" in acc
        rows.append([str(r.get("target", "?")), status_word(r), mb(r.get("size_bytes")),
                     str(acc["n"]) if acc.get("n") is not None else DASH, pct(acc.get("float_top1")),
                     pct(acc.get("top1")), pct(acc.get("top5")),
                     points(acc.get("delta_points"), acc.get("delta_ci95")), pvalue(acc.get("mcnemar_p")), agree,
                     db(acc.get("sqnr_db")) if has_fidelity else DASH, cosine(acc.get("cosine"))])
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
            f"{count(rss)} / {count(peak, 'MB')}" if rss is not None and peak is not None else count(rss or peak, "MB"))
        rows.append([str(r.get("target", "?")), status_word(r), ms(c.get("p50_ms")), ms(c.get("p90_ms")),
                     ms(c.get("p99_ms")), mean, ratio(lat.get("ratio"), lat.get("ratio_ci95")),
                     DASH if tput is None else f"{plain(tput, 1)} img/s",
                     DASH if num(r.get("load_ms")) is None else f"{ms(r['load_ms'])} ms", mem, mb(r.get("size_bytes"))])
    return headers, rows


def used_columns(rows: list[list[str]], n: int, *, keep: int = 2) -> list[int]:
    """Indexes of the columns worth showing: the first ``keep`` and any with a value in some row."""
    return [i for i in range(n) if i < keep or any(r[i] not in (DASH, "") for r in rows)]


TABLES = {"convert": convert_table, "eval": eval_table, "bench": bench_table}
