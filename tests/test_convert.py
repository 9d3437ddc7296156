"""The convert command end to end on the shipped model, and on user models of every Keras kind."""

import json

import pytest

from edge_inception.exporters.tflite import tflite_ops
from edge_inception.targets import get_target
from edge_inception.validate import validate as verify_tflite
from tests.conftest import tiny_tf_keras_model


def test_main_job_meets_the_foundation_bar(main_job):
    code, out = main_job
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["schema_version"] == "1.4" and report["kind"] == "convert"
    (row,) = report["targets"]
    assert row["status"] == "ok", row["message"]
    assert row["gate"] == dict(get_target("tflite-int8").gate)  # 1.2: the profile's thresholds, recorded
    assert row["calibration"]["recipe"] == "default" and row["calibration"]["samples"] == 500  # 1.3
    acc = row["accuracy"]
    assert acc["n"] == 2000
    assert acc["float_top1"] > 0.85  # a trained model, not noise
    assert abs(acc["top1"] - acc["float_top1"]) <= 0.010
    assert acc["agreement"] >= 0.97
    assert row["size_ratio"] >= 3.5
    assert row["latency"]["p50_ms"] > 0 and row["latency"]["ratio"] > 0
    # Independent of the tool's own verdict: every operator but the I/O edges is integer.
    ops = tflite_ops(out / "inception-mini.tflite-int8.tflite")
    assert {o["op"] for o in ops} >= {"CONV_2D", "CONCATENATION", "MAX_POOL_2D"}
    for o in ops:
        if o["op"] not in ("QUANTIZE", "DEQUANTIZE"):
            assert not any(d.startswith("float") for d in o["inputs"] + o["outputs"]), o
    assert row["verification"] == {"ok": True, "violations": []}


def test_main_job_prints_the_table(tmp_path, run_cli):
    code, stdout, _ = run_cli("convert", "--target", "tflite-fp32", "--out", str(tmp_path), "--latency-runs", "3")
    assert code == 0
    for header in ("target", "size", "float top-1", "top-1", "change", "agreement", "p50", "ratio"):
        assert header in stdout
    report = json.loads((tmp_path / "report.json").read_text())
    (row,) = report["targets"]
    # tflite-fp32 against the Keras model it came from: the same network, so the same answers.
    assert row["accuracy"]["agreement"] >= 0.999


def test_float_artifact_fails_the_full_integer_rule(main_job):
    _, out = main_job
    violations = verify_tflite(out / "inception-mini.tflite-fp32.tflite", get_target("tflite-int8"))
    assert violations
    assert "CONV_2D" in violations[0] and "layer '" in violations[0] and "float32" in violations[0]


def test_existing_output_needs_force(main_job, run_cli):
    _, out = main_job
    before = (out / "report.json").read_bytes()
    code, _, err = run_cli("convert", "--target", "tflite-int8", "--out", str(out))
    assert code == 2
    assert "already exists" in err and "--force" in err
    assert (out / "report.json").read_bytes() == before


@pytest.fixture(scope="session")
def trained_keras_file(tmp_path_factory):
    from edge_inception.models.zoo import create_model

    path = tmp_path_factory.mktemp("user") / "mini.keras"
    create_model("inception-mini").save(path)
    return path


def test_user_keras3_model_with_image_folders(trained_keras_file, image_folders, tmp_path, run_cli):
    code, _, err = run_cli("convert", str(trained_keras_file), "--target", "tflite-int8",
                           "--calibration", str(image_folders["calibration"]),
                           "--eval-data", str(image_folders["evaluation"]), "--out", str(tmp_path),
                           "--latency-runs", "3")
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["model"]["kind"] == "keras"
    assert report["data"]["calibration"]["samples"] == 100
    row = report["targets"][0]
    assert row["status"] == "ok"
    assert row["accuracy"]["n"] == 300
    # Folder labels are digit names, so they map to the model's class indices and accuracy is real.
    assert row["accuracy"]["float_top1"] > 0.8
    assert row["accuracy"]["agreement"] >= 0.95


@pytest.mark.parametrize("kind", ["h5", "saved_model"])
def test_tf_keras_h5_and_saved_model_convert(kind, tmp_path, run_cli):
    path, calib = tiny_tf_keras_model(tmp_path, kind)
    code, _, err = run_cli("convert", str(path), "--target", "tflite-int8", "--calibration", str(calib),
                           "--out", str(tmp_path / "out"), "--latency-runs", "2")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"]["kind"] == ("tf_keras" if kind == "h5" else "saved_model")
    assert report["model"]["input_shape"] == [16, 16, 3]
    row = report["targets"][0]
    assert row["status"] == "ok" and row["verification"]["ok"]
    assert "accuracy" not in row  # no labelled data given: no accuracy claimed


@pytest.mark.slow
def test_shipped_model_on_full_test_split(tmp_path, run_cli):
    """The full 10,000-image Fashion-MNIST test split from the Debian package."""
    code, _, err = run_cli("convert", "--target", "tflite-int8", "--eval-data", "fashion-mnist",
                           "--out", str(tmp_path), "--latency-runs", "5")
    assert code == 0, err
    acc = json.loads((tmp_path / "report.json").read_text())["targets"][0]["accuracy"]
    assert acc["n"] == 10000
    assert acc["float_top1"] >= 0.90
    assert acc["delta_points"] >= -0.5
    assert acc["agreement"] >= 0.98


def test_tflite_fp16_halves_the_file_and_keeps_the_answers(tmp_path, run_cli):
    code, _, err = run_cli("convert", "--target", "tflite-fp16", "--out", str(tmp_path), "--latency-runs", "2")
    assert code == 0, err
    (row,) = json.loads((tmp_path / "report.json").read_text())["targets"]
    assert row["reference"]["target"] == "tflite-fp32"
    assert 1.8 < row["size_ratio"] < 2.2
    assert row["accuracy"]["agreement"] >= 0.995 and row["accuracy"]["sqnr_db"] > 40
