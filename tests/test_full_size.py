"""Full-size Inception v3 (random weights: nothing can be downloaded here) converts to every int8 target
of its framework, and each artifact loads, runs and stays close to its float reference.

Tolerance: with random weights top-1 agreement is noise, so fidelity is judged on the outputs
themselves, over 16 real images (the shipped Fashion-MNIST sample resized to 299x299 RGB): mean cosine
similarity between int8 and float logits of at least 0.9 per target.
"""

import json

import pytest

MIN_COSINE = 0.9


@pytest.mark.slow
@pytest.mark.parametrize("framework, targets", [
    ("keras", "tflite-int8,onnx-int8,openvino-int8"),
    ("torch", "onnx-int8,openvino-int8"),  # PyTorch -> TFLite is not supported yet
])
def test_inception_v3_converts_to_every_int8_target(framework, targets, tmp_path, run_cli):
    code, _, err = run_cli("convert", "inception-v3", "--framework", framework, "--target", targets,
                           "--calibration-samples", "8", "--eval-data", "sample:evaluation", "--eval-limit", "16",
                           "--out", str(tmp_path), "--latency-runs", "2")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["model"]["random_weights"] is True
    assert report["model"]["input_shape"] == [299, 299, 3]
    for row in report["targets"]:
        assert row["status"] == "ok", f"{row['target']}: {row['message']}"
        assert row["verification"]["ok"]
        assert row["accuracy"]["n"] == 16
        assert row["accuracy"]["cosine"] >= MIN_COSINE, row["accuracy"]
        assert row["size_ratio"] > 2.5
        assert row["latency"]["p50_ms"] > 0
    assert code == 0, err
