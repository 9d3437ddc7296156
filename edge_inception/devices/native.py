"""Native benchmark tools: LiteRT's `benchmark_model` (Android, over adb) and OpenVINO's `benchmark_app`
(a cross-check of the runner, `--native`), run on the device and parsed here.

    parse_benchmark_model(text)   # {"mean_ms", "std_ms", "min_ms", "max_ms", "runs", "init_ms", ...}
    parse_benchmark_app(text, report_json=None)   # {"median_ms", "mean_ms", "min_ms", "max_ms", "throughput_fps", ...}
    benchmark_model_argv(...), benchmark_app_argv(...)   # the command lines, built in one place

benchmark_model prints mean, std, min and max of its runs — **not percentiles** (some newer builds add
p5/median/p95 to their `count=` lines; those are kept when present). Its two summary spellings:
    Inference timings in us: Init: 3501, First inference: 156677, Warmup (avg): 43268.1, Inference (avg): 33071.8
    Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9     (older; "no stats:" older still)
and the statistics lines `count=50 first=33228 curr=33130 min=32687 max=33239 avg=33071.8 std=129`
(warm-up first, then the timed runs; `count=1 curr=751932` for a single run). Times are microseconds.

benchmark_app prints `Median:`/`Average:`/`Min:`/`Max:` under `Latency:` and `Throughput: N FPS`, in
ms or, below 1 ms on the Python build, in us; the C++ build indents with a tab, the Python one with
spaces; 2021-era builds printed a single `Latency: N ms`. Its `-json_stats` report (only with
`-report_type`) holds `execution_results`: C++ `latency_median`/`latency_avg`/... as numbers, Python
`"latency (ms)"`/`"avg latency"`/... as strings rounded to 0.01 ms — so the console figures win.
"""

from __future__ import annotations

import json
import re

from edge_inception._core.errors import InputError

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NEW_SUMMARY = re.compile(rf"Inference timings in us: Init: ({_NUM}), First inference: ({_NUM}), "
                          rf"Warmup \(avg\): ({_NUM}), Inference \(avg\): ({_NUM})")
_OLD_SUMMARY = re.compile(rf"Average inference timings in us: Warmup: ({_NUM}), Init: ({_NUM}), "
                          rf"(?:Inference|no stats): ({_NUM})")
_STAT_KEYS = ("count", "first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")
_STAT = re.compile(rf"\b(count|first|curr|min|max|avg|std|p5|median|p95)=({_NUM})")


def _stat_line(line: str) -> dict | None:
    if "curr=" not in line or "count=" not in line or "Timings (microseconds)" in line:
        return None  # op-profiling totals ("Timings (microseconds): count=...") are not the run statistics
    values = {k: float(v) for k, v in _STAT.findall(line)}
    if "count" not in values:
        return None
    n = int(values["count"])
    # A single run prints only curr=: it is every statistic at once.
    one = values.get("curr")
    ms = {k: values.get(k, one if n == 1 else None) for k in ("first", "min", "max", "avg")}
    out = {"runs": n, "first_ms": _ms(ms["first"]), "mean_ms": _ms(ms["avg"]), "min_ms": _ms(ms["min"]),
           "max_ms": _ms(ms["max"]), "std_ms": _ms(values.get("std", 0.0 if n == 1 else None))}
    for k in ("p5", "median", "p95"):
        if k in values:
            out[f"{k}_ms"] = values[k] / 1e3
    return out


def _ms(us):
    return None if us is None else us / 1e3


def parse_benchmark_model(text: str, *, source: str = "benchmark_model") -> dict:
    """benchmark_model's output -> figures in ms. InputError when it printed no timings (it failed)."""
    stats = [s for s in (_stat_line(ln) for ln in text.splitlines()) if s]
    out: dict = {"tool": "benchmark_model", "percentiles": None, "gives": "mean, std, min and max (no percentiles)"}
    m = _NEW_SUMMARY.search(text)
    if m:
        init, first, warm, inf = (float(v) for v in m.groups())
        out.update(summary_format="Inference timings in us: Init, First inference, Warmup (avg), Inference (avg)",
                   init_ms=init / 1e3, first_inference_ms=first / 1e3, warmup_mean_ms=warm / 1e3,
                   inference_mean_ms=inf / 1e3)
    else:
        m = _OLD_SUMMARY.search(text)
        if not m:
            lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
            errors = [ln for ln in lines if "ERROR" in ln] or [ln for ln in lines if "failed" in ln.lower()]
            tail = (errors or lines[-1:] or ["no output"])[-1]
            raise InputError(source, f"printed no inference timings ({tail[:200]})",
                             fix="run it by hand with the same flags to see why (a delegate it lacks? a model "
                             "its version cannot read?)")
        warm, init, inf = (float(v) for v in m.groups())
        out.update(summary_format="Average inference timings in us: Warmup, Init, Inference (older)",
                   init_ms=init / 1e3, first_inference_ms=None, warmup_mean_ms=warm / 1e3,
                   inference_mean_ms=inf / 1e3)
    timed = stats[-1] if stats else None
    out["warmup"] = stats[0] if len(stats) >= 2 else None
    out["timed"] = timed
    out["runs"] = timed["runs"] if timed else None
    # The timed runs' own statistics when printed; else the summary's average (the same number).
    out["mean_ms"] = timed["mean_ms"] if timed and timed["mean_ms"] is not None else out["inference_mean_ms"]
    for k in ("std_ms", "min_ms", "max_ms"):
        out[k] = timed.get(k) if timed else None
    if timed and "median_ms" in timed:
        out["percentiles"] = {k: timed[k] for k in ("p5_ms", "median_ms", "p95_ms") if k in timed}
        out["gives"] = "mean, std, min, max, and p5/median/p95 (this build prints them)"
    return out


_APP_LINE = re.compile(rf"^\s*(?:\[\s*\w+\s*\])?\s*(Count|Duration|Latency|Median|Average|Min|Max|Throughput|"
                       rf"(\d+) percentile)\s*:\s*({_NUM})?\s*(ms|us|FPS|iterations)?", re.IGNORECASE)


def parse_benchmark_app(text: str, report_json: str | dict | None = None, *, source: str = "benchmark_app") -> dict:
    """benchmark_app's console output (and its -json_stats report when given) -> figures in ms."""
    out: dict = {"tool": "benchmark_app", "median_ms": None, "mean_ms": None, "min_ms": None, "max_ms": None,
                 "throughput_fps": None, "runs": None, "duration_ms": None, "percentile": 50}
    keys = {"median": "median_ms", "average": "mean_ms", "min": "min_ms", "max": "max_ms"}
    in_groups = False
    for line in text.splitlines():
        if "latency for each data shape group" in line.lower():
            in_groups = True  # per-shape blocks repeat Median..Max: the overall figures came first
        m = _APP_LINE.match(line)
        if not m or m.group(3) is None:
            continue
        name, pct, value, unit = m.group(1).lower(), m.group(2), float(m.group(3)), (m.group(4) or "").lower()
        ms = value / 1e3 if unit == "us" else value
        if name == "count":
            out["runs"] = int(value)
        elif name == "duration":
            out["duration_ms"] = ms
        elif name == "throughput":
            out["throughput_fps"] = value
        elif in_groups:
            continue
        elif name == "latency":  # 2021-era single line: the median
            out["median_ms"] = ms
        elif pct:
            out["median_ms"], out["percentile"] = ms, int(pct)
        elif name in keys and out[keys[name]] is None:
            out[keys[name]] = ms
    if report_json is not None:
        out["report"] = _app_json(report_json, source)
        for k, v in out["report"].items():
            if out.get(k) is None:
                out[k] = v
    if out["median_ms"] is None:
        errors = [ln.strip() for ln in text.splitlines() if "ERROR" in ln or "Exception" in ln]
        tail = (errors or [ln.strip() for ln in text.strip().splitlines()[-1:]] or ["no output"])[-1]
        raise InputError(source, f"printed no latency ({tail[:200]})", fix="run it by hand with the same flags")
    return out


def _app_json(report, source: str) -> dict:
    if isinstance(report, str):
        try:
            report = json.loads(report)
        except json.JSONDecodeError as e:
            raise InputError(source, f"wrote a JSON report that is not JSON ({e})") from None
    res = report.get("execution_results") or {}
    spellings = {  # ours: (C++ json names, Python labels)
        "median_ms": ("latency_median", "latency (ms)"), "mean_ms": ("latency_avg", "avg latency"),
        "min_ms": ("latency_min", "min latency"), "max_ms": ("latency_max", "max latency"),
        "throughput_fps": ("throughput", "throughput"),
        "runs": ("iterations_num", "total number of iterations"),
        "duration_ms": ("execution_time", "total execution time (ms)")}
    out = {}
    for ours, names in spellings.items():
        for name in names:
            if name in res:
                try:
                    out[ours] = float(res[name])
                except (TypeError, ValueError):
                    continue
                break
    if "runs" in out:
        out["runs"] = int(out["runs"])
    return out


def benchmark_model_argv(binary: str, graph: str, *, threads: int, runs: int, warmup: int,
                         delegate: str | None) -> list[str]:
    """LiteRT benchmark_model's flags. --num_runs is a minimum (--min_secs may add runs), so runs are
    what it reports, not what was asked."""
    argv = [binary, f"--graph={graph}", f"--num_threads={threads}", f"--num_runs={runs}",
            f"--warmup_runs={warmup}", "--min_secs=0"]
    flag = {"xnnpack": "--use_xnnpack=true", "gpu": "--use_gpu=true", "nnapi": "--use_nnapi=true",
            "none": "--use_xnnpack=false"}.get(delegate or "")
    return [*argv, flag] if flag else argv


def benchmark_app_argv(python: list[str], model: str, *, threads: int, runs: int, shape: list[int],
                       report_folder: str) -> list[str]:
    """OpenVINO benchmark_app from the device's own openvino (its console script may not be on PATH),
    set up like the runner's session: sync API, one stream, ``threads`` threads, f32 precision. Its UI
    takes -nstreams/-nthreads only with -hint none."""
    return [*python, "-c", "from openvino.tools.benchmark.main import main; main()",
            "-m", model, "-d", "CPU", "-api", "sync", "-hint", "none", "-nstreams", "1", "-nthreads", str(threads),
            "-infer_precision", "f32", "-shape", "[" + ",".join(str(d) for d in shape) + "]", "-niter", str(runs),
            "-report_type", "no_counters", "-json_stats", "-report_folder", report_folder]
