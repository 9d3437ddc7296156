"""Does `--device` measure what local `bench` measures? And does our runner agree with benchmark_app?

    python benchmarks/device_vs_local.py                      # loopback sshd started here (tests/_sshd.py)
    python benchmarks/device_vs_local.py --device pi          # a declared device, or ssh://user@host
    python benchmarks/device_vs_local.py --blocks 30 --block-runs 100 --app-model googlenet

1) For each runtime (LiteRT, ONNX Runtime, OpenVINO; the same inception-mini artifact for both paths):
   blocks of fixed-count timed runs alternate between the local path (`time_session` over the runtime's
   Session, what `edge-inception bench` runs) and the device path (the on-device runner reached over
   SSH, what `bench --device` runs), the first of each pair swapping every block. Per block pair, the
   ratio device p50 / local p50; printed: the median ratio and its 95% interval (evaluation/stats.py),
   and whether the interval lies within ±5%. On another device the ratio is that device's speed
   relative to this machine, not a check.
2) OpenVINO IR of --app-model (default googlenet, 224x224, big enough that Python's per-call overhead
   is small beside it): rounds alternate the runner's p50 (over the device connection) and
   benchmark_app's median (the openvino package's own, run there by `--native`); printed per round and
   as the median ratio with its interval; agreement means within ±10%.

Every figure is printed with the CPU model and its int8/vector flags and this command line.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/_sshd.py starts the loopback sshd


def cpu_line() -> str:
    from edge_inception._core.host import host_facts

    h = host_facts()
    flags = {k: h["isa"][k] for k in ("avx2", "avx512f", "avx512_vnni", "avx_vnni")}
    return f"{h['cpu']} ({h['cores']} cores; " + ", ".join(f"{k} {'yes' if v else 'no'}"
                                                        for k, v in flags.items()) + ")"


EXPORT = """
import sys
from pathlib import Path
from edge_inception.exporters import export
from edge_inception.formats import artifact_path, embed_spec
from edge_inception.models.loader import load_model
from edge_inception.targets import get_target
model, out, targets = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
lm = load_model(model)
for name in targets:
    t = get_target(name)
    dest = artifact_path(out, f"{lm.spec.name}.{name}", t.format)
    export(lm, dest, target=t)
    embed_spec(dest, t.format, lm.spec)
    print(dest)
"""


def export(model: str, targets, out: Path) -> dict:
    """Export in a child process: this one must not hold TensorFlow (and its thread pools), just as
    `edge-inception bench` on an existing artifact does not."""
    import subprocess

    from edge_inception.artifacts import open_artifact

    res = subprocess.run([sys.executable, "-c", EXPORT, model, str(out), *targets], capture_output=True, text=True,
                         check=True)
    paths = [ln for ln in res.stdout.splitlines() if ln.startswith(str(out))]
    return {name: open_artifact(p) for name, p in zip(targets, paths, strict=True)}


def loopback_device(stack: ExitStack, root: Path):
    from edge_inception.devices import Device
    from tests._sshd import HOST_ALIAS, Sshd

    server = stack.enter_context(Sshd(root / "sshd"))
    return Device(name="loopback-ssh", transport="ssh", host=HOST_ALIAS, ssh_config=str(server.client_config),
                  python=sys.executable)


def ratio_summary(ratios) -> tuple[float, list[float]]:
    from edge_inception.evaluation.stats import median_ci

    return float(np.median(ratios)), median_ci(ratios)


def device_vs_local(device, arts: dict, *, threads: int, blocks: int, block_runs: int) -> list[dict]:
    from edge_inception.devices.connection import Connection, artifact_uploads
    from edge_inception.evaluation.latency import time_session
    from edge_inception.runtimes import get_runtime

    uploads = artifact_uploads([a.path for a in arts.values()])
    files = {k: v for d in uploads.values() for k, v in d.items()}
    images = np.random.default_rng(0).integers(0, 256, (1, *next(iter(arts.values())).spec.input_shape), np.uint8)
    rows = []
    with Connection(device, files) as conn:
        for i, (name, art) in enumerate(arts.items()):
            x = art.spec.model_input(images)
            local = get_runtime(art.runtime).load(art.path, threads=threads)
            sid, _ = conn.load(next(iter(uploads[str(art.path)])), runtime=art.runtime, threads=threads, what=name)
            conn.set_input(f"x{i}", x)
            for _ in range(20):  # warm both
                local.run(x)
            conn.request({"op": "warmup", "runs": [[sid, f"x{i}"]], "n": 20})
            loc_t, dev_t, ratios = [], [], []
            def run_local(local=local, x=x):
                return time_session(local, x, runs=block_runs, warmup=0)["samples_ms"]

            def run_device(sid=sid, xid=f"x{i}"):
                return [s * 1e3 for s in conn.request({"op": "time", "session": sid, "input": xid,
                                                       "n": block_runs})["seconds"]]

            for b in range(blocks):
                first, second = (run_local, run_device) if b % 2 == 0 else (run_device, run_local)
                a = first()
                time.sleep(0.02)  # let the idle side's thread pool stop spinning before the other runs
                c = second()
                time.sleep(0.02)
                lo, de = (a, c) if b % 2 == 0 else (c, a)
                loc_t += lo
                dev_t += de
                ratios.append(float(np.median(de) / np.median(lo)))
            r, ci = ratio_summary(ratios)
            rows.append({"artifact": art.label, "runtime": art.runtime, "local_p50": float(np.median(loc_t)),
                         "device_p50": float(np.median(dev_t)), "ratio": r, "ci": ci,
                         "within_5pct": ci[0] >= 0.95 and ci[1] <= 1.05, "runs": len(loc_t)})
    return rows


def runner_vs_benchmark_app(device, art, *, threads: int, rounds: int, runs: int) -> list[dict]:
    from edge_inception.devices.connection import Connection, artifact_uploads
    from edge_inception.devices.native_run import native_check

    uploads = artifact_uploads([art.path])
    name = next(iter(uploads[str(art.path)]))
    images = np.random.default_rng(0).integers(0, 256, (1, *art.spec.input_shape), np.uint8)
    x = art.spec.model_input(images)
    out = []
    with Connection(device, uploads[str(art.path)]) as conn:
        sid, _ = conn.load(name, runtime=art.runtime, threads=threads, what=art.label)
        conn.set_input("x", x)
        conn.request({"op": "warmup", "runs": [[sid, "x"]], "n": 10})
        for _ in range(rounds):
            t = conn.request({"op": "time", "session": sid, "input": "x", "n": runs})["seconds"]
            p50 = float(np.median(t)) * 1e3
            native = native_check(conn, art, name, shape=list(x.shape), threads=threads, runs=runs,
                                  runner_p50_ms=p50)
            out.append({"runner_p50": p50, "app_median": native["median_ms"], "ratio": native["runner_over_native"],
                        "command": native["command"]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", help="a URL or declared device (default: a loopback sshd started here)")
    ap.add_argument("--model", default="inception-mini")
    ap.add_argument("--app-model", default="googlenet", help="model of the benchmark_app comparison")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--block-runs", type=int, default=50)
    ap.add_argument("--targets", default="tflite-fp32,onnx-fp32,openvino-fp32", help="the artifacts of part 1")
    ap.add_argument("--no-app", action="store_true", help="skip part 2 (benchmark_app)")
    ap.add_argument("--rounds", type=int, default=7, help="benchmark_app rounds")
    ap.add_argument("--app-runs", type=int, default=100)
    args = ap.parse_args()
    import os

    os.environ.setdefault("EDGE_INCEPTION_QUIET", "1")
    from edge_inception.devices import resolve_device

    command = "python benchmarks/device_vs_local.py " + shlex.join(sys.argv[1:])
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        device = resolve_device(args.device) if args.device else loopback_device(stack, tmp)
        print(f"host CPU: {cpu_line()}")
        print(f"device: {device.name}  threads: {args.threads}  command: {command}")
        arts = export(args.model, args.targets.split(","), tmp)
        print(f"\n1) {args.model}: p50 via --device ({device.name}) vs local bench; {args.blocks} alternating block "
              f"pairs of {args.block_runs} runs each")
        print(f"{'artifact':42} {'runtime':12} {'local p50 ms':>12} {'device p50 ms':>13} {'ratio [95% CI]':>22}  ±5%")
        for r in device_vs_local(device, arts, threads=args.threads, blocks=args.blocks, block_runs=args.block_runs):
            ci = f"{r['ratio']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
            print(f"{r['artifact']:42} {r['runtime']:12} {r['local_p50']:12.4f} {r['device_p50']:13.4f} {ci:>22}  "
                  f"{'yes' if r['within_5pct'] else 'NO'}")
        for model in [] if args.no_app else dict.fromkeys([args.app_model, args.model]):
            ir = arts["openvino-fp32"] if model == args.model and "openvino-fp32" in arts else \
                export(model, ["openvino-fp32"], tmp)["openvino-fp32"]
            rounds = runner_vs_benchmark_app(device, ir, threads=args.threads, rounds=args.rounds, runs=args.app_runs)
            r, ci = ratio_summary([x["ratio"] for x in rounds])
            print(f"\n2) {ir.label}: runner p50 vs benchmark_app median on {device.name}, {args.rounds} alternating "
                  f"rounds of {args.app_runs} runs")
            for i, x in enumerate(rounds):
                print(f"   round {i + 1}: runner {x['runner_p50']:.3f} ms, benchmark_app {x['app_median']:.3f} ms, "
                      f"ratio {x['ratio']:.3f}")
            print(f"   median ratio {r:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]: "
                  f"{'within' if 0.9 <= r <= 1.1 else 'NOT within'} ±10%")
            print(f"   benchmark_app command: {rounds[-1]['command']}")


if __name__ == "__main__":
    main()
