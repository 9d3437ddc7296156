"""Human-readable tables of a report, rendered from the JSON (the source of truth).

    print_convert_table(report)
"""

from __future__ import annotations


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:.2f} MB"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.2f}%"


def convert_rows(report: dict) -> list[list[str]]:
    rows = []
    for r in report["targets"]:
        acc, lat = r.get("accuracy", {}), r.get("latency", {})
        delta = acc.get("delta_points")
        rows.append([
            r["target"], r["status"],
            _mb(r.get("size_bytes")) + (f" ({r['size_ratio']:.1f}x smaller)" if r.get("size_ratio") else ""),
            _pct(acc.get("float_top1")), _pct(acc.get("top1")),
            "—" if delta is None else f"{delta:+.2f} pt",
            _pct(acc.get("agreement")),
            "—" if not lat else f"{lat['reference_p50_ms']:.2f} / {lat['p50_ms']:.2f} ms",
            "—" if not lat else f"{lat['ratio']:.2f}x",
        ])
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
        for note in r.get("notes", []):
            console.print(f"[yellow]{r['target']}:[/yellow] {note}", highlight=False)
    if "path" in report:
        console.print(f"report: {report['path']}", highlight=False)
