"""`edge-inception gate`: thresholds, significance, baselines, exit codes and CI outputs.

Fixtures in tests/data/gate/ are real reports of the shipped inception-mini (see README there); crafted
variants change per-image outcomes and recompute every derived field with the same statistics the
tool uses, so each crafted report is one the tool could have written. One test converts a damaged
model for real."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from edge_inception._core.errors import InputError
from edge_inception.evaluation.stats import decode_bits, encode_bits, paired_delta_ci, proportion_ci
from edge_inception.gating import gate

FIX = Path(__file__).parent / "data" / "gate"
MINUS = "\u2212"  # every human view, the gate's messages included, writes negative numbers with a real minus


def pt(v: float) -> str:
    return f"{v:+.2f}".replace("-", MINUS)


def load(name: str = "report.json") -> dict:
    return json.loads((FIX / name).read_text())


def save(tmp_path: Path, data: dict, name: str = "report.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return str(path)


def row(report: dict, target: str = "tflite-int8") -> dict:
    return next(r for r in report["targets"] if r["target"] == target)


def with_outcomes(r: dict, *, broken: int = 0, fixed: int = 0, seed: int = 0) -> dict:
    """Make the candidate of row ``r`` get ``broken`` more images wrong that the float reference got right
    (and ``fixed`` more right it got wrong), then recompute the accuracy fields as the tool does."""
    acc = r["accuracy"]
    ps = acc["per_sample"]
    n = ps["n"]
    ref = decode_bits(ps["reference_correct"], n)
    cand = decode_bits(ps["candidate_correct"], n).copy()
    agree = decode_bits(ps["agree"], n).copy()
    rng = np.random.default_rng(seed)
    # Only images where candidate and reference agree today, so each change is one more discordant pair.
    for count, want_ref in ((broken, True), (fixed, False)):
        pool = np.flatnonzero((ref == want_ref) & (cand == ref) & agree)
        idx = rng.choice(pool, count, replace=False)
        cand[idx] = not want_ref
        agree[idx] = False
    d = paired_delta_ci(ref, cand)
    acc.update(top1=float(cand.mean()), delta_points=d["delta"] * 100, delta_ci95=[v * 100 for v in d["ci95"]],
               fixed=d["fixed"], broken=d["broken"], mcnemar_p=d["mcnemar_p"], agreement=float(agree.mean()),
               agreement_ci95=proportion_ci(int(agree.sum()), n))
    ps.update(candidate_correct=encode_bits(cand), agree=encode_bits(agree))
    return r


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    # No edge-inception.toml / pyproject.toml of the checkout, and no step summary unless a test sets one.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# ---- verdicts on real reports ---------------------------------------------------------------------------

def test_real_report_within_thresholds_passes(run_cli):
    code, out, err = run_cli("gate", str(FIX / "report.json"))
    assert code == 0, out + err
    assert "gate PASS" in out and "REGRESSION" not in out
    result = gate(FIX / "report.json")
    assert result["verdict"] == "pass" and result["counts"]["fail"] == 0
    top1 = next(c for c in result["checks"] if c["target"] == "tflite-int8" and c["check"] == "top1")
    assert top1["basis"] == "interval" and top1["ci95"] == row(load(), "tflite-int8")["accuracy"]["delta_ci95"]
    # A 1.1 report records no profile thresholds: the built-in defaults apply, and the result says so.
    assert top1["threshold"] == -1.0 and top1["threshold_source"] == "built-in"
    assert any("records no target-profile thresholds (schema 1.1" in n for n in result["notes"])
    assert "records no target-profile thresholds" in out


def test_damaged_model_fixture_fails_naming_target_check_value_interval_threshold(run_cli):
    # tests/data/gate/report-damaged.json: tests/data/gate/damage.py's model, converted for real
    acc = row(load("report-damaged.json"))["accuracy"]
    code, out, _ = run_cli("gate", str(FIX / "report-damaged.json"))
    assert code == 1
    lo, hi = acc["delta_ci95"]
    expected = (f"tflite-int8: top-1 change {pt(acc['delta_points'])} pt [{pt(lo)}, {pt(hi)}] "
                f"is beyond the allowed {MINUS}1.00 pt")
    assert expected in out
    assert re.search(r"tflite-int8: top-1 agreement 8\d\.\d\d% \[.*\] is below the required 97\.00%", out)
    assert "gate FAIL: 2 regressions" in out


def test_real_damaged_model_conversion_fails_the_gate(tmp_path, run_cli, sample_arrays):
    """End to end: a model whose float function is intact but whose int8 is ruined by one outlier channel
    (tests/data/gate/damage.py) is converted for real and the gate fails it with exit 1."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("damage", FIX / "damage.py")
    damage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(damage)
    model = damage.damage(str(tmp_path / "damaged.keras"))
    cx, _ = sample_arrays["calibration"]
    ex, ey = sample_arrays["evaluation"]
    np.savez(tmp_path / "calib.npz", images=cx[:100])
    np.savez(tmp_path / "eval.npz", images=ex[:1000], labels=ey[:1000])
    code, _, err = run_cli("convert", model, "--target", "tflite-int8", "--calibration", str(tmp_path / "calib.npz"),
                           "--eval-data", str(tmp_path / "eval.npz"), "--latency-runs", "10",
                           "--out", str(tmp_path / "out"))
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    acc = row(report)["accuracy"]
    assert acc["float_top1"] > 0.88  # the float model is intact...
    assert acc["delta_ci95"][1] < -1.0  # ...its int8 is not, significantly
    code, out, _ = run_cli("gate", str(tmp_path / "out"), "--junit", str(tmp_path / "gate.xml"))
    assert code == 1
    assert f"tflite-int8: top-1 change {pt(acc['delta_points'])} pt" in out and f"the allowed {MINUS}1.00 pt" in out
    failures = ET.parse(tmp_path / "gate.xml").getroot().findall(".//failure")
    assert {f.get("type") for f in failures} == {"regression"} and len(failures) >= 1


# ---- significance ---------------------------------------------------------------------------------------

def test_within_noise_drop_warns_and_strict_fails(tmp_path, run_cli):
    report = load()
    acc = with_outcomes(row(report), broken=19)["accuracy"]  # 5 -> 24 broken, 3 fixed: -1.05 pt
    lo, hi = acc["delta_ci95"]
    assert acc["delta_points"] < -1.0 < hi and lo < -1.0  # beyond the threshold, interval straddles it
    path = save(tmp_path, report)
    code, out, _ = run_cli("gate", path)
    assert code == 0
    assert "warning" in out and "not significant" in out and "tflite-int8: top-1 change" in out
    assert gate(path)["counts"]["warn"] >= 1
    code, out, _ = run_cli("gate", path, "--strict")
    assert code == 1 and "strict: the point estimate decides" in out


def test_significant_drop_fails(tmp_path):
    report = load()
    with_outcomes(row(report), broken=60)
    result = gate(save(tmp_path, report))
    fails = [c for c in result["checks"] if c["verdict"] == "fail"]
    assert result["exit_code"] == 1 and [c["check"] for c in fails] == ["top1"]
    assert fails[0]["ci95"][1] < -1.0 and fails[0]["basis"] == "interval"


def test_latency_fails_only_when_the_whole_interval_is_above(tmp_path):
    report = load()
    lat = row(report, "onnx-int8")["latency"]
    lat.update(paired_ratio=1.8, ratio_ci95=[1.6, 2.0])
    assert gate(save(tmp_path, report))["counts"]["fail"] == 1
    lat.update(paired_ratio=1.8, ratio_ci95=[1.3, 2.0])
    result = gate(save(tmp_path, report))
    c = next(c for c in result["checks"] if c["target"] == "onnx-int8" and c["check"] == "latency")
    assert c["verdict"] == "warn" and result["exit_code"] == 0


def test_schema_1_0_report_falls_back_to_point_estimates(tmp_path, run_cli):
    code, out, _ = run_cli("gate", str(FIX / "report-1.0.json"))
    assert code == 0 and "point estimates decide" in out
    report = load("report-1.0.json")
    row(report)["accuracy"]["delta_points"] = -1.2
    code, out, _ = run_cli("gate", save(tmp_path, report))
    assert code == 1 and "no interval in the report: the point estimate decides" in out


def test_failed_target_is_a_regression(tmp_path, run_cli):
    report = load()
    r = row(report, "onnx-int8")
    for key in ("accuracy", "latency", "size_bytes"):
        r.pop(key)
    r.update(status="failed", message="onnx-int8: QuantizeLinear is not supported by this runtime")
    report["status"] = "failed"
    code, out, _ = run_cli("gate", save(tmp_path, report))
    assert code == 1
    assert "onnx-int8: the target failed: onnx-int8: QuantizeLinear is not supported" in out


def test_size_is_exact(tmp_path):
    (tmp_path / "edge-inception.toml").write_text("[gate.targets.onnx-int8]\nmax_size_mb = 0.7\n")
    result = gate(FIX / "report.json")
    size = {c["target"]: c for c in result["checks"] if c["check"] == "size"}
    assert size["onnx-int8"]["verdict"] == "fail" and size["onnx-int8"]["basis"] == "exact"
    assert "0.74 MB is above the allowed 0.70 MB" in size["onnx-int8"]["message"]
    assert size["tflite-int8"]["verdict"] == "skipped"  # no max_size_mb for it


# ---- configuration --------------------------------------------------------------------------------------

def test_config_precedence_target_over_defaults_over_profile(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.edge-inception.gate]\nmin_agreement = 0.5\nmax_latency_ratio = 3\n\n'
        '[tool.edge-inception.gate.targets.tflite-int8]\nmin_agreement = 0.999\n')
    result = gate(FIX / "report.json")
    ag = {c["target"]: c for c in result["checks"] if c["check"] == "agreement"}
    assert ag["tflite-int8"]["threshold"] == 0.999 and ag["tflite-int8"]["threshold_source"] == "config:target"
    assert ag["onnx-int8"]["threshold"] == 0.5 and ag["onnx-int8"]["threshold_source"] == "config"
    top1 = next(c for c in result["checks"] if c["check"] == "top1")
    assert top1["threshold_source"] == "built-in"  # a 1.1 report: no profile thresholds recorded
    assert ag["tflite-int8"]["verdict"] == "fail"  # 99.55% [99.1, 99.8] is wholly below 99.9%
    assert result["config"]["source"].endswith("pyproject.toml")


def test_edge_inception_toml_wins_and_explicit_config(tmp_path, run_cli):
    (tmp_path / "edge-inception.toml").write_text("[gate]\nmax_top1_drop = 0.01\n")
    (tmp_path / "pyproject.toml").write_text("[tool.edge-inception.gate]\nmax_top1_drop = 5\n")
    assert gate(FIX / "report.json")["config"]["defaults"] == {"max_top1_drop": 0.01}
    other = tmp_path / "ci.toml"
    other.write_text("[gate.baseline]\nmax_size_increase = 0.5\n")
    assert gate(FIX / "report.json", config=other)["config"]["baseline"] == {"max_size_increase": 0.5}
    code, _, err = run_cli("gate", str(FIX / "report.json"), "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "missing.toml: does not exist" in err


@pytest.mark.parametrize("text, fragment", [
    ("[gate]\nmax_top1_dorp = 1\n", "unknown key [gate] 'max_top1_dorp' (allowed: max_top1_drop, min_agreement"),
    ("[gate.baseline]\nmin_agreement = 0.9\n", "unknown key [gate.baseline] 'min_agreement' (allowed: max_top1_drop"),
    ("[gate.targets.tflite-int8]\nspeed = 2\n", "unknown key [gate.targets.tflite-int8] 'speed'"),
    ("[gate]\nmin_agreement = 97\n", "'min_agreement' is a share of inputs (0..1)"),
    ("[gate]\nmax_top1_drop = 'one'\n", "'max_top1_drop' must be a number"),
    ("[gate\n", "is not valid TOML"),
    ("[gate]\nmax_top1_drop = -1\n", "[gate] 'max_top1_drop' must not be negative, got -1"),
    ("[gate.targets.onnx-int8]\nmin_agreement = 1.5\n", "[gate.targets.onnx-int8] 'min_agreement' is a share"),
    ("[gate.baseline]\nmax_size_increase = true\n", "[gate.baseline] 'max_size_increase' must be a number"),
    ("[gate]\nbaseline = 3\n", "[gate.baseline] must be a table"),
    ("[gate.targets]\nonnx-int8 = 1\n", "[gate.targets.onnx-int8] must be a table"),
])
def test_bad_config_is_exit_2_naming_file_and_key(tmp_path, run_cli, text, fragment):
    (tmp_path / "edge-inception.toml").write_text(text)
    code, out, err = run_cli("gate", str(FIX / "report.json"))
    assert code == 2 and "edge-inception.toml" in err and fragment in err, err
    assert "Traceback" not in out + err


# ---- bad input: exit 2 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("content, fragment", [
    ("{not json", "report is not valid JSON"),
    ("[]", "is not a report"),
    ('{"targets": []}', "has no 'schema_version'"),
    ('{"schema_version": "2.0", "targets": [{"target": "a", "status": "ok"}]}',
     "schema_version '2.0', which this gate cannot read (it reads 1.x)"),
    ('{"schema_version": "1.0"}', "has no 'targets' list"),
    ('{"schema_version": "1.3", "targets": [{"target": "a", "status": "done"}]}', "'status' must be 'ok' or 'failed'"),
    ('{"schema_version": "1.1", "targets": [{"target": "a", "status": "ok", "accuracy": {"delta_points": -2, '
     '"delta_ci95": [-3]}}]}', "a: 'accuracy.delta_ci95' must be [low, high], two numbers"),
])
def test_malformed_report_is_exit_2(tmp_path, run_cli, content, fragment):
    path = tmp_path / "r.json"
    path.write_text(content)
    code, out, err = run_cli("gate", str(path))
    assert code == 2 and fragment in err, err
    assert "Traceback" not in out + err


def test_missing_report_and_future_minor_version(tmp_path, run_cli):
    code, _, err = run_cli("gate", str(tmp_path / "nowhere.json"))
    assert code == 2 and "nowhere.json: report does not exist" in err
    report = load()
    report["schema_version"] = "1.7"  # a newer minor: readable
    assert run_cli("gate", save(tmp_path, report))[0] == 0


def test_baseline_of_another_model_is_exit_2(run_cli):
    code, _, err = run_cli("gate", str(FIX / "report.json"), "--baseline", str(FIX / "report-damaged.json"))
    assert code == 2 and "baseline is of another model: name 'damaged', this report 'inception-mini'" in err


def test_baseline_on_other_data_or_targets_is_exit_2(tmp_path):
    base = load()
    base["data"]["evaluation"]["fingerprint"] = "0" * 64
    with pytest.raises(InputError, match="baseline was evaluated on other data"):
        gate(FIX / "report.json", baseline=save(tmp_path, base, "b.json"))
    base = load()
    for r in base["targets"]:
        r["target"] = r["target"].replace("int8", "int4")
    with pytest.raises(InputError, match="baseline holds other targets"):
        gate(FIX / "report.json", baseline=save(tmp_path, base, "b.json"))


# ---- against a baseline ---------------------------------------------------------------------------------

def test_same_report_as_baseline_passes_with_zero_change():
    result = gate(FIX / "report.json", baseline=FIX / "report.json")
    base = [c for c in result["checks"] if c["against"] == "baseline"]
    assert len(base) == 8 and all(c["verdict"] == "pass" for c in base)
    assert all(c["value"] == 0 for c in base)


def test_baseline_regression_is_paired_per_image(tmp_path, run_cli):
    report = load()
    with_outcomes(row(report), broken=50)  # -2.5 pt against the baseline (same float reference)
    code, out, _ = run_cli("gate", save(tmp_path, report), "--baseline", str(FIX / "report.json"))
    assert code == 1
    c = next(c for c in gate(save(tmp_path, report), baseline=FIX / "report.json")["checks"]
             if c["check"] == "baseline.top1" and c["target"] == "tflite-int8")
    assert c["verdict"] == "fail" and c["value"] == pytest.approx(-2.5) and c["ci95"][1] < -1.0
    # Paired per image: far narrower than from two independent 2,000-image intervals (3.3 pt wide).
    assert c["ci95"][1] - c["ci95"][0] < 2.0
    assert f"tflite-int8: top-1 change against the baseline {MINUS}2.50 pt" in out


def test_real_calibration_change_against_baseline(run_cli, tmp_path):
    """Real reports: calibrating on one image instead of 500 (report-one-image-calibration.json) costs
    agreement with float against the 500-image baseline; a strict enough threshold catches it."""
    cur = FIX / "report-one-image-calibration.json"
    result = gate(cur, baseline=FIX / "report.json")
    c = next(c for c in result["checks"] if c["check"] == "baseline.agreement")
    assert c["value"] < 0 and c["ci95"][1] < -0.25  # significantly lower agreement, paired per image
    (tmp_path / "edge-inception.toml").write_text("[gate.baseline]\nmax_agreement_drop = 0.25\n")
    code, out, _ = run_cli("gate", str(cur), "--baseline", str(FIX / "report.json"))
    assert code == 1 and "tflite-int8: agreement change against the baseline" in out
    # onnx-int8 is in the baseline but not in this report: reported, not fatal
    assert "onnx-int8: in the baseline but not in this report" in out


def test_improvement_is_reported(tmp_path, run_cli):
    base = load()
    with_outcomes(row(base), broken=60)
    code, out, _ = run_cli("gate", str(FIX / "report.json"), "--baseline", save(tmp_path, base, "b.json"))
    assert code == 0 and "improved" in out and "--update-baseline" in out


def test_target_missing_from_baseline_is_reported_not_fatal(tmp_path):
    base = load()
    base["targets"] = [r for r in base["targets"] if r["target"] == "tflite-int8"]
    result = gate(FIX / "report.json", baseline=save(tmp_path, base, "b.json"))
    assert result["exit_code"] == 0
    missing = [c for c in result["checks"] if c["check"] == "baseline" and c["target"] == "onnx-int8"]
    assert missing[0]["verdict"] == "skipped" and "not in the baseline" in missing[0]["message"]


# ---- outputs --------------------------------------------------------------------------------------------

# From the Jenkins JUnit schema (junit-10.xsd): allowed attributes and the order of children.
JUNIT_ATTRS = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time", "disabled", "skipped", "timestamp", "hostname",
                  "id", "package"},
    "testcase": {"name", "assertions", "time", "classname", "status"},
    "property": {"name", "value"},
    "failure": {"message", "type"},
    "skipped": {"message"},
}
JUNIT_REQUIRED = {"testsuite": {"name", "tests"}, "testcase": {"name"}, "property": {"name", "value"}}
JUNIT_TESTCASE_CHILDREN = ["skipped", "error", "failure", "system-out", "system-err"]


def test_junit_xml_has_the_schema_structure(tmp_path, run_cli):
    report = load()
    with_outcomes(row(report), broken=60)
    xml_path = tmp_path / "gate.xml"
    code, _, _ = run_cli("gate", save(tmp_path, report), "--junit", str(xml_path))
    assert code == 1
    root = ET.parse(xml_path).getroot()
    assert root.tag == "testsuites"
    for el in root.iter():
        if el.tag in JUNIT_ATTRS:
            assert set(el.attrib) <= JUNIT_ATTRS[el.tag], (el.tag, el.attrib)
            assert JUNIT_REQUIRED.get(el.tag, set()) <= set(el.attrib), el.tag
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.tag for c in suite] == ["properties"] + ["testcase"] * len(cases)
    failures = sum(len(c.findall("failure")) for c in cases)
    skipped = sum(len(c.findall("skipped")) for c in cases)
    for el in (root, suite):
        assert int(el.get("tests")) == len(cases) and int(el.get("failures")) == failures == 1
        assert int(el.get("errors")) == 0
        float(el.get("time"))
    assert int(suite.get("skipped")) == skipped >= 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp")) and suite.get("hostname")
    for case in cases:
        assert case.get("classname").startswith("edge-inception.gate.") and case.get("name")
        float(case.get("time"))
        order = [JUNIT_TESTCASE_CHILDREN.index(ch.tag) for ch in case]
        assert order == sorted(order) and len(case.findall("failure")) + len(case.findall("skipped")) <= 1
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert len(names) == len(cases)  # one test case per target and check
    (fail_case,) = [c for c in cases if c.find("failure") is not None]
    assert fail_case.get("classname") == "edge-inception.gate.tflite-int8" and fail_case.get("name") == "top1 vs float"
    assert f"is beyond the allowed {MINUS}1.00 pt" in fail_case.find("failure").get("message")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["verdict"] == "fail" and props["strict"] == "false" and props["report_schema_version"] == "1.1"


def test_step_summary_markdown_is_appended(tmp_path, run_cli, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = run_cli("gate", str(FIX / "report.json"))
    assert code == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "edge-inception gate: pass" in text and "| tflite-int8 | top1 | float |" in text


def test_json_and_out(tmp_path, run_cli):
    code, out, _ = run_cli("gate", str(FIX / "report.json"), "--json", "--out", str(tmp_path / "g.json"))
    assert code == 0
    printed = json.loads(out)
    assert printed["verdict"] == "pass" and printed["kind"] == "gate"
    assert json.loads((tmp_path / "g.json").read_text())["checks"] == printed["checks"]


# ---- --update-baseline ----------------------------------------------------------------------------------

def test_update_baseline_creates_then_refreshes(tmp_path, run_cli):
    base = tmp_path / "ci" / "baseline.json"
    code, _, err = run_cli("gate", str(FIX / "report.json"), "--baseline", str(base), "--update-baseline")
    assert code == 0 and "baseline updated" in err
    assert base.read_text() == (FIX / "report.json").read_text()  # the report itself, byte for byte
    code, _, _ = run_cli("gate", str(FIX / "report-one-image-calibration.json"), "--baseline", str(base),
                         "--update-baseline")
    assert code == 0 and json.loads(base.read_text())["data"]["calibration"]["samples"] == 1


def test_update_baseline_refuses_after_a_regression(tmp_path, run_cli):
    base = tmp_path / "baseline.json"
    base.write_text((FIX / "report.json").read_text())
    bad = load()
    with_outcomes(row(bad), broken=60)
    bad_path = save(tmp_path, bad, "bad.json")
    code, _, err = run_cli("gate", bad_path, "--baseline", str(base), "--update-baseline")
    assert code == 1 and "not updated: the gate failed" in err
    assert base.read_text() == (FIX / "report.json").read_text()
    code, _, err = run_cli("gate", bad_path, "--baseline", str(base), "--update-baseline", "--force")
    assert code == 1 and "baseline updated" in err  # written on purpose; the verdict stays a failure
    assert json.loads(base.read_text()) == bad


def test_update_baseline_is_atomic(tmp_path, monkeypatch):
    import os

    from edge_inception.gating import update_baseline

    base = tmp_path / "baseline.json"
    base.write_text("old")

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        update_baseline(FIX / "report.json", base)
    assert base.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


def test_update_baseline_needs_baseline_and_force_replaces_another_model(tmp_path, run_cli):
    code, _, err = run_cli("gate", str(FIX / "report.json"), "--update-baseline")
    assert code == 2 and "--update-baseline needs --baseline" in err
    base = tmp_path / "b.json"
    base.write_text((FIX / "report-damaged.json").read_text())
    code, _, _ = run_cli("gate", str(FIX / "report.json"), "--baseline", str(base), "--update-baseline")
    assert code == 2
    code, out, _ = run_cli("gate", str(FIX / "report.json"), "--baseline", str(base), "--update-baseline", "--force")
    assert code == 0 and "replaced because of --force" in out
    assert json.loads(base.read_text())["model"]["name"] == "inception-mini"


def test_results_are_plain_data_copies():
    result = gate(copy.deepcopy(load()))
    json.dumps(result)  # serialisable as is
    assert result["report"] is None and result["model"] == "inception-mini"


def test_gate_is_part_of_the_python_api():
    import edge_inception as ei
    import edge_inception.gating.render  # noqa: F401  (the package is not named like the function it exports)

    assert ei.gate(FIX / "report.json")["verdict"] == "pass"
