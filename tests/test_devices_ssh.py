"""`--device` over a real SSH server: Debian's sshd on 127.0.0.1 (tests/_sshd.py), the "device" being this
machine reached through it, running the on-device runner with this environment's python. Artifacts are
the shipped inception-mini exported by the project's own exporters (TFLite, ONNX, OpenVINO IR, fp32).

End to end: bench of each runtime, eval with the output check, convert --device, the gate on device
figures, host keys (unknown, changed), refused logins, missing python or runtime, a hung runner, and
the remote work folder gone afterwards, also after Ctrl-C.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._sshd import HOST_ALIAS, Sshd, available, leftovers
from tests.conftest import as_from_a_terminal, float_artifacts


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    missing = available()
    assert missing is None, f"these tests need a real sshd: install {missing} (.ci/run does)"
    with Sshd(tmp_path_factory.mktemp("sshd")) as s:
        yield s


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """inception-mini as tflite-fp32, onnx-fp32 and openvino-fp32, with its ModelSpec embedded."""
    return float_artifacts(tmp_path_factory.mktemp("artifacts"), ("tflite-fp32", "onnx-fp32", "openvino-fp32"))


@pytest.fixture
def project(tmp_path, server, monkeypatch):
    """A project folder declaring the loopback device "loop", with a remote work folder we can inspect."""
    remote = tmp_path / "remote"
    remote.mkdir()
    server.declare(tmp_path / "edge-inception.toml", work_dir=str(remote))
    monkeypatch.chdir(tmp_path)
    return tmp_path, remote


def test_bench_each_runtime_over_ssh(project, artifacts, run_cli):
    root, remote = project
    arts = [str(artifacts[n]) for n in ("tflite-fp32", "onnx-fp32", "openvino-fp32")]
    code, out, err = run_cli("bench", *arts, "--device", "loop", "--runs", "40", "--json", "--out", str(root / "b"))
    assert code == 0, err
    report = json.loads(out)
    dev = report["device"]
    assert dev["name"] == "loop" and dev["transport"] == "ssh" and dev["address"] == f"ssh {HOST_ALIAS}"
    assert dev["facts"]["python_executable"] and dev["facts"]["runtimes"]["onnxruntime"]
    engines = {r["runtime"]: r["engine"]["engine"] for r in report["targets"]}
    assert engines == {"litert": "ai-edge-litert", "onnxruntime": "onnxruntime", "openvino": "openvino"}
    for row in report["targets"]:
        lat = row["latency"]
        assert row["measured_on"].startswith("device loop (ssh eitest")
        assert lat["runs"] == 40 and len(lat["samples_ms"]) == 40 and lat["threads"] == 2
        assert 0 < lat["min_ms"] <= lat["p50_ms"] and lat["p50_ci95"][0] <= lat["p50_ms"] <= lat["p50_ci95"][1]
        assert lat["p90_ms"] is None and "100 runs" in lat["percentiles_refused"]["p90_ms"]  # 40 < 100
        cond = lat["conditions"]
        assert cond["before"]["affinity"] and cond["throttling"]["checked"] in (True, False)
        assert row["load_ms"] > 0 and row["size_bytes"] > 100_000
    assert leftovers(remote) == []
    assert (root / "b" / "bench.json").is_file() and (root / "b" / "bench.md").is_file()


def test_bench_interleaved_with_a_reference_over_ssh(project, artifacts, run_cli):
    root, remote = project
    code, out, err = run_cli("bench", str(artifacts["onnx-fp32"]), "--reference", str(artifacts["tflite-fp32"]),
                             "--device", "loop", "--runs", "30", "--json")
    assert code == 0, err
    lat = json.loads(out)["targets"][0]["latency"]
    assert lat["runs"] == 30 and len(lat["reference"]["samples_ms"]) == 30
    lo, hi = lat["ratio_ci95"]
    assert lo <= lat["ratio"] <= hi and lat["reference_input"] == artifacts["tflite-fp32"].name
    # The host computed the ratio from the device's raw pairs: the same numbers, recomputed, agree.
    ratios = [c / r for c, r in zip(lat["candidate"]["samples_ms"], lat["reference"]["samples_ms"], strict=True)]
    assert sorted(ratios)[14] <= lat["ratio"] * 1.01 and lat["ratio"] <= sorted(ratios)[15] * 1.01
    assert leftovers(remote) == []


def test_eval_over_ssh_with_the_output_check(project, artifacts, run_cli):
    root, remote = project
    code, out, err = run_cli("eval", str(artifacts["tflite-fp32"]), str(artifacts["openvino-fp32"]),
                             "--data", "sample", "--limit", "200", "--reference", str(artifacts["onnx-fp32"]),
                             "--device", "loop", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["device"]["name"] == "loop" and report["data"]["evaluation"]["samples"] == 200
    for row in report["targets"]:
        acc, check = row["accuracy"], row["output_check"]
        assert acc["top1"] > 0.85 and acc["agreement"] > 0.98  # trained model, real images, float artifacts
        assert check["n"] == 200 and check["top1_agreement"] == 1.0 and check["max_abs_diff"] < 1e-3
        assert check["host_engine"]["engine"] == row["engine"]["engine"]
    assert leftovers(remote) == []


def test_devices_list_and_check_over_ssh(project, run_cli):
    code, out, err = run_cli("devices")
    assert code == 0 and "loop" in out and "ssh" in out
    code, out, err = run_cli("devices", "check", "loop")
    assert code == 0, err
    assert f"python    {sys.version.split()[0]}" in out and "onnxruntime" in out and "install   nothing missing" in out
    assert leftovers(project[1]) == []


def test_convert_measures_every_target_on_the_device_too_and_the_gate_holds_it(project, run_cli):
    root, remote = project
    code, out, err = run_cli("convert", "--target", "tflite-fp32,onnx-fp32", "--device", "loop", "--latency-runs",
                             "20", "--eval-limit", "100", "--out", str(root / "out"))
    assert code == 0, err
    assert "measured on device loop" in out  # the table of device figures
    report = json.loads((root / "out" / "report.json").read_text())
    assert report["devices"]["loop"]["transport"] == "ssh"
    for row in report["targets"]:
        here, there = row["latency"], row["devices"]["loop"]
        assert here["runs"] == 20 and there["status"] == "ok" and there["latency"]["runs"] == 20
        assert there["measured_on"].startswith("device loop") and "reference_input" not in there["latency"]
        assert row["measured_on"].startswith("this machine")
    assert leftovers(remote) == []
    cfg = root / "gate.toml"
    cfg.write_text("[gate]\nmax_latency_ratio = 1000\nmin_agreement = 0.9\n"
                   "[gate.devices.loop]\nmax_latency_ms = 1000\n")
    code, out, err = run_cli("gate", str(root / "out" / "report.json"), "--config", str(cfg), "--json")
    result = json.loads(out)
    on_device = [c for c in result["checks"] if c["against"] == "device loop"]
    assert code == 0 and len(on_device) == 2 and all(c["verdict"] == "pass" for c in on_device), err
    cfg.write_text("[gate.devices.loop]\nmax_latency_ms = 0.000001\n")
    code, out, err = run_cli("gate", str(root / "out" / "report.json"), "--config", str(cfg), "--json")
    assert code == 1 and any("median latency on loop" in c["message"] for c in json.loads(out)["checks"]
                             if c["verdict"] == "fail")
    cfg.write_text("[gate.devices.pi]\nmax_latency_ms = 10\n")  # never measured there: exit 2, not a pass
    code, out, err = run_cli("gate", str(root / "out" / "report.json"), "--config", str(cfg))
    assert code == 2 and "no figures measured there" in err


def test_convert_refuses_an_unreachable_device_before_any_work(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("convert", "--target", "tflite-fp32", "--device", "ssh://root@127.0.0.1:1",
                             "--out", str(tmp_path / "out"))
    assert code == 2 and "cannot be reached" in err and "Connection refused" in err
    assert not (tmp_path / "out").exists() and len(err.strip().splitlines()) == 1


def _declare(server, root: Path, remote: Path, *, known_hosts: Path | None = None, **extra) -> None:
    cfg = server.write_client_config(root / "ssh_config", known_hosts) if known_hosts else server.client_config
    server.declare(root / "edge-inception.toml", work_dir=str(remote), ssh_config=str(cfg), **extra)


def test_unknown_and_changed_host_keys_are_refused(project, server, run_cli, tmp_path):
    root, remote = project
    from tests._sshd import _keygen

    unknown = tmp_path / "known_empty"
    unknown.write_text("")
    _declare(server, root, remote, known_hosts=unknown)
    code, out, err = run_cli("devices", "check", "loop")
    assert code == 2 and "not in known_hosts" in err and "--accept-new-host-key" in err
    code, out, err = run_cli("devices", "check", "loop", "--accept-new-host-key")  # trust on first use
    assert code == 0, err
    assert f"[127.0.0.1]:{server.port}" in unknown.read_text()

    _keygen(tmp_path / "other_key")
    changed = tmp_path / "known_changed"
    changed.write_text(f"[127.0.0.1]:{server.port} {(tmp_path / 'other_key.pub').read_text()}")
    _declare(server, root, remote, known_hosts=changed)
    for extra in ((), ("--accept-new-host-key",)):  # accept-new never accepts a CHANGED key
        code, out, err = run_cli("devices", "check", "loop", *extra)
        assert code == 2 and "CHANGED" in err and "ssh-keygen" in err and "-R" in err, err
        assert len(err.strip().splitlines()) == 1
    assert leftovers(remote) == []


def test_refused_login_and_missing_python(project, server, run_cli, artifacts, tmp_path):
    root, remote = project
    from tests._sshd import _keygen

    _keygen(tmp_path / "stranger")
    cfg = server.write_client_config(tmp_path / "ssh_stranger", server.known_hosts)
    cfg.write_text(cfg.read_text().replace(str(server.client_key), str(tmp_path / "stranger")))
    server.declare(root / "edge-inception.toml", work_dir=str(remote), ssh_config=str(cfg))
    code, out, err = run_cli("bench", str(artifacts["onnx-fp32"]), "--device", "loop", "--runs", "5")
    assert code == 2 and "login was refused" in err and "ssh-copy-id" in err

    _declare(server, root, remote, python="/nonexistent/python3")
    code, out, err = run_cli("bench", str(artifacts["onnx-fp32"]), "--device", "loop", "--runs", "5")
    assert code == 2 and "no Python at '/nonexistent/python3'" in err and "python =" in err
    assert leftovers(remote) == []


def _numpy_only_venv(tmp_path: Path) -> Path:
    """A real Python environment that has numpy and nothing else (no runtime, no edge-inception)."""
    import numpy

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    pkg = Path(numpy.__file__).parent
    for p in [pkg, *pkg.parent.glob("numpy.libs"), *pkg.parent.glob("numpy-*.dist-info")]:
        (site / p.name).symlink_to(p)
    return venv / "bin" / "python"


def test_a_missing_runtime_names_the_pip_command(project, server, run_cli, artifacts, tmp_path):
    root, remote = project
    python = _numpy_only_venv(tmp_path)
    _declare(server, root, remote, python=str(python))
    code, out, err = run_cli("devices", "check", "loop")
    assert code == 0 and f"install   {python} -m pip install ai-edge-litert onnxruntime openvino" in out, out + err
    code, out, err = run_cli("bench", str(artifacts["onnx-fp32"]), "--device", "loop", "--runs", "5")
    assert code == 2 and "onnxruntime is not installed" in err and f"{python} -m pip install onnxruntime" in err
    assert leftovers(remote) == []


def test_a_hung_runner_times_out_and_is_ended_there(project, server, run_cli, artifacts, tmp_path):
    root, remote = project
    hang = tmp_path / "hang.sh"
    hang.write_text(f'#!/bin/sh\nexec {sys.executable} -c "import time; time.sleep(300)" "$@"\n')
    hang.chmod(0o755)
    _declare(server, root, remote, python=str(hang), run_timeout=3)
    t0 = time.monotonic()
    code, out, err = run_cli("bench", str(artifacts["onnx-fp32"]), "--device", "loop", "--runs", "5")
    assert code == 2 and "gave no answer within 3 s" in err and "run_timeout" in err
    assert time.monotonic() - t0 < 30
    assert leftovers(remote) == []
    alive = subprocess.run(["pgrep", "-f", f"{remote}/edge-inception"], capture_output=True, text=True)
    assert alive.stdout.strip() == "", "the hung runner is still running on the device"


def test_a_hung_command_is_ended_on_the_device(server, tmp_path):
    from edge_inception._core.errors import InputError
    from edge_inception.devices import resolve_device
    from edge_inception.devices.transports import open_transport

    dev = resolve_device({"name": "loop", "transport": "ssh", "host": HOST_ALIAS,
                          "ssh_config": str(server.client_config)})
    t = open_transport(dev)
    assert t.run(["echo", "hello there"], timeout=20).stdout == "hello there\n"
    marker = f"{61 + os.getpid() % 1000 / 1000:.3f}"
    t0 = time.monotonic()
    with pytest.raises(InputError, match="gave no answer within 2 s"):
        t.run(["sleep", marker], timeout=2, kill_remote=True)
    assert time.monotonic() - t0 < 20
    time.sleep(1)
    assert subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 1


def test_ctrl_c_removes_the_remote_work_dir(project, artifacts):
    root, remote = project
    env = {**os.environ, "EDGE_INCEPTION_QUIET": "1"}
    cmd = [sys.executable, "-c", "from edge_inception.cli import entry; entry()", "bench",
           str(artifacts["tflite-fp32"]), "--device", "loop", "--runs", "1000000"]  # minutes: interrupted long before
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=as_from_a_terminal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the runner is there and timing
        work = list(remote.glob("edge-inception.*"))
        if work and (work[0] / "a0").is_dir() and subprocess.run(
                ["pgrep", "-f", f"{work[0]}/runner.py"], capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"the bench never started on the device: {proc.communicate()[1].decode()}")
    time.sleep(2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert leftovers(remote) == []
    assert subprocess.run(["pgrep", "-f", f"{remote}/edge-inception"], capture_output=True).returncode == 1


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 kB tmpfs: a real full disk for the remote work folder."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root with CAP_SYS_ADMIN here ({res.stderr.strip()})")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_remote_disk_is_one_line_and_leaves_nothing(project, server, run_cli, artifacts, tiny_disk):
    root, _ = project
    _declare(server, root, tiny_disk)
    code, out, err = run_cli("bench", str(artifacts["onnx-fp32"]), "--device", "loop", "--runs", "5")
    assert code == 2 and "its disk is full under" in err and "work_dir" in err, err
    assert len(err.strip().splitlines()) == 1 and leftovers(tiny_disk) == []
