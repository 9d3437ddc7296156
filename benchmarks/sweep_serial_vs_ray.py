"""Wall time of one sweep run serially in this process and on a local Ray, each with an empty cache,
and the cells per minute of each; prints the CPU and its int8-relevant flags with the figures.

    python benchmarks/sweep_serial_vs_ray.py                      # the test sweep: inception-mini x 3 x 2
    python benchmarks/sweep_serial_vs_ray.py my-sweep.toml --only ray

The default sweep is the one docs/sweep.md's figures were measured with (tests/test_sweep_ray.py ran
it until 2026-12-02): inception-mini to tflite-int8, onnx-int8 and openvino-int8 with two
calibration recipes, 100 evaluation images, 3 latency runs. Both runs
happen in one invocation so their ratio compares like with like; other load on the machine changes
both (the uptime load average is printed before and after).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

DEFAULT = """
targets = ["tflite-int8", "onnx-int8", "openvino-int8"]
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
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", help="a sweep TOML (default: the test sweep)")
    ap.add_argument("--only", choices=["serial", "ray"], help="run one backend only")
    a = ap.parse_args()
    os.environ.setdefault("EDGE_INCEPTION_QUIET", "1")

    from edge_inception._core.host import host_facts
    from edge_inception.sweep import sweep

    host = host_facts()
    flags = ", ".join(f"{k} {'yes' if host['isa'][k] else 'no'}" for k in ("avx2", "avx512f", "avx512_vnni",
                                                                          "avx_vnni"))
    print(f"host: {host['cpu']}, {host['cores']} cores ({flags}); load average {os.getloadavg()[0]:.1f}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(a.file) if a.file else Path(tmp) / "sweep.toml"
        if not a.file:
            path.write_text(DEFAULT)
        for backend in ("serial", "ray"):
            if a.only and a.only != backend:
                continue
            t0 = time.perf_counter()
            report = sweep(path, out=Path(tmp) / backend, serial=backend == "serial")
            wall = time.perf_counter() - t0
            s = report["sweep"]
            results[backend] = wall
            print(f"{backend:6} {s['computed']} cells computed, {s['failed']} failed: {wall:.1f} s wall "
                  f"(cells {s['wall_s']:.1f} s), {s['computed'] / wall * 60:.2f} cells/min")
    if len(results) == 2:
        print(f"ray / serial wall time: {results['ray'] / results['serial']:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
