"""A sweep on a real local Ray (started here with 2 CPUs): inception-mini x {tflite-int8, onnx-int8,
openvino-int8} x 2 recipes. The first run loses two Ray workers to SIGKILL mid-sweep; the second run
resumes and computes only what was lost; the result equals `convert` run recipe by recipe (same top-1,
the same per-image outcomes). One sweep serves all the checks to keep CI time down."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
import ray

import edge_inception
from edge_inception.sweep.cache import CellCache

REPO = Path(edge_inception.__file__).resolve().parents[1]
RECIPES = {"c16": 16, "c32": 32}
SWEEP = """
targets = ["tflite-int8", "onnx-int8", "openvino-int8"]
models = ["inception-mini"]
[[recipes]]
name = "c16"
calibration_samples = 16
[[recipes]]
name = "c32"
calibration_samples = 32
[evaluation]
limit = 100
[measure]
threads = 1
latency_runs = 3
[run]
cpus_per_cell = 1
memory_gb_per_cell = 1.0
cells_per_worker = 10
max_retries = 0
"""


TOKEN = uuid.uuid4().hex  # in this Ray's workers' environment: which workers are ours


def _cell_workers() -> list[psutil.Process]:
    """This test's Ray workers running a cell now (Ray titles a busy worker 'ray::<function>'). Only
    ours: another Ray on the machine (the cluster test, under pytest -n 2) is not to be touched."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if any("ray::_remote_cell" in part for part in (p.info["cmdline"] or [])):
            try:
                if p.environ().get("EI_TEST_RAY") == TOKEN:
                    found.append(p)
            except psutil.Error:
                continue
    return found


def _kill_after(cache: CellCache, committed: int, killed: list) -> None:
    """Once ``committed`` cells are in the cache, SIGKILL every worker that is running a cell."""
    deadline = time.time() + 500
    while time.time() < deadline:
        done = [p for p in cache.root.glob("??/*") if p.is_dir()] if cache.root.is_dir() else []
        busy = _cell_workers()
        if len(done) >= committed and busy:
            for p in busy:
                os.kill(p.pid, signal.SIGKILL)
                killed.append(p.pid)
            return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def local_ray():
    # Workers import this tree (the one under test), whatever is installed.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 << 20,
             runtime_env={"env_vars": {"PYTHONPATH": path, "EDGE_INCEPTION_QUIET": "1", "EI_TEST_RAY": TOKEN}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def resumed(local_ray, tmp_path_factory):
    from edge_inception import sweep

    root = tmp_path_factory.mktemp("sweep")
    path = root / "sweep.toml"
    path.write_text(SWEEP)
    out = root / "out"
    cache = CellCache(out / "cache")
    killed: list = []
    watcher = threading.Thread(target=_kill_after, args=(cache, 2, killed), daemon=True)
    watcher.start()
    first = sweep(path, out=out)
    watcher.join(timeout=5)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for d in cache.root.glob("??/*") for p in d.rglob("*")
              if p.is_file()}  # the committed cells' files (not the staging folder a killed worker left)
    second = sweep(path, out=out, force=True)
    return {"first": first, "second": second, "killed": killed, "before": before, "out": out, "cache": cache,
            "file": path}


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory):
    """The same cells by `convert`, one recipe at a time."""
    from edge_inception import convert

    root = tmp_path_factory.mktemp("convert")
    return {name: {r["target"]: r for r in convert(targets=["tflite-int8", "onnx-int8", "openvino-int8"],
                                                   calibration_samples=n, eval_limit=100, latency_runs=3, threads=1,
                                                   out=root / name)["targets"]}
            for name, n in RECIPES.items()}


def test_killed_workers_fail_their_cells_alone(resumed):
    first = resumed["first"]
    assert resumed["killed"], "no cell was running when the watcher looked"
    failed = [r for r in first["targets"] if r["status"] != "ok"]
    assert first["status"] == "failed" and 1 <= len(failed) <= 2
    assert all(r["message"].startswith("Ray: ") and "\n" not in r["message"] for r in failed)
    assert first["sweep"]["failed"] == len(failed) and first["sweep"]["backend"] == "ray"
    ok = [r for r in first["targets"] if r["status"] == "ok"]
    assert len(ok) >= 2 and all(r["cell"]["node"] for r in ok)


def test_resume_computes_only_what_was_lost(resumed):
    first, second, cache = resumed["first"], resumed["second"], resumed["cache"]
    lost = {r["cell"]["key"] for r in first["targets"] if r["status"] != "ok"}
    assert second["status"] == "ok"
    assert second["sweep"]["computed"] == len(lost) and second["sweep"]["cached"] == 6 - len(lost)
    assert {r["cell"]["key"] for r in second["targets"] if not r["cell"]["cached"]} == lost
    # The cells finished before the kill were not rewritten: same files, same inodes, same times.
    assert len({p.parts[-3] if p.parts[-2] == "cell" else p.parts[-2] for p in resumed["before"]}) == 6 - len(lost)
    for p, ident in resumed["before"].items():
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == ident, p
    assert not [p for p in cache.staging_root.iterdir() if p.is_dir()]  # nothing half-written left
    assert all(cache.lookup(r["cell"]["key"]) for r in second["targets"])


def test_sweep_equals_convert_cell_by_cell(resumed, one_by_one):
    rows = resumed["second"]["targets"]
    assert len(rows) == 6
    for row in rows:
        ref = one_by_one[row["cell"]["recipe"]][row["target"]]
        assert row["status"] == ref["status"] == "ok"
        assert row["accuracy"]["top1"] == ref["accuracy"]["top1"], row["cell"]["id"]
        assert row["accuracy"]["float_top1"] == ref["accuracy"]["float_top1"]
        assert row["accuracy"]["per_sample"] == ref["accuracy"]["per_sample"], row["cell"]["id"]
        assert row["cell"]["pid"] != os.getpid()  # run in a Ray worker, not in this process
        assert Path(row["artifact"]).is_file()


def test_report_views_and_pareto(resumed):
    out, report = resumed["out"], resumed["second"]
    from edge_inception.report.schema import read_report

    stored, _ = read_report(out / "report.json")
    front = stored["sweep"]["pareto"]
    assert front and set(front) <= {r["cell"]["id"] for r in stored["targets"]}
    assert [r["cell"]["pareto"] for r in stored["targets"]] == [r["cell"]["id"] in front for r in stored["targets"]]
    html = (out / "report.html").read_text()
    assert "Pareto view" in html and "<svg" in html and all(cid in html for cid in front)
    md = (out / "report.md").read_text()
    assert all(r["cell"]["id"] in md for r in report["targets"])


def test_every_artifact_carries_its_manifest(resumed):
    from edge_inception.sweep.manifest import read_manifest

    for row in resumed["second"]["targets"]:
        man = read_manifest(Path(row["artifact"]), row["format"])
        assert man == row["cell"]["manifest"] and man["key"] == row["cell"]["key"]
        assert man["inputs"]["libraries"]["onnxruntime"] and man["host"]["cpu"]


def test_rerun_pattern_and_reproduce(resumed, run_cli, tmp_path):
    """--rerun recomputes exactly the matching cells; --reproduce rebuilds one bit for bit."""
    code, out, err = run_cli("sweep", str(resumed["file"]), "--out", str(resumed["out"]), "--force",
                             "--rerun", "*/onnx-int8/c16/*", "--json")
    assert code == 0, err
    import json

    report = json.loads(out)
    assert [r["cell"]["id"] for r in report["targets"] if not r["cell"]["cached"]] == \
        ["inception-mini/onnx-int8/c16/ptq"]
    assert "1 to run" in err
    code, out, err = run_cli("convert", "--reproduce", str(resumed["out"] / "report.json"), "--target",
                             "tflite-int8", "--out", str(tmp_path / "again"))
    assert code == 2 and "2 cells for target 'tflite-int8'" in err  # ambiguous: the fix names each cell's report
    cell_report = Path(next(r for r in report["targets"] if r["cell"]["id"].endswith("tflite-int8/c16/ptq"))
                       ["cell"]["folder"]) / "cell" / "report.json"
    code, out, err = run_cli("convert", "--reproduce", str(cell_report), "--target", "tflite-int8",
                             "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert "artifact identical to the cell's" in out


def test_a_worker_of_another_isa_refuses_the_cell(local_ray, tmp_path, monkeypatch):
    """The key names the driver's ISA; a Ray worker whose CPU differs would build another artifact (ONNX
    Runtime's int8 types follow VNNI), so it refuses the cell before any work. Here the driver is made
    to key as if it lacked (or had) VNNI; the real workers see this machine's CPU."""
    from edge_inception import sweep
    from edge_inception.sweep import cache

    real = cache.host_identity()
    flipped = {**real, "isa": {**real["isa"], "vnni": not real["isa"]["vnni"]}}
    monkeypatch.setattr(cache, "host_identity", lambda: flipped)
    path = tmp_path / "isa.toml"
    path.write_text('targets = ["onnx-int8"]\n[run]\ncpus_per_cell = 1\nmemory_gb_per_cell = 0.5\nmax_retries = 0\n')
    report = sweep(path, out=tmp_path / "out")
    row = report["targets"][0]
    assert report["status"] == "failed" and row["status"] == "failed"
    assert row["message"].startswith("this Ray node's CPU differs from the one the cell is keyed for (vnni ")
    assert not list((tmp_path / "out" / "cache").glob("??/*"))  # nothing cached under the wrong key
