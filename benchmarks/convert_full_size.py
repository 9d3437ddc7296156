"""Convert a full-size zoo model to several targets and print wall time, peak memory and latency ratios.

    flock /tmp/bigmem.lock python benchmarks/convert_full_size.py inception-v3 --framework keras \\
        --targets tflite-int8,onnx-int8,openvino-int8 --threads 2 [--workers never] [--jobs 2]

Peak memory is printed three ways: the largest sum of RSS over this process and all its descendants at
one instant (sampled every 50 ms, benchmarks/_rss.py: what the machine must hold), and the exact
high-water marks (ru_maxrss) of this process and of its largest finished child (a target's worker, or
the litert-torch and OpenVINO helpers). ``--workers`` sets EDGE_INCEPTION_TARGET_WORKERS: ``never``
converts every target in this process (the behaviour before target workers), ``auto`` the default.
``--jobs N`` is convert's: N target workers at once, timed one at a time afterwards.

Zoo Inception v3 ships no trained weights (nothing can be downloaded here), so accuracy is not
measured; calibration uses the shipped real Fashion-MNIST sample resized to 299x299 RGB, and the
latency ratios (int8 vs its float reference on the same runtime, interleaved) are what this prints.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", default="inception-v3", nargs="?")
    ap.add_argument("--framework", default="keras", choices=["keras", "torch"])
    ap.add_argument("--targets", default="tflite-int8,onnx-int8,openvino-int8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibration-samples", type=int, default=100)
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--workers", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _rss import TreeSampler, cpu_line

    os.environ["EDGE_INCEPTION_TARGET_WORKERS"] = a.workers

    from edge_inception.api import convert

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out, TreeSampler() as sampler:
        t0 = time.perf_counter()
        report = convert(a.model, framework=a.framework, targets=a.targets, out=out, threads=a.threads,
                         calibration_samples=a.calibration_samples, latency_runs=a.latency_runs, jobs=a.jobs)
        wall = time.perf_counter() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    # Subprocesses (target workers, the litert-torch converter in its own venv) are not in RUSAGE_SELF.
    child_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print(f"command: {' '.join(sys.argv)}")
    # Other jobs on a shared machine stretch wall time: the CPU time and the load average say how much.
    print(f"CPU time {cpu_s:.0f} s (this process and its children); load average before {load0:.1f}, "
          f"after {os.getloadavg()[0]:.1f}")
    print(f"CPU: {cpu_line()}")
    print(f"{a.model} ({a.framework}) -> {a.targets}, workers {a.workers}, jobs {a.jobs}: {wall:.0f} s wall; "
          "peak RSS: "
          f"process tree {sampler.peak_tree_gib:.2f} GiB (sampled), largest process "
          f"{max(peak_gib, child_gib):.2f} GiB (ru_maxrss: this process {peak_gib:.2f}, largest child "
          f"{child_gib:.2f}); {a.threads} threads")
    print("at the process tree's peak: " + ", ".join(f"{what} (pid {pid}) {gib:.2f} GiB"
                                                     for pid, what, gib in sampler.peak_breakdown))
    print(f"{'target':16} {'status':7} {'size MB':>8} {'x smaller':>9} {'float p50 ms':>12} {'int8 p50 ms':>11} "
          f"{'ratio':>6} {'worker s':>8} {'worker GiB':>10}")
    for r in report["targets"]:
        lat = r.get("latency") or {}
        print(f"{r['target']:16} {r['status']:7} {r.get('size_bytes', 0) / 1e6:8.1f} {r.get('size_ratio', 0):9.2f} "
              f"{lat.get('reference_p50_ms', 0):12.1f} {lat.get('p50_ms', 0):11.1f} {lat.get('ratio', 0):6.2f}"
              + (f" {w['wall_s']:8.0f} {max(w['peak_rss_mb'], w['largest_subprocess_rss_mb']) / 1024:10.2f}"
                 if (w := (r.get("conversion") or {}).get("worker")) else "")
              + (f"  {r['message']}" if r["status"] != "ok" else ""))


if __name__ == "__main__":
    main()
