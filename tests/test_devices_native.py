"""Native tools: the benchmark_model and benchmark_app parsers over every output variant, benchmark_app run
for real here, and Android over adb through a stand-in `adb` on PATH (no phone is attached here) that
records its arguments and replays recorded output.

Where each fixture's format comes from (numbers are ours, the layout is theirs):
- BM_CURRENT: LiteRT/TFLite benchmark_model since ~2.3 (tensorflow/lite/tools/benchmark/README.md, the
  Larq Compute Engine benchmark guide): "Running benchmark ..." lines, two count= lines, then
  "Inference timings in us: Init, First inference, Warmup (avg), Inference (avg)".
- BM_INFO: the same from recent LiteRT builds, every line prefixed "INFO: " (DESIGN.md's facts).
- BM_LOGCAT: Android logcat of the benchmark app, count= lines ending in p5=/median=/p95= (seen in
  newer builds' logcat).
- BM_OLDER: benchmark_model 1.x README: op-profiling "Timings (microseconds): count=..." beside the run
  statistics, a one-run warm-up "count=1 curr=...", summary "Average inference timings in us: Warmup,
  Init, Inference".
- BM_OLDEST: 2018 builds: "Average inference timings in us: Warmup: ..., Init: ..., no stats: ...".
- APP_PY: benchmark_app's Python build (openvino/tools/benchmark/main.py, the OpenVINO notebooks).
- APP_PY_US: the same below 1 ms average, printed in us (main.py's format_console_latency).
- APP_CPP: the C++ build (samples/cpp/benchmark_app: LatencyMetrics::write_to_slog indents with a tab).
- APP_2021: 2021-era builds (inference-engine/tools/benchmark_tool/README.md): one "Latency:" line.
- APP_JSON_CPP / APP_JSON_PY: -json_stats reports (StatisticsReportJSON / JsonStatisticsReport).
"""

import json
import os
import sys
from pathlib import Path

import pytest

from edge_inception._core.errors import InputError
from edge_inception.devices.native import parse_benchmark_app, parse_benchmark_model
from tests.conftest import float_artifacts

BM_CURRENT = """\
Loaded model mobilenet.tflite
The input model file size (MB): 3.1
Initialized session in 4.21ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=14 first=151200 curr=35100 min=34020 max=151200 avg=43702.5 std=29101

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=34410 curr=34290 min=33980 max=35120 avg=34301.6 std=171

Inference timings in us: Init: 4210, First inference: 151200, Warmup (avg): 43702.5, Inference (avg): 34301.6
Memory footprint delta from the start of the tool (MB): init=5.1 overall=9.8
"""
BM_INFO = "".join(f"INFO: {ln}\n" for ln in BM_CURRENT.splitlines())
BM_LOGCAT = """\
07-14 13:14:52.190 22838 22838 I tflite  : Initialized session in 91.2ms.
07-14 13:14:52.859 22838 22838 I tflite  : count=3 first=231000 curr=201000 min=199000 max=231000 avg=210333 std=14000 p5=199000 median=201000 p95=231000
07-14 13:14:56.520 22838 22838 I tflite  : count=25 first=186000 curr=141000 min=140100 max=194800 avg=145700 std=13500 p5=140500 median=141300 p95=186000
07-14 13:14:56.521 22838 22838 I tflite  : Inference timings in us: Init: 91200, First inference: 231000, Warmup (avg): 210333, Inference (avg): 145700
"""  # noqa: E501
BM_OLDER = """\
Initialized session in 38.4ms
Running benchmark for at least 1 iterations and at least 0.5 seconds
count=1 curr=83235

Running benchmark for at least 50 iterations and at least 1 seconds
count=50 first=79449 curr=81350 min=77385 max=88213 avg=79760.9 std=1929

============================== Summary by node type ==============================
Timings (microseconds): count=50 first=79000 curr=81000 min=77000 max=88000 avg=79732 std=1900
Memory (bytes): count=0
31 nodes observed

Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9
"""
BM_OLDEST = """\
Running benchmark for 1 iterations
count=1 curr=146161

Running benchmark for 50 iterations
count=50 first=137789 curr=137254 min=137079 max=143416 avg=137722 std=896

Average inference timings in us: Warmup: 146161, Init: 4452, no stats: 137722
"""
BM_FAILED = """\
INFO: Created TensorFlow Lite delegate for GPU.
ERROR: Following operations are not supported by GPU delegate: CUSTOM
ERROR: Failed to apply GPU delegate.
Benchmarking failed.
"""

APP_PY = """\
[Step 11/11] Dumping statistics report
[ INFO ] Execution Devices:['CPU']
[ INFO ] Count:            1668 iterations
[ INFO ] Duration:         10042.46 ms
[ INFO ] Latency:
[ INFO ]    Median:        20.76 ms
[ INFO ]    Average:       23.91 ms
[ INFO ]    Min:           11.55 ms
[ INFO ]    Max:           90.43 ms
[ INFO ] Throughput:   166.09 FPS
"""
APP_PY_US = APP_PY.replace("20.76 ms", "850.20 us").replace("23.91 ms", "901.50 us") \
    .replace("11.55 ms", "610.00 us").replace("90.43 ms", "3450.70 us")
APP_CPP = """\
[ INFO ] Execution Devices: CPU
[ INFO ] Count:               5380 iterations
[ INFO ] Duration:            60036.78 ms
[ INFO ] Latency:
[ INFO ] \tMedian:     22.04 ms
[ INFO ] \tAverage:    22.09 ms
[ INFO ] \tMin:        20.78 ms
[ INFO ] \tMax:        33.51 ms
[ INFO ] Latency for each data shape group:
[ INFO ] 1. data : [1,3,224,224]
[ INFO ] \tMedian:     99.00 ms
[ INFO ] \tAverage:    99.00 ms
[ INFO ] Throughput:          89.61 FPS
"""
APP_2021 = """\
[Step 11/11] Dumping statistics report
Count:      4408 iterations
Duration:   60153.52 ms
Latency:    51.8244 ms
Throughput: 73.28 FPS
"""
APP_JSON_CPP = {"execution_results": {"execution_time": 60036.78, "iterations_num": 5380, "latency_median": 22.04,
                                      "percentile_boundary": 50, "latency_avg": 22.09, "latency_min": 20.78,
                                      "latency_max": 33.51, "throughput": 89.61}}
APP_JSON_PY = {"execution_results": {"total execution time (ms)": "80.78", "total number of iterations": "300",
                                     "latency (ms)": "0.23", "avg latency": "0.26", "min latency": "0.19",
                                     "max latency": "3.45", "throughput": "3713.60"}}


@pytest.mark.parametrize("text", [BM_CURRENT, BM_INFO], ids=["current", "INFO-prefixed"])
def test_benchmark_model_current_format(text):
    r = parse_benchmark_model(text)
    assert r["summary_format"].startswith("Inference timings in us")
    assert r["init_ms"] == pytest.approx(4.21) and r["first_inference_ms"] == pytest.approx(151.2)
    assert r["warmup_mean_ms"] == pytest.approx(43.7025) and r["inference_mean_ms"] == pytest.approx(34.3016)
    assert r["runs"] == 50 and r["mean_ms"] == pytest.approx(34.3016)
    assert (r["std_ms"], r["min_ms"], r["max_ms"]) == pytest.approx((0.171, 33.98, 35.12))
    assert r["warmup"]["runs"] == 14 and r["percentiles"] is None and "no percentiles" in r["gives"]


def test_benchmark_model_logcat_with_percentiles():
    r = parse_benchmark_model(BM_LOGCAT)
    assert r["runs"] == 25 and r["mean_ms"] == pytest.approx(145.7)
    assert r["percentiles"] == pytest.approx({"p5_ms": 140.5, "median_ms": 141.3, "p95_ms": 186.0})


def test_benchmark_model_older_formats():
    r = parse_benchmark_model(BM_OLDER)
    assert r["summary_format"].endswith("(older)") and r["first_inference_ms"] is None
    assert r["init_ms"] == pytest.approx(38.467) and r["warmup_mean_ms"] == pytest.approx(83.235)
    # The run statistics, not the op-profiling totals printed beside them.
    assert r["runs"] == 50 and r["mean_ms"] == pytest.approx(79.7609) and r["max_ms"] == pytest.approx(88.213)
    assert r["warmup"] == {"runs": 1, "first_ms": 83.235, "mean_ms": 83.235, "min_ms": 83.235, "max_ms": 83.235,
                           "std_ms": 0.0}
    r = parse_benchmark_model(BM_OLDEST)
    assert r["inference_mean_ms"] == pytest.approx(137.722) and r["runs"] == 50 and r["std_ms"] == pytest.approx(0.896)


def test_benchmark_model_failure_is_one_clear_line():
    with pytest.raises(InputError, match="printed no inference timings .*Failed to apply GPU delegate"):
        parse_benchmark_model(BM_FAILED, source="device phone: benchmark_model on m.tflite")


def test_benchmark_app_console_variants():
    py = parse_benchmark_app(APP_PY)
    assert (py["median_ms"], py["mean_ms"], py["min_ms"], py["max_ms"]) == (20.76, 23.91, 11.55, 90.43)
    assert py["throughput_fps"] == 166.09 and py["runs"] == 1668 and py["duration_ms"] == 10042.46
    us = parse_benchmark_app(APP_PY_US)
    assert (us["median_ms"], us["mean_ms"], us["min_ms"], us["max_ms"]) == pytest.approx((0.8502, 0.9015, 0.61, 3.4507))
    cpp = parse_benchmark_app(APP_CPP)  # the per-shape group after the overall figures is not taken
    assert (cpp["median_ms"], cpp["mean_ms"], cpp["min_ms"], cpp["max_ms"]) == (22.04, 22.09, 20.78, 33.51)
    assert cpp["throughput_fps"] == 89.61 and cpp["runs"] == 5380
    old = parse_benchmark_app(APP_2021)
    assert old["median_ms"] == 51.8244 and old["throughput_fps"] == 73.28 and old["mean_ms"] is None
    p90 = parse_benchmark_app(APP_PY.replace("Median:", "90 percentile:"))
    assert p90["median_ms"] == 20.76 and p90["percentile"] == 90


def test_benchmark_app_json_reports():
    cpp = parse_benchmark_app("", APP_JSON_CPP)
    assert (cpp["median_ms"], cpp["mean_ms"], cpp["min_ms"], cpp["max_ms"], cpp["runs"]) == \
        (22.04, 22.09, 20.78, 33.51, 5380)
    py = parse_benchmark_app(APP_PY, json.dumps(APP_JSON_PY))  # console figures win; the report is kept
    assert py["median_ms"] == 20.76 and py["report"]["median_ms"] == 0.23 and py["report"]["runs"] == 300
    with pytest.raises(InputError, match="printed no latency"):
        parse_benchmark_app("[ ERROR ] Exception: -nstreams ... set -hint option to none\n")


@pytest.fixture(scope="module")
def ir(tmp_path_factory):
    from edge_inception.exporters import export
    from edge_inception.models.loader import load_model
    from edge_inception.targets import get_target

    dest = tmp_path_factory.mktemp("ir") / "inception-mini.openvino-fp32.xml"
    export(load_model("inception-mini"), dest, target=get_target("openvino-fp32"))
    return dest


def test_benchmark_app_for_real_here(ir):
    """The openvino package's own benchmark_app on this machine, parsed (console and JSON report), through
    `bench --device local --native`."""
    import edge_inception as ei

    report = ei.benchmark([ir], device="local", native=True, runs=50)
    native = report["targets"][0]["native"]
    assert native["tool"] == "benchmark_app" and native["runs"] == 100  # at least 100 runs asked for
    assert 0 < native["min_ms"] <= native["median_ms"] <= native["max_ms"] and native["throughput_fps"] > 0
    assert native["report"]["runs"] == 100 and native["report"]["median_ms"] == pytest.approx(native["median_ms"],
                                                                                               abs=0.01)
    assert "-nthreads 2" in native["command"] and native["runner_over_native"] > 0


# ---- adb, through a stand-in ------------------------------------------------------------------------

STANDIN = r'''#!PYTHON
"""A stand-in `adb`: records its arguments, replays what a phone printed."""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["ADB_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
replay = os.environ["ADB_REPLAY"]
if os.environ.get("ADB_STATE"):                     # adb's own refusal, before any command
    sys.stderr.write(os.environ["ADB_STATE"] + "\n")
    sys.exit(1)
if args[:1] == ["-s"]:
    args = args[2:]
if args[0] == "push":
    print(f"{args[1]}: 1 file pushed, 0 skipped. 12.3 MB/s (670960 bytes in 0.052s)")
elif args[0] == "shell" and "getprop" in args[1]:
    sys.stdout.write(open(os.path.join(replay, "props.txt")).read())
elif args[0] == "shell" and "benchmark_model" in args[1]:
    sys.stdout.write(open(os.path.join(replay, "benchmark_model.txt")).read())
    sys.exit(int(os.environ.get("ADB_BM_RC", "0")))
'''
# What a Pixel-class phone answers to getprop/uname/cpuinfo (the layout of Android 14's /proc/cpuinfo).
PROPS = """\
model=Pixel 8
android=14
abi=arm64-v8a
cores=9
kernel=Linux 5.15.110-android14
processor\t: 0
BogoMIPS\t: 49.15
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp i8mm
CPU implementer\t: 0x41
CPU part\t: 0xd46
processor\t: 8
CPU part\t: 0xd4e
"""


@pytest.fixture
def phone(tmp_path, monkeypatch):
    bin_dir, replay = tmp_path / "bin", tmp_path / "replay"
    bin_dir.mkdir()
    replay.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(STANDIN.replace("PYTHON", sys.executable))
    adb.chmod(0o755)
    (replay / "props.txt").write_text(PROPS)
    (replay / "benchmark_model.txt").write_text(BM_INFO)
    bm = tmp_path / "android_aarch64_benchmark_model"
    bm.write_bytes(b"\x7fELF stand-in")
    log = tmp_path / "adb.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ADB_LOG", str(log))
    monkeypatch.setenv("ADB_REPLAY", str(replay))
    (tmp_path / "edge-inception.toml").write_text(
        '[devices.phone]\ntransport = "adb"\nserial = "R58M123ABC"\n'
        'benchmark_model = "android_aarch64_benchmark_model"\ndelegate = "xnnpack"\nthreads = 4\ncpu_mask = "4-7"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path, lambda: [json.loads(ln) for ln in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def tflite(tmp_path_factory):
    return float_artifacts(tmp_path_factory.mktemp("tfl"), ("tflite-fp32",))["tflite-fp32"]


def test_bench_over_adb_pushes_runs_and_parses_benchmark_model(phone, tflite, run_cli):
    root, calls = phone
    code, out, err = run_cli("bench", str(tflite), "--device", "phone", "--runs", "50", "--json")
    assert code == 0, err
    report = json.loads(out)
    argv = calls()
    assert all(a[:2] == ["-s", "R58M123ABC"] for a in argv)
    shell = [a[3] for a in argv if a[2] == "shell"]
    work = next(s for s in shell if s.startswith("mkdir -p ")).split()[2]
    assert work.startswith("/data/local/tmp/edge-inception.")
    pushes = {a[4]: Path(a[3]).name for a in argv if a[2] == "push"}
    assert pushes == {f"{work}/a0/{tflite.name}": tflite.name,
                      f"{work}/bin/benchmark_model": "android_aarch64_benchmark_model"}
    assert f"chmod 755 {work}/bin/benchmark_model" in shell
    run = next(s for s in shell if "benchmark_model --graph" in s)
    assert run == (f"cd {work} && timeout -k 5 600 taskset f0 ./bin/benchmark_model --graph=a0/{tflite.name} "
                   "--num_threads=4 --num_runs=50 --warmup_runs=5 --min_secs=0 --use_xnnpack=true")
    assert shell[-1] == f"rm -rf {work}"  # nothing is left on the phone
    row, dev = report["targets"][0], report["device"]
    lat = row["latency"]
    assert lat["source"] == "benchmark_model" and lat["runs"] == 50
    assert lat["mean_ms"] == pytest.approx(34.3016) and lat["threads"] == 4
    assert lat["p50_ms"] is None and "no percentiles" in lat["note"]
    facts = dev["facts"]
    assert facts["os"].startswith("Android 14") and facts["isa"]["dotprod"] and facts["isa"]["i8mm"]
    assert facts["cpu_parts"] == ["0xd46", "0xd4e"] and row["measured_on"].startswith("device phone (adb R58M123ABC")


def test_adb_non_executable_binary_unauthorized_phone_and_eval(phone, tflite, run_cli, monkeypatch):
    root, calls = phone
    (root / "replay" / "benchmark_model.txt").write_text("/system/bin/sh: ./bin/benchmark_model: can't execute: "
                                                          "Permission denied\n")
    monkeypatch.setenv("ADB_BM_RC", "126")
    code, out, err = run_cli("bench", str(tflite), "--device", "phone", "--runs", "5")
    assert code == 2 and "device phone" in err and "cannot be executed there" in err and "Permission denied" in err
    assert calls()[-1][2:] == ["shell", calls()[-1][3]] and calls()[-1][3].startswith("rm -rf /data/local/tmp/")
    monkeypatch.setenv("ADB_STATE", "error: device unauthorized.")
    code, out, err = run_cli("bench", str(tflite), "--device", "phone", "--runs", "5")
    assert code == 2 and "Allow USB debugging" in err
    monkeypatch.delenv("ADB_STATE")
    code, out, err = run_cli("eval", str(tflite), "--data", "sample", "--limit", "10", "--device", "phone")
    assert code == 2 and "benchmark_model" in err and "no outputs" in err


def test_convert_on_a_phone_measures_the_tflite_target_and_skips_the_rest(phone, tmp_path):
    import edge_inception as ei

    root, calls = phone
    report = ei.convert(targets="tflite-fp32,onnx-fp32", device="phone", latency_runs=5, eval_limit=50,
                        out=tmp_path / "out")
    rows = {r["target"]: r for r in report["targets"]}
    tfl, onnx = rows["tflite-fp32"]["devices"]["phone"], rows["onnx-fp32"]["devices"]["phone"]
    assert tfl["status"] == "ok" and tfl["latency"]["source"] == "benchmark_model"
    assert tfl["latency"]["mean_ms"] == pytest.approx(34.3016)  # what the phone printed, parsed
    assert onnx["status"] == "skipped" and "benchmark_model only" in onnx["message"]
    pushed = [Path(a[3]).suffix for a in calls() if a[2] == "push"]
    assert ".onnx" not in pushed and ".tflite" in pushed  # the phone gets only what it can run
    assert report["devices"]["phone"]["facts"]["model"] == "Pixel 8"
