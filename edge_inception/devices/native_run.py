"""Running the native tools on a connected device (parsers in devices/native.py).

    parts = bench_with_benchmark_model(conn, section, arts, reference, uploads, threads=4, runs=50, warmup=5)
    row["native"] = native_check(conn, art, name, shape=[1, 28, 28, 1], threads=2, runs=200, runner_p50_ms=0.4)

On adb devices benchmark_model *is* the measurement: mean/std/min/max per artifact, and with a
reference the ratio of the two means from separate runs (it does not interleave, so there is no
interval). Elsewhere `--native` runs the engine's own tool beside the runner as a cross-check:
OpenVINO's benchmark_app for an IR, the declared benchmark_model for a .tflite.
"""

from __future__ import annotations

import shlex

from edge_inception._core.errors import InputError, UsageError
from edge_inception.devices.native import (
    benchmark_app_argv,
    benchmark_model_argv,
    parse_benchmark_app,
    parse_benchmark_model,
)

BINARY = "bin/benchmark_model"


def _run_benchmark_model(conn, graph: str, *, threads: int, runs: int, warmup: int, label: str) -> dict:
    t = conn.transport
    argv = t.pinned(benchmark_model_argv(f"./{BINARY}", graph, threads=threads, runs=runs, warmup=warmup,
                                         delegate=conn.device.delegate))
    res = t.run(argv, cwd=conn.work, kill_remote=True, what=f"benchmark_model on {label}", check=False)
    if res.rc != 0:
        raise t.failure(res.rc, res.stderr or res.stdout, f"benchmark_model on {label}")
    parsed = parse_benchmark_model(res.stdout + "\n" + res.stderr, source=f"device {conn.device.name}: "
                                   f"benchmark_model on {label}")
    parsed["command"] = shlex.join(argv)
    return parsed


def _prepare_binary(conn) -> None:
    if not conn.device.benchmark_model:
        raise UsageError(f"device {conn.device.name} has no benchmark_model to run",
                         fix=f"set benchmark_model = \"path/to/benchmark_model\" in [devices.{conn.device.name}] "
                         "(LiteRT's prebuilt binary for the device's CPU)")
    conn.transport.run(["chmod", "755", conn.remote(BINARY)], timeout=60, what="chmod benchmark_model")


def bench_with_benchmark_model(conn, section, arts, reference, uploads, *, threads: int, runs: int | None,
                               warmup: int) -> list[dict]:
    from edge_inception.devices.measure import measured_on

    for a in [*arts, *([reference] if reference is not None else [])]:
        if a.runtime != "litert":
            raise UsageError(f"{a.label}: an {conn.transport.name} device runs .tflite artifacts through "
                             "benchmark_model only", fix="convert to a tflite target for the phone")
    _prepare_binary(conn)
    n = runs or 50

    def one(art) -> dict:
        graph = next(iter(uploads[str(art.path)]))
        return _run_benchmark_model(conn, graph, threads=threads, runs=n, warmup=warmup, label=art.label)

    ref = one(reference) if reference is not None else None
    parts = []
    for a in arts:
        bm = one(a)
        pct = bm["percentiles"] or {}
        lat = {"threads": threads, "source": "benchmark_model", "runs": bm["runs"], "batch": 1,
               "p50_ms": pct.get("median_ms"), "p90_ms": None, "p99_ms": None, "mean_ms": bm["mean_ms"],
               "std_ms": bm["std_ms"], "min_ms": bm["min_ms"], "max_ms": bm["max_ms"],
               "throughput_ips": 1e3 / bm["mean_ms"] if bm["mean_ms"] else None,
               "statistic": "median" if pct.get("median_ms") else "mean",
               "note": f"benchmark_model gives {bm['gives']}; no per-run samples, so no interval",
               "delegate": conn.device.delegate or "benchmark_model's default", "cpu_mask": conn.device.cpu_mask}
        if ref is not None:
            lat.update(reference={k: ref.get(k) for k in ("runs", "mean_ms", "std_ms", "min_ms", "max_ms")}
                       | {"p50_ms": (ref["percentiles"] or {}).get("median_ms")},
                       reference_p50_ms=(ref["percentiles"] or {}).get("median_ms"), reference_mean_ms=ref["mean_ms"],
                       ratio=bm["mean_ms"] / ref["mean_ms"], ratio_ci95=None, reference_input=reference.label,
                       ratio_basis="ratio of the means of two separate benchmark_model runs (not interleaved)")
        parts.append({"status": "ok", "measured_on": measured_on(section), "device_name": section["name"],
                      "engine": {"engine": "benchmark_model", "threads": threads, "command": bm["command"]},
                      "load_ms": bm["init_ms"], "latency": lat, "native": bm,
                      **({"native_reference": ref} if ref is not None else {})})
    return parts


def native_check(conn, art, name: str, *, shape: list[int], threads: int, runs: int, runner_p50_ms: float) -> dict:
    """The engine's own benchmark tool on the same device, threads and artifact, beside the runner's p50."""
    t = conn.transport
    if art.runtime == "openvino":
        folder = conn.remote("native")
        t.run(["mkdir", "-p", folder], timeout=60, what="mkdir")
        argv = t.pinned(benchmark_app_argv(t.python_argv, conn.remote(name), threads=threads, runs=runs, shape=shape,
                                           report_folder=folder))
        what = f"benchmark_app on {art.label}"
        res = t.run(argv, kill_remote=True, what=what, check=False)
        if res.rc != 0:
            raise t.failure(res.rc, res.stderr or res.stdout, what)
        report = t.run(["cat", f"{folder}/benchmark_report.json"], timeout=60, what="reading benchmark_app's report",
                       check=False)
        out = parse_benchmark_app(res.stdout + "\n" + res.stderr, report.stdout if report.rc == 0 else None,
                                  source=f"device {conn.device.name}: {what}")
        statistic = out["median_ms"]
    elif art.runtime == "litert" and conn.device.benchmark_model:
        _prepare_binary(conn)
        out = _run_benchmark_model(conn, name, threads=threads, runs=runs, warmup=5, label=art.label)
        statistic = (out["percentiles"] or {}).get("median_ms") or out["mean_ms"]
        argv = shlex.split(out["command"])
    else:
        why = ("no native benchmark tool ships with the onnxruntime pip package" if art.runtime == "onnxruntime"
               else "declare benchmark_model for the device to cross-check .tflite files")
        return {"skipped": why}
    if statistic is None:
        raise InputError(f"device {conn.device.name}", f"{out['tool']} gave no latency for {art.label}")
    out.update(command=shlex.join(argv), runner_p50_ms=runner_p50_ms, runner_over_native=runner_p50_ms / statistic)
    return out
