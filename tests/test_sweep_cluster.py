"""A sweep on a two-node Ray cluster on loopback (`ray start --head` and `ray start --address`, both
started and stopped here, one CPU each): two cells run at once, one on each node, their files through
the cache folder both nodes see (transfer = "shared"); then one cell again; then the same sweep without
Ray, from the cache. The object-store path (a collector actor on the driver's node) passed this test 5
of 5 alone but lost its collector (ActorDiedError) in a full CI run beside test_sweep_ray.py, so CI
runs the shared path (docs/sweep.md)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import edge_inception

REPO = Path(edge_inception.__file__).resolve().parents[1]
SWEEP = """
targets = ["tflite-fp32", "onnx-fp32"]
[evaluation]
limit = 50
[measure]
threads = 1
latency_runs = 3
[run]
cpus_per_cell = 1
memory_gb_per_cell = 0.5
transfer = "shared"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> list[str]:
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    return [exe] if exe else [sys.executable, "-m", "ray.scripts.scripts"]


def _stop(proc: subprocess.Popen) -> None:
    """Stop one `ray start --block` and the Ray processes it started (its own process group) — never
    `ray stop`, which would end every Ray on the machine."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import ray

    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "EDGE_INCEPTION_QUIET": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=100000000",
              "--disable-usage-stats"]
    # Ray's socket paths live under --temp-dir and must fit AF_UNIX's 107 bytes; pytest-xdist's tmp paths
    # do not, so a short folder of our own, removed at the end.
    temp = Path(tempfile.mkdtemp(prefix="ei-ray-", dir="/tmp"))
    logs = [open(temp / f"{n}.log", "w") for n in ("head", "node2")]  # noqa: SIM115 - closed below
    procs = [subprocess.Popen([*_ray_cli(), "start", "--head", f"--port={port}", "--include-dashboard=false",
                               f"--temp-dir={temp}", *common], env=env, stdout=logs[0], stderr=subprocess.STDOUT,
                              start_new_session=True)]
    try:
        time.sleep(3)
        procs.append(subprocess.Popen([*_ray_cli(), "start", f"--address={address}", *common], env=env,
                                      stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True))
        os.environ["RAY_AUTH_MODE"] = "disabled"
        deadline = time.time() + 90
        while True:
            try:
                ray.init(address=address, log_to_driver=False)
                break
            except ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.time() < deadline, (temp / "node2.log").read_text()[-2000:]
            time.sleep(0.5)
        ray.shutdown()  # the sweep connects by --address itself
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for p in reversed(procs):
            _stop(p)
        for f in logs:
            f.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def on_cluster(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-cluster")
    (root / "sweep.toml").write_text(SWEEP)
    (root / "shared.toml").write_text(SWEEP.replace('"object_store"', '"shared"'))  # the same cells and keys
    from edge_inception.cli import main

    code = main(["sweep", str(root / "sweep.toml"), "--out", str(root / "out"), "--address", cluster])
    shared = main(["sweep", str(root / "shared.toml"), "--out", str(root / "out"), "--address", cluster, "--force",
                   "--rerun", "*/onnx-fp32/*"])
    return code, root, shared


def _rows(path) -> dict:
    from edge_inception.report.schema import read_report

    report, _ = read_report(path)
    return {r["cell"]["id"]: r for r in report["targets"]}


def test_cells_ran_on_both_nodes(on_cluster):
    code, root, _ = on_cluster
    assert code == 0
    rows = list(_rows(root / "out" / "report.json").values())
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert len({r["cell"]["node"] for r in rows}) == 2  # one cell per node: each node has one CPU
    for r in rows:
        assert Path(r["artifact"]).is_file() and r["accuracy"]["n"] == 50


def test_a_rerun_cell_is_recomputed_and_the_other_kept(on_cluster):
    code, root, shared = on_cluster
    assert shared == 0
    rows = _rows(root / "out" / "report.json")  # the second sweep's report
    again, kept = rows["inception-mini/onnx-fp32/-/float"], rows["inception-mini/tflite-fp32/-/float"]
    assert again["cell"]["transfer"] == "shared" and not again["cell"]["cached"] and kept["cell"]["cached"]
    assert again["cell"]["node"] and Path(again["artifact"]).is_file()
    staging = root / "out" / "cache" / ".staging"
    assert not [p for p in staging.iterdir() if p.is_dir()]  # no chunks or attempts left behind


def test_without_ray_reuses_the_cache_and_says_how_to_parallelize(on_cluster, monkeypatch, run_cli):
    """Without Ray the cached cells need nothing to run (cells computed in this process, one after
    another, are tests/test_sweep_devices.py's: it runs its sweeps serially)."""
    code, root, _ = on_cluster
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    code, out, err = run_cli("sweep", str(root / "sweep.toml"), "--out", str(root / "out"), "--force", "--json")
    assert code == 0, err
    assert "2 cached, 0 to run (serial" in err and "pip install" in err
    assert out.lstrip().startswith("{"), out[:500]
    report = json.loads(out)
    assert report["sweep"]["backend"] == "serial" and report["sweep"]["computed"] == 0
    assert all(r["cell"]["cached"] and r["status"] == "ok" for r in report["targets"])
