"""The ONNX backend: tf2onnx export, ONNX Runtime static int8 (QDQ) with ISA-chosen types, the runtime."""

import json

import numpy as np
import pytest

from edge_inception._core.errors import InputError
from edge_inception.quantizers.ort_ptq import choose_ort_types
from edge_inception.targets import get_target
from edge_inception.validate import validate as verify_onnx
from tests.conftest import tiny_tf_keras_model

AVX2_ZEN1 = {"sse4_2": True, "avx2": True, "fma": True, "avx512f": False, "avx512_vnni": False,
             "avx_vnni": False, "amx": False, "neon": False, "dotprod": False, "vnni": False}
CASCADE_LAKE = {**AVX2_ZEN1, "avx512f": True, "avx512_vnni": True, "vnni": True}
GRAVITON = {k: False for k in AVX2_ZEN1} | {"neon": True, "dotprod": True}


@pytest.fixture(scope="module")
def onnx_job(every_target_job):
    """The shipped model to onnx-int8 (and so its onnx-fp32 reference): conftest's one run of every target."""
    _, out, rows = every_target_job
    return (0 if rows["onnx-int8"]["status"] == "ok" else 1), out, rows


def test_onnx_int8_holds_accuracy_with_the_isa_choice(onnx_job):
    from edge_inception._core.host import host_facts

    code, out, rows = onnx_job
    assert code == 0
    row = rows["onnx-int8"]
    assert row["status"] == "ok", row["message"]
    assert row["reference"]["target"] == "onnx-fp32"
    assert row["verification"] == {"ok": True, "violations": []}
    conv = row["conversion"]
    act, wt, reason = choose_ort_types(host_facts()["isa"], "auto", "auto")
    assert (conv["activations"], conv["weights"].split()[0], conv["isa_reason"]) == (act, wt, reason)
    assert conv["requested"] == {"activations": "auto", "weights": "auto"} and conv["format"] == "QDQ"
    # The choice holds accuracy on this machine: the shipped 2,000-image evaluation sample.
    acc = row["accuracy"]
    assert acc["n"] == 2000
    assert acc["float_top1"] > 0.85  # a trained model, not noise
    assert abs(acc["top1"] - acc["float_top1"]) <= 0.010
    assert acc["agreement"] >= 0.97
    assert row["size_ratio"] >= 2.5


def test_float_onnx_fails_the_int8_weight_rule(onnx_job):
    _, out, _ = onnx_job
    violations = verify_onnx(out / "inception-mini.onnx-fp32.onnx", get_target("onnx-int8"))
    assert len(violations) == 38  # 37 convolutions and the classifier
    assert "Conv" in violations[0] and "node '" in violations[0] and "stem_conv" in violations[0]
    assert verify_onnx(out / "inception-mini.onnx-fp32.onnx", get_target("onnx-fp32")) == []


def test_float_onnx_matches_the_source_model_at_any_batch(onnx_job, sample_arrays):
    from edge_inception.models.loader import load_model
    from edge_inception.runtimes import get_runtime

    _, out, _ = onnx_job
    lm = load_model("inception-mini")
    session = get_runtime("onnxruntime").load(out / "inception-mini.onnx-fp32.onnx", threads=1)
    assert session.facts["engine"] == "onnxruntime" and session.facts["threads"] == 1
    assert "isa" in session.facts and session.facts["input_dtype"] == "float32"
    images = sample_arrays["evaluation"][0][..., None]  # stored (N, 28, 28): grayscale without a channel axis
    for n in (1, 5):
        x = lm.spec.preprocessing.apply(images[:n])
        y = session.run(x)
        assert y.shape == (n, 10) and y.dtype == np.float32
        np.testing.assert_allclose(y, np.asarray(lm.model(x, training=False)), atol=1e-4)


@pytest.mark.parametrize(("isa", "expected"), [
    (AVX2_ZEN1, ("uint8", "uint8")),
    (CASCADE_LAKE, ("uint8", "int8")),  # U8S8: what ORT fuses with VNNI, without saturation
    (GRAVITON, ("int8", "int8")),
    ({}, ("uint8", "uint8")),  # unknown CPU: the choice without saturation risk
])
def test_choose_ort_types_follows_the_isa(isa, expected):
    act, wt, reason = choose_ort_types(isa, "auto", "auto")
    assert (act, wt) == expected
    assert reason


def test_choose_ort_types_keeps_what_the_profile_sets():
    assert choose_ort_types(AVX2_ZEN1, "int8", "int8") == ("int8", "int8", "set in the target profile")
    act, wt, reason = choose_ort_types(AVX2_ZEN1, "auto", "int8")
    assert (act, wt) == ("uint8", "int8") and "weights set in the target profile" in reason
    act, wt, _ = choose_ort_types(CASCADE_LAKE, "uint8", "auto")
    assert (act, wt) == ("uint8", "int8")
    # ORT refuses int8 activations with uint8 weights, so 'auto' never produces that pair.
    assert choose_ort_types(AVX2_ZEN1, "int8", "auto")[:2] == ("int8", "int8")
    assert choose_ort_types(CASCADE_LAKE, "auto", "uint8")[:2] == ("uint8", "uint8")


@pytest.mark.parametrize("kind", ["h5", "saved_model"])
def test_tf_keras_model_converts_to_onnx_int8(kind, tmp_path, run_cli):
    path, calib = tiny_tf_keras_model(tmp_path, kind)
    code, _, err = run_cli("convert", str(path), "--target", "onnx-int8", "--calibration", str(calib),
                           "--out", str(tmp_path / "out"), "--latency-runs", "2")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"]["kind"] == ("tf_keras" if kind == "h5" else "saved_model")
    (row,) = report["targets"]
    assert row["status"] == "ok" and row["verification"]["ok"], row["message"]
    assert row["conversion"]["calibration"]["samples"] == 20


def test_runtime_refuses_a_file_that_is_not_onnx(tmp_path):
    from edge_inception.runtimes import get_runtime

    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(InputError) as info:
        get_runtime("onnxruntime").load(bad, threads=1)
    assert str(bad) in info.value.message and "ONNX" in info.value.message
    assert "\n" not in info.value.message
