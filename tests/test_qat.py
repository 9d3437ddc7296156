"""Quantization-aware training: Keras 3 -> tf_keras rebuild, refusals, NNCF QAT of the Inception twin,
and the learned ranges being the deployed ones."""

import numpy as np
import pytest

from edge_inception._core.errors import UsageError


def _sample_batch(spec, sample_arrays, n=32):
    images, _ = sample_arrays["evaluation"]
    return spec.model_input(images[:n, ..., None] if images.ndim == 3 else images[:n])


def test_keras3_inception_rebuilds_as_tf_keras_with_equal_outputs(sample_arrays):
    from edge_inception.models.loader import load_model
    from edge_inception.qat.rebuild import MAX_ABS_DIFF, check_same_outputs, to_tf_keras

    lm = load_model("inception-mini")
    assert lm.kind == "keras"  # the zoo builds it in Keras 3
    rebuilt = to_tf_keras(lm.model)
    assert type(rebuilt).__module__.startswith("tf_keras")
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in lm.model.layers]
    x = _sample_batch(lm.spec, sample_arrays)
    assert check_same_outputs(lm.model, rebuilt, x) <= MAX_ABS_DIFF
    # Equal on real images, and the check itself catches a difference.
    rebuilt.get_layer("logits").set_weights([w + 1e-3 for w in rebuilt.get_layer("logits").get_weights()])
    with pytest.raises(Exception, match="differs from it"):
        check_same_outputs(lm.model, rebuilt, x)


def test_keras3_sequential_rebuilds():
    import keras

    from edge_inception.qat.rebuild import check_same_outputs, to_tf_keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="c"),
                              keras.layers.Flatten(name="f"), keras.layers.Dense(3, name="d")])
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)  # shape/equality check only
    assert check_same_outputs(model, to_tf_keras(model), x) <= 1e-5


def test_unsupported_layer_is_named_with_its_class():
    import keras

    from edge_inception.qat.rebuild import to_tf_keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.LayerNormalization(name="my_norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    with pytest.raises(UsageError) as e:
        to_tf_keras(model)
    assert "layer 'my_norm' (LayerNormalization) is not supported" in e.value.message
    assert "\n" not in e.value.message


def test_cli_unsupported_layer_exits_2_naming_it(tmp_path, run_cli, sample_arrays):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.LayerNormalization(name="my_norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
    model.save(tmp_path / "m.keras")
    images, labels = sample_arrays["calibration"]
    np.savez(tmp_path / "train.npz", images=images[:64], labels=labels[:64])
    code, _, err = run_cli("convert", str(tmp_path / "m.keras"), "--method", "qat", "--train-data",
                           str(tmp_path / "train.npz"), "--target", "tflite-int8", "--out", str(tmp_path / "out"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "'my_norm' (LayerNormalization)" in err
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize("argv, message", [
    (["--method", "qat", "--target", "tflite-int8"], "--method qat needs labelled training images"),
    (["--compare-ptq", "--target", "tflite-int8"], "--compare-ptq applies to --method qat only"),
    (["--no-distill", "--target", "tflite-int8"], "--distill/--no-distill applies to --method qat only"),
    (["--method", "qat", "--train-data", "fashion-mnist", "--target", "tflite-fp32"], "needs an int8 target"),
    (["--method", "qat", "--train-data", "nowhere/", "--target", "onnx-int8"], "nowhere: does not exist"),
])
def test_cli_bad_qat_options_exit_2(tmp_path, run_cli, argv, message):
    code, _, err = run_cli("convert", *argv, "--out", str(tmp_path / "out"))
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def _distillation_batches(sample_arrays, n=448):
    """Real Fashion-MNIST pixels, flattened, with every label wrong-footed to class 0: cross-entropy alone
    drags a model towards always answering 0, distillation pulls it back to its float teacher."""
    images, _ = sample_arrays["calibration"]
    x = (images[:n].reshape(n, -1) / 255.0).astype(np.float32)
    return x, np.zeros(n, dtype=np.int64)


def _confident_teacher(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear-classifier weights (dim x 10, bias) whose softmax is peaked, as a trained float model's is."""
    rng = np.random.default_rng(0)
    return rng.uniform(-0.7, 0.7, (dim, 10)).astype(np.float32), np.zeros(10, np.float32)


def _agreement(a, b) -> float:
    return float((np.asarray(a).argmax(1) == np.asarray(b).argmax(1)).mean())


def test_torch_distillation_pulls_towards_the_float_teacher(sample_arrays):
    import torch

    from edge_inception.qat import fit_epoch_torch

    x, y = _distillation_batches(sample_arrays)
    kernel, bias = _confident_teacher(x.shape[1])
    teacher = torch.nn.Linear(x.shape[1], 10).requires_grad_(False)
    with torch.no_grad():
        teacher.weight.copy_(torch.from_numpy(kernel.T))
        teacher.bias.copy_(torch.from_numpy(bias))
        want = teacher(torch.from_numpy(x)).numpy()
    agreement = {}
    for distill in (False, True):
        student = torch.nn.Linear(x.shape[1], 10)
        student.load_state_dict(teacher.state_dict())
        opt = torch.optim.SGD(student.parameters(), lr=0.01)
        for _ in range(5):
            stats = fit_epoch_torch(student, ((x[i:i + 64], y[i:i + 64]) for i in range(0, len(x), 64)), opt,
                                    on_batch=lambda n: None, teacher=teacher if distill else None)
        with torch.no_grad():
            agreement[distill] = _agreement(student(torch.from_numpy(x)), want)
        assert stats["loss"] > 0
    assert agreement[False] < 0.2  # the labels alone pull it away from the teacher ...
    assert agreement[True] > agreement[False] + 0.25  # ... the teacher's predictions hold it back


def test_keras_distillation_pulls_towards_the_float_teacher(sample_arrays):
    from edge_inception.qat.tfmot_qat import _tfmot, _train_step

    _tfmot()
    import tf_keras

    x, y = _distillation_batches(sample_arrays)

    def linear():
        return tf_keras.Sequential([tf_keras.Input((x.shape[1],)), tf_keras.layers.Dense(10)])

    teacher = linear()
    teacher.set_weights(list(_confident_teacher(x.shape[1])))
    want = teacher(x).numpy()
    agreement = {}
    for distill in (False, True):
        student = linear()
        student.set_weights(teacher.get_weights())
        step = _train_step(student, teacher if distill else None, from_logits=True,
                           optimizer=tf_keras.optimizers.SGD(0.01))
        for _ in range(5):
            for i in range(0, len(x), 64):
                loss, hits = step(x[i:i + 64], y[i:i + 64])
        agreement[distill] = _agreement(student(x), want)
        assert float(loss) > 0 and 0 <= int(hits) <= 64
    assert agreement[False] < 0.2
    assert agreement[True] > agreement[False] + 0.25


@pytest.fixture(scope="module")
def torch_qat(sample_arrays, tmp_path_factory):
    """NNCF QAT of the PyTorch inception-mini (Inception concatenations) on 256 real training images,
    read from a user-style folder with one sub-folder per class."""
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.models.loader import load_model
    from edge_inception.qat import QatSettings, train_qat
    from tests.conftest import write_pngs

    images, labels = sample_arrays["calibration"]
    folder = write_pngs(tmp_path_factory.mktemp("qat-train") / "train", images[:256], labels[:256])  # 0/ .. 9/
    lm = load_model("inception-mini", framework="torch")
    calib = CalibrationSet(open_source("sample:calibration", lm.spec, split="train", labelled=False, limit=64),
                           lm.spec, samples=64, batch_size=32)
    train = open_source(folder, lm.spec, split="train")
    assert train.labelled and len(train) == 256
    return lm, train_qat(lm, train=train, calibration=calib, settings=QatSettings(learning_rate=1e-5))


def test_torch_qat_exports_learned_ranges_to_onnx_and_openvino(tmp_path, torch_qat, sample_arrays):
    import onnx
    import onnxruntime as ort
    import openvino as ov
    import torch
    from onnx import numpy_helper

    from edge_inception.qat.nncf_qat import _quantizers
    from edge_inception.targets import get_target
    from edge_inception.validate import validate

    lm, qat = torch_qat
    assert qat.info["history"][0]["train_top1"] > 0.8
    # Make one learned activation range distinctive: the deployed scale must be exactly it, not a
    # re-calibrated one.
    act = next(q for q in _quantizers(qat.qmodel) if not q.per_channel and q.level_low == 0)
    with torch.no_grad():
        act.scale.mul_(1.37)
    qat._qdq = None
    want = float(act.scale.abs().reshape(-1)[0]) / (act.level_high - act.level_low)

    for name, dest in (("onnx-int8", tmp_path / "m.onnx"), ("openvino-int8", tmp_path / "m.xml")):
        target = get_target(name)
        info = qat.export(target, dest)
        assert info["method"] == "qat"
        assert validate(dest, target) == []
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    # BatchNorm was folded before training: ONNX Runtime can fuse every Conv into an int8 QLinearConv.
    assert "BatchNormalization" not in {n.op_type for n in graph.node}
    assert qat.info["batch_norm"].startswith("folded into the preceding conv (37 layers)")
    tensors = [*graph.initializer, *(n.attribute[0].t for n in graph.node if n.op_type == "Constant")]
    scales = {float(numpy_helper.to_array(t)) for t in tensors if t.data_type == onnx.TensorProto.FLOAT and not t.dims}
    assert any(abs(s - want) <= 1e-6 * want for s in scales)

    images, labels = sample_arrays["evaluation"]
    x = lm.spec.model_input(images[:200, ..., None])
    with torch.no_grad():
        float_top = lm.model(torch.from_numpy(x)).argmax(1).numpy()
    onnx_top = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"image": x})[0].argmax(1)
    ov_top = ov.Core().compile_model(str(tmp_path / "m.xml"), "CPU")(x)[0].argmax(1)
    for top in (onnx_top, ov_top):
        assert (top == float_top).mean() >= 0.9  # int8 agrees with float on real images
        assert (top == labels[:200]).mean() >= (float_top == labels[:200]).mean() - 0.05


def _qdq_conv_graph():
    """x -> Q/DQ -> Conv (int8 weights) -> Q/DQ -> y, int8 everywhere, one zero-point constant shared by
    the activations and the weights (as exporters deduplicate constants)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.int8(0), "zero"), numpy_helper.from_array(np.float32(0.02), "s_in"),
             numpy_helper.from_array(np.float32(0.05), "s_out"), numpy_helper.from_array(np.float32(0.01), "s_w"),
             numpy_helper.from_array(rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8), "w_q")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s_in", "zero"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_in", "zero"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w_q", "s_w", "zero"], ["w"]),
             helper.make_node("Conv", ["xd", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "s_out", "zero"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "s_out", "zero"], ["y"])]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("weights", [True, False])
def test_uint8_rewrite_is_exact_and_fuses(weights, tmp_path):
    """to_uint8: U8U8 (weights too) or U8S8 (activations only, a shared zero point copied).

    What holds on every CPU: the rewritten model is the same function — run unfused (DequantizeLinear,
    float Conv, QuantizeLinear) its outputs equal the original's bit for bit — and ONNX Runtime fuses
    the conv into one QLinearConv whose U8U8 result is that exact function too (MLAS widens u8 x u8 to
    16 bits before it multiplies, so nothing saturates). What holds only with int8 dot products (VNNI,
    AMX, ARM): the fused S8S8 original equals the fused rewrite. On x86 without VNNI, MLAS runs S8S8 and
    U8S8 through vpmaddubsw, whose pairwise int16 sums saturate for full-range weights (this graph's
    are), so the original's fused output is not a reference there (DESIGN's 28% agreement trap)."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from edge_inception._core.host import host_facts
    from edge_inception.qat.onnx_qdq import to_uint8

    def run(m, *, fused: bool):
        opts = ort.SessionOptions()
        if not fused:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(m.SerializeToString(), opts).run(None, {"x": x})[0]

    x = np.random.default_rng(1).normal(size=(1, 3, 8, 8)).astype(np.float32)  # shapes only: an exactness check
    model = _qdq_conv_graph()
    reference, before = run(model, fused=False), run(model, fused=True)
    assert to_uint8(model, weights=weights) == 1  # one zero-point tensor: "zero", or the activations' copy of it
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert ("zero__activation" in tensors) == (not weights)
    assert tensors["w_q"].dtype == (np.uint8 if weights else np.int8)
    assert tensors["zero"].dtype == (np.uint8 if weights else np.int8)
    acts = [n.input[2] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert {tensors[a].dtype for a in acts} == {np.dtype(np.uint8)}
    onnx.checker.check_model(model)
    np.testing.assert_array_equal(run(model, fused=False), reference)  # the same function, on every CPU
    after = run(model, fused=True)
    if weights:  # U8U8 kernels are exact everywhere: within one output step of the float-simulated graph
        assert np.abs(after - reference).max() <= 0.05 + 1e-6
    isa = host_facts()["isa"]
    if isa["vnni"] or isa["neon"]:
        np.testing.assert_array_equal(after, before)

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(model.SerializeToString(), opts)
    ops = [n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node]
    assert "QLinearConv" in ops and "Conv" not in ops


def test_torch_qat_for_tflite_deploys_its_trained_ranges(tmp_path, torch_qat, sample_arrays):
    """PyTorch -> tflite-int8 QAT: PT2E fine-tuning in litert-torch's venv; the .tflite carries the
    output range training ended with, runs full-integer in LiteRT and agrees with float."""
    import torch
    from ai_edge_litert import interpreter as litert

    from edge_inception.targets import get_target
    from edge_inception.validate import validate

    lm, qat = torch_qat
    target = get_target("tflite-int8")
    info = qat.export(target, tmp_path / "m.tflite")
    assert info["method"] == "qat" and "PT2E" in info["library"]
    assert validate(tmp_path / "m.tflite", target) == []
    training = info["training"]
    assert training["train_samples"] == 256 and training["history"][0]["train_top1"] > 0.8
    scales = training["output_scale"]
    assert scales["trained"] != scales["calibrated"]  # training moved the range ...
    interp = litert.Interpreter(model_path=str(tmp_path / "m.tflite"))
    out = interp.get_output_details()[0]
    assert out["dtype"] == np.float32  # the profile's float I/O edges
    logits_int8 = [t for t in interp.get_tensor_details() if t["index"] != out["index"]
                   and t["name"] == out["name"] + "_int8"]
    assert logits_int8 and abs(logits_int8[0]["quantization"][0] - scales["trained"]) <= 1e-6 * scales["trained"]

    images, labels = sample_arrays["evaluation"]
    x = lm.spec.model_input(images[:200, ..., None])
    with torch.no_grad():
        float_top = lm.model(torch.from_numpy(x)).argmax(1).numpy()
    interp.allocate_tensors()
    tops = []
    for k in range(len(x)):
        interp.set_tensor(interp.get_input_details()[0]["index"], x[k : k + 1])
        interp.invoke()
        tops.append(int(interp.get_tensor(out["index"]).argmax()))
    tops = np.array(tops)
    assert (tops == float_top).mean() >= 0.9
    assert (tops == labels[:200]).mean() >= (float_top == labels[:200]).mean() - 0.05


BRANCH_SCALE = 150.0  # branch_a's range over branch_b's, before their concatenation


def _unbalanced_concat_model(path, train_images, train_labels):
    """A small CNN trained on real Fashion-MNIST whose two concatenated branches have ranges 150x apart
    (branch_a scaled up, the next conv's weights for it scaled down: the float function is unchanged).
    A concatenation shares one int8 range, so post-training min/max leaves branch_b a few levels."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1), name="image")
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="branch_a")(inp)
    b = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="branch_b")(inp)
    h = keras.layers.Concatenate(name="concat")([a, b])
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv")(h)
    h = keras.layers.MaxPooling2D(2, name="pool2")(h)
    out = keras.layers.Dense(10, name="logits")(keras.layers.Flatten(name="flatten")(h))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_images[..., None] / 255.0, train_labels, batch_size=64, epochs=2, verbose=0)
    ka, ba = model.get_layer("branch_a").get_weights()
    model.get_layer("branch_a").set_weights([ka * BRANCH_SCALE, ba * BRANCH_SCALE])
    kc, bc = model.get_layer("conv").get_weights()
    kc[:, :, :8, :] /= BRANCH_SCALE
    model.get_layer("conv").set_weights([kc, bc])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def unbalanced(tmp_path_factory):
    from edge_inception.data.readers import read_fashion_mnist

    root = tmp_path_factory.mktemp("qat-unbalanced")
    x, y = read_fashion_mnist("train")
    idx = np.random.default_rng(0).choice(len(x), 8000, replace=False)
    np.savez(root / "train.npz", images=x[idx], labels=y[idx])
    xt, yt = read_fashion_mnist("test")
    np.savez(root / "test.npz", images=xt[:2000], labels=yt[:2000])
    return _unbalanced_concat_model(root / "unbalanced.keras", x[idx], y[idx]), root


@pytest.mark.slow
def test_qat_recovers_what_ptq_loses(unbalanced, tmp_path):
    from edge_inception import convert
    from edge_inception.report.table import convert_rows

    model, root = unbalanced
    report = convert(model, targets="tflite-int8,onnx-int8", method="qat", train_data=root / "train.npz",
                     calibration=root / "train.npz", calibration_samples=200, eval_data=root / "test.npz",
                     learning_rate=1e-3, compare_ptq=True, latency_runs=1, out=tmp_path)
    assert report["settings"]["method"] == "qat"
    for row in report["targets"]:
        assert row["status"] == "ok", row["message"]
        assert row["method"] == "qat" and row["ptq"]["status"] == "ok"
        float_top1, qat_top1 = row["accuracy"]["float_top1"], row["accuracy"]["top1"]
        ptq_top1 = row["ptq"]["accuracy"]["top1"]
        assert float_top1 > 0.8
        assert ptq_top1 <= float_top1 - 0.02  # PTQ really hurts here ...
        assert qat_top1 - ptq_top1 >= (float_top1 - ptq_top1) / 2  # ... and QAT recovers at least half
    labels = [r[0] for r in convert_rows(report)]
    assert labels == ["tflite-int8 (QAT)", "tflite-int8 (PTQ)", "onnx-int8 (QAT)", "onnx-int8 (PTQ)"]


def test_keras_qat_deploys_the_learned_ranges(unbalanced, tmp_path):
    """The TFLite model's int8 scales are the QAT model's FakeQuant ranges, not a re-calibration."""
    from ai_edge_litert import interpreter as litert

    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.models.loader import load_model
    from edge_inception.qat import QatSettings, train_qat
    from edge_inception.targets import get_target

    model, root = unbalanced
    lm = load_model(model)
    calib = CalibrationSet(open_source(root / "train.npz", lm.spec, labelled=False, limit=64), lm.spec, batch_size=32)
    qat = train_qat(lm, train=open_source(root / "train.npz", lm.spec, limit=256), calibration=calib,
                    settings=QatSettings(learning_rate=1e-4))
    assert qat.info["rebuild_max_abs_diff"] <= 1e-5
    concat = qat.qmodel.get_layer("quant_concat")
    lo = next(v for v in concat.weights if "output_min" in v.name)
    hi = next(v for v in concat.weights if "output_max" in v.name)
    hi.assign(hi.numpy() * 1.37)  # a range no calibration would produce
    want = (hi.numpy() - lo.numpy()) / 255
    qat.export(get_target("tflite-int8"), tmp_path / "m.tflite")
    interp = litert.Interpreter(model_path=str(tmp_path / "m.tflite"))
    scales = [t["quantization"][0] for t in interp.get_tensor_details() if t["name"].endswith("concat/concat")]
    assert scales and abs(scales[0] - want) <= 1e-6 * want


@pytest.mark.slow
def test_keras_qat_of_inception_mini_keeps_float_accuracy(sample_arrays):
    """tfmot QAT of the Keras 3 inception-mini (rebuilt in tf_keras) through its six concatenations."""
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.models.loader import load_model
    from edge_inception.qat import QatSettings, train_qat

    lm = load_model("inception-mini")
    calib = CalibrationSet(open_source("sample:calibration", lm.spec, split="train", labelled=False, limit=128),
                           lm.spec, batch_size=64)
    qat = train_qat(lm, train=open_source("fashion-mnist", lm.spec, split="train", limit=256), calibration=calib,
                    settings=QatSettings())
    concat = qat.qmodel.get_layer("quant_inception_3a_concat")
    hi = next(v for v in concat.weights if "output_max" in v.name)
    assert 0 < float(hi.numpy()) != 6.0  # calibrated, then trained: not tfmot's initial [-6, 6]
    images, labels = sample_arrays["evaluation"]
    x = lm.spec.model_input(images[:300, ..., None])
    float_top = np.asarray(lm.model(x, training=False)).argmax(1)
    qat_top = np.asarray(qat.qmodel(x, training=False)).argmax(1)
    assert (qat_top == float_top).mean() >= 0.95
    assert (qat_top == labels[:300]).mean() >= (float_top == labels[:300]).mean() - 0.02
