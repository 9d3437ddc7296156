"""Checks of one report (and optionally a baseline report) against thresholds.

    report = load_report("out/report.json")            # validated; InputError (exit 2) if unreadable
    checks = float_checks(row, limits, strict=False)   # top-1, agreement, latency, size vs float
    checks += baseline_checks(row, base_row, limits["baseline"], paired=True, strict=False)

Significance: a check fails only when the 95% interval of the change lies wholly beyond the threshold.
A point estimate beyond it with an interval that reaches back inside is a warning. ``strict`` lets the
point estimate decide. Where a report carries no interval (schema 1.0), the point estimate decides and
the check says so (basis "point"). Size is exact (basis "exact").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge_inception._core.errors import InputError
from edge_inception._core.files import check_regular_file

READABLE_MAJOR = 1
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


# ---- reading and validating reports ---------------------------------------------------------------------

def load_report(report: dict | str | Path, *, role: str = "report") -> tuple[dict, Path | None, str | None]:
    """(report dict, its path or None, its raw text or None). A folder means its report.json."""
    if isinstance(report, dict):
        data, path, text = report, None, None
    else:
        path = Path(report)
        if path.is_dir():
            path = path / "report.json"
        if path.exists():  # a FIFO would block read_text() forever
            check_regular_file(path, what=f"{role} (report.json)", allow_empty=True)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise InputError(path, f"{role} does not exist",
                             fix="pass the report.json that edge-inception convert, eval or bench wrote") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(path, f"{role} cannot be read ({e})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(path, f"{role} is not valid JSON ({e})",
                             fix="pass the report.json that edge-inception convert, eval or bench wrote") from None
    _validate(data, path if path is not None else f"<{role}>")
    return data, path, text


def _validate(data, where) -> None:
    if not isinstance(data, dict):
        raise InputError(where, "is not a report: expected a JSON object")
    version = data.get("schema_version")
    if version is None:
        raise InputError(where, "has no 'schema_version': not an edge-inception report")
    m = _VERSION.match(str(version))
    if not m or int(m.group(1)) != READABLE_MAJOR:
        raise InputError(where, f"has schema_version {version!r}, which this gate cannot read (it reads 1.x)",
                         fix="gate it with the edge-inception version that wrote it, or upgrade edge-inception")
    targets = data.get("targets")
    if not isinstance(targets, list) or not targets:
        raise InputError(where, "has no 'targets' list of rows")
    for i, row in enumerate(targets):
        if not isinstance(row, dict) or not isinstance(row.get("target"), str):
            raise InputError(where, f"targets[{i}] has no 'target' name")
        if row.get("status") not in ("ok", "failed"):
            raise InputError(where, f"targets[{i}] ({row['target']}): 'status' must be 'ok' or 'failed', "
                             f"got {row.get('status')!r}")
        for section in ("accuracy", "latency"):
            if section in row and not isinstance(row[section], dict):
                raise InputError(where, f"targets[{i}] ({row['target']}): '{section}' must be an object")
    names = [r["target"] for r in targets]
    if len(set(names)) != len(names):
        raise InputError(where, "names a target twice in 'targets'")
    for key in ("model", "data"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise InputError(where, f"'{key}' must be an object")


def _get(row: dict, dotted: str, where, *, kind: str = "number"):
    """A value from a row by 'section.key'; None when absent; InputError when present but malformed."""
    value = row
    for part in dotted.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    ok = {
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "interval": lambda v: (isinstance(v, list) and len(v) == 2
                               and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)),
    }[kind]
    if not ok(value):
        want = "a number" if kind == "number" else "[low, high], two numbers"
        raise InputError(where, f"{row['target']}: '{dotted}' must be {want}, got {value!r}")
    return [float(value[0]), float(value[1])] if kind == "interval" else float(value)


def decode_per_sample(row: dict, where) -> dict | None:
    """{'candidate_correct', 'reference_correct', 'agree'} as bool arrays, or None without per-sample bits."""
    from edge_inception.evaluation.stats import decode_bits

    ps = (row.get("accuracy") or {}).get("per_sample")
    if ps is None:
        return None
    if not isinstance(ps, dict) or ps.get("encoding") != "packbits-base64" or not isinstance(ps.get("n"), int):
        raise InputError(where, f"{row['target']}: 'accuracy.per_sample' must have encoding 'packbits-base64' and n")
    out = {}
    for key in ("candidate_correct", "reference_correct", "agree"):
        if ps.get(key) is None:
            continue
        try:
            bits = decode_bits(ps[key], ps["n"])
        except (ValueError, TypeError) as e:
            raise InputError(where, f"{row['target']}: 'accuracy.per_sample.{key}' is not packbits-base64 ({e})"
                             ) from None
        if len(bits) != ps["n"]:
            raise InputError(where, f"{row['target']}: 'accuracy.per_sample.{key}' holds {len(bits)} bits, "
                             f"n is {ps['n']}")
        out[key] = bits
    return out


# ---- formatting -----------------------------------------------------------------------------------------

def _pt(v: float) -> str:
    return f"{v:+.2f} pt"


def _pct(v: float) -> str:
    return f"{v * 100:.2f}%"


def _x(v: float) -> str:
    return f"{v:.2f}x"


def _frac(v: float) -> str:
    return f"{v * 100:+.1f}%"


def _mb(v: float) -> str:
    return f"{v:.2f} MB"


def _interval(ci, unit: str) -> str:
    if ci is None:
        return ""
    fmt = {"pt": lambda v: f"{v:+.2f}", "share": lambda v: f"{v * 100:.1f}%", "x": lambda v: f"{v:.2f}",
           "fraction": lambda v: f"{v * 100:+.1f}%", "MB": lambda v: f"{v:.2f}"}[unit]
    return f" [{fmt(ci[0])}, {fmt(ci[1])}]"


_FMT = {"pt": _pt, "share": _pct, "x": _x, "fraction": _frac, "MB": _mb}


# ---- judging --------------------------------------------------------------------------------------------

def judge(value: float, ci: list[float] | None, limit: float, *, worse: str, strict: bool,
          improve_limit: float | None = None) -> tuple[str, str]:
    """(verdict, basis). ``worse`` is 'below' (lower is worse) or 'above'. Verdicts: pass, warn, fail,
    improved. basis: 'interval' (the CI decided), 'point' (strict mode or no CI)."""
    sign = 1 if worse == "above" else -1  # flip 'below' checks into 'above' ones
    v, lim = sign * value, sign * limit
    lo_hi = None if ci is None else sorted(sign * c for c in ci)
    basis = "point" if strict or lo_hi is None else "interval"
    point_bad = v > lim
    bad = point_bad if basis == "point" else lo_hi[0] > lim
    if bad:
        return "fail", basis
    if point_bad:
        return "warn", basis
    if improve_limit is not None:
        ilim = sign * improve_limit
        good = v < ilim if basis == "point" else lo_hi[1] < ilim
        if good:
            return "improved", basis
    return "pass", basis


def _check(target: str, check: str, against: str, *, value, ci, threshold, unit: str, worse: str, label: str,
           strict: bool, improve_limit=None, note: str = "", source: str = "") -> dict:
    verdict, basis = judge(value, ci, threshold, worse=worse, strict=strict, improve_limit=improve_limit)
    exact = check in ("size", "baseline.size")
    if exact:
        basis = "exact"
    shown = f"{target}: {label} {_FMT[unit](value)}{_interval(ci, unit)}"
    beyond = "beyond" if unit == "pt" else worse
    allowed = f"the {'required' if worse == 'below' and unit != 'pt' else 'allowed'} {_FMT[unit](threshold)}"
    if verdict == "fail":
        text = f"{shown} is {beyond} {allowed}"
        if basis == "interval":
            text += " (significant: its whole 95% interval is)"
        elif basis == "point" and ci is not None:
            text += " (strict: the point estimate decides)"
        elif basis == "point":
            text += " (no interval in the report: the point estimate decides)"
    elif verdict == "warn":
        text = (f"{shown} is {beyond} {allowed}, but its 95% interval reaches back inside it: not significant "
                "(a warning; --strict fails it)")
    elif verdict == "improved":
        text = (f"{shown} improved by more than {_FMT[unit](abs(improve_limit)).lstrip('+')}: refresh the baseline "
                "on purpose with --update-baseline")
    else:
        text = f"{shown} is within {allowed}"
        if ci is None and not exact and not strict:
            text += " (no interval in the report: point estimate)"
    if note:
        text += f"; {note}"
    return {"target": target, "check": check, "against": against, "verdict": verdict, "basis": basis,
            "value": value, "ci95": ci, "threshold": threshold, "unit": unit, "threshold_source": source,
            "message": text}


def skipped(target: str, check: str, against: str, why: str) -> dict:
    return {"target": target, "check": check, "against": against, "verdict": "skipped", "basis": None,
            "value": None, "ci95": None, "threshold": None, "unit": None, "threshold_source": "",
            "message": f"{target}: {check} not checked: {why}"}


def status_check(row: dict) -> dict:
    ok = row["status"] == "ok"
    msg = f"{row['target']}: the target converted and verified" if ok else \
        f"{row['target']}: the target failed: {row.get('message') or 'no message in the report'}"
    return {"target": row["target"], "check": "status", "against": "profile", "verdict": "pass" if ok else "fail",
            "basis": "exact", "value": row["status"], "ci95": None, "threshold": "ok", "unit": None,
            "threshold_source": "", "message": msg}


def latency_ratio(row: dict, where) -> tuple[float | None, list[float] | None]:
    """(ratio, 95% interval). ratio_ci95 is the interval of the median of per-pair ratios, so with it the
    value judged is that median (paired_ratio), not the ratio of the two medians, which can lie outside it."""
    ci = _get(row, "latency.ratio_ci95", where, kind="interval")
    paired = _get(row, "latency.paired_ratio", where)
    if ci is not None and paired is not None:
        return paired, ci
    return _get(row, "latency.ratio", where), None


def float_checks(row: dict, limits: dict, *, strict: bool, where) -> list[dict]:
    """Top-1 change, agreement, latency ratio and size of one row against its float reference."""
    t, src = row["target"], limits.get("sources", {})
    out = []
    delta = _get(row, "accuracy.delta_points", where)
    if delta is None:
        why = "no evaluation data in the report" if "accuracy" not in row else "the evaluation data had no labels"
        out.append(skipped(t, "top1", "float", why))
    else:
        out.append(_check(t, "top1", "float", value=delta, ci=_get(row, "accuracy.delta_ci95", where, kind="interval"),
                          threshold=-limits["max_top1_drop"], unit="pt", worse="below", label="top-1 change",
                          strict=strict, source=src.get("max_top1_drop", "")))
    agreement = _get(row, "accuracy.agreement", where)
    if agreement is None:
        out.append(skipped(t, "agreement", "float", "no evaluation data in the report"))
    else:
        out.append(_check(t, "agreement", "float", value=agreement,
                          ci=_get(row, "accuracy.agreement_ci95", where, kind="interval"),
                          threshold=limits["min_agreement"], unit="share", worse="below", label="top-1 agreement",
                          strict=strict, source=src.get("min_agreement", "")))
    ratio, ratio_ci = latency_ratio(row, where)
    if ratio is None:
        out.append(skipped(t, "latency", "float", "no latency ratio against a reference in the report"))
    else:
        out.append(_check(t, "latency", "float", value=ratio, ci=ratio_ci,
                          threshold=limits["max_latency_ratio"], unit="x", worse="above", label="latency ratio",
                          strict=strict, source=src.get("max_latency_ratio", "")))
    size = _get(row, "size_bytes", where)
    if limits.get("max_size_mb") is None:
        out.append(skipped(t, "size", "float", "no max_size_mb set"))
    elif size is None:
        out.append(skipped(t, "size", "float", "no size in the report"))
    else:
        out.append(_check(t, "size", "float", value=size / 1e6, ci=None, threshold=limits["max_size_mb"], unit="MB",
                          worse="above", label="size", strict=True, source=src.get("max_size_mb", "")))
    return out


def baseline_checks(row: dict, base: dict, limits: dict, *, strict: bool, paired: bool, where, base_where,
                    sources: dict | None = None) -> list[dict]:
    """The same target against its row in a baseline report (top-1 and agreement paired per image)."""
    from edge_inception.evaluation.stats import paired_delta_ci

    t, src = row["target"], sources or {}
    if base["status"] != "ok":
        return [skipped(t, "baseline", "baseline", "the baseline's run of this target failed")]
    out = []
    bits = decode_per_sample(row, where) if paired else None
    base_bits = decode_per_sample(base, base_where) if paired else None

    def paired_points(key: str):
        if bits and base_bits and key in bits and key in base_bits and len(bits[key]) == len(base_bits[key]):
            d = paired_delta_ci(base_bits[key], bits[key])
            return d["delta"] * 100, [d["ci95"][0] * 100, d["ci95"][1] * 100]
        return None

    top1, base_top1 = _get(row, "accuracy.top1", where), _get(base, "accuracy.top1", base_where)
    if top1 is None or base_top1 is None:
        out.append(skipped(t, "baseline.top1", "baseline", "top-1 is missing from the report or the baseline"))
    else:
        p = paired_points("candidate_correct")
        value, ci = p if p else ((top1 - base_top1) * 100, None)
        out.append(_check(t, "baseline.top1", "baseline", value=value, ci=ci, threshold=-limits["max_top1_drop"],
                          improve_limit=limits["max_top1_drop"], unit="pt", worse="below",
                          label="top-1 change against the baseline", strict=strict,
                          note="" if p else "not paired per image (no per-sample outcomes in both reports)",
                          source=src.get("baseline.max_top1_drop", "")))
    agree, base_agree = _get(row, "accuracy.agreement", where), _get(base, "accuracy.agreement", base_where)
    if agree is None or base_agree is None:
        out.append(skipped(t, "baseline.agreement", "baseline", "agreement is missing from the report or the baseline"))
    else:
        p = paired_points("agree")
        value, ci = p if p else ((agree - base_agree) * 100, None)
        out.append(_check(t, "baseline.agreement", "baseline", value=value, ci=ci,
                          threshold=-limits["max_agreement_drop"], improve_limit=limits["max_agreement_drop"],
                          unit="pt", worse="below", label="agreement change against the baseline", strict=strict,
                          source=src.get("baseline.max_agreement_drop", "")))
    (ratio, ci_now), (base_ratio, ci_base) = latency_ratio(row, where), latency_ratio(base, base_where)
    if ratio is None or base_ratio is None or base_ratio <= 0:
        out.append(skipped(t, "baseline.latency", "baseline", "a latency ratio is missing from the report or baseline"))
    else:
        # Two independent runs: interval arithmetic on their intervals, conservative (wider than needed).
        ci = None if not ci_now or not ci_base or ci_base[0] <= 0 else \
            [ci_now[0] / ci_base[1] - 1, ci_now[1] / ci_base[0] - 1]
        out.append(_check(t, "baseline.latency", "baseline", value=ratio / base_ratio - 1, ci=ci,
                          threshold=limits["max_latency_increase"], improve_limit=-limits["max_latency_increase"],
                          unit="fraction", worse="above", label="latency-ratio change against the baseline",
                          strict=strict, source=src.get("baseline.max_latency_increase", "")))
    size, base_size = _get(row, "size_bytes", where), _get(base, "size_bytes", base_where)
    if size is None or not base_size:
        out.append(skipped(t, "baseline.size", "baseline", "a size is missing from the report or the baseline"))
    else:
        out.append(_check(t, "baseline.size", "baseline", value=size / base_size - 1, ci=None,
                          threshold=limits["max_size_increase"], improve_limit=-limits["max_size_increase"],
                          unit="fraction", worse="above", label="size change against the baseline", strict=True,
                          source=src.get("baseline.max_size_increase", "")))
    return out
