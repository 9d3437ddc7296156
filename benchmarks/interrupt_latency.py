"""How long does `edge-inception convert` take to stop after Ctrl-C, phase by phase?

    python benchmarks/interrupt_latency.py                          # inception-mini, 3 tries per phase
    python benchmarks/interrupt_latency.py --model inception-v3 --delay 20 --tries 1

Each try starts a real `edge-inception convert --target tflite-int8` in a subprocess, waits for the
progress line of a phase on its stderr, waits --delay seconds more (so the native converter is busy),
sends SIGINT and times how long the process takes to exit. Prints, per phase, the exit codes, the
median and largest stop time, and whether --out was left as it was (absent), with the CPU's flags.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("tflite-fp32: converting ...", "tflite-int8: converting ...")


def one_try(model: str, phase: str, delay: float) -> tuple[int, float, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-c", "from edge_inception.cli import entry; entry()", "convert", model,
               "--target", "tflite-int8", "--out", str(out), "--latency-runs", "5"]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        for line in proc.stderr:
            if phase in line:
                break
        else:
            raise SystemExit(f"{phase!r} never appeared (exit {proc.wait()})")
        time.sleep(delay)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.stderr.read()
        code = proc.wait()
        return code, time.monotonic() - sent, not out.exists()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="inception-mini")
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--delay", type=float, default=1.0, help="seconds after the phase's line before SIGINT")
    args = ap.parse_args()

    from edge_inception._core.host import host_facts

    facts = host_facts()
    flags = ", ".join(k for k in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if facts["isa"].get(k))
    print(f"CPU: {facts['cpu']} ({facts['cores']} cores; {flags or 'none of avx2/avx512f/avx512_vnni/avx_vnni'})")
    print(f"model {args.model}, SIGINT {args.delay:g} s after the phase's progress line, {args.tries} tries\n")
    for phase in PHASES:
        runs = [one_try(args.model, phase, args.delay) for _ in range(args.tries)]
        codes = sorted({c for c, _, _ in runs})
        stops = [s for _, s, _ in runs]
        clean = all(ok for _, _, ok in runs)
        print(f"{phase:<30} exit {codes}  stop median {statistics.median(stops):.2f} s, max {max(stops):.2f} s"
              f"  --out left as before: {'yes' if clean else 'NO'}")


if __name__ == "__main__":
    main()
