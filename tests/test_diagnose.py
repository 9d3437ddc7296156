"""diagnose: the name map through BatchNorm folding, a planted wide branch found first in LiteRT, ONNX
Runtime and OpenVINO, the CLI's outputs and its bad-input lines.

One small Keras model (conv + BatchNorm + ReLU branches, a concatenation), trained briefly on the shipped
Fashion-MNIST sample, then given a branch 300x wider than the others (the next conv scaled down to
match: the float function is unchanged), is quantized once per module to all three int8 targets.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_inception.diagnose.keep import KeepFloat

WIDE = 300.0  # branch_a's BatchNorm scales its output up this much; the next conv scales it back down


def _planted_model(path):
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers

    def conv_bn(x, filters, size, name):
        x = L.Conv2D(filters, size, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = L.BatchNormalization(name=f"{name}_bn")(x)
        return L.ReLU(name=f"{name}_relu")(x)

    inp = keras.Input((28, 28, 1), name="image")
    x = conv_bn(inp, 8, 3, "stem")
    a = conv_bn(x, 8, 1, "mix_a")
    b = conv_bn(x, 8, 3, "mix_b")
    p = L.MaxPooling2D(3, strides=1, padding="same", name="mix_pool")(x)
    p = conv_bn(p, 4, 1, "mix_p")
    h = L.Concatenate(name="mix_concat")([a, b, p])
    h = L.Conv2D(8, 1, name="head_conv")(h)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    model = keras.Model(inp, L.Dense(10, name="logits")(h))
    from edge_inception.data.readers import read_sample

    x, y = read_sample("calibration")
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[..., None] / 255.0, y, batch_size=32, epochs=4, verbose=0)
    g, beta, mean, var = model.get_layer("mix_a_bn").get_weights()
    model.get_layer("mix_a_bn").set_weights([g * WIDE, beta * WIDE, mean, var])
    k, bias = model.get_layer("head_conv").get_weights()
    k[:, :, :8, :] /= WIDE
    model.get_layer("head_conv").set_weights([k, bias])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.formats import artifact_path
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    root = tmp_path_factory.mktemp("diagnose")
    model = _planted_model(root / "planted.keras")
    lm = load_model(model)
    calib = CalibrationSet(open_source("sample:calibration", lm.spec, labelled=False, limit=32), lm.spec,
                           batch_size=8)
    paths = {}
    for name in ("tflite-int8", "onnx-int8", "openvino-int8"):
        t = get_target(name)
        paths[name] = artifact_path(root, f"planted.{name}", t.format)
        quantize(lm, paths[name], target=t, calibration=calib)
    return model, paths, root


@pytest.fixture(scope="module")
def diagnosis(planted):
    from edge_inception import diagnose

    model, paths, _ = planted
    return diagnose(list(paths.values()), reference=model, data="sample:evaluation", samples=24)


def test_name_map_follows_batchnorm_folding(diagnosis):
    """Conv, BatchNorm and ReLU become one op in every artifact; its output is the ReLU's, so it is compared
    there. Nothing maps to a folded conv or BatchNorm layer, and an op with no source layer says so."""
    for rt in diagnosis["runtimes"]:
        rows = rt["layers"]
        mapped = {r["source_layer"] for r in rows if r["source_layer"]}
        assert {"mix_a_relu", "mix_b_relu", "mix_p_relu"} <= mapped, (rt["runtime"], mapped)
        assert not {n for n in mapped if n.endswith(("_conv", "_bn")) and n != "head_conv"}, (rt["runtime"], mapped)
        for r in rows:
            if r["source_layer"] is None:
                assert r["name_map"].startswith("no "), r
        rel = {r["source_layer"]: r for r in rows if r["source_layer"]}
        assert rel["mix_b_relu"]["module"] == "mix_concat" and rel["mix_b_relu"]["branch"] == "branch2"
        assert rel["stem_relu"]["module"] is None
    methods = {rt["runtime"]: {r["name_map"].split(" (")[0] for r in rt["layers"] if r["source_layer"]}
               for rt in diagnosis["runtimes"]}
    assert "by name" in methods["litert"] and "by name" in methods["onnxruntime"]
    assert "by value" in methods["openvino"]  # OpenVINO's Keras frontend renames the ops


def test_planted_wide_branch_is_found_first_in_every_runtime(diagnosis):
    for rt in diagnosis["runtimes"]:
        first = rt["layers"][0]
        assert first["module"] == "mix_concat" and first["source_layer"] != "mix_a_relu", (rt["runtime"], first)
        assert first["score_db"] < 15, first
        a = next(r for r in rt["layers"] if r["source_layer"] == "mix_a_relu")
        assert a["local"]["sqnr_db"] > first["score_db"] + 10  # the wide branch itself is fine
        shared = [f for f in rt["findings"] if f["kind"] == "concat_shared_scale"]
        # OpenVINO: NNCF quantizes no concat output here; the finding comes from its inputs' shared scale
        assert shared and shared[0]["wide_input"] == "mix_a_relu" and shared[0]["range_ratio"] > 20, rt["findings"]
        for stats in (first["local"], first["accumulated"]):
            assert 0 <= stats["clipped"] <= 1 and stats["rmse_per_step"] > 0 and -1 <= stats["cosine"] <= 1


def test_statistics_are_the_definitions():
    from edge_inception.diagnose.stats import ErrorStats, fake_quant

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2, 50, 50)).astype(np.float32)
    got = fake_quant(ref, scale=0.05, zero_point=0, qmin=-128, qmax=127)
    acc = ErrorStats(scale=0.05, zero_point=0, qmin=-128, qmax=127)
    acc.add(ref[:1], got[:1])  # two batches give the figures of one
    acc.add(ref[1:], got[1:])
    s = acc.summary()
    err = got - ref
    assert s["sqnr_db"] == pytest.approx(10 * np.log10((ref**2).sum() / (err**2).sum()), abs=1e-3)
    assert s["rmse_per_step"] == pytest.approx(1 / np.sqrt(12), abs=0.01)  # pure rounding
    assert s["clipped"] == 0
    clipped = ErrorStats(scale=0.001, zero_point=0, qmin=-128, qmax=127)
    clipped.add(ref, fake_quant(ref, scale=0.001, zero_point=0, qmin=-128, qmax=127))
    assert clipped.summary()["clipped"] == pytest.approx(np.mean(np.abs(ref) > 0.1275), abs=1e-3)
    big = rng.normal(size=(3, 70_000)).astype(np.float32)  # more values than one chunk of ErrorStats.add
    noisy = big + rng.normal(scale=0.01, size=big.shape).astype(np.float32)
    whole = ErrorStats()
    whole.add(big, noisy)
    e, b64 = noisy.astype(np.float64) - big, big.astype(np.float64)
    assert (whole.sig, whole.err) == (pytest.approx((b64**2).sum(), rel=1e-12), pytest.approx((e**2).sum(), rel=1e-12))
    assert whole.max_abs == np.abs(e).max() and whole.n == big.size


def test_fused_names_map_to_the_latest_layer_and_op_names_are_not_layers():
    from edge_inception.diagnose.names import SourceGraph, SourceLayer

    layers = [SourceLayer(n, "x", "other", [], None, i) for i, n in enumerate(["conv", "bn", "relu", "add"])]
    g = SourceGraph(layers, "NHWC", [])
    assert g.layer_for("model_1/relu_1/Relu;model_1/bn_1/batchnorm/add_1;model_1/conv_1/convolution") == "relu"
    assert g.layer_for("model_1/bn_1/batchnorm/add_1") == "bn"  # 'add_1' is BatchNorm's op, not layer 'add'
    assert g.layer_for("Conv__190", "Transpose__12:0") is None


def test_cli_writes_json_and_html_and_refuses_to_overwrite(planted, run_cli, tmp_path):
    model, paths, _ = planted
    args = ["diagnose", str(paths["tflite-int8"]), "--reference", str(model), "--data", "sample",
            "--samples", "8", "--out", str(tmp_path)]
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "mix_concat" in out and "LiteRT" in out
    result = json.loads((tmp_path / "diagnose.json").read_text())
    assert result["runtimes"][0]["layers"][0]["rank"] == 1
    page = (tmp_path / "diagnose.html").read_text()
    assert 'class="plot heat"' in page and 'class="plot depth"' in page and "mix_concat" in page
    code, _, err = run_cli(*args)
    assert code == 2 and "diagnose.json: already exists" in err and "--force" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_refuses_an_int8_artifact_as_reference_and_a_float_artifact_to_diagnose(planted, run_cli, tmp_path):
    from edge_inception.exporters import export
    from edge_inception.models.loader import load_model
    from edge_inception.targets import get_target

    model, paths, _ = planted
    code, _, err = run_cli("diagnose", str(paths["onnx-int8"]), "--reference", str(paths["tflite-int8"]))
    assert code == 2 and "is an int8 artifact; the reference must be float" in err and "fp32" in err, err
    assert len(err.strip().splitlines()) == 1
    export(load_model(model), tmp_path / "f.tflite", target=get_target("tflite-fp32"))
    code, _, err = run_cli("diagnose", str(tmp_path / "f.tflite"), "--reference", str(model), "--data", "sample")
    assert code == 2 and "f.tflite: holds no int8 activations" in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def float_twins(planted):
    """The float artifact of each int8 one, as `convert` writes them (*-fp32, with the ModelSpec inside)."""
    from edge_inception.exporters import export
    from edge_inception.formats import artifact_path, embed_spec
    from edge_inception.models.loader import load_model
    from edge_inception.targets import get_target

    model, _, root = planted
    lm = load_model(model)
    out = {}
    for q, f in (("tflite-int8", "tflite-fp32"), ("onnx-int8", "onnx-fp32"), ("openvino-int8", "openvino-fp32")):
        t = get_target(f)
        out[q] = artifact_path(root, f"planted.{f}", t.format)
        export(lm, out[q], target=t)
        embed_spec(out[q], t.format, lm.spec)
    return out


def test_a_float_artifact_as_reference_finds_the_planted_branch(planted, float_twins):
    """int8 against its float twin, keyed by the twin's names: the starved branch (or the concatenation's
    slice of it) ranks first in each runtime, inside the module found in the float artifact's own graph."""
    from edge_inception import diagnose

    _, paths, _ = planted
    for name, path in paths.items():
        d = diagnose(path, reference=float_twins[name], data="sample:evaluation", samples=16)
        rt = d["runtimes"][0]
        assert rt["reference"] == str(float_twins[name]) and rt["mapped"] >= rt["quantized_tensors"] - 2, rt
        assert d["modules"] and d["modules"][0]["branches"] == 3, d["modules"]
        first = rt["layers"][0]
        assert first["module"] == d["modules"][0]["name"] and first["score_db"] < 5, (name, first)
        assert first["branch"] in ("branch2", "branch3", None), first
        if first["branch"] is None:  # the concatenation itself: its worst branch slice is a narrow one
            worst = min(first["branches"], key=lambda b: b["local"]["sqnr_db"])
            assert worst["input"] != first["branches"][0]["input"], first["branches"]
        shared = [f for f in rt["findings"] if f["kind"] == "concat_shared_scale"]
        assert shared and shared[0]["range_ratio"] > 20, rt["findings"]
    code = diagnose(paths["tflite-int8"], reference=float_twins["onnx-int8"], data="sample", samples=8)
    assert code["runtimes"][0]["notes"] and "same format" in code["runtimes"][0]["notes"][0]


@pytest.fixture(scope="module")
def kept_float(planted):
    """The planted model quantized again with its Inception module kept float (the branches, the concatenation
    and the conv that reads it)."""
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.plan import expand_groups, resolve_keep_float
    from edge_inception.formats import artifact_path
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    model, _, root = planted
    lm = load_model(model)
    graph = SourceGraph.of(lm)
    keep = expand_groups(resolve_keep_float(["mix_*"], graph), graph)
    calib = CalibrationSet(open_source("sample:calibration", lm.spec, labelled=False, limit=32), lm.spec,
                           batch_size=8)
    out = {}
    for name in ("tflite-int8", "onnx-int8", "openvino-int8"):
        t = get_target(name)
        dest = artifact_path(root, f"planted-kept.{name}", t.format)
        out[name] = (dest, quantize(lm, dest, target=t, calibration=calib, keep_float=KeepFloat(keep)))
    return lm, graph, keep, out


def test_fallback_groups_follow_folding_and_the_concat_reader(kept_float):
    from edge_inception.diagnose.plan import fallback_groups

    _, graph, keep, _ = kept_float
    groups = {g.name: g.layers for g in fallback_groups(graph)}
    assert groups["mix_concat"] == ("mix_concat", "head_conv")  # its inputs keep their own int8 scales
    assert groups["mix_b_conv"] == ("mix_b_conv", "mix_b_bn", "mix_b_relu")  # BatchNorm and ReLU fold into it
    assert groups["mix_p_conv"] == ("mix_p_conv", "mix_p_bn", "mix_p_relu")
    assert {"mix_a_relu", "mix_b_bn", "mix_pool", "mix_concat", "head_conv"} <= set(keep)
    assert not {"stem_conv", "stem_relu", "logits"} & set(keep)


def test_fallback_plan_is_really_float_in_each_artifact(kept_float, planted):
    """Read each artifact: the kept layers compute in float, the others stay int8; and it pays off."""
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.verify import float_ops
    from edge_inception.models.reference import source_session
    from edge_inception.runtimes import get_runtime
    from edge_inception.targets import get_target

    lm, graph, _, out = kept_float
    _, plain, _ = planted
    for name in ("tflite-int8", "onnx-int8"):
        ops = float_ops(out[name][0], graph)
        assert all(ops[n] for n in ("mix_a_relu", "mix_b_relu", "mix_p_relu", "mix_concat", "head_conv")), (name, ops)
        assert not any(ops[n] for n in ("stem_relu", "gap")), (name, ops)
        assert all(not v for v in float_ops(plain[name], graph).values()), name  # the plain artifact: all int8
    dest, info = out["openvino-int8"]
    ops = float_ops(dest, None)  # MAC ops by name: 3 branch convs and head_conv float, stem and logits int8
    assert sorted(ops.values()) == [False, False, True, True, True, True], ops  # stem and logits stay int8
    assert {n for n, v in ops.items() if v} <= set(info["keep_float"]["ignored_scope"])
    images, _ = next(open_source("sample:evaluation", lm.spec, labelled=False, limit=64).batches(64))
    x = lm.spec.model_input(images)
    ref = source_session(lm).run(x)

    def sqnr(path, runtime):
        got = get_runtime(runtime).load(path, threads=1).run(x)
        return 10 * np.log10((ref**2).sum() / ((got - ref) ** 2).sum())

    for name in out:
        rt = get_target(name).runtime
        assert sqnr(out[name][0], rt) > sqnr(plain[name], rt) + 5, name  # keeping the group float recovers it


def test_litert_float_concat_gives_each_branch_its_own_scale(planted):
    """Only the concatenation's group float: read from the .tflite, its int8 inputs keep their own scales (the
    converter's denylist gave them the concatenation's one range, so the narrow branches stayed starved)."""
    from ai_edge_litert.interpreter import Interpreter

    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.plan import expand_groups
    from edge_inception.diagnose.verify import float_ops
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    model, _, root = planted
    lm = load_model(model)
    graph = SourceGraph.of(lm)
    calib = CalibrationSet(open_source("sample:calibration", lm.spec, labelled=False, limit=32), lm.spec)
    dest = root / "concat-only.tflite"
    info = quantize(lm, dest, target=get_target("tflite-int8"), calibration=calib,
                    keep_float=KeepFloat(expand_groups(["mix_concat"], graph)))
    assert "ai-edge-quantizer" in info["library"] and info["keep_float"]["no_quantize_ops"]
    ops = float_ops(dest, graph)
    assert ops["mix_concat"] and ops["head_conv"] and not any(ops[n] for n in ("mix_a_relu", "mix_b_relu"))
    scale = {graph.layer_for(t["name"]): t["quantization"][0] for t in Interpreter(str(dest)).get_tensor_details()
             if t["dtype"] == np.int8 and graph.layer_for(t["name"]) in ("mix_a_relu", "mix_b_relu", "mix_p_relu")}
    assert scale["mix_a_relu"] > 30 * max(scale["mix_b_relu"], scale["mix_p_relu"]), scale  # WIDE = 300


def test_keep_float_matching_nothing_names_the_pattern_and_the_closest_layers(planted):
    from edge_inception._core.errors import UsageError
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.plan import resolve_keep_float
    from edge_inception.models.loader import load_model

    graph = SourceGraph.of(load_model(planted[0]))
    with pytest.raises(UsageError) as e:
        resolve_keep_float(["mix_concta"], graph)
    assert "--keep-float mix_concta matches no layer" in e.value.message and "mix_concat" in e.value.message
    assert resolve_keep_float(["mix_?_relu", "/^head/"], graph) == ["mix_a_relu", "mix_b_relu", "mix_p_relu",
                                                                     "head_conv"]


def test_npu_profiles_refuse_fallback_and_say_what_they_allow(planted):
    from edge_inception._core.errors import UsageError
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    with pytest.raises(UsageError) as e:
        quantize(load_model(planted[0]), planted[2] / "npu.tflite", target=get_target("tflite-int8-npu"),
                 calibration=None, keep_float=KeepFloat(["mix_concat"]))
    assert "no layer can stay float" in e.value.message and "16-bit activations" in e.value.message
    assert not (planted[2] / "npu.tflite").exists()


def test_convert_keep_float_matching_nothing_is_refused_before_any_work(planted, run_cli, tmp_path):
    model, _, _ = planted
    code, _, err = run_cli("convert", str(model), "--target", "onnx-int8", "--calibration", "sample",
                           "--keep-float", "head_cnov", "--out", str(tmp_path / "out"))
    assert code == 2 and "--keep-float head_cnov matches no layer" in err and "head_conv" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_convert_max_drop_finds_the_plan_and_diagnose_writes_beside_the_report(planted, tmp_path):
    """The search end to end on one target: the plain artifact misses the budget, the plan found keeps the
    planted concatenation's group float (read back from the artifact), and it meets the budget."""
    from edge_inception import convert
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.verify import float_ops
    from edge_inception.models.loader import load_model

    model, _, _ = planted
    report = convert(model, targets="tflite-int8", calibration="sample", calibration_samples=32,
                     eval_data="sample", eval_limit=300, latency_runs=2, out=tmp_path, max_drop=5.0, diagnose=True)
    row = report["targets"][0]
    fb = row["fallback"]
    # tflite-int8 is full_integer: the kept layers (and their (de)quantize edges) are exempt, nothing else
    assert row["status"] == "ok" and row["verification"]["ok"], row["message"]
    assert fb["plain"]["drop_points"] > 5 and fb["final"]["drop_points"] <= fb["plain"]["drop_points"] - 3, fb
    assert fb["met"] == (fb["final"]["drop_points"] <= 5.0)
    # ranked first: the concatenation's group, alone or with its starved branches (what LiteRT needs)
    assert "mix_concat" in fb["kept_layers"] and fb["kept_groups"][0].startswith("mix_concat"), fb["kept_groups"]
    assert -row["accuracy"]["delta_points"] == pytest.approx(fb["final"]["drop_points"], abs=1e-6)  # re-measured
    ops = float_ops(row["artifact"], SourceGraph.of(load_model(model)))
    for name in ("stem_relu", "mix_a_relu", "mix_concat", "head_conv", "gap"):  # the artifact is the plan
        assert ops[name] == (name in fb["kept_layers"]), (name, ops, fb["kept_layers"])
    assert (tmp_path / "diagnose.json").is_file() and report["diagnose"]["worst"]["litert"]
    assert not list(tmp_path.glob(".fallback-*"))  # the candidates are gone
    # --diagnose draws inside the run's report: heat map and depth plot in report.html, the table in report.md
    saved = json.loads((tmp_path / "report.json").read_text())
    rt = saved["diagnose"]["runtimes"][0]
    assert rt["target"] == "tflite-int8" and rt["layers"][0]["rank"] == 1 and rt["layers"][0]["source_layer"]
    page = (tmp_path / "report.html").read_text()
    heat = page[page.index('class="plot heat"'):]
    heat = heat[: heat.index("</svg>")]
    assert ">mix_concat<" in heat and "branch2" in heat and 'data-value="' in heat
    assert 'class="plot depth"' in page and "Where int8 loses accuracy" in page
    assert not (tmp_path / "diagnose.html").exists()  # no second page beside the report
    md = (tmp_path / "report.md").read_text()
    assert "Where int8 loses accuracy" in md and "mix\\_concat" in md


def test_a_folded_constant_is_a_gain_and_clipping_is_not():
    """OpenVINO folds Inception-ResNet's residual scale into the projection: that tensor is 0.17x the
    source layer's and is compared in its own units; a clipped or noisy layer keeps its error."""
    from edge_inception.diagnose.run import folded_gain

    rng = np.random.default_rng(0)
    ref = np.maximum(rng.normal(size=(8, 6, 6, 16)), 0).astype(np.float32)
    step = 0.17 * ref.max() / 255
    scaled = np.round(0.17 * ref / step) * step  # int8 rounding of the scaled tensor
    assert abs(folded_gain(scaled, ref) - 0.17) < 0.005
    assert folded_gain(ref + rng.normal(scale=0.01, size=ref.shape), ref) is None  # its own, with noise
    assert folded_gain(np.minimum(ref, np.quantile(ref, 0.6)), ref) is None  # clipped hard: error, not a gain
