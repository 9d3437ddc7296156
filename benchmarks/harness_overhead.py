"""How much does edge-inception's timing harness add to a bare interpreter loop?

    python benchmarks/harness_overhead.py                       # Inception v3, TFLite fp32, 2 threads
    python benchmarks/harness_overhead.py --model inception-mini --blocks 20

Both loops drive the SAME LiteRT interpreter on the same input: the bare loop calls set_tensor / invoke /
get_tensor and times each call with perf_counter; the harness is `time_session` over the LiteRT Session
that `edge-inception bench` uses (input checks, dtype handling, bookkeeping). Blocks of runs alternate
(bare, harness, bare, ...) so drift of the machine falls on both. Prints both p50s and the overhead.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="inception-v3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blocks", type=int, default=10, help="alternating blocks per loop")
    ap.add_argument("--block-runs", type=int, default=20)
    args = ap.parse_args()

    from edge_inception.evaluation.latency import time_session
    from edge_inception.exporters import export
    from edge_inception.models.loader import load_model
    from edge_inception.runtimes import get_runtime
    from edge_inception.targets import get_target

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        t0 = time.perf_counter()
        lm = load_model(args.model)
        export(lm, path, target=get_target("tflite-fp32"))
        print(f"{args.model}: exported to TFLite fp32 in {time.perf_counter() - t0:.0f} s")
        session = get_runtime("litert").load(path, threads=args.threads)
        x = lm.spec.model_input(np.random.default_rng(0).integers(0, 256, (1, *lm.spec.input_shape), np.uint8))
        session.run(x)  # allocate for batch 1
        interp = session._interp  # the same interpreter the harness drives
        inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

        def bare(n: int) -> list[float]:
            times = []
            for _ in range(n):
                t = time.perf_counter()
                interp.set_tensor(inp, x)
                interp.invoke()
                interp.get_tensor(out)
                times.append(time.perf_counter() - t)
            return times

        bare(5)
        bare_t: list[float] = []
        harness_t: list[float] = []
        for _ in range(args.blocks):
            bare_t += bare(args.block_runs)
            harness_t += [v / 1e3 for v in time_session(session, x, runs=args.block_runs, warmup=0)["samples_ms"]]
        b, h = np.median(bare_t) * 1e3, np.median(harness_t) * 1e3
        print(f"runs: {len(bare_t)} bare, {len(harness_t)} harness, {args.threads} threads, batch 1")
        print(f"p50 bare loop   {b:9.3f} ms")
        print(f"p50 harness     {h:9.3f} ms")
        print(f"overhead at p50 {100 * (h / b - 1):+8.2f} %")


if __name__ == "__main__":
    main()
