"""Device figures of a report, rendered from the JSON: where each figure was measured, and under which
conditions.

    print_device_table(report, console)   # convert: per target, p50 here and on each device
    device_lines(report)                  # bench/eval --device: measured on, throttling, native, output check
    device_failures(report)               # the one-line reasons a device could not measure a target
"""

from __future__ import annotations


def _ms(x) -> str:
    return "—" if x is None else (f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.1f}")


def _ratio(lat: dict) -> str:
    if lat.get("ratio") is None:
        return "—"
    ci = lat.get("ratio_ci95")
    return f"{lat['ratio']:.2f}x" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else " (no interval)")


def _p50(lat: dict) -> float | None:
    return lat.get("p50_ms") if lat.get("p50_ms") is not None else lat.get("mean_ms")


def print_device_table(report: dict, console) -> None:
    from rich.table import Table

    names = list(report.get("devices") or {})
    for name in names:
        section = report["devices"][name]
        table = Table(title=f"measured on device {name} ({section['address']}: {section['facts'].get('cpu')})")
        for col in ("target", "status", "p50 here ms", "p50 there ms", "there / here", "ratio there [95% CI]",
                    "throttled"):
            table.add_column(col, justify="left" if col in ("target", "status") else "right")
        for r in report["targets"]:
            part = (r.get("devices") or {}).get(name)
            if part is None:
                continue
            lat, here = part.get("latency") or {}, (r.get("latency") or {}).get("p50_ms")
            there = _p50(lat)
            thr = ((lat.get("conditions") or {}).get("throttling") or {}).get("throttled")
            table.add_row(r["target"], part["status"], _ms(here), _ms(there),
                          "—" if not here or there is None else f"{there / here:.2f}x", _ratio(lat),
                          "—" if thr is None else ("yes" if thr else "no"),
                          style=None if part["status"] == "ok" else "red")
        console.print(table)
    for line in device_failures(report):
        console.print(f"[red]{line}[/red]", highlight=False)


def device_lines(report: dict) -> list[str]:
    """What a bench/eval table does not show: where, how, and whether the conditions held."""
    section = report.get("device")
    if not section:
        return []
    f = section["facts"]
    lines = [f"measured on device {section['name']} ({section['address']}: {f.get('cpu')}, {f.get('cores')} cores"
             + (f", CPUs {section['cpu_mask']}" if section.get("cpu_mask") else "") + ")"]
    for r in report["targets"]:
        lat = r.get("latency") or {}
        cond = lat.get("conditions") or {}
        thr = cond.get("throttling") or {}
        if thr.get("throttled"):
            load = [c.get("loadavg") for c in (cond.get("before"), cond.get("after")) if c and c.get("loadavg")]
            seen = f"; load average {load[0][0]:.1f} -> {load[-1][0]:.1f}" if len(load) == 2 else ""
            lines.append(f"{r['target']}: SLOWED DOWN during the run — the last third was {thr['change']:+.0%} slower "
                         f"than the first, beyond the noise (throttling, or other load on the device{seen})")
        elif thr.get("checked") is False:
            lines.append(f"{r['target']}: throttling not checked ({thr['why']})")
        refused = {**(lat.get("percentiles_refused") or {}), **((lat.get("candidate") or {}).get("percentiles_refused")
                                                                or {})}
        if refused:
            lines.append(f"{r['target']}: " + "; ".join(f"{k.removesuffix('_ms')} not reported: {v}"
                                                        for k, v in refused.items()))
        if cond.get("note"):
            lines.append(f"{r['target']}: {cond['note']}")
        if lat.get("note"):
            lines.append(f"{r['target']}: {lat['note']}")
        native = r.get("native") or {}
        if native.get("runner_over_native") is not None:
            figure = _ms(native.get("median_ms") or native.get("mean_ms"))
            lines.append(f"{r['target']}: {native['tool']} median {figure} ms there; the runner's p50 is "
                         f"{native['runner_over_native']:.2f}x that")
        elif native.get("skipped"):
            lines.append(f"{r['target']}: no native cross-check: {native['skipped']}")
        check = r.get("output_check")
        if check:
            lines.append(f"{r['target']}: outputs there vs here ({check['host_engine'].get('engine')} "
                         f"{check['host_engine'].get('version')}): top-1 agreement {check['top1_agreement']:.2%} "
                         f"of {check['n']}, max |diff| {check['max_abs_diff']:.3g}")
    return lines


def device_failures(report: dict) -> list[str]:
    out = []
    for r in report.get("targets", []):
        for name, part in (r.get("devices") or {}).items():
            if part.get("status") in ("failed", "unreachable"):
                out.append(f"{r['target']} on device {name}: {part.get('message')}")
    return out
