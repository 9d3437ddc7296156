"""Every shipped target profile, end to end: convert a small Inception-style model, check the artifact.

The profiles are collected from the package's targets/ folder, so a new TOML file is a new test. All
of them are converted in one run (float references are built once per format); each test then reads
its row of the report and re-checks the artifact with the inspectors.
"""

import json

import numpy as np
import pytest

from edge_inception.targets import SHIPPED_DIR, get_target, load_target_file
from edge_inception.validate import ArtifactDescription, Op, Tensor, Weights, check, describe, validate
from tests.conftest import tiny_tf_keras_model

SHIPPED = sorted(p.stem for p in SHIPPED_DIR.glob("*.toml"))


def _tiny_h5(tmp_path, *, odd_op: bool = False):
    """conftest's tiny Inception-style model; ``odd_op`` adds a leaky ReLU, an operator TFLite runs in int8 and
    the Edge TPU does not run at all."""
    path, calib = tiny_tf_keras_model(tmp_path, "h5")
    if not odd_op:
        return path, calib
    import tf_keras

    base = tf_keras.models.load_model(path, compile=False)
    inp = tf_keras.Input((16, 16, 3))
    x = tf_keras.layers.Conv2D(4, 3, padding="same", name="pre_odd")(inp)
    x = tf_keras.layers.LeakyReLU(0.1, name="odd_activation")(x)
    x = tf_keras.layers.Conv2D(3, 1, name="back_to_rgb")(x)
    model = tf_keras.Model(inp, base(x))
    path = tmp_path / "tiny_odd.h5"
    model.save(path)
    return path, calib


@pytest.fixture(scope="module")
def all_profiles(tmp_path_factory):
    """One conversion of the tiny model to every shipped profile; report rows by target name."""
    from edge_inception import convert

    tmp = tmp_path_factory.mktemp("profiles")
    model, calib = _tiny_h5(tmp)
    report = convert(str(model), targets=",".join(SHIPPED), calibration=str(calib), calibration_samples=8,
                     out=tmp / "out", latency_runs=2)
    return {row["target"]: row for row in report["targets"]}


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_converts_and_meets_its_constraints(all_profiles, name):
    t = get_target(name)
    row = all_profiles[name]
    assert row["status"] == "ok", row["message"]
    assert row["verification"] == {"ok": True, "violations": []}
    assert row["latency"]["threads"] == 2
    # The report says whether the target's device ran it; NPUs and mobile GPUs are not here.
    assert row["device"] == t.device and row["device_run"] is (t.device == "cpu")
    if not row["device_run"]:
        assert any("checked statically; not run on" in n for n in row["notes"])
    # Re-check the artifact independently of the run, from its neutral description.
    desc = describe(row["artifact"], t.format)
    assert check(desc, t) == []
    c = t.constraints
    for tensor in desc.inputs + desc.outputs:
        if c["io_dtypes"]:
            assert tensor.dtype in c["io_dtypes"]
        if c["static_shapes"]:
            assert None not in tensor.shape, tensor
    macs = [op for op in desc.ops if op.mac]
    assert macs, "the tiny model has convolutions and a dense layer"
    if t.is_quantized:
        assert all(op.weights.dtype in ("int8", "uint8") for op in macs)
    else:
        assert all(op.weights.dtype == t.precision for op in macs)
    if c["full_integer"]:
        assert all(not op.float_tensors or op.io_edge or op.machinery for op in desc.ops)
    if c["weight_granularity"] != "any":
        assert {op.weights.granularity for op in macs} == {c["weight_granularity"]}
    if c["allowed_ops"]:
        assert {op.type for op in desc.ops} <= set(c["allowed_ops"])


def test_quantizer_settings_reach_the_libraries(all_profiles):
    npu = all_profiles["tflite-int8-npu"]["conversion"]
    assert npu["io_dtype"] == "uint8" and npu["weights"] == "int8 per-tensor" and npu["batch"] == 1
    qnn = all_profiles["onnx-int8-qnn"]["conversion"]
    assert qnn["qdq_config"].startswith("get_qnn_qdq_config") and qnn["activations"] == "uint8"
    assert qnn["weights"] == "int8 per-channel" and qnn["batch"] == 1
    ov = all_profiles["openvino-int8-npu"]["conversion"]
    assert ov["target_device"] == "NPU" and ov["batch"] == 1
    # uint8 I/O really is uint8 in the file, not float with a QUANTIZE behind it.
    desc = describe(all_profiles["tflite-int8-npu"]["artifact"], "tflite")
    assert [t.dtype for t in desc.inputs + desc.outputs] == ["uint8", "uint8"]
    assert desc.inputs[0].shape == (1, 16, 16, 3)


def test_float_io_in_an_integer_only_target_names_the_tensor(all_profiles):
    """tflite-int8 keeps float input and output: against the NPU profile they are violations."""
    violations = validate(all_profiles["tflite-int8"]["artifact"], get_target("tflite-int8-npu"))
    assert any(v.startswith("input '") and "float32" in v and "io_dtypes" in v for v in violations)
    assert any(v.startswith("output '") and "float32" in v for v in violations)
    assert any("dynamic shape [?, 16, 16, 3]" in v for v in violations)
    assert any("per-channel weights" in v and "weight_granularity" in v for v in violations)


def test_dynamic_batch_and_float_ops_are_caught_in_onnx(all_profiles):
    violations = validate(all_profiles["onnx-int8"]["artifact"], get_target("onnx-int8-qnn"))
    assert any("dynamic shape" in v and "static_shapes" in v for v in violations), violations
    fp32 = validate(all_profiles["onnx-fp32"]["artifact"], get_target("onnx-int8-qnn"))
    assert any(v.startswith("operator Conv (node '") and "unquantized float32 weights" in v for v in fp32)


def test_operator_outside_the_npu_allow_list_fails_that_target_only(tmp_path):
    """A leaky ReLU is no Edge TPU operation: tflite-int8-npu fails naming the layer, tflite-int8 succeeds."""
    from edge_inception import convert

    model, calib = _tiny_h5(tmp_path, odd_op=True)
    report = convert(str(model), targets="tflite-int8-npu,tflite-int8", calibration=str(calib),
                     calibration_samples=8, out=tmp_path / "out", latency_runs=2)
    rows = {r["target"]: r for r in report["targets"]}
    npu = rows["tflite-int8-npu"]
    assert npu["status"] == "failed" and report["status"] == "failed"
    assert "operator LEAKY_RELU (layer '" in npu["message"] and "odd_activation" in npu["message"]
    assert "allowed_ops" in npu["message"] and "edge-tpu" in npu["message"]
    assert npu["verification"]["ok"] is False and npu["device_run"] is False
    assert rows["tflite-int8"]["status"] == "ok", rows["tflite-int8"]["message"]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["targets"][0]["status"] == "failed"


def _desc(**op) -> ArtifactDescription:
    base = {"type": "CONV_2D", "layer": "block/conv", "mac": True, "activation": "int8",
            "weights": Weights("w", "int8", "per-tensor", True)}
    return ArtifactDescription("tflite", "layer", inputs=[Tensor("image", "uint8", (1, 8, 8, 3))],
                               outputs=[Tensor("logits", "uint8", (1, 10))], ops=[Op(**(base | op))])


def test_rules_name_the_layer_and_the_rule():
    npu = get_target("tflite-int8-npu")
    assert check(_desc(), npu) == []
    (v,) = check(_desc(float_tensors=(("block/conv", "float32"),)), npu)
    assert v == ("operator CONV_2D (layer 'block/conv') has float32 tensor 'block/conv' in a full-integer model "
                 "(full_integer)")
    (v,) = check(_desc(weights=Weights("w", "int8", "per-channel", True)), npu)
    assert "layer 'block/conv'" in v and "per-channel" in v and "weight_granularity" in v
    (v,) = check(_desc(weights=Weights("w", "uint8", "per-tensor", False)), npu)
    assert "asymmetric weights 'w'" in v and "symmetric_weights" in v
    (v,) = check(_desc(weights=Weights("w", "float32", "none", None)), npu)
    assert "unquantized float32 weights 'w' in an int8 model" in v
    (v,) = check(_desc(activation="float32"), npu)
    assert "takes unquantized float32 activations" in v
    (v,) = check(_desc(type="CUSTOM_OP", mac=False, weights=None, activation=None), npu)
    assert v.startswith("operator CUSTOM_OP (layer 'block/conv') is not supported on edge-tpu")


def _write(tmp_path, body: str, head: str = ""):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\nformat = "tflite"\nprecision = "int8"\nruntime = "litert"\n'
                 'float_reference = "tflite-fp32"\n' + head + '[quantizer]\nlibrary = "tflite"\n'
                 'per_channel = false\nio_dtype = "uint8"\n' + body)
    return p


@pytest.mark.parametrize("body, named, allowed", [
    ('[constraints]\nstatic_shape = true\n', "'static_shape'", "static_shapes"),
    ('[constraints]\ndevice = "tpu"\n', "'device'", "edge-tpu"),
    ('[constraints]\nio_dtypes = ["uint8", "int4"]\n', "'int4'", "uint16"),
    ('[constraints]\nweight_granularity = "per-axis"\n', "weight_granularity", "per-tensor"),
    ('[quantizer.extra]\n', "'extra'", "per_channel"),
])
def test_user_profile_with_a_bad_key_or_value_names_it_and_the_allowed(tmp_path, body, named, allowed):
    from edge_inception._core.errors import InputError

    with pytest.raises(InputError) as e:
        load_target_file(_write(tmp_path, body))
    assert "mine.toml" in e.value.message and named in e.value.message
    assert allowed in e.value.message


def test_contradictory_constraints_are_refused_on_load(tmp_path):
    from edge_inception._core.errors import InputError

    with pytest.raises(InputError, match="io_dtype = 'uint8' is not in"):
        load_target_file(_write(tmp_path, '[constraints]\nio_dtypes = ["int8"]\n'))
    p = tmp_path / "f.toml"
    p.write_text('name = "f"\nformat = "tflite"\nprecision = "float32"\nruntime = "litert"\n'
                 '[constraints]\nfull_integer = true\n')
    with pytest.raises(InputError, match="full_integer needs precision = 'int8'"):
        load_target_file(p)
    good = load_target_file(_write(tmp_path, '[constraints]\ndevice = "edge-tpu"\nallowed_ops = ["CONV_2D"]\n'))
    assert good.device == "edge-tpu" and good.device_here is False and good.constraints["allowed_ops"] == ["CONV_2D"]


def test_targets_command_lists_every_profile_with_device_and_constraints(run_cli, tmp_path):
    code, out, _ = run_cli("targets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(SHIPPED) <= set(rows)
    npu = rows["tflite-int8-npu"]
    assert npu["constraints"]["device"] == "edge-tpu" and npu["device_here"] is False
    assert rows["onnx-int8"]["device_here"] is True
    code, out, _ = run_cli("targets")
    assert code == 0 and all(name in out for name in SHIPPED) and "static shapes" in out
    code, out, _ = run_cli("targets", "onnx-int8-qnn")
    assert code == 0 and "qdq_config = qnn" in out and "not present here" in out and "QuantizeLinear" in out
    code, _, err = run_cli("targets", "--target-file", str(_write(tmp_path, '[constraints]\nfoo = 1\n')))
    assert code == 2 and "'foo'" in err and "allowed_ops" in err


def test_every_shipped_profile_cites_its_documentation():
    for name in SHIPPED:
        text = (SHIPPED_DIR / f"{name}.toml").read_text()
        comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        assert any(site in comments for site in ("ai.google.dev", "onnxruntime.ai", "docs.openvino.ai", "coral.ai",
                                                  "onnx.ai")), name


def test_random_tensor_sanity_of_uint8_io_runtime(all_profiles):
    """The uint8-I/O artifact runs through the LiteRT runtime with float batches (shape check only)."""
    from edge_inception.runtimes import get_runtime

    session = get_runtime("litert").load(all_profiles["tflite-int8-npu"]["artifact"], threads=1)
    y = session.run(np.random.default_rng(0).random((3, 16, 16, 3), dtype=np.float32))
    assert y.shape == (3, 5) and y.dtype == np.float32
