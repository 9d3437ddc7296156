"""Human-readable tables of a report on the terminal, rendered from the JSON (the source of truth), with
the same number formatters as the Markdown and HTML views (report/numbers.py).

    print_convert_table(report)
    print_eval_table(report); print_bench_table(report)
"""

from __future__ import annotations

from edge_inception.report.numbers import DASH, cosine, count, db, mb, ms, pct, points, pvalue, ratio, times


def _delta(acc: dict) -> str:
    return points(acc.get("delta_points"), acc.get("delta_ci95"))


def convert_rows(report: dict) -> list[list[str]]:
    """One row per target; a QAT target is labelled '(QAT)' and, with --compare-ptq, followed by a row
    for the same target quantized post-training, so float, PTQ and QAT top-1 read side by side."""
    rows = []
    for r in report["targets"]:
        acc, lat = r.get("accuracy", {}), r.get("latency", {})
        qat = r.get("method") == "qat"
        rows.append([
            r["target"] + (" (QAT)" if qat else ""), r["status"],
            mb(r.get("size_bytes")) + (f" ({times(r['size_ratio'])})" if times(r.get("size_ratio")) else ""),
            pct(acc.get("float_top1")), pct(acc.get("top1")),
            _delta(acc),
            pct(acc.get("agreement")),
            DASH if not lat else f"{ms(lat.get('reference_p50_ms'))} / {ms(lat.get('p50_ms'))} ms",
            DASH if not lat else ratio(lat.get("ratio")),
        ])
        if qat and "ptq" in r:
            p, pacc = r["ptq"], r["ptq"].get("accuracy", {})
            rows.append([f"{r['target']} (PTQ)", p["status"], mb(p.get("size_bytes")), pct(pacc.get("float_top1")),
                         pct(pacc.get("top1")), _delta(pacc), pct(pacc.get("agreement")), DASH, DASH])
    return rows


HEADERS = ["target", "status", "size", "float top-1", "top-1", "change", "agreement", "p50 ref / target", "ratio"]


def print_convert_table(report: dict) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    # Not a terminal (CI logs, pipes): a fixed wide layout rather than rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    ev = (report["data"] or {}).get("evaluation")
    title = f"{report['model']['name']} ({report['model']['source']})"
    if ev:
        title += f" · evaluated on {ev['samples']} images of {ev['source']}"
    table = Table(title=title)
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("target", "status") else "right")
    for row in convert_rows(report):
        style = None if row[1] == "ok" else "red"
        table.add_row(*row, style=style)
    console.print(table)
    for r in report["targets"]:
        if r["status"] != "ok":
            console.print(f"[red]{r['target']} failed:[/red] {r['message']}", highlight=False)
        if r.get("ptq", {}).get("status") == "failed":
            console.print(f"[red]{r['target']} (PTQ) failed:[/red] {r['ptq']['message']}", highlight=False)
        for note in r.get("notes", []):
            console.print(f"[yellow]{r['target']}:[/yellow] {note}", highlight=False)
    if report.get("devices"):
        from edge_inception.report.devices import print_device_table

        print_device_table(report, console)
    if "path" in report:
        console.print(f"report: {report['path']}", highlight=False)


def _console():
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _title(report: dict) -> str:
    m = report.get("model") or {}
    ev = (report.get("data") or {}).get("evaluation")
    title = f"{m.get('name', '?')} · {report['host']['cpu']} · {report['settings'].get('threads')} threads"
    if ev:
        title += f" · {ev['samples']} images of {ev['source']}"
    return title


def print_eval_table(report: dict) -> None:
    """Top-1/top-5 per artifact; against a reference, the change with its interval and the fidelity."""
    from rich.table import Table

    console = _console()
    table = Table(title=_title(report))
    cols = ["artifact", "runtime", "size", "top-1", "top-5", "ref top-1", "change [95% CI]", "McNemar p",
            "agreement", "SQNR", "cosine"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("artifact", "runtime") else "right",
                         overflow="fold" if c == "artifact" else "ellipsis")
    for r in report["targets"]:
        a = r.get("accuracy", {})
        fidelity = "sqnr_db" in a or "cosine" in a  # a null SQNR with a reference means identical outputs
        table.add_row(r["target"], r["runtime"], mb(r.get("size_bytes")), pct(a.get("top1")), pct(a.get("top5")),
                      pct(a.get("float_top1")), _delta(a), pvalue(a.get("mcnemar_p")), pct(a.get("agreement")),
                      db(a.get("sqnr_db")) if fidelity else DASH, cosine(a.get("cosine")))
    console.print(table)
    if report.get("reference"):
        console.print(f"reference: {report['reference']['target']}", highlight=False)
    _print_device_lines(report, console)
    if "path" in report:
        console.print(f"report: {report['path']}", highlight=False)


def print_bench_table(report: dict) -> None:
    """Latency statistics per artifact; against a reference, the paired ratio with its interval."""
    from rich.table import Table

    console = _console()
    table = Table(title=_title(report) + f" · batch {report['settings']['batch']}")
    cols = ["artifact", "runtime", "size", "runs", "p50 ms", "p90 ms", "p99 ms", "mean ± std ms", "img/s",
            "load ms", "peak MB", "ratio [95% CI]"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("artifact", "runtime") else "right",
                         overflow="fold" if c == "artifact" else "ellipsis")
    for r in report["targets"]:
        lat = r.get("latency", {})
        c = lat.get("candidate", lat)
        table.add_row(r["target"], r["runtime"], mb(r.get("size_bytes")), str(lat.get("runs", DASH)),
                      ms(c.get("p50_ms")), ms(c.get("p90_ms")), ms(c.get("p99_ms")),
                      f"{ms(c.get('mean_ms'))} ± {ms(c.get('std_ms'))}", count(c.get("throughput_ips")),
                      count(r.get("load_ms")), count(r.get("peak_rss_mb")),
                      ratio(lat.get("ratio"), lat.get("ratio_ci95")))
    console.print(table)
    for r in report["targets"]:
        lat = r.get("latency", {})
        if lat.get("stop_rule"):  # adaptive runs: say why they stopped
            console.print(f"{r['target']}: stopped: {lat['stop_reason']}", highlight=False)
        if lat.get("reference_input"):
            console.print(f"{r['target']}: interleaved with {lat['reference_input']} "
                          f"(p50 {ms(lat['reference']['p50_ms'])} ms)", highlight=False)
    _print_device_lines(report, console)
    if "path" in report:
        console.print(f"report: {report['path']}", highlight=False)


def _print_device_lines(report: dict, console) -> None:
    from edge_inception.report.devices import device_lines

    for line in device_lines(report):
        console.print(line, highlight=False)
