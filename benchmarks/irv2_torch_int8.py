"""PyTorch Inception-ResNet v2 at 299x299 to every int8 target: wall time, peak memory, fidelity to float.

    flock /tmp/bigmem.lock python benchmarks/irv2_torch_int8.py --threads 2
    python benchmarks/irv2_torch_int8.py --targets tflite-int8 --calibration-samples 16

Random weights (nothing is downloaded), so no accuracy is claimed. A freshly initialised network's
BatchNorm statistics (mean 0, variance 1) do not match its activations, which then shrink block after
block below one int8 step; as for the PyTorch Inception v3 (tests/test_full_size.py) the statistics are
first re-estimated on real images (the shipped Fashion-MNIST sample, resized to 299x299 RGB). The model
then goes through the route a user takes (factory + --weights), one `convert` process per target so
each target's peak memory is its own. Fidelity: mean cosine similarity of int8 and float logits on 16
real images, and the share of them whose top-1 agrees (noise with random weights; printed, not judged).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from edge_inception.cli import main; main(sys.argv[1:])"
FACTORY = "edge_inception.models.zoo.inception_resnet_v2:build_torch"
MIN_COSINE = 0.9  # the bar tests/test_full_size.py holds Inception v3 to


def reestimate_bn(path: Path, *, images: int) -> None:
    import numpy as np
    import torch

    from edge_inception.data.readers import open_source
    from edge_inception.models.zoo import get_entry, inception_resnet_v2

    spec = get_entry("inception-resnet-v2", "torch").spec
    model = inception_resnet_v2.build_torch()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
    model.train()
    src = open_source("sample:calibration", spec, labelled=False, limit=images)
    with torch.no_grad():
        for batch, _ in src.batches(8):
            model(torch.from_numpy(np.ascontiguousarray(spec.model_input(batch))))
    torch.save(model.state_dict(), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default="tflite-int8,onnx-int8,openvino-int8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibration-samples", type=int, default=32)
    ap.add_argument("--bn-images", type=int, default=32)
    ap.add_argument("--latency-runs", type=int, default=10)
    a = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "irv2.pt"
        t0 = time.perf_counter()
        reestimate_bn(weights, images=a.bn_images)
        print(f"BatchNorm statistics re-estimated on {a.bn_images} real images in {time.perf_counter() - t0:.0f} s")
        rows = []
        for target in a.targets.split(","):
            out = Path(tmp) / target
            cmd = [sys.executable, "-c", CLI, "convert", FACTORY, "--weights", str(weights),
                   "--input-shape", "3,299,299", "--preprocessing", "inception", "--calibration", "sample",
                   "--calibration-samples", str(a.calibration_samples), "--eval-data", "sample:evaluation",
                   "--eval-limit", "16", "--latency-runs", str(a.latency_runs), "--threads", str(a.threads),
                   "--target", target, "--out", str(out)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # the largest child so far
            if not (out / "report.json").exists():
                print(f"{target}: convert exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            report = json.loads((out / "report.json").read_text())
            (row,) = report["targets"]
            rows.append((target, wall, peak, row, report["host"]))
        print(f"{'target':14} {'status':7} {'wall s':>6} {'peak GiB':>8} {'size MB':>8} {'x smaller':>9} "
              f"{'cosine':>7} {'agree':>6} {'float p50 ms':>12} {'int8 p50 ms':>11}")
        for target, wall, peak, r, _ in rows:
            acc, lat = r.get("accuracy") or {}, r.get("latency") or {}
            print(f"{target:14} {r['status']:7} {wall:6.0f} {peak:8.2f} {r.get('size_bytes', 0) / 1e6:8.1f} "
                  f"{r.get('size_ratio', 0):9.2f} {acc.get('cosine') or 0:7.3f} {acc.get('agreement') or 0:6.2f} "
                  f"{lat.get('reference_p50_ms', 0):12.1f} {lat.get('p50_ms', 0):11.1f}"
                  + ("" if r["status"] == "ok" else f"  {r['message']}"))
        if rows:
            host = rows[0][4]
            print(f"host: {host['cpu']} (VNNI: {host['isa']['vnni']}), {a.threads} threads; "
                  f"peak GiB is the largest convert process so far (RUSAGE_CHILDREN), litert-torch's own included")
        bad = [t for t, _, _, r, _ in rows if r["status"] != "ok" or (r["accuracy"]["cosine"] or 0) < MIN_COSINE]
        sys.exit(1 if bad or len(rows) < len(a.targets.split(",")) else 0)


if __name__ == "__main__":
    main()
