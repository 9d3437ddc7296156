"""Bad input: one line naming the path and the fix, exit code 2, no traceback, nothing left behind."""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import write_pngs


def _assert_clean_failure(code, err, out_dir, *needles):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("edge-inception: error: ")
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in err
    assert not out_dir.exists() or not any(out_dir.iterdir()), list(out_dir.iterdir())


def test_missing_model(tmp_path, run_cli):
    code, _, err = run_cli("convert", str(tmp_path / "nope.keras"), "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "nope.keras", "does not exist")


def test_unreadable_model(tmp_path, run_cli):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"this is not a zip archive")
    code, _, err = run_cli("convert", str(bad), "--calibration", "sample", "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "broken.keras", "cannot be loaded")


def test_model_whose_input_is_not_an_image(tmp_path, run_cli):
    import keras

    m = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)])
    path = tmp_path / "tabular.keras"
    m.save(path)
    code, _, err = run_cli("convert", str(path), "--calibration", "sample", "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "tabular.keras", "not an image")


def test_empty_calibration_folder(tmp_path, run_cli):
    (tmp_path / "calib").mkdir()
    (tmp_path / "calib" / "notes.txt").write_text("no images here")
    code, _, err = run_cli("convert", "--calibration", str(tmp_path / "calib"), "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "calib", "holds no JPEG or PNG images")


def test_wrong_channel_count(tmp_path, run_cli):
    rgb = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 3), dtype=np.uint8)
    folder = write_pngs(tmp_path / "rgb", rgb)
    code, _, err = run_cli("convert", "--calibration", str(folder), "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "00000.png", "3 colour channels", "grayscale")


def test_wrong_channel_count_in_npz(tmp_path, run_cli):
    np.savez(tmp_path / "c.npz", images=np.zeros((4, 28, 28, 3), np.uint8))
    code, _, err = run_cli("convert", "--calibration", str(tmp_path / "c.npz"), "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "c.npz", "3 channels")


def test_unlabelled_eval_folder(tmp_path, run_cli):
    folder = write_pngs(tmp_path / "flat", np.zeros((3, 28, 28), np.uint8))
    code, _, err = run_cli("convert", "--eval-data", str(folder), "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "flat", "sub-folder per class")


def test_fashion_mnist_missing_says_how_to_install(tmp_path, run_cli, monkeypatch):
    from edge_inception.data import readers

    monkeypatch.setattr(readers, "FASHION_MNIST_DIR", tmp_path / "absent")
    code, _, err = run_cli("convert", "--eval-data", "fashion-mnist", "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "apt-get install dataset-fashion-mnist")


def test_unknown_target(tmp_path, run_cli):
    code, _, err = run_cli("convert", "--target", "tflite-int4", "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "unknown target 'tflite-int4'", "tflite-int8")


def test_own_model_without_calibration(tmp_path, run_cli):
    import keras

    from edge_inception.models.zoo import create_model

    path = tmp_path / "m.keras"
    create_model("inception-mini", pretrained=False).save(path)
    del keras
    code, _, err = run_cli("convert", str(path), "--out", str(tmp_path / "out"))
    _assert_clean_failure(code, err, tmp_path / "out", "--calibration")


@pytest.mark.parametrize("argv", [["convert", "/no/such/model.keras"], ["targets", "nonexistent"]])
def test_installed_entry_point_gives_one_line(tmp_path, argv):
    """Through the real console script: no traceback reaches the user."""
    proc = subprocess.run([sys.executable, "-c", "from edge_inception.cli import entry; entry()", *argv],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
