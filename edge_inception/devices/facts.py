"""What a device is and under which conditions it measured: facts, install hints, throttling, percentiles.

    summary = describe(conn.facts, python="python3")   # os, cpu, cores, isa, python, runtimes, install command
    android = android_facts(transport)                  # the same keys from getprop and /proc/cpuinfo (adb)
    throttling(samples_ms)                              # {"throttled": bool, ...}: last third slower than the first?
    refuse_percentiles(latency)                         # p90/p99 set to None below their sample size

Rules, stated once here and in docs/devices.md:
- Throttling: the run is split in thirds; it is flagged when the last third's median is at least 5%
  above the first third's AND their 95% intervals (order statistics, evaluation/stats.py) do not
  overlap — slower beyond the noise, not one slow spell. Needs 30 runs.
- Percentiles: the p-th percentile is reported only when at least 10 samples lie above it,
  n >= 10 / (1 - p): p90 from 100 runs, p99 from 1,000 (MLPerf LoadGen likewise refuses tail
  percentiles of too few queries). Below that the figure is None and the reason is recorded.
"""

from __future__ import annotations

import numpy as np

from edge_inception._core.host import describe_cpu
from edge_inception.evaluation.stats import median_ci

# Runtimes a device can have for the runner, as pip names, and the engine each serves.
RUNTIMES = {"ai-edge-litert": "litert", "onnxruntime": "onnxruntime", "openvino": "openvino"}
ARM_FEATURES = {"dotprod": ("asimddp",), "i8mm": ("i8mm",), "fp16": ("fphp", "asimdhp"), "sve": ("sve",),
                "bf16": ("bf16",)}
PERCENTILE_MIN_RUNS = {"p90_ms": 100, "p99_ms": 1000}  # n >= 10 / (1 - p)
THROTTLE_MIN_RUNS = 30
THROTTLE_MIN_SLOWDOWN = 0.05


def isa(flags, machine: str = "") -> dict:
    """The host's ISA summary (x86 VNNI/AVX-512/AMX, ARM NEON/dotprod) plus ARM's i8mm, fp16, sve, bf16."""
    flags = set(flags or ())
    out = describe_cpu("", machine, flags)["isa"]
    out.update({name: any(f in flags for f in names) for name, names in ARM_FEATURES.items()})
    return out


def describe(facts: dict, *, python: str) -> dict:
    """The runner's hello, summarized: which runtimes are there, and the pip command for the missing ones."""
    pkgs = facts.get("packages") or {}
    runtimes = {name: pkgs.get(name) for name in RUNTIMES}
    if not runtimes["ai-edge-litert"] and pkgs.get("tflite-runtime"):
        runtimes["tflite-runtime"] = pkgs["tflite-runtime"]  # LiteRT's older name serves .tflite too
    has_litert = bool(runtimes.get("ai-edge-litert") or runtimes.get("tflite-runtime"))
    missing = [n for n in RUNTIMES if not runtimes.get(n) and not (n == "ai-edge-litert" and has_litert)]
    if not pkgs.get("numpy"):
        missing.insert(0, "numpy")
    return {
        "os": facts.get("os"), "machine": facts.get("machine"), "cpu": facts.get("cpu"),
        "cpu_parts": facts.get("cpu_parts") or [], "cores": facts.get("cores"), "affinity": facts.get("affinity"),
        "isa": isa(facts.get("flags"), facts.get("machine", "")), "python": facts.get("python"),
        "python_executable": facts.get("python_executable"), "numpy": pkgs.get("numpy"), "runtimes": runtimes,
        "missing": missing, "install": f"{python} -m pip install {' '.join(missing)}" if missing else None,
        "conditions": facts.get("conditions"),
    }


ANDROID_SCRIPT = ("echo model=$(getprop ro.product.model); echo android=$(getprop ro.build.version.release); "
                  "echo abi=$(getprop ro.product.cpu.abi); echo cores=$(nproc 2>/dev/null); "
                  "echo kernel=$(uname -sr); cat /proc/cpuinfo")


def android_facts(transport) -> dict:
    """An adb device described from getprop and /proc/cpuinfo (phones have no Python for the runner)."""
    out = transport.run(["sh", "-c", ANDROID_SCRIPT], timeout=60, what="reading the phone's properties").stdout
    props, flags, parts, hardware = {}, [], set(), None
    for line in out.splitlines():
        if "=" in line and line.split("=", 1)[0] in ("model", "android", "abi", "cores", "kernel"):
            k, _, v = line.partition("=")
            props[k] = v.strip()
            continue
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key == "Features" and not flags:
            flags = val.split()
        elif key == "CPU part":
            parts.add(val)
        elif key == "Hardware":
            hardware = val
    cores = props.get("cores")
    return {
        "os": f"Android {props.get('android', '?')} ({props.get('kernel', '?')})", "machine": props.get("abi"),
        "cpu": hardware or props.get("model"), "model": props.get("model"), "cpu_parts": sorted(parts),
        "cores": int(cores) if cores and cores.isdigit() else None, "affinity": None, "isa": isa(flags),
        "python": None, "python_executable": None, "numpy": None,
        "runtimes": {"benchmark_model": transport.device.benchmark_model}, "missing": [],
        "install": None if transport.device.benchmark_model else
        "download LiteRT's android_aarch64 benchmark_model and set benchmark_model = \"path\" in the declaration",
        "conditions": None,
    }


def throttling(samples_ms) -> dict:
    """Was the last third of the run slower than the first, beyond the noise? (rule: module docstring)"""
    t = np.asarray(samples_ms, float)
    n = len(t)
    if n < THROTTLE_MIN_RUNS:
        return {"checked": False, "throttled": None, "why": f"needs {THROTTLE_MIN_RUNS} runs, had {n}"}
    third = n // 3
    first, last = t[:third], t[-third:]
    f50, l50 = float(np.median(first)), float(np.median(last))
    fci, lci = median_ci(first), median_ci(last)
    change = l50 / f50 - 1 if f50 > 0 else 0.0
    return {"checked": True, "throttled": bool(change >= THROTTLE_MIN_SLOWDOWN and lci[0] > fci[1]),
            "first_third_p50_ms": f50, "last_third_p50_ms": l50, "change": change,
            "first_third_p50_ci95": fci, "last_third_p50_ci95": lci,
            "rule": f"last third's median >= {THROTTLE_MIN_SLOWDOWN:.0%} above the first third's, 95% intervals apart"}


def refuse_percentiles(stats: dict) -> dict:
    """Set p90/p99 of a latency summary (and of its reference/candidate parts) to None where too few runs
    stand behind them; the reason goes in ``percentiles_refused``."""
    for part in (stats, stats.get("reference"), stats.get("candidate")):
        if not isinstance(part, dict) or "runs" not in part:
            continue
        n = part["runs"]
        refused = {k: f"needs {m} runs (10 above it), had {n}" for k, m in PERCENTILE_MIN_RUNS.items()
                   if k in part and n < m}
        for k in refused:
            part[k] = None
        if refused:
            part["percentiles_refused"] = refused
    return stats


def conditions_summary(before: dict | None, after: dict | None, samples_ms) -> dict:
    """Governor, clock and temperature before and after the timed runs, and the throttling flag."""
    def temp_max(c):
        temps = (c or {}).get("temperature_c")
        return max(temps.values()) if temps else None

    out = {"before": before, "after": after, "throttling": throttling(samples_ms)}
    t0, t1 = temp_max(before), temp_max(after)
    if t0 is not None and t1 is not None:
        out["temperature_rise_c"] = t1 - t0
    exposed = [k for k in ("governor", "freq_mhz", "temperature_c") if (before or {}).get(k)]
    out["exposed"] = exposed
    if not exposed:
        out["note"] = "the device exposes no CPU governor, clock or temperature (a VM or container?)"
    return out
