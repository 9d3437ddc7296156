"""The sweep's report: report.json of kind 'sweep' (one row per cell, schema 1.x), report.md and
report.html with the Pareto view, and the terminal table.

    report = build_report(keyed, cached=..., fresh=..., cache=cache, spec=spec, file=path, backend="ray", wall_s=t)
    write_sweep_report(report, out)          # report.json (validated), report.md, report.html
    print_sweep_table(report)

Every row is the cell's convert row (accuracy with its interval, agreement, size, latency ratio,
status) plus ``cell``: its id, key, recipe, method, device, whether it came from the cache, the Ray
node that ran it, and its reproducibility manifest. A device row (``cell.device`` set, id
``CELL@DEVICE``) is the same artifact's figures on that device (devices.py); each device has its own
Pareto front and plot.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from edge_inception.report.numbers import DASH, mb, ms, pct, points, ratio
from edge_inception.report.svg import e
from edge_inception.sweep.pareto import by_device, pareto_front, pareto_plot


def _row(cell, key: str, record: dict | None, *, cached: bool, cache, device: str | None = None,
         conversion: tuple[str, dict | None] | None = None) -> dict:
    """A cell's row; with ``device``, that device's row of the cell (its artifact in the conversion's folder)."""
    from edge_inception.sweep.devices import _absolute, device_cell_id

    why = "not run (interrupted)"
    if device is not None and (conversion[1] or {}).get("status") != "ok":
        why = "not measured: the conversion failed"
    record = record or {"status": "failed", "row": {"target": cell.target, "status": "failed", "message": why}}
    folder = cache.path(conversion[0] if device is not None else key)
    row = _absolute(json.loads(json.dumps(record["row"])), folder)
    host = record.get("host") or {}
    row["cell"] = {"id": device_cell_id(cell.id, device) if device else cell.id, "key": key,
                   "model": cell.model.label, "target": cell.target,
                   "recipe": cell.recipe.name if cell.recipe else None,
                   "method": cell.method.name if cell.method else "float",
                   "device": device, "conversion": cell.id if device else None,
                   "cached": cached, "node": record.get("node"),
                   "transfer": record.get("transfer"), "pid": record.get("pid"), "hostname": host.get("hostname"),
                   "cpu": host.get("cpu"),
                   "wall_s": record.get("wall_s"), "peak_rss_mb": record.get("peak_rss_mb"),
                   "folder": str(folder) if record["status"] == "ok" else None,
                   "manifest": record.get("manifest")}
    return row


def build_report(keyed, *, cached: dict, fresh: dict, cache, spec, file: Path, backend: str, wall_s: float,
                 devices=None) -> dict:
    from edge_inception import __version__
    from edge_inception._core.host import host_facts
    from edge_inception.report.schema import SCHEMA_VERSION

    rows, measured = [], 0
    for cell, key, _ in keyed:
        from_cache = key in cached and key not in fresh
        record = cached.get(key) if from_cache else fresh.get(key)
        rows.append(_row(cell, key, record, cached=from_cache, cache=cache))
        for name, dkey, drec, dcached in devices.for_cell(cell.id) if devices else []:
            measured += drec is not None and not dcached
            rows.append(_row(cell, dkey, drec, cached=dcached, cache=cache, device=name, conversion=(key, record)))
    front = pareto_front(rows)  # per device: latencies on two devices are not comparable
    for r in rows:
        r["cell"]["pareto"] = r["cell"]["id"] in front
    computed = len(fresh) + measured
    return {
        "schema_version": SCHEMA_VERSION, "kind": "sweep",
        "tool": {"name": "edge-inception", "version": __version__},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": host_facts(),
        "settings": {"threads": spec.measure.threads, "latency_runs": spec.measure.latency_runs},
        "status": "ok" if all(r["status"] == "ok" for r in rows) else "failed",
        "targets": rows,
        "sweep": {"file": str(file), "cells": len(rows), "computed": computed, "cached": len(rows) - computed,
                  "failed": sum(r["status"] != "ok" for r in rows), "backend": backend, "wall_s": wall_s,
                  "cells_per_minute": computed / wall_s * 60 if computed and wall_s > 0 else None,
                  "conversions": {"cells": len(keyed), "computed": len(fresh)},
                  "devices": [d.name for d in devices.devices] if devices else [],
                  "cache": str(cache.root), "pareto": front,
                  "pareto_objectives": ["top-1 change (points, higher)", "p50 latency ms (lower)",
                                        "size bytes (lower)"],
                  "run": spec.run.model_dump()},
    }


HEADERS = ["cell", "device", "status", "size", "float top-1", "top-1", "change [95% CI]", "agreement", "p50 ms",
           "ratio", "cache", "front"]


def table_rows(report: dict) -> list[list[str]]:
    out = []
    for r in report["targets"]:
        c, acc, lat = r["cell"], r.get("accuracy") or {}, r.get("latency") or {}
        status = r["status"] if r["status"] == "ok" else f"failed: {r.get('message', '')}"
        out.append([c["id"], c.get("device") or "cell's host", status, mb(r.get("size_bytes")),
                    pct(acc.get("float_top1")), pct(acc.get("top1")),
                    points(acc.get("delta_points"), acc.get("delta_ci95")) if acc else DASH,
                    pct(acc.get("agreement")), ms(lat.get("p50_ms")), ratio(lat.get("ratio"), lat.get("ratio_ci95")),
                    "cached" if c["cached"] else "run", "★" if c.get("pareto") else ""])
    return out


def _summary(report: dict) -> str:
    s = report["sweep"]
    rate = f", {s['cells_per_minute']:.1f} cells/min" if s.get("cells_per_minute") else ""
    return (f"{s['cells']} cells: {s['computed']} computed ({s['backend']}, {s['wall_s']:.1f} s{rate}), "
            f"{s['cached']} from the cache, {s['failed']} failed")


def render_markdown(report: dict) -> str:
    lines = ["# edge-inception sweep", "", _summary(report), "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows(report)]
    front = report["sweep"]["pareto"]
    lines += ["", f"Pareto front (top-1 change up, latency down, size down): {', '.join(front) or 'none'}", ""]
    return "\n".join(lines)


def render_html(report: dict) -> str:
    from edge_inception.report.html import CSS, host_section

    rows = table_rows(report)
    head = "".join(f"<th{' class=l' if i < 3 else ''}>{e(h)}</th>" for i, h in enumerate(HEADERS))
    body = "".join("<tr>" + "".join(
        f'<td class="{"name" if i == 0 else "l" if i in (1, 2) else ""}">'
        + (f'<span class="st {"ok" if c == "ok" else "failed"}">{e(c)}</span>' if i == 2 else e(c)) + "</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    front = report["sweep"]["pareto"]
    ok = report["status"] == "ok"
    manifests = "".join(
        f"<details><summary><code>{e(r['cell']['id'])}</code> · key {e(r['cell']['key'][:16])}…</summary>"
        f"<pre>{e(json.dumps(r['cell'].get('manifest'), indent=1))}</pre></details>"
        for r in report["targets"] if r["cell"].get("manifest"))
    sections = [
        f'<section><h2>Cells</h2><div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{body}'
        "</tbody></table></div></section>",
        "<section><h2>Pareto view</h2><p>Top-1 change against each cell's float reference (up is better), its "
        "p50 latency (left is faster) and its size (marker area), one view per device. On the front: "
        f"<b>{e(', '.join(front) or 'none')}</b>.</p>{_pareto_views(report['targets'], front)}</section>",
        host_section({**report, "targets": []}),
        f"<section><h2>Reproducibility manifests</h2><p class=muted>Rebuild a cell with "
        f"<code>edge-inception convert --reproduce report.json --target T</code>.</p>{manifests}</section>",
    ]
    verdict = _summary(report)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>edge-inception sweep</title><style>{CSS}</style></head><body><main>"
            f'<header><div class="kind">edge-inception sweep report</div><h1>{e(report["sweep"]["file"])}</h1>'
            f'<div class="verdict {"ok" if ok else "failed"}">{"✓" if ok else "✗"} {e(verdict)}</div></header>'
            + "".join(sections) + f"<footer>report.json schema {e(report['schema_version'])}</footer>"
            "</main></body></html>\n")


def _pareto_views(rows: list[dict], front: list[str]) -> str:
    groups = by_device(rows)
    out = []
    for device, group in groups.items():
        title = (f"<h3>on device {e(device)}</h3>" if device
                 else "<h3>on each cell's host</h3>" if len(groups) > 1 else "")
        out.append(f"{title}<figure>{pareto_plot(group, [c for c in front if c in {r['cell']['id'] for r in group}])}"
                   "</figure>")
    return "".join(out)


def write_sweep_report(report: dict, out: Path) -> None:
    from edge_inception._core.atomic import atomic_write_text
    from edge_inception.report.schema import write_report

    out.mkdir(parents=True, exist_ok=True)
    write_report(report, out / "report.json")
    atomic_write_text(out / "report.md", render_markdown(report))
    atomic_write_text(out / "report.html", render_html(report))
    report["path"] = str(out / "report.json")


def print_sweep_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep · {_summary(report)}")
    for i, h in enumerate(HEADERS):
        table.add_column(h, justify="left" if i < 3 else "right", no_wrap=i == 0)
    for row in table_rows(report):
        table.add_row(*row)
    console = Console(width=max(160, Console().width))
    console.print(table)
    front = report["sweep"]["pareto"]
    console.print(f"Pareto front (top-1 change, latency, size): {', '.join(front) or 'none'}")
    console.print(f"report: {report.get('path')}")
