"""The OpenVINO backend: IR export (fp32, fp16), NNCF int8, the runtime, and the IR verifier."""

import json
from pathlib import Path

import numpy as np
import pytest

from edge_inception._core.errors import InputError
from edge_inception.quantizers.nncf_ptq import choose_overflow_fix
from edge_inception.runtimes import get_runtime
from edge_inception.targets import get_target
from edge_inception.validate import validate as verify_openvino
from tests.conftest import tiny_tf_keras_model


@pytest.fixture(scope="session")
def ov_job(every_target_job):
    """The shipped model to openvino-fp16 and openvino-int8 (and so openvino-fp32, their reference): conftest's
    one run of every target."""
    _, out, rows = every_target_job
    ok = all(rows[t]["status"] == "ok" for t in ("openvino-fp16", "openvino-int8"))
    return (0 if ok else 1), out, rows


def _ir(ov_job, name: str) -> Path:
    return ov_job[1] / f"inception-mini.{name}.xml"


def _weight_constant_types(xml: Path) -> set[str]:
    """Element types of the constants feeding Convolution/MatMul weights, read straight from the IR."""
    import openvino as ov

    types = set()
    for node in ov.Core().read_model(str(xml)).get_ordered_ops():
        if node.get_type_name() in ("Convolution", "MatMul"):
            n = node.input(1).get_source_output().get_node()
            while n.get_type_name() != "Constant":
                n = n.input(0).get_source_output().get_node()
            types.add(n.get_element_type().get_type_name())
    return types


def test_int8_is_close_to_fp32_on_the_shipped_sample(ov_job):
    code, out, rows = ov_job
    assert code == 0
    row = rows["openvino-int8"]
    assert row["status"] == "ok", row["message"]
    assert row["reference"]["target"] == "openvino-fp32"
    assert row["verification"] == {"ok": True, "violations": []}
    acc = row["accuracy"]
    assert acc["n"] == 2000
    assert acc["float_top1"] > 0.85  # a trained model, not noise
    assert abs(acc["top1"] - acc["float_top1"]) <= 0.010
    assert acc["agreement"] >= 0.97
    info = row["conversion"]
    assert info["library"].startswith("nncf ") and info["preset"] == "performance"
    assert info["overflow_fix"] in ("enable", "first_layer") and info["overflow_fix_reason"].startswith("auto")
    assert row["engine"]["engine"] == "openvino" and row["engine"]["threads"] == 2
    assert row["latency"]["p50_ms"] > 0


def test_fp16_matches_fp32(ov_job):
    _, _, rows = ov_job
    row = rows["openvino-fp16"]
    assert row["status"] == "ok", row["message"]
    assert row["reference"]["target"] == "openvino-fp32"
    assert row["accuracy"]["agreement"] >= 0.995


def test_ir_weights_have_the_precision_asked_for(ov_job):
    fp32, fp16, int8 = (_ir(ov_job, n) for n in ("openvino-fp32", "openvino-fp16", "openvino-int8"))
    # save_model's default would have made the "fp32" IR fp16: check the constants themselves.
    assert _weight_constant_types(fp32) == {"f32"}
    assert _weight_constant_types(fp16) == {"f16"}
    assert _weight_constant_types(int8) == {"i8"}
    bins = {p.stem: p.with_suffix(".bin").stat().st_size for p in (fp32, fp16, int8)}
    assert 1.9 < bins["inception-mini.openvino-fp32"] / bins["inception-mini.openvino-fp16"] < 2.1
    assert bins["inception-mini.openvino-fp32"] / bins["inception-mini.openvino-int8"] > 3.5
    # No temporary files are left beside the artifacts.
    assert not [p for p in ov_job[1].iterdir() if p.name.startswith(".")]


def test_verifier_names_the_layer_of_a_float_ir(ov_job):
    violations = verify_openvino(_ir(ov_job, "openvino-fp32"), get_target("openvino-int8"))
    assert violations and "Convolution (layer '" in violations[0] and "unquantized" in violations[0]
    assert verify_openvino(_ir(ov_job, "openvino-fp16"), get_target("openvino-fp32"))  # f16 weights in "fp32"
    assert verify_openvino(_ir(ov_job, "openvino-fp16"), get_target("openvino-fp16")) == []


def test_runtime_takes_any_batch_size(ov_job, sample_arrays):
    from edge_inception.models.loader import load_model

    lm = load_model()
    x = lm.spec.preprocessing.apply(sample_arrays["evaluation"][0][:9, :, :, None])
    session = get_runtime("openvino").load(_ir(ov_job, "openvino-fp32"), threads=1)
    assert session.facts["threads"] == 1 and session.facts["device"] == "CPU" and "isa" in session.facts
    expected = np.asarray(lm.model(x, training=False))
    first = session.run(x[:1])
    for n in (9, 4, 1):
        y = session.run(x[:n])
        assert y.shape == (n, 10) and y.dtype == np.float32
        np.testing.assert_allclose(y, expected[:n], atol=1e-4)
    np.testing.assert_array_equal(first, session.run(x[:1]))  # outputs are copies, not a reused buffer
    with pytest.raises(ValueError, match="28, 28, 1"):
        session.run(x[:, :, :, 0])  # NHW without the channel axis is refused, not silently reshaped


@pytest.mark.parametrize("isa, expected", [
    ({"vnni": False, "avx2": True}, "enable"),
    ({"vnni": True, "avx2": True, "avx512_vnni": True}, "first_layer"),
])
def test_auto_overflow_fix_follows_vnni(isa, expected):
    fix, why = choose_overflow_fix("auto", isa)
    assert fix == expected and "VNNI" in why


@pytest.mark.parametrize("setting", ["enable", "disable", "first_layer"])
def test_explicit_overflow_fix_is_kept(setting):
    for vnni in (False, True):
        assert choose_overflow_fix(setting, {"vnni": vnni}) == (setting, "set in the target profile")


@pytest.mark.parametrize("kind", ["h5", "saved_model"])
def test_tf_keras_model_converts_to_int8(kind, tmp_path, run_cli):
    path, calib = tiny_tf_keras_model(tmp_path, kind)
    code, _, err = run_cli("convert", str(path), "--target", "openvino-int8", "--calibration", str(calib),
                           "--out", str(tmp_path / "out"), "--latency-runs", "2")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"]["kind"] == ("tf_keras" if kind == "h5" else "saved_model")
    (row,) = report["targets"]
    assert row["status"] == "ok", row["message"]
    assert row["verification"]["ok"] and row["conversion"]["calibration"]["samples"] == 20
    assert _weight_constant_types(Path(row["artifact"])) == {"i8"}


@pytest.mark.parametrize("name, content", [
    ("model.xml", b"<net>not an IR"),
    ("model.tflite", b"TFL3 not a model"),
    ("missing.xml", None),
])
def test_non_ir_file_is_an_input_error(name, content, tmp_path):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as e:
        get_runtime("openvino").load(path, threads=1)
    assert name in e.value.message and ".xml" in e.value.message


def test_ir_without_its_bin_is_an_input_error(ov_job, tmp_path):
    lone = tmp_path / "lone.xml"
    lone.write_bytes(_ir(ov_job, "openvino-fp32").read_bytes())
    with pytest.raises(InputError, match="lone.xml"):
        get_runtime("openvino").load(lone, threads=1)


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    import openvino as ov

    from edge_inception.exporters.openvino import save_ir

    def half_write(model, path, compress_to_fp16=True):
        Path(path).write_text("<net")
        Path(path).with_suffix(".bin").write_bytes(b"\0" * 10)
        raise RuntimeError("disk full")

    monkeypatch.setattr(ov, "save_model", half_write)
    with pytest.raises(RuntimeError, match="disk full"):
        save_ir(object(), tmp_path / "m.xml", compress_to_fp16=False)
    assert list(tmp_path.iterdir()) == []


def test_settings_nncf_cannot_honour_are_refused(tmp_path):
    from edge_inception._core.errors import UsageError
    from edge_inception.quantizers import QUANTIZERS
    from edge_inception.targets import load_target_file

    profile = tmp_path / "ov-int8-io.toml"
    profile.write_text('name = "ov-int8-io"\nformat = "openvino"\nprecision = "int8"\nruntime = "openvino"\n'
                       'float_reference = "openvino-fp32"\n[quantizer]\nlibrary = "nncf"\nio_dtype = "uint8"\n')
    with pytest.raises(UsageError, match="io_dtype"):
        QUANTIZERS.get(("nncf", "keras"))(None, tmp_path / "m.xml", target=load_target_file(profile), calibration=None)
    assert not list(tmp_path.glob("m.*"))
