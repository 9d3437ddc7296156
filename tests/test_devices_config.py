"""Devices without SSH: URLs and declared devices (validated like target profiles), the runner's
independence from edge-inception/TF/torch, the conditions rules, and the gate on device figures — the
measurements here come from the local transport, which runs the same runner and statistics."""

import json
import sys

import numpy as np
import pytest

import edge_inception as ei
from edge_inception._core.errors import InputError, UsageError
from edge_inception.devices import Device, declared_devices, resolve_device
from edge_inception.devices.config import parse_url
from edge_inception.devices.facts import refuse_percentiles, throttling
from tests.conftest import float_artifacts


def test_device_urls():
    d = parse_url("ssh://pi@raspberrypi.local")
    assert (d.transport, d.user, d.host, d.port) == ("ssh", "pi", "raspberrypi.local", None)
    d = parse_url("ssh://root@10.0.0.7:2222")
    assert (d.user, d.host, d.port, d.name) == ("root", "10.0.0.7", 2222, "ssh://root@10.0.0.7:2222")
    assert parse_url("ssh://[::1]:22").host == "::1" and parse_url("ssh://lab").user is None
    assert parse_url("adb").serial is None and parse_url("adb:R58M123ABC").serial == "R58M123ABC"
    assert parse_url("local").transport == "local"
    with pytest.raises(UsageError, match="cannot read the device URL"):
        parse_url("ssh://user@host:port")


def test_declared_devices_are_validated_naming_the_file(tmp_path):
    cfg = tmp_path / "edge-inception.toml"
    cfg.write_text('[devices.pi]\ntransport = "ssh"\nhost = "raspberrypi.local"\nuser = "pi"\nthreads = 4\n'
                   'cpu_mask = "0-3"\nssh_config = "ci/ssh_config"\n'
                   '[devices.phone]\ntransport = "adb"\nserial = "R58"\ndelegate = "gpu"\n')
    devs = declared_devices(tmp_path)
    assert devs["pi"].threads == 4 and devs["pi"].ssh_config == str(tmp_path / "ci" / "ssh_config")
    assert devs["phone"].delegate == "gpu" and str(cfg) in devs["phone"].source
    assert resolve_device("pi", cwd=tmp_path, accept_new_host_key=True).accept_new_host_key
    bad = {
        'transport = "ssh"\nhost = "h"\nserial = "x"\n': "unknown key 'serial' for a ssh device",
        'transport = "ssh"\nhost = "h"\nthreads = "4"\n': "'threads' must be an integer",
        'transport = "ssh"\nhost = "h"\ncpu_mask = "big"\n': "is not a CPU list",
        'transport = "telnet"\nhost = "h"\n': "unknown transport 'telnet'",
        'transport = "ssh"\nuser = "pi"\n': "needs a host",
        'transport = "adb"\ndelegate = "npu"\n': "delegate 'npu' is not one of",
        'host = "h"\n': "has no 'transport'",
    }
    for body, message in bad.items():
        cfg.write_text("[devices.x]\n" + body)
        with pytest.raises(InputError, match=message) as e:
            declared_devices(tmp_path)
        assert str(cfg) in e.value.message
    cfg.write_text('[devices.pi]\ntransport = "ssh"\nhost = "h"\n')
    with pytest.raises(UsageError, match="unknown device 'nope' .declared: pi"):
        resolve_device("nope", cwd=tmp_path)


def test_pyproject_layout_and_the_devices_listing(tmp_path, monkeypatch, run_cli):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.edge-inception.devices.lab]\n'
                                             'transport = "ssh"\nhost = "lab.example"\nport = 2222\n')
    monkeypatch.chdir(tmp_path)
    assert [d.name for d in ei.list_devices()] == ["lab"]
    code, out, err = run_cli("devices", "--json")
    assert code == 0 and json.loads(out)[0]["port"] == 2222
    code, out, err = run_cli("devices")
    assert code == 0 and "lab.example:2222" in out


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    return float_artifacts(tmp_path_factory.mktemp("arts"), ("tflite-fp32", "onnx-fp32"))


BLOCKER = """\
import runpy, sys
# The runner must work where none of these exist: importing any of them now fails.
for name in ("edge_inception", "tensorflow", "tf_keras", "keras", "torch", "jax", "nncf"):
    sys.modules[name] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_runner_needs_neither_edge_inception_nor_tensorflow_nor_torch(arts, tmp_path):
    blocker = tmp_path / "blocker.py"
    blocker.write_text(BLOCKER)
    bare = Device(name="bare", transport="local", python=f"{sys.executable} {blocker}", work_dir=str(tmp_path))
    report = ei.benchmark([arts["tflite-fp32"], arts["onnx-fp32"]], device=bare, runs=20)
    assert [r["engine"]["engine"] for r in report["targets"]] == ["ai-edge-litert", "onnxruntime"]
    assert all(r["latency"]["runs"] == 20 for r in report["targets"])
    report = ei.evaluate([arts["tflite-fp32"]], data="sample", limit=64, device=bare)
    assert report["targets"][0]["output_check"]["top1_agreement"] == 1.0
    assert not list(tmp_path.glob("edge-inception.*"))


def test_bench_on_the_local_device_stops_by_the_same_rule(arts):
    report = ei.benchmark([arts["onnx-fp32"]], reference=arts["tflite-fp32"], device="local", precision=0.05,
                          max_time=20)
    lat = report["targets"][0]["latency"]
    assert lat["stop_rule"].startswith("stop when the 95% interval of the median is within ±5.0%")
    assert lat["runs"] % 10 == 0 and (lat["stop_reason"].startswith("median's 95% interval within")
                                      or "limit" in lat["stop_reason"])
    assert report["settings"]["device"] == "local" and report["targets"][0]["size_ratio"] > 0
    with pytest.raises(UsageError, match="must be an artifact file"):
        ei.benchmark([arts["onnx-fp32"]], reference="inception-mini", device="local")


def test_throttling_and_percentile_rules():
    rng = np.random.default_rng(0)
    flat = 10 + rng.normal(0, 0.2, 300)
    assert throttling(flat)["throttled"] is False
    hot = np.concatenate([10 + rng.normal(0, 0.2, 200), 12 + rng.normal(0, 0.2, 100)])  # +20% in the last third
    t = throttling(hot)
    assert t["throttled"] is True and t["change"] == pytest.approx(0.2, abs=0.03)
    noisy = 10 + rng.exponential(3, 300)  # long tail, no trend
    assert throttling(noisy)["throttled"] is False
    assert throttling(flat[:20]) == {"checked": False, "throttled": None, "why": "needs 30 runs, had 20"}
    lat = refuse_percentiles({"runs": 99, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0})
    assert lat["p50_ms"] == 1.0 and lat["p90_ms"] is None and lat["p99_ms"] is None
    assert set(lat["percentiles_refused"]) == {"p90_ms", "p99_ms"}
    lat = refuse_percentiles({"runs": 100, "p90_ms": 2.0, "p99_ms": 3.0})
    assert lat["p90_ms"] == 2.0 and lat["p99_ms"] is None


def test_the_gate_holds_device_figures(arts, tmp_path):
    report = ei.benchmark([arts["onnx-fp32"]], reference=arts["tflite-fp32"], device="local", runs=30)
    cfg = {"max_latency_ratio": 1000, "devices": {"local": {"max_latency_ms": 1000, "max_latency_ratio": 1000}}}
    result = ei.gate(report, config=cfg)
    on_device = {c["check"]: c for c in result["checks"] if c["against"] == "device local"}
    assert result["exit_code"] == 0 and set(on_device) == {"latency_ms", "latency"}
    assert on_device["latency_ms"]["value"] == report["targets"][0]["latency"]["p50_ms"]
    cfg["devices"]["local"]["targets"] = {report["targets"][0]["target"]: {"max_latency_ms": 1e-6}}
    result = ei.gate(report, config=cfg)
    failed = [c for c in result["checks"] if c["verdict"] == "fail"]
    assert result["exit_code"] == 1 and failed[0]["check"] == "latency_ms"
    assert "above the allowed" in failed[0]["message"]
    # A device that was lost during the run, or one the config names that never measured: exit 2.
    lost = json.loads(json.dumps(report))
    lost.pop("device")
    lost["targets"][0]["devices"] = {"pi": {"status": "unreachable", "message": "device pi: cannot be reached"}}
    with pytest.raises(InputError, match="could not be reached during the run") as e:
        ei.gate(lost, config={"devices": {"pi": {"max_latency_ms": 10}}})
    assert e.value.exit_code == 2
    with pytest.raises(InputError, match="no figures measured there"):
        ei.gate(report, config={"devices": {"pi": {"max_latency_ms": 10}}})
    with pytest.raises(InputError, match=r"unknown key \[gate.devices.pi\] 'max_p99'"):
        ei.gate(report, config={"devices": {"pi": {"max_p99": 10}}})


def test_an_artifact_the_device_runtime_refuses(tmp_path):
    from edge_inception.devices.connection import Connection

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07" + bytes(range(256)) * 4)  # not a protobuf ONNX Runtime can parse
    dev = Device(name="bench-box", transport="local", work_dir=str(tmp_path))
    with Connection(dev, {"a0/broken.onnx": bad}) as conn, \
            pytest.raises(InputError, match="device bench-box: broken.onnx: the device's runtime cannot load it"):
        conn.load("a0/broken.onnx", runtime="onnxruntime", threads=1, what="broken.onnx")
    assert not list(tmp_path.glob("edge-inception.*"))
