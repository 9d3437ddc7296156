"""Devices as a sweep axis, over a real SSH server (Debian's sshd on 127.0.0.1, tests/_sshd.py): the
"device" is this machine reached through it. inception-mini to tflite-int8 is converted once; the
device measures it as its own row (latency interleaved with the float reference there, accuracy from
the device's outputs). A second device added later is measured without converting again, the first
device's row comes from the cache, and --rerun CELL@DEVICE measures only that row again. The sweeps
run in this process (serial): the device axis is what is under test, and Ray is tested beside it."""

from __future__ import annotations

import json
import os

import pytest

from tests._sshd import Sshd, available

SWEEP = """
targets = ["tflite-int8"]
devices = [{devices}]
[[recipes]]
name = "c16"
calibration_samples = 16
[evaluation]
limit = 40
[measure]
threads = 1
latency_runs = 5
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    missing = available()
    assert missing is None, f"these tests need a real sshd: install {missing} (.ci/run does)"
    root = tmp_path_factory.mktemp("sweep-devices")
    with Sshd(root / "sshd") as server, pytest.MonkeyPatch.context() as mp:
        (root / "remote").mkdir()
        server.declare(root / "edge-inception.toml", work_dir=str(root / "remote"))  # device "loop"
        mp.chdir(root)  # where the sweep is started: its edge-inception.toml declares the devices
        yield root


@pytest.fixture(scope="module")
def sweeps(project):
    from edge_inception import sweep

    one = project / "one.toml"
    one.write_text(SWEEP.format(devices='"loop"'))
    two = project / "two.toml"
    two.write_text(SWEEP.format(devices='"loop", "local"'))
    out = project / "out"
    return {"first": sweep(one, out=out, serial=True),
            "added": sweep(two, out=out, serial=True, force=True),
            "rerun": sweep(two, out=out, serial=True, force=True, rerun=["*@loop"]), "out": out}


def _rows(report) -> dict:
    return {r["cell"]["id"]: r for r in report["targets"]}


CELL = "inception-mini/tflite-int8/c16/ptq"


def test_one_conversion_measured_on_the_device_as_its_own_row(sweeps):
    first = sweeps["first"]
    assert first["status"] == "ok", [r.get("message") for r in first["targets"]]
    rows = _rows(first)
    assert list(rows) == [CELL, f"{CELL}@loop"]
    here, there = rows[CELL], rows[f"{CELL}@loop"]
    assert first["sweep"]["conversions"] == {"cells": 1, "computed": 1} and first["sweep"]["devices"] == ["loop"]
    assert here["cell"]["device"] is None and there["cell"]["device"] == "loop"
    assert here["cell"]["node"] == "local" and here["cell"]["pid"] == os.getpid()  # serial: in this process
    assert there["artifact"] == here["artifact"] and there["size_bytes"] == here["size_bytes"]  # one artifact
    assert there["cell"]["key"] != here["cell"]["key"]
    # Latency there: the device's runner, interleaved with the float reference, 5 runs as the file says.
    lat = there["latency"]
    assert there["measured_on"].startswith("device loop (ssh eitest")
    assert lat["runs"] == 5 and len(lat["reference"]["samples_ms"]) == 5 and lat["ratio"] > 0
    assert lat["reference_input"].endswith("tflite-fp32.tflite")
    # Accuracy from the device's own outputs on the sweep's 40 images, checked against this machine's run.
    acc, check = there["accuracy"], there["output_check"]
    assert there["accuracy_measured_on"].startswith("device loop") and acc["n"] == 40 and check["n"] == 40
    assert check["top1_agreement"] == 1.0  # the same artifact and runtime on the same CPU
    assert acc["top1"] == here["accuracy"]["top1"] and acc["float_top1"] == here["accuracy"]["float_top1"]


def test_a_new_device_measures_without_converting_again(sweeps):
    first, added, rerun = sweeps["first"], sweeps["added"], sweeps["rerun"]
    assert added["status"] == "ok" and rerun["status"] == "ok"
    rows = _rows(added)
    assert list(rows) == [CELL, f"{CELL}@loop", f"{CELL}@local"]
    assert added["sweep"]["conversions"]["computed"] == 0 and rows[CELL]["cell"]["cached"]
    assert rows[f"{CELL}@loop"]["cell"]["cached"] and not rows[f"{CELL}@local"]["cell"]["cached"]
    assert rows[f"{CELL}@loop"]["cell"]["key"] == _rows(first)[f"{CELL}@loop"]["cell"]["key"]
    assert rows[f"{CELL}@local"]["measured_on"].startswith("device local")
    again = _rows(rerun)  # --rerun '*@loop': that row alone is measured again
    assert rerun["sweep"]["conversions"]["computed"] == 0
    assert [cid for cid, r in again.items() if not r["cell"]["cached"]] == [f"{CELL}@loop"]


def test_report_shows_the_device_and_a_front_per_device(sweeps):
    from edge_inception.report.schema import read_report

    out = sweeps["out"]
    stored, _ = read_report(out / "report.json")
    front = stored["sweep"]["pareto"]
    # One row per device group, so each group's single row is its own front.
    assert sorted(front) == sorted([CELL, f"{CELL}@loop", f"{CELL}@local"])
    html = (out / "report.html").read_text()
    assert "on device loop" in html and "on device local" in html and html.count("<svg") >= 3
    md = (out / "report.md").read_text()
    assert f"| {CELL}@loop | loop | ok |" in md


def test_unreachable_device_is_exit_2_before_any_conversion(project, run_cli):
    bad = project / "bad.toml"
    bad.write_text(SWEEP.format(devices='"ssh://root@127.0.0.1:1"'))
    code, out, err = run_cli("sweep", str(bad), "--out", str(project / "bad-out"))
    assert code == 2, err
    assert "cannot be reached" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (project / "bad-out" / "cache").exists()


def test_device_row_of_a_failed_conversion_says_why():
    from edge_inception.sweep.report import _row
    from edge_inception.sweep.spec import Cell, ModelEntry

    class _Cache:
        def path(self, key):
            from pathlib import Path

            return Path("/nonexistent") / key

    cell = Cell(ModelEntry(model="inception-mini"), "tflite-int8", None, None)
    row = _row(cell, "k2", None, cached=False, cache=_Cache(), device="loop",
               conversion=("k1", {"status": "failed"}))
    assert row["status"] == "failed" and row["message"] == "not measured: the conversion failed"
    assert row["cell"]["id"].endswith("@loop")
    assert json.loads(json.dumps(row))["cell"]["device"] == "loop"
