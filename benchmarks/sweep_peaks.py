"""Print each cell's wall time and peak RSS from a sweep's report.json, with the host's CPU and flags.

    flock /tmp/bigmem.lock edge-inception sweep benchmarks/sweep_full_size.toml --out v3-sweep
    python benchmarks/sweep_peaks.py v3-sweep/report.json

A cell's peak RSS is its Ray worker's ru_maxrss (with cells_per_worker = 1, that cell's alone: the
worker exits after it) and the largest subprocess it waited for (OpenVINO's and litert-torch's helpers).
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    with open(sys.argv[1]) as f:
        report = json.load(f)
    host = report["host"]
    flags = ", ".join(f"{k} {'yes' if host['isa'].get(k) else 'no'}" for k in ("avx2", "avx512f", "avx512_vnni",
                                                                              "avx_vnni"))
    print(f"host: {host['cpu']}, {host['cores']} cores ({flags}); sweep wall {report['sweep']['wall_s']:.0f} s")
    print(f"{'cell':42} {'status':7} {'wall s':>7} {'peak GiB':>9} {'subproc GiB':>11} {'size x':>7} {'ratio':>6}")
    for r in report["targets"]:
        c, peak = r["cell"], r["cell"].get("peak_rss_mb") or {}
        lat = r.get("latency") or {}
        print(f"{c['id']:42} {r['status']:7} {c.get('wall_s') or 0:7.0f} {peak.get('process', 0) / 1024:9.2f} "
              f"{peak.get('largest_subprocess', 0) / 1024:11.2f} {r.get('size_ratio') or 0:7.2f} "
              f"{lat.get('ratio') or 0:6.2f}")


if __name__ == "__main__":
    main()
