"""The wheel ships the top-level targets/ and calibration/ folders: a real non-editable `pip install`
of a built wheel into a fresh virtual environment finds every profile and the calibration sample
inside the installed package, from a folder that has neither."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp / "dist"), str(ROOT)], check=True, capture_output=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("edge_inception-*.whl")
    # The dependencies (TensorFlow, ...) come from this environment; the package itself from the wheel.
    venv.create(tmp / "venv", system_site_packages=True, with_pip=True)
    py = tmp / "venv" / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    work = tmp / "elsewhere"
    work.mkdir()
    return tmp / "venv", work


def test_wheel_ships_profiles_and_calibration_data(installed):
    env_dir, work = installed
    out = subprocess.run([env_dir / "bin" / "edge-inception", "targets", "--json"], check=True, cwd=work,
                         capture_output=True, text=True).stdout
    profiles = json.loads(out)
    shipped = {p.stem for p in (ROOT / "targets").glob("*.toml")}
    assert {p["name"] for p in profiles} == shipped
    for p in profiles:
        assert Path(p["source"]).is_relative_to(env_dir), p["source"]  # the installed copy, not this checkout
        assert "shipped_targets" in p["source"]
    code = ("from edge_inception.data.readers import SAMPLE_FILE, read_sample; "
            "images, labels = read_sample('calibration'); print(SAMPLE_FILE, len(images), len(set(labels.tolist())))")
    sample_file, n, classes = subprocess.run([env_dir / "bin" / "python", "-c", code], check=True, cwd=work,
                                             capture_output=True, text=True).stdout.split()
    assert Path(sample_file).is_relative_to(env_dir) and "shipped_calibration" in sample_file
    assert (int(n), int(classes)) == (500, 10)
    out = subprocess.run([env_dir / "bin" / "edge-inception", "calibration", "--json"], check=True, cwd=work,
                         capture_output=True, text=True).stdout
    recipes = json.loads(out)  # the calibration recipes ship beside the sample, and are found there
    assert {r["name"] for r in recipes} == {p.stem for p in (ROOT / "calibration").glob("*.toml")}
    assert all("shipped_calibration" in r["file"] for r in recipes)
