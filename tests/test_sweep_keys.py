"""Sweep files and cache keys, without converting anything: a key changes when the profile, recipe,
data or a library version changes, and only then; bad sweep files are one line and exit 2."""

from __future__ import annotations

import shutil
from importlib import metadata

import numpy as np
import pytest

from edge_inception.sweep.cache import cell_inputs, cell_key, host_identity, library_versions
from edge_inception.sweep.spec import expand, load_sweep

BASE = """
targets = ["tflite-int8", "tflite-fp32"]
[[recipes]]
name = "c16"
calibration_samples = 16
[evaluation]
limit = 100
"""


def _keys(tmp_path, text: str, name: str = "sweep.toml", *, versions=None) -> dict[str, str]:
    from edge_inception.sweep import _eval_fingerprint

    path = tmp_path / name
    path.write_text(text)
    spec = load_sweep(path)
    ev = {m.label: _eval_fingerprint(m, spec) for m in spec.model_entries()}
    return {c.id.replace("c16", "R").replace("renamed", "R"):
            cell_key(cell_inputs(c, spec, evaluation=ev[c.model.label], versions=versions)) for c in expand(spec)}


def test_same_inputs_same_keys_whatever_the_names(tmp_path):
    a = _keys(tmp_path, BASE)
    assert set(a) == {"inception-mini/tflite-int8/R/ptq", "inception-mini/tflite-fp32/-/float"}
    # another file name, a renamed recipe, another target order, an extra model: the same cells keep their keys
    b = _keys(tmp_path, BASE.replace('name = "c16"', 'name = "renamed"').replace(
        '["tflite-int8", "tflite-fp32"]', '["tflite-fp32", "tflite-int8", "onnx-int8"]'), "other.toml")
    assert {k: b[k] for k in a} == a
    assert len(set(b.values())) == 3


def test_recipe_changes_only_int8_keys(tmp_path):
    a = _keys(tmp_path, BASE)
    b = _keys(tmp_path, BASE.replace("calibration_samples = 16", "calibration_samples = 32"))
    assert a["inception-mini/tflite-int8/R/ptq"] != b["inception-mini/tflite-int8/R/ptq"]
    assert a["inception-mini/tflite-fp32/-/float"] == b["inception-mini/tflite-fp32/-/float"]  # no recipe there


def test_calibration_data_content_changes_the_key(tmp_path, sample_arrays):
    images, _ = sample_arrays["calibration"]
    npz = tmp_path / "calib.npz"
    np.savez(npz, images=images[:20])
    text = BASE.replace("calibration_samples = 16", f'calibration = "{npz}"')
    a = _keys(tmp_path, text)
    assert _keys(tmp_path, text) == a
    np.savez(npz, images=images[20:40])  # same name, other images
    b = _keys(tmp_path, text)
    assert a["inception-mini/tflite-int8/R/ptq"] != b["inception-mini/tflite-int8/R/ptq"]
    assert a["inception-mini/tflite-fp32/-/float"] == b["inception-mini/tflite-fp32/-/float"]


def test_evaluation_data_changes_every_key(tmp_path):
    a = _keys(tmp_path, BASE)
    b = _keys(tmp_path, BASE.replace("limit = 100", "limit = 200"))
    assert not set(a.values()) & set(b.values())


def test_profile_change_changes_that_target_only(tmp_path, monkeypatch):
    from edge_inception._core.shipped import shipped_dir

    a = _keys(tmp_path, BASE)
    monkeypatch.chdir(tmp_path)  # a user's targets/ folder replaces a shipped profile of the same name
    (tmp_path / "targets").mkdir()
    text = (shipped_dir("targets") / "tflite-int8.toml").read_text()
    (tmp_path / "targets" / "tflite-int8.toml").write_text(text)
    assert _keys(tmp_path, BASE) == a  # the same content elsewhere: the same key
    assert "min_agreement = 0.97" in text
    (tmp_path / "targets" / "tflite-int8.toml").write_text(text.replace("min_agreement = 0.97", "min_agreement = 0.96"))
    b = _keys(tmp_path, BASE)
    assert a["inception-mini/tflite-int8/R/ptq"] != b["inception-mini/tflite-int8/R/ptq"]
    assert a["inception-mini/tflite-fp32/-/float"] == b["inception-mini/tflite-fp32/-/float"]
    shutil.copy(shipped_dir("targets") / "tflite-fp32.toml", tmp_path / "targets" / "tflite-fp32.toml")
    ref = (tmp_path / "targets" / "tflite-fp32.toml")
    ref.write_text(ref.read_text().replace('description = "', 'description = "changed '))
    c = _keys(tmp_path, BASE)  # the float reference's profile is an input of the int8 cell too
    assert c["inception-mini/tflite-int8/R/ptq"] != b["inception-mini/tflite-int8/R/ptq"]


def test_recipe_a_profile_names_is_keyed_by_its_content(tmp_path, monkeypatch):
    """Where profiles name a calibration recipe (issue 17), editing that recipe file changes the key."""
    from edge_inception.sweep.cache import profile_identity

    monkeypatch.chdir(tmp_path)  # ./calibration/NAME.toml is where a user's recipes are found
    (tmp_path / "calibration").mkdir()
    recipe = tmp_path / "calibration" / "mine.toml"
    recipe.write_text('name = "mine"\n')
    profile = tmp_path / "x-int8.toml"  # only its TOML is read here
    profile.write_text('[quantizer]\ncalibration_recipe = "mine"\n')
    from edge_inception.sweep import cache

    a = cache._profile_recipe(str(profile))
    recipe.write_text('name = "mine"\nsamples = 10\n')
    b = cache._profile_recipe(str(profile))
    assert a["name"] == b["name"] == "mine" and a["sha256"] != b["sha256"]
    assert profile_identity("tflite-fp32").get("calibration_recipe") is None  # a profile naming none


def test_library_version_changes_every_key(tmp_path, monkeypatch):
    a = _keys(tmp_path, BASE)
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "999.0" if name == "onnxruntime" else real(name))
    b = _keys(tmp_path, BASE)
    assert library_versions()["onnxruntime"] == "999.0"
    assert not set(a.values()) & set(b.values())


def test_host_isa_is_an_input(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(BASE)
    spec = load_sweep(path)
    cell = expand(spec)[0]
    host = host_identity()
    other = {**host, "isa": {**host["isa"], "vnni": not host["isa"]["vnni"]}}
    assert cell_key(cell_inputs(cell, spec, evaluation=None, host=host)) != \
        cell_key(cell_inputs(cell, spec, evaluation=None, host=other))


@pytest.mark.parametrize("text, expected", [
    ('targets = ["tflite-int8"]\n[[recipes]]\nname = "a"\ncalibration_smaples = 3\n', "calibration_smaples"),
    ('targets = ["tflite-int8"]\n[[recipes]]\nname = "a"\n[[recipes]]\nname = "a"\n', "recipe name 'a' appears twice"),
    ('targets = []\n', "'targets'"),
    ('targets = ["tflite-int8"]\n[[recipes]]\nname = "../x"\n', "not a plain identifier"),
    ('targets = ["tflite-int8"\n', "is not valid TOML"),
    ('targets = ["tflite-int99"]\n', "unknown target 'tflite-int99'"),
    ('targets = ["tflite-int8"]\n[run]\ncpus_per_cell = 0\n', "run.cpus_per_cell"),
])
def test_bad_sweep_file_is_one_line_exit_2(tmp_path, run_cli, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run_cli("sweep", str(path), "--out", str(tmp_path / "out"))
    assert code == 2, err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_sweep_file(tmp_path, run_cli):
    code, _, err = run_cli("sweep", str(tmp_path / "nope.toml"))
    assert code == 2 and "nope.toml: does not exist" in err


def test_pareto_front():
    from edge_inception.sweep.pareto import pareto_front, pareto_plot

    def row(cid, delta, lat, size, status="ok"):
        return {"cell": {"id": cid}, "status": status, "size_bytes": size,
                "accuracy": {"delta_points": delta}, "latency": {"p50_ms": lat}}

    rows = [row("fast", -1.0, 1.0, 100), row("accurate", 0.5, 3.0, 100), row("small", -0.5, 2.0, 50),
            row("dominated", -1.0, 2.0, 100), row("broken", 5.0, 0.1, 1, status="failed")]
    assert pareto_front(rows) == ["fast", "accurate", "small"]
    svg = pareto_plot(rows, pareto_front(rows))
    assert "<svg" in svg and ">fast<" in svg and ">dominated<" not in svg  # the front is named on the plot
