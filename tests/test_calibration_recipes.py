"""Calibration recipes: selection on real labelled images, each range method reaching each library that
supports it (checked in the artifact or in the call the library receives), refusal of what a library
cannot do, bad recipes as one line naming the file and key, and the report's record of it all.

    pytest tests/test_calibration_recipes.py -q
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from edge_inception._core.errors import InputError, TargetFailed
from edge_inception.calibration_recipes import build_calibration, get_recipe, list_recipes, load_recipe_file
from edge_inception.calibration_recipes.methods import RANGE_METHODS, check_supported
from edge_inception.calibration_recipes.selection import class_quotas, farthest_points, select, take
from edge_inception.data.readers import ArraySource

SHIPPED = {"default", "fast", "stratified", "robust", "diverse", "full-bias"}


def _recipe(tmp_path, name="mine", **keys):
    body = f'name = "{name}"\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    return path


@pytest.fixture(scope="module")
def mini():
    from edge_inception.models.loader import load_model

    return load_model("inception-mini")


@pytest.fixture(scope="module")
def unbalanced(sample_arrays):
    """Real Fashion-MNIST images with classes 200:30:...: 200 of class 0, 30 of every other."""
    x, y = sample_arrays["evaluation"]
    idx = np.concatenate([np.flatnonzero(y == 0)[:200], *[np.flatnonzero(y == c)[:30] for c in range(1, 10)]])
    return ArraySource("unbalanced", x[idx][..., None], y[idx])


# ---- selection --------------------------------------------------------------------------------------------

def test_stratified_balances_classes_that_random_does_not(unbalanced):
    idx, facts = select(unbalanced, n=100, selection="stratified", seed=0)
    counts = np.bincount(unbalanced.labels[idx], minlength=10)
    assert counts.tolist() == [10] * 10 and len(set(idx.tolist())) == 100
    assert facts["per_class"] == {str(c): 10 for c in range(10)}
    rnd, _ = select(unbalanced, n=100, selection="random", seed=0)
    assert np.bincount(unbalanced.labels[rnd], minlength=10)[0] > 30  # class 0 is 40% of the source


def test_a_short_class_gives_all_it_has_and_the_rest_is_shared():
    assert class_quotas({0: 3, 1: 100, 2: 100}, 60) == {0: 3, 1: 29, 2: 28}
    assert sum(class_quotas({0: 5, 1: 5}, 10).values()) == 10


def test_random_is_the_draw_convert_always_made(sample_arrays, mini):
    from edge_inception.data.readers import open_source

    src = open_source("sample:calibration", mini.spec, split="train", labelled=False)
    idx, _ = select(src, n=64, selection="random", seed=0)
    before = open_source("sample:calibration", mini.spec, split="train", labelled=False, limit=64)
    assert np.array_equal(take(src, idx).images, before.images)
    whole, _ = select(src, n=500, selection="random", seed=0)
    assert whole.tolist() == list(range(500))  # the whole sample, in order: the default recipe's results unchanged


def test_diverse_spreads_out_is_seeded_and_differs_from_random(mini):
    from edge_inception.calibration_recipes.features import penultimate_features
    from edge_inception.data.readers import open_source

    src = open_source("sample:calibration", mini.spec, split="train", labelled=False)
    feats, what = penultimate_features(mini, src)
    assert feats.shape[0] == 500 and "Dense" in what

    def pick(seed):
        return select(src, n=40, selection="diverse", seed=seed, pool=500,
                      features=lambda s: penultimate_features(mini, s))

    a, facts = pick(0)
    assert np.array_equal(a, pick(0)[0]) and not np.array_equal(a, pick(1)[0])
    assert facts["algorithm"].startswith("farthest-point") and facts["pool"] == 500
    rnd, _ = select(src, n=40, selection="random", seed=0)
    assert set(a.tolist()) != set(rnd.tolist())

    def closest_pair(i):
        d = np.sum((feats[i, None] - feats[None, i]) ** 2, axis=-1)
        return d[~np.eye(len(i), dtype=bool)].min()

    assert closest_pair(a) > 2 * closest_pair(rnd)  # what farthest-point sampling is for


def test_farthest_points_picks_the_farthest_from_all_picked_so_far():
    x = np.array([[0.0], [1.0], [10.0], [5.0], [9.0], [4.0]])
    picks = farthest_points(x, 4, seed=0).tolist()
    for k in range(1, 4):
        gap = np.min(np.abs(x[:, 0, None] - x[picks[:k], 0][None]), axis=1)
        assert gap[picks[k]] == gap.max()
    assert len(set(picks)) == 4
    same = farthest_points(np.zeros((5, 2)), 5, seed=1)  # identical images: still five different ones
    assert sorted(same.tolist()) == [0, 1, 2, 3, 4]


# ---- recipes, schema, refusal -----------------------------------------------------------------------------

def test_shipped_recipes_load_and_every_int8_profile_names_one():
    from edge_inception.targets import list_targets

    assert {r.name for r in list_recipes()} >= SHIPPED
    assert get_recipe("default").method == "library" and get_recipe("robust").percentile == 99.99
    for t in list_targets():
        if t.is_quantized:
            get_recipe(t.quantizer["calibration_recipe"])


@pytest.mark.parametrize("library", sorted(RANGE_METHODS))
def test_each_library_refuses_what_it_cannot_do_and_says_what_it_can(tmp_path, library):
    for method in ("library", "minmax", "mean_minmax", "percentile", "entropy", "mse"):
        extra = {"percentile": 99.9} if method == "percentile" else {}
        r = load_recipe_file(_recipe(tmp_path, method=method, **extra))
        if method in RANGE_METHODS[library]:
            check_supported(r, library, where=r.file)
        else:
            with pytest.raises(InputError) as e:
                check_supported(r, library, where=r.file)
            assert "mine.toml" in e.value.message and library in e.value.message
            assert f"{library} supports: {', '.join(RANGE_METHODS[library])}" in e.value.message


def test_convert_refuses_a_recipe_the_target_library_cannot_do_before_any_work(tmp_path, run_cli):
    code, _, err = run_cli("convert", "--target", "onnx-int8,tflite-int8", "--calibration-recipe", "robust",
                           "--out", str(tmp_path / "out"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "robust.toml" in err and "'method' = 'percentile' is not supported by tflite" in err
    assert "tflite supports: library, minmax" in err and "tflite-int8" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("keys, named", [
    ({"sampels": 10}, "unknown key 'sampels'"),
    ({"method": "median"}, "'method' = 'median' is not allowed"),
    ({"selection": "kmeans"}, "'selection' = 'kmeans' is not allowed"),
    ({"samples": 0}, "'samples'"),
    ({"method": "percentile"}, "'method' = 'percentile' needs 'percentile'"),
    ({"bias_correction": "always"}, "'bias_correction' = 'always' is not allowed"),
])
def test_bad_recipes_are_one_line_naming_the_file_and_key(tmp_path, run_cli, keys, named):
    path = _recipe(tmp_path, **keys)
    code, _, err = run_cli("calibration", str(path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err and named in err
    if "allowed" in named:
        assert "allowed: " in err


def test_stratified_on_unlabelled_images_and_too_many_samples_are_refused(tmp_path, run_cli, image_folders):
    strat = _recipe(tmp_path, name="strat", selection="stratified", samples=20)
    code, _, err = run_cli("convert", "--target", "onnx-int8", "--calibration-recipe", str(strat), "--calibration",
                           str(image_folders["calibration"]), "--out", str(tmp_path / "o1"))
    assert code == 2 and "strat.toml" in err and "'selection' = 'stratified' needs labels" in err
    many = _recipe(tmp_path, name="many", samples=600)
    code, _, err = run_cli("convert", "--target", "onnx-int8", "--calibration-recipe", str(many),
                           "--out", str(tmp_path / "o2"))
    assert code == 2 and "many.toml" in err and "'samples' = 600 is more than sample:calibration holds (500" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_calibration_command_lists_and_shows(run_cli):
    code, out, _ = run_cli("calibration")
    assert code == 0 and all(name in out for name in SHIPPED)
    code, out, _ = run_cli("calibration", "robust")
    assert code == 0 and "CalibPercentile" in out and "refused" in out and "QUANTILE" in out
    code, out, _ = run_cli("calibration", "--json")
    assert code == 0 and {r["name"] for r in json.loads(out)} >= SHIPPED


# ---- each method reaches its library --------------------------------------------------------------------

def _activation_scales(path) -> dict[str, float]:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return {n.input[0]: float(inits[n.input[1]]) for n in m.graph.node
            if n.op_type == "QuantizeLinear" and n.input[1] in inits and inits[n.input[1]].size == 1}


def test_onnx_percentile_reaches_quantize_static_and_narrows_ranges(tmp_path, mini, run_cli):
    """The convert report says what ONNX Runtime was told and which images; the artifact shows it: on the
    same images, percentile ranges are never wider than min/max and some are narrower."""
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    keys = {"samples": 20, "selection": "stratified", "seed": 3}
    pct = _recipe(tmp_path, name="pct", method="percentile", percentile=99.9, **keys)
    code, _, err = run_cli("convert", "--target", "onnx-int8", "--calibration-recipe", str(pct), "--eval-limit", "50",
                           "--latency-runs", "2", "--out", str(tmp_path / "out"))
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["schema_version"] == "1.4"
    cal = report["targets"][0]["calibration"]
    assert cal["recipe"] == "pct" and cal["selection"] == "stratified" and cal["samples"] == 20
    assert cal["told"] == {"calibrate_method": "CalibrationMethod.Percentile", "extra_options.CalibPercentile": 99.9}
    minmax = load_recipe_file(_recipe(tmp_path, name="mm", method="minmax", **keys))
    calib = build_calibration(minmax, mini, default_source="sample:calibration")
    images = np.concatenate([im for im, _ in calib.source.batches(64)])
    assert cal["fingerprint"] == calib.fingerprint == hashlib.sha256(images.tobytes()).hexdigest()
    assert np.bincount(calib.source.labels, minlength=10).tolist() == [2] * 10  # the images it says it used
    info = quantize(mini, tmp_path / "mm.onnx", target=get_target("onnx-int8"), calibration=calib)
    assert info["calibration"]["told"] == {"calibrate_method": "CalibrationMethod.MinMax"}
    p = _activation_scales(tmp_path / "out" / "inception-mini.onnx-int8.onnx")
    m = _activation_scales(tmp_path / "mm.onnx")
    common = sorted(set(p) & set(m))
    assert len(common) > 10
    assert all(p[k] <= m[k] * (1 + 1e-6) for k in common) and sum(p[k] < m[k] * 0.999 for k in common) > 3


def test_onnx_entropy_is_what_quantize_static_is_called_with(tmp_path, mini, monkeypatch):
    import onnxruntime.quantization as oq

    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    seen = {}

    class Told(Exception):
        pass

    def spy(*args, **kwargs):  # the call ONNX Runtime receives; the run stops there (its result is not needed)
        seen.update(kwargs)
        raise Told

    monkeypatch.setattr(oq, "quantize_static", spy)
    calib = build_calibration(load_recipe_file(_recipe(tmp_path, samples=8, method="entropy")), mini,
                              default_source="sample:calibration")
    with pytest.raises(TargetFailed, match="Told"):  # the quantizer reports ORT's exception as a failed target
        quantize(mini, tmp_path / "e.onnx", target=get_target("onnx-int8"), calibration=calib)
    assert seen["calibrate_method"] == oq.CalibrationMethod.Entropy
    assert seen["extra_options"] == {"CalibStridedMinMax": 1}


@pytest.fixture(scope="module")
def ov_mini(mini):
    """inception-mini as an OpenVINO model, converted once for every NNCF call of this module."""
    from edge_inception.exporters.openvino import to_openvino_model

    return to_openvino_model(mini)


def _nncf_call(tmp_path, mini, ov_mini, monkeypatch, *, real: bool, **keys):
    """(keywords nncf.quantize received, the quantizer's info); ``real`` lets NNCF run and write the IR."""
    import nncf

    from edge_inception.quantizers import nncf_ptq, quantize
    from edge_inception.targets import get_target

    monkeypatch.setattr(nncf_ptq, "to_openvino_model", lambda lm: ov_mini.clone())

    seen, original = {}, nncf.quantize

    class Told(Exception):
        pass

    def spy(model, dataset, **kwargs):
        seen.update(kwargs)
        if not real:
            raise Told
        return original(model, dataset, **kwargs)

    monkeypatch.setattr(nncf, "quantize", spy)
    name = "-".join(f"{k}-{v}" for k, v in keys.items()).replace(".", "_")
    calib = build_calibration(load_recipe_file(_recipe(tmp_path, name=name, samples=16, **keys)), mini,
                              default_source="sample:calibration")
    dest = tmp_path / f"{name}.xml"
    try:
        info = quantize(mini, dest, target=get_target("openvino-int8"), calibration=calib)
    except Told:
        info = None
    return seen, info, dest


def _fq_highs(xml) -> list[float]:
    import openvino as ov

    highs = []
    for n in ov.Core().read_model(str(xml)).get_ordered_ops():
        if n.get_type_name() != "FakeQuantize":
            continue
        # activations only: a weight's FakeQuantize sits on a Constant
        if n.input(0).get_source_output().get_node().get_type_name() != "Constant":
            high = n.input(2).get_source_output().get_node()
            highs.append(float(np.max(high.get_data())))
    return highs


def test_nncf_minmax_reaches_nncf_and_its_ranges_cover_every_image(tmp_path, mini, ov_mini, monkeypatch):
    """MINMAX takes the maximum over images where NNCF's default (MEAN_MINMAX) takes their mean: on the same
    images every activation range is at least as wide, and some are wider."""
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet as Sets

    call = dict(real=True, bias_correction="none")
    seen, info, mm = _nncf_call(tmp_path, mini, ov_mini, monkeypatch, method="minmax", **call)
    assert seen["advanced_parameters"].activations_range_estimator_params == Sets.MINMAX
    assert seen["advanced_parameters"].disable_bias_correction is True
    assert info["calibration"]["told"]["activations_range_estimator_params"] == "RangeEstimatorParametersSet.MINMAX"
    seen, _, mean = _nncf_call(tmp_path, mini, ov_mini, monkeypatch, method="mean_minmax", **call)
    assert seen["advanced_parameters"].activations_range_estimator_params == Sets.MEAN_MINMAX
    a, b = _fq_highs(mm), _fq_highs(mean)
    assert len(a) == len(b) > 10
    pairs = list(zip(a, b, strict=True))
    assert all(x >= y * (1 - 1e-5) for x, y in pairs) and sum(x > y * 1.001 for x, y in pairs) > 3


@pytest.mark.parametrize("keys, check", [
    ({"method": "mse"}, lambda s, Sets: s["advanced_parameters"].activations_range_estimator_params == Sets.HISTOGRAM),
    ({"method": "percentile", "percentile": 99.9}, lambda s, Sets: (
        s["advanced_parameters"].activations_range_estimator_params.max.quantile_outlier_prob == pytest.approx(1e-3)
        and s["advanced_parameters"].activations_range_estimator_params.max.statistics_type.value == "quantile")),
    ({"bias_correction": "full"}, lambda s, Sets: s["fast_bias_correction"] is False),
    ({"bias_correction": "fast"}, lambda s, Sets: s["fast_bias_correction"] is True),
    ({"method": "library", "bias_correction": "library"}, lambda s, Sets: "fast_bias_correction" not in s and
     s["advanced_parameters"].activations_range_estimator_params.max.statistics_type is None),
])
def test_nncf_is_called_with_each_method_and_bias_correction(tmp_path, mini, ov_mini, monkeypatch, keys, check):
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet as Sets

    seen, _, _ = _nncf_call(tmp_path, mini, ov_mini, monkeypatch, real=False, **keys)
    assert check(seen, Sets)
