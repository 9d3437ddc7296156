"""The CI gate: does a report (and its change against a stored baseline) stay within the thresholds?

    from edge_inception.gating import gate, update_baseline
    result = gate("out/report.json", baseline="ci/baseline.json")   # config: ./edge-inception.toml etc.
    result["verdict"], result["exit_code"]                            # "pass" | "fail", 0 | 1
    [c["message"] for c in result["checks"] if c["verdict"] == "fail"]
    update_baseline("out/report.json", "ci/baseline.json", result=result)   # atomic; refuses after a fail
    result = run_gate("out/report.json", baseline=..., junit="gate.xml", update=True)  # the command, as a call

Every bad input (unreadable report, a schema it cannot read, a baseline of another model or other data,
an unknown config key or a threshold out of range) raises InputError: exit code 2. See checks.py for the
significance rule. The gate reads only the report and the user's config: a target's profile thresholds
come from the report's rows (``targets[].gate``, schema 1.2), never from the installed profiles.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path

from edge_inception._core.errors import InputError
from edge_inception.gating.checks import baseline_checks, float_checks, load_report, skipped, status_check
from edge_inception.gating.config import GateConfig, load_config, recorded_thresholds

RESULT_SCHEMA_VERSION = "1.0"
VERDICTS = ("fail", "warn", "improved", "pass", "skipped")

__all__ = ["gate", "run_gate", "check_outputs", "update_baseline", "load_config", "GateConfig",
           "RESULT_SCHEMA_VERSION"]


def gate(report: dict | str | Path, *, baseline: dict | str | Path | None = None,
         config: str | Path | dict | GateConfig | None = None, strict: bool = False,
         cwd: str | Path | None = None) -> dict:
    """Check ``report`` against the thresholds (and ``baseline``, a report of the same model and data).
    Returns the result: verdict, exit_code, counts, checks [{target, check, against, verdict, value,
    ci95, threshold, unit, basis, message}], notes."""
    cfg = load_config(config, cwd=cwd)
    data, path, _ = load_report(report)
    where = path if path is not None else "<report>"
    notes: list[str] = []
    base = base_path = None
    if baseline is not None:
        base, base_path, _ = load_report(baseline, role="baseline")
        notes += _check_comparable(data, base, where, base_path or "<baseline>")
    if str(data["schema_version"]) == "1.0":
        notes.append("schema 1.0 report: it carries no confidence intervals, so point estimates decide")
    base_rows = {r["target"]: r for r in base["targets"]} if base else {}
    recorded = {r["target"]: recorded_thresholds(r, where) for r in data["targets"]}
    notes += _unrecorded_note(data, recorded)
    checks: list[dict] = []
    for row in data["targets"]:
        checks.append(status_check(row))
        if row["status"] != "ok":
            continue
        limits = cfg.for_target(row["target"], recorded=recorded[row["target"]])
        checks += float_checks(row, limits, strict=strict, where=where)
        if base is None:
            continue
        if row["target"] not in base_rows:
            checks.append(skipped(row["target"], "baseline", "baseline",
                                  "not in the baseline (add it with --update-baseline)"))
            continue
        checks += baseline_checks(row, base_rows[row["target"]], limits["baseline"], strict=strict,
                                  paired=True, where=where, base_where=base_path or "<baseline>",
                                  sources=limits["sources"])
    from edge_inception.gating.devices import device_checks

    checks += device_checks(data, cfg, strict=strict, where=where)
    current = {r["target"] for r in data["targets"]}
    for name in base_rows:
        if name not in current:
            checks.append({"target": name, "check": "baseline", "against": "baseline", "verdict": "warn",
                           "basis": None, "value": None, "ci95": None, "threshold": None, "unit": None,
                           "threshold_source": "",
                           "message": f"{name}: in the baseline but not in this report (dropped on purpose? "
                                      "refresh the baseline with --update-baseline)"})
    counts = {v: sum(c["verdict"] == v for c in checks) for v in VERDICTS}
    failed = counts["fail"] > 0
    model = data.get("model") or {}
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "gate",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "verdict": "fail" if failed else "pass",
        "exit_code": 1 if failed else 0,
        "strict": strict,
        "report": str(path) if path else data.get("path"),  # convert() returns its report with "path"
        "report_schema_version": str(data["schema_version"]),
        "baseline": str(base_path) if base_path else (None if base is None else "<dict>"),
        "model": model.get("name"),
        "evaluation": ((data.get("data") or {}).get("evaluation") or None),
        "config": cfg.to_dict(),
        "counts": counts,
        "checks": checks,
        "notes": notes,
    }


def _unrecorded_note(data: dict, recorded: dict) -> list[str]:
    """The gate reads thresholds from the report alone; a convert report older than 1.2 has none per row."""
    if data.get("kind", "convert") != "convert":  # eval/bench rows are artifacts, not profiles
        return []
    missing = [name for name, r in recorded.items() if r is None]
    if not missing:
        return []
    return [f"{', '.join(missing)}: the report records no target-profile thresholds (schema "
            f"{data['schema_version']}; convert records them since 1.2), so the built-in defaults apply where "
            "the config sets none"]


def _source_key(source) -> str | None:
    """A model's identity across checkouts: 'zoo:name' and 'pkg.mod:factory' as they are, paths by file name
    (a CI checkout lives in a different folder each run)."""
    return Path(source).name if isinstance(source, str) else None


def _check_comparable(data: dict, base: dict, where, base_where) -> list[str]:
    """Refuse a baseline that cannot be compared (another model, kind, target set or data): exit 2."""
    notes = []
    m, bm = data.get("model") or {}, base.get("model") or {}
    for key in ("name", "source"):
        a, b = m.get(key), bm.get(key)
        if key == "source":
            a, b = _source_key(a), _source_key(b)
        if a is not None and b is not None and a != b:
            raise InputError(base_where, f"baseline is of another model: {key} {b!r}, this report {a!r}",
                             fix="pass the baseline of this model, or refresh it with --update-baseline --force")
    if data.get("kind") and base.get("kind") and data["kind"] != base["kind"]:
        raise InputError(base_where, f"baseline is a '{base['kind']}' report, this one a '{data['kind']}' report",
                         fix="compare reports of the same command")
    names, base_names = [r["target"] for r in data["targets"]], [r["target"] for r in base["targets"]]
    if not set(names) & set(base_names):
        raise InputError(base_where, f"baseline holds other targets ({', '.join(base_names)}) than this report "
                         f"({', '.join(names)})", fix="pass the baseline of these targets")
    ev = (data.get("data") or {}).get("evaluation")
    bev = (base.get("data") or {}).get("evaluation")
    if (ev is None) != (bev is None):
        raise InputError(base_where, "baseline was evaluated on other data: "
                         f"{'no evaluation data' if bev is None else bev.get('source')} in the baseline, "
                         f"{'none' if ev is None else ev.get('source')} in this report",
                         fix="evaluate both on the same data")
    if ev is not None:
        fp, bfp = ev.get("fingerprint"), bev.get("fingerprint")
        if fp and bfp:
            if fp != bfp:
                raise InputError(base_where, f"baseline was evaluated on other data (fingerprint {bfp[:12]}…, "
                                 f"this report {fp[:12]}…; {bev.get('source')}, {ev.get('source')})",
                                 fix="evaluate both on the same images, or refresh it with --update-baseline --force")
        else:
            if (ev.get("source"), ev.get("samples")) != (bev.get("source"), bev.get("samples")):
                raise InputError(base_where, f"baseline was evaluated on other data ({bev.get('source')}, "
                                 f"{bev.get('samples')} images; this report {ev.get('source')}, "
                                 f"{ev.get('samples')} images)", fix="evaluate both on the same data")
            notes.append("no data fingerprint in the report or the baseline: the evaluation data is matched by "
                         "name and size only")
    return notes


def update_baseline(report: dict | str | Path, dest: str | Path, *, result: dict | None = None,
                    force: bool = False) -> Path:
    """Write ``report`` as the new baseline at ``dest``, atomically. Refuses when ``result`` (the gate's
    verdict on this report) failed, unless ``force``: a regression must not become the new normal by
    accident."""
    from edge_inception._core.atomic import atomic_write_text

    if result is not None and result.get("verdict") == "fail" and not force:
        raise InputError(dest, "baseline not updated: the gate failed", fix="fix the regression, or pass --force")
    data, path, text = load_report(report)
    if text is None:
        text = json.dumps({k: v for k, v in data.items() if k != "path"}, indent=2) + "\n"
    dest = Path(dest)
    atomic_write_text(dest, text)
    return dest


def check_outputs(report, *, baseline=None, config=None, junit=None, out=None, force: bool = False) -> None:
    """Before gating: --junit and --out never replace an existing file without ``force``, never one of
    the files the gate reads (not even with ``force``), never each other, and can be written."""
    from edge_inception._core.errors import UsageError
    from edge_inception._core.outputs import check_output_file

    inputs = [report, baseline, config]
    if junit and out and Path(junit).resolve() == Path(out).resolve():
        raise UsageError(f"--junit and --out are the same file ({junit})", fix="give them different names")
    for flag, path in (("--junit", junit), ("--out", out)):
        if path:
            check_output_file(path, force=force, inputs=inputs, flag=flag)


def run_gate(report: dict | str | Path, *, baseline: str | Path | None = None,
             config: str | Path | dict | GateConfig | None = None, strict: bool = False,
             junit: str | Path | None = None, out: str | Path | None = None, as_json: bool = False,
             update: bool = False, force: bool = False, step_summary: bool = True) -> dict:
    """What `edge-inception gate` (and `convert --gate`) does: gate, write every output asked for, and with
    ``update`` refresh the baseline file. Returns the result; its "exit_code" is what the command exits with.
    ``force``: overwrite an existing ``junit``/``out`` file, and with ``update`` write the baseline even
    when the gate fails or the old one is not comparable."""
    from edge_inception._core.errors import UsageError
    from edge_inception.gating.render import emit

    if update and not baseline:
        raise UsageError("--update-baseline needs --baseline FILE", fix="name the baseline file to write")
    check_outputs(report, baseline=baseline, config=config, junit=junit, out=out, force=force)
    compare, notes = baseline, []
    if update and not Path(baseline).exists():
        compare = None  # first run: nothing to compare with yet; the baseline is created below
        notes.append(f"no baseline at {baseline} yet: it is created from this report")
    try:
        result = gate(report, baseline=compare, config=config, strict=strict)
    except InputError as e:
        # Refreshing a baseline on purpose after the model or data changed is what --force is for.
        if not (update and force and compare is not None and e.path == Path(baseline)):
            raise
        result = gate(report, baseline=None, config=config, strict=strict)
        notes.append(f"the old baseline was not comparable ({e.message}); replaced because of --force")
    result["notes"] += notes
    emit(result, junit=junit, out=out, as_json=as_json, step_summary=step_summary)
    if update:
        if result["verdict"] == "fail" and not force:
            sys.stderr.write(f"edge-inception: baseline {baseline} not updated: the gate failed "
                             "(fix the regression, or pass --force to accept it)\n")
        else:
            update_baseline(report, baseline, force=True)
            sys.stderr.write(f"baseline updated: {baseline}\n")
    return result
