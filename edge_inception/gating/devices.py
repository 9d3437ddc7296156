"""Gate checks of figures measured on a device ([gate.devices.NAME] in the gate config).

    checks += device_checks(report, cfg, strict=False, where="out/report.json")

A convert report keeps them per target under row["devices"][NAME]; a bench or eval report measured
with --device is itself the device's (report["device"]["name"]). Every device the config names must
have measured: a device that was unreachable, or a report without its figures, is an InputError
(exit 2) — the gate cannot pass what was never measured. A target the device failed to run fails
its check (exit 1), like a failed target.
"""

from __future__ import annotations

from edge_inception._core.errors import InputError
from edge_inception.gating.checks import _check, _get, latency_ratio, skipped


def device_parts(report: dict, row: dict) -> dict[str, dict]:
    """{device name: {"status", "latency", ...}} of one row."""
    parts = dict(row.get("devices") or {})
    if report.get("device"):
        parts[report["device"]["name"]] = {"status": row["status"], "message": row.get("message", ""),
                                           "latency": row.get("latency")}
    return parts


def device_checks(report: dict, cfg, *, strict: bool, where) -> list[dict]:
    if not cfg.devices:
        return []
    rows = report["targets"]
    out = []
    for name in cfg.devices:
        if not any(name in device_parts(report, r) for r in rows):
            raise InputError(where, f"the gate config holds thresholds for device '{name}' but the report has no "
                             "figures measured there", fix=f"measure with --device {name}, or remove "
                             f"[gate.devices.{name}] from the config for this job")
        for row in rows:
            if row["status"] != "ok":
                continue
            part = device_parts(report, row).get(name)
            t, against = row["target"], f"device {name}"
            if part is None or part.get("status") == "skipped":
                why = (part or {}).get("message") or "not measured there"
                out.append(skipped(t, "latency", against, why))
                continue
            if part.get("status") == "unreachable":
                raise InputError(where, f"{t}: device '{name}' could not be reached during the run "
                                 f"({part.get('message')})", fix="reach the device and measure again")
            if part.get("status") != "ok":
                out.append({"target": t, "check": "latency", "against": against, "verdict": "fail", "basis": "exact",
                            "value": None, "ci95": None, "threshold": None, "unit": None, "threshold_source": "",
                            "message": f"{t}: could not be measured on device {name}: {part.get('message')}"})
                continue
            out += _latency_checks(t, name, {"target": t, "latency": part.get("latency") or {}},
                                   cfg.for_device(name, t), strict=strict, where=where)
    return out


def _latency_checks(t: str, name: str, row: dict, limits: dict, *, strict: bool, where) -> list[dict]:
    against, src = f"device {name}", limits["sources"]
    checks = []
    if limits["max_latency_ms"] is not None:
        # A paired run keeps the candidate's interval under "candidate"; benchmark_model gives a mean only.
        value = _get(row, "latency.p50_ms", where)
        ci = (_get(row, "latency.candidate.p50_ci95", where, kind="interval")
              or _get(row, "latency.p50_ci95", where, kind="interval"))
        label = f"median latency on {name}"
        if value is None:
            value, ci, label = _get(row, "latency.mean_ms", where), None, f"mean latency on {name}"
        if value is None:
            checks.append(skipped(t, "latency_ms", against, "no latency measured there"))
        else:
            checks.append(_check(t, "latency_ms", against, value=value, ci=ci, threshold=limits["max_latency_ms"],
                                 unit="ms", worse="above", label=label, strict=strict,
                                 source=src.get("max_latency_ms", "")))
    if limits["max_latency_ratio"] is not None:
        ratio, ci = latency_ratio(row, where)
        if ratio is None:
            checks.append(skipped(t, "latency", against, "no latency ratio against a reference measured there"))
        else:
            checks.append(_check(t, "latency", against, value=ratio, ci=ci, threshold=limits["max_latency_ratio"],
                                 unit="x", worse="above", label=f"latency ratio on {name}", strict=strict,
                                 source=src.get("max_latency_ratio", "")))
    return checks
