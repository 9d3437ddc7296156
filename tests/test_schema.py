"""The report and gate-config schemas, each defined once (edge_inception/report/schema.py and
edge_inception/gating/config.py): every shipped report round-trips, a bad key is refused naming the file
and the key, writers validate before anything lands on disk, and the JSON Schemas published in
docs/schema/ are exactly what the models generate."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

import pytest

from edge_inception._core.errors import EdgeInceptionError, InputError, UsageError
from edge_inception.gating import gate
from edge_inception.gating.config import FloatThresholds, GateConfig, load_config, parse_thresholds
from edge_inception.report import views
from edge_inception.report.markdown import render_markdown
from edge_inception.report.publish import json_schemas, main
from edge_inception.report.schema import (
    SCHEMA_VERSION,
    Report,
    check_report,
    read_report,
    write_report,
)

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
REPORTS = sorted((DATA / "reports").glob("*.json")) + sorted((DATA / "gate").glob("*.json"))


def gate_report() -> dict:
    return json.loads((DATA / "gate" / "report.json").read_text())


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_report_fixture_round_trips(path):
    report = json.loads(path.read_text())
    assert check_report(report, path) is report  # validated, returned as it is
    # Nothing dropped, nothing coerced: the model's dump of what it read is the file again.
    assert Report.model_validate(report).model_dump(exclude_unset=True) == report
    read, text = read_report(path)
    assert read == report and text == path.read_text()


def _save(tmp_path: Path, report: dict) -> str:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, indent=2))
    return str(path)


def _row(report: dict, name: str = "tflite-int8") -> dict:
    return next(r for r in report["targets"] if r["target"] == name)


BAD = [
    (lambda r: _row(r).update(size_bytes="670592"), "tflite-int8: 'size_bytes' must be an integer, got '670592'"),
    (lambda r: _row(r)["accuracy"].update(agreement_ci95=[0.99]),
     "tflite-int8: 'accuracy.agreement_ci95' must be [low, high], two numbers, got [0.99]"),
    (lambda r: _row(r, "onnx-int8")["latency"].update(ratio=True), "onnx-int8: 'latency.ratio' must be a number"),
    (lambda r: _row(r)["latency"]["candidate"]["samples_ms"].append("1.2"),
     "tflite-int8: 'latency.candidate.samples_ms' must be a list of numbers"),
    (lambda r: _row(r)["accuracy"]["per_sample"].update(encoding="hex"),
     "tflite-int8: 'accuracy.per_sample.encoding' must be 'packbits-base64', got 'hex'"),
    (lambda r: _row(r).pop("status"), "tflite-int8: 'status' is missing"),
    (lambda r: _row(r).update(gate={"max_top1_drop": "1.0"}), "tflite-int8: 'gate' must be an object of numbers"),
    (lambda r: r["host"].update(cores="2"), "'host.cores' must be an integer, got '2'"),
    (lambda r: r["data"].update(evaluation=["sample"]), "'data.evaluation' must be an object"),
]


@pytest.mark.parametrize("mutate, message", BAD, ids=[m.split(" must")[0].split(" is")[0] for _, m in BAD])
def test_a_bad_key_is_refused_by_views_and_gate_naming_file_and_key(tmp_path, capsys, run_cli, mutate, message):
    report = gate_report()
    mutate(report)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert views.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no view half-written
    code, out, err = run_cli("gate", str(path))
    assert code == 2 and f"{path}: {message}" in err and "Traceback" not in out + err, err
    with pytest.raises(UsageError, match="report: "):  # an in-memory report: no file to name
        render_markdown(report)


@pytest.mark.parametrize("version, readable", [("1.0", True), ("1.2", True), ("1.17", True), ("2.0", False),
                                               ("0.9", False), ("1", False), ("one", False), (1.2, False)])
def test_readers_accept_any_1x_and_refuse_another_major(tmp_path, version, readable):
    report = gate_report()
    report["schema_version"] = version
    if readable:
        assert check_report(report, "r.json") is report
        return
    with pytest.raises(InputError, match="r.json: .*schema_version") as info:
        check_report(report, "r.json")
    assert info.value.exit_code == 2


def test_write_report_validates_before_anything_lands(tmp_path):
    report = gate_report()
    report["model"]["preprocessing"]["mean"] = (0.0,)  # tuples, as ModelSpec.to_dict leaves them, are lists on disk
    path = write_report(report, tmp_path / "out" / "report.json")
    assert json.loads(path.read_text())["model"]["preprocessing"]["mean"] == [0.0]
    assert path.read_text() == json.dumps(report, indent=2) + "\n"
    bad = copy.deepcopy(report)
    _row(bad)["accuracy"]["delta_points"] = "-0.1"
    with pytest.raises(EdgeInceptionError, match="tflite-int8: 'accuracy.delta_points' must be a number") as info:
        write_report(bad, tmp_path / "bad" / "report.json")
    assert not isinstance(info.value, InputError)  # a writer's bug, not the user's input
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    assert json.loads(path.read_text()) == json.loads(json.dumps(report))  # the good one untouched


def test_published_json_schemas_are_what_the_models_generate(tmp_path, capsys):
    docs = ROOT / "docs" / "schema"
    generated = json_schemas()
    assert set(generated) == {"report.schema.json", "gate-config.schema.json", "target.schema.json",
                              "recipe.schema.json"}
    for name, text in generated.items():
        assert (docs / name).read_text() == text, f"{name} drifted: python -m edge_inception.report.schema --write"
    assert main(["--check", str(docs)]) == 0
    assert main(["--write", str(tmp_path)]) == 0
    (tmp_path / "report.schema.json").write_text("{}\n")
    assert main(["--check", str(tmp_path)]) == 1 and "out of date" in capsys.readouterr().err
    schema = json.loads(generated["report.schema.json"])
    row = schema["$defs"]["Row"]
    assert row["required"] == ["target", "status"] and "gate" in row["properties"]
    assert schema["properties"]["schema_version"]["pattern"] == r"^1\.\d+$" and SCHEMA_VERSION == "1.4"


def test_gate_config_schema_holds_the_defaults_once():
    schema = json.loads(json_schemas()["gate-config.schema.json"])
    table = schema["$defs"]["GateTable"]["properties"]
    assert {k: table[k].get("default") for k in FloatThresholds.model_fields} == FloatThresholds().model_dump()
    assert FloatThresholds().model_dump() == {"max_top1_drop": 1.0, "min_agreement": 0.97, "max_latency_ratio": 1.5,
                                              "max_size_mb": None}
    assert table["min_agreement"]["maximum"] == 1 and table["max_top1_drop"]["minimum"] == 0
    assert schema["$defs"]["GateTable"]["additionalProperties"] is False
    limits = GateConfig().for_target("anything")
    assert limits["max_top1_drop"] == 1.0 and limits["sources"]["max_top1_drop"] == "built-in"
    assert limits["baseline"] == {"max_top1_drop": 1.0, "max_agreement_drop": 1.0, "max_latency_increase": 0.25,
                                  "max_size_increase": 0.05}


def test_readme_gate_table_round_trips(tmp_path):
    text = """[tool.edge-inception.gate]
max_top1_drop = 1.0
min_agreement = 0.97
max_latency_ratio = 1.5
max_size_mb = 5.0

[tool.edge-inception.gate.baseline]
max_top1_drop = 0.5
max_agreement_drop = 1.0
max_latency_increase = 0.25
max_size_increase = 0.05

[tool.edge-inception.gate.targets.onnx-int8]
max_latency_ratio = 1.3
[tool.edge-inception.gate.targets.onnx-int8.baseline]
max_latency_increase = 0.5
"""
    (tmp_path / "pyproject.toml").write_text(text)
    cfg = load_config(cwd=tmp_path)
    table = tomllib.loads(text)["tool"]["edge-inception"]["gate"]
    got = cfg.to_dict()
    assert got["defaults"] == {k: v for k, v in table.items() if k not in ("baseline", "targets")}
    assert got["baseline"] == table["baseline"] and got["targets"] == table["targets"]
    limits = cfg.for_target("onnx-int8", recorded={"max_top1_drop": 0.2, "min_agreement": 0.5})
    assert limits["max_latency_ratio"] == 1.3 and limits["sources"]["max_latency_ratio"] == "config:target"
    assert limits["max_top1_drop"] == 1.0 and limits["sources"]["max_top1_drop"] == "config"  # config beats profile
    assert limits["baseline"]["max_latency_increase"] == 0.5 and limits["baseline"]["max_top1_drop"] == 0.5


@pytest.mark.parametrize("table, message", [
    ({"max_top1_drop": -0.5}, "p.toml: [gate] 'max_top1_drop' must not be negative, got -0.5"),
    ({"min_agreement": 1.2}, "p.toml: [gate] 'min_agreement' is a share of inputs (0..1), got 1.2 (write 0.97"),
    ({"max_latency_ratio": "1.5"}, "p.toml: [gate] 'max_latency_ratio' must be a number, got '1.5'"),
    ({"speed": 2}, "p.toml: unknown key [gate] 'speed' (allowed: max_top1_drop, min_agreement, max_latency_ratio, "
                   "max_size_mb)"),
])
def test_profile_gate_section_is_checked_with_the_same_model(table, message):
    with pytest.raises(InputError) as info:
        parse_thresholds(table, path="p.toml")
    assert message in info.value.message
    assert parse_thresholds({"max_top1_drop": 2}, path="p.toml").max_top1_drop == 2.0


# ---- schema 1.2: each row's gate thresholds, read by the gate from the report alone ----------------------

def with_recorded_gates(report: dict, **per_target: dict) -> dict:
    """The report as convert writes it since schema 1.2: each row carries its profile's thresholds."""
    report["schema_version"] = "1.2"
    for r in report["targets"]:
        r["gate"] = {"max_top1_drop": 1.0, "min_agreement": 0.97, "max_latency_ratio": 1.5,
                     **per_target.get(r["target"], {})}
    return report


def test_gate_thresholds_come_from_the_report_not_the_installed_profiles(tmp_path, monkeypatch):
    # A user's profile of the same name in ./targets/ (the working directory) must not change the verdict.
    from edge_inception.targets import get_target

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    text = Path(get_target("tflite-int8").source).read_text()
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "tflite-int8.toml").write_text(text.replace("max_top1_drop = 1.0", "max_top1_drop = 9"))
    report = with_recorded_gates(gate_report(), **{"tflite-int8": {"max_top1_drop": 0.05}})
    result = gate(_save(tmp_path, report))
    top1 = {c["target"]: c for c in result["checks"] if c["check"] == "top1"}
    assert top1["tflite-int8"]["threshold"] == -0.05 and top1["tflite-int8"]["threshold_source"] == "profile"
    assert top1["onnx-int8"]["threshold"] == -1.0 and top1["onnx-int8"]["threshold_source"] == "profile"
    assert not any("records no target-profile thresholds" in n for n in result["notes"])
    # -0.10 pt [-0.40, +0.15] against an allowed -0.05: beyond it by the point estimate, not significantly
    assert top1["tflite-int8"]["verdict"] == "warn"
    (tmp_path / "edge-inception.toml").write_text("[gate.targets.tflite-int8]\nmax_top1_drop = 0.5\n")
    c = next(c for c in gate(_save(tmp_path, report))["checks"] if c["check"] == "top1")
    assert c["threshold"] == -0.5 and c["threshold_source"] == "config:target"  # the user's config still wins


def test_bad_recorded_threshold_is_exit_2_naming_report_and_key(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    report = with_recorded_gates(gate_report(), **{"onnx-int8": {"min_agreement": 97}})
    path = _save(tmp_path, report)
    code, out, err = run_cli("gate", path)
    assert code == 2 and f"{path}: onnx-int8: 'gate.min_agreement' is a share of inputs (0..1), got 97" in err
    assert "Traceback" not in out + err
