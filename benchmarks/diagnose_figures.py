"""The figures docs/diagnose.md quotes: diagnose's rank-1 layer per runtime and the --max-drop fallback on
the PTQ-hurts model (with NNCF's quantize_with_accuracy_control beside it on OpenVINO), diagnose's wall
time on inception-mini, and its peak memory on Inception v3.

    python benchmarks/diagnose_figures.py ptq-hurts            # ~3 min on 2 cores
    python benchmarks/diagnose_figures.py planted-mini         # the 10% bar: inception-mini, one wide branch
    python benchmarks/diagnose_figures.py mini                 # inception-mini, three int8 targets
    python benchmarks/diagnose_figures.py mini --framework torch  # the same from the PyTorch zoo model
    flock /tmp/bigmem.lock python benchmarks/diagnose_figures.py v3 --samples 100

Every figure is printed with the CPU it was measured on.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, for the model builder
TARGETS = "tflite-int8,onnx-int8,openvino-int8"


def cpu() -> str:
    from edge_inception._core.host import host_facts

    facts = host_facts()
    isa = facts.get("isa", {})
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if isa.get(f)]
    name = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")), "unknown CPU")
    return f"{name} ({', '.join(flags) or 'no AVX2'})"


def _quiet():
    import os

    os.environ.setdefault("EDGE_INCEPTION_QUIET", "1")


def ptq_hurts(args) -> None:
    from edge_inception import convert, diagnose
    from edge_inception.data.readers import read_fashion_mnist
    from tests.test_qat import _unbalanced_concat_model

    root = Path(tempfile.mkdtemp(prefix="diagnose-ptq-hurts-"))
    x, y = read_fashion_mnist("train")
    idx = np.random.default_rng(0).choice(len(x), 8000, replace=False)
    np.savez(root / "train.npz", images=x[idx], labels=y[idx])
    xt, yt = read_fashion_mnist("test")
    np.savez(root / "test.npz", images=xt[: args.test], labels=yt[: args.test])
    model = _unbalanced_concat_model(root / "unbalanced.keras", x[idx], y[idx])
    common = dict(targets=TARGETS, calibration=root / "train.npz", calibration_samples=200,
                  eval_data=root / "test.npz", latency_runs=args.latency_runs, threads=2)
    plain = convert(model, out=root / "plain", **common)
    t0 = time.perf_counter()
    d = diagnose([r["artifact"] for r in plain["targets"]], reference=model, data=root / "test.npz", samples=200)
    t_diag = time.perf_counter() - t0
    print(f"CPU: {cpu()}")
    print(f"\ndiagnose (200 images, {t_diag:.1f} s for three artifacts): rank-1 quantized tensor per runtime")
    for rt in d["runtimes"]:
        r = rt["layers"][0]
        print(f"  {rt['runtime']:<12} {r['source_layer']:<10} {r['module'] or '-'}/{r['branch'] or '-'}  "
              f"score {r['score_db']:.2f} dB  ({'; '.join(f['text'] for f in rt['findings'][:1])})")
    t0 = time.perf_counter()
    fb = convert(model, out=root / "fallback", max_drop=0.5, **common)
    t_fb = time.perf_counter() - t0
    print(f"\nconvert --max-drop 0.5 ({t_fb:.0f} s for three targets, including the float references)")
    print(f"{'target':<14} {'float':>6} {'PTQ':>6} {'drop':>6} {'after':>6} {'drop':>6}  kept float (groups: layers)"
          "                    MAC share  size plain->kept   int8/float p50 plain->kept")
    for p, f in zip(plain["targets"], fb["targets"], strict=True):
        pa, fa, plan = p["accuracy"], f["accuracy"], f.get("fallback", {})
        layers = ", ".join(plan.get("kept_layers", []))
        print(f"{p['target']:<14} {pa['float_top1']:6.2%} {pa['top1']:6.2%} {-pa['delta_points']:6.2f} "
              f"{fa['top1']:6.2%} {-fa['delta_points']:6.2f}  {','.join(plan.get('kept_groups', []))}: {layers:<34} "
              f"{plan.get('kept_share_of_quantized_layers', 0):7.0%}  {p['size_bytes']:>7} -> {f['size_bytes']:<7}  "
              f"{p['latency']['ratio']:.2f}x -> {f['latency']['ratio']:.2f}x")
    nncf_accuracy_control(model, root, fb)


def nncf_accuracy_control(model, root: Path, fb: dict) -> None:
    """NNCF's own search on the same model, calibration, evaluation images and budget (0.5 points)."""
    import nncf
    import openvino as ov

    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.exporters.openvino import to_openvino_model
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers.nncf_ptq import _Samples

    lm = load_model(model)
    calib = CalibrationSet(open_source(root / "train.npz", lm.spec, labelled=False, limit=200), lm.spec, batch_size=8)
    test = open_source(root / "test.npz", lm.spec)
    items = [(lm.spec.model_input(im), lab) for im, lab in test.batches(100)]

    def validate(compiled, data):
        hits = [(np.argmax(compiled(x)[0], 1) == y) for x, y in data]
        per = np.concatenate(hits).astype(float)
        return float(per.mean()), list(per)

    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    from edge_inception._core.host import host_facts
    from edge_inception.quantizers.nncf_ptq import choose_overflow_fix

    fix, _ = choose_overflow_fix("auto", host_facts()["isa"])
    overflow = {"enable": OverflowFix.ENABLE, "first_layer": OverflowFix.FIRST_LAYER}[fix]
    t0 = time.perf_counter()
    q = nncf.quantize_with_accuracy_control(
        to_openvino_model(lm), nncf.Dataset(_Samples(calib)), nncf.Dataset(items, lambda it: it[0]),
        validation_fn=lambda m, data: validate(m, items), max_drop=0.005, preset=nncf.QuantizationPreset.PERFORMANCE,
        subset_size=200, advanced_quantization_parameters=AdvancedQuantizationParameters(overflow_fix=overflow))
    wall = time.perf_counter() - t0
    compiled = ov.Core().compile_model(q, "CPU", {ov.properties.hint.inference_precision: ov.Type.f32})
    top1, _ = validate(compiled, items)
    float_top1 = next(r for r in fb["targets"] if r["target"] == "openvino-int8")["accuracy"]["float_top1"]
    from edge_inception.diagnose.verify import openvino_float_ops

    ops = openvino_float_ops(q)
    fq_in = [n for n, is_float in ops.items() if is_float]
    convs = list(ops)
    ours = next(r for r in fb["targets"] if r["target"] == "openvino-int8")
    print(f"\nOpenVINO, budget 0.5 points: NNCF quantize_with_accuracy_control {wall:.1f} s, top-1 {top1:.2%} "
          f"(drop {100 * (float_top1 - top1):.2f}), MAC ops in float (read from the model): {len(fq_in)} of "
          f"{len(convs)} ({', '.join(fq_in)})")
    plan = ours.get("fallback", {})
    from edge_inception import convert

    common = dict(targets="openvino-int8", calibration=root / "train.npz", calibration_samples=200,
                  eval_data=root / "test.npz", latency_runs=1, threads=2)
    t0 = time.perf_counter()
    convert(model, out=root / "ov-plain", **common)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    convert(model, out=root / "ov-fallback", max_drop=0.5, **common)
    t_search = time.perf_counter() - t0 - t_plain
    print(f"OpenVINO, budget 0.5 points: edge-inception --max-drop {t_search:.1f} s beyond the plain convert, top-1 "
          f"{ours['accuracy']['top1']:.2%} (drop {-ours['accuracy']['delta_points']:.2f}), kept float: "
          f"{', '.join(plan.get('kept_layers', []))} ({len(plan.get('candidates', []))} candidates built)")


def planted_mini(args) -> None:
    """inception-mini (Keras, its shipped Fashion-MNIST weights) with the PTQ-hurts pathology planted in
    its last module: branch 1's BatchNorm output scaled up WIDE times and the logits' weights for those
    channels scaled down as much (the float function is unchanged; global average pooling is linear), so
    the concatenation's one int8 scale leaves the other branches a level or two. 38 conv/dense layers:
    --max-drop 0.5 may keep at most 3 of them float to stay within 10%."""
    import keras

    from edge_inception import convert
    from edge_inception.data.readers import read_fashion_mnist
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.models.loader import load_model

    root = Path(tempfile.mkdtemp(prefix="diagnose-planted-mini-"))
    x, y = read_fashion_mnist("train")
    idx = np.random.default_rng(0).choice(len(x), 8000, replace=False)
    np.savez(root / "train.npz", images=x[idx], labels=y[idx])
    xt, yt = read_fashion_mnist("test")
    np.savez(root / "test.npz", images=xt[: args.test], labels=yt[: args.test])
    lm = load_model("inception-mini")
    model = lm.model
    probe = lm.spec.model_input(xt[:256])
    before = model.predict(probe, verbose=0)
    bn = model.get_layer("inception_5b_b1_1x1_bn")
    g, b, mean, var = bn.get_weights()
    bn.set_weights([g * args.wide, b * args.wide, mean, var])
    k, bias = model.get_layer("logits").get_weights()
    k[: len(g)] /= args.wide  # branch 1 comes first in the concatenation
    model.get_layer("logits").set_weights([k, bias])
    after = model.predict(probe, verbose=0)
    path = root / "planted-mini.keras"
    model.save(path)
    graph = SourceGraph.of(load_model(path))
    macs = [lay.name for lay in graph.order if lay.kind in ("conv", "dense")]
    params = {lay.name: lay.count_params() for lay in model.layers}
    keras.backend.clear_session()
    print(f"CPU: {cpu()}")
    print(f"planted: inception_5b_b1 x{args.wide}, logits rows / {args.wide}; float logits max abs change "
          f"{np.abs(after - before).max():.2e}; {len(macs)} conv/dense layers (the quantized layers counted)")
    common = dict(targets=TARGETS, calibration=root / "train.npz", calibration_samples=200,
                  eval_data=root / "test.npz", latency_runs=args.latency_runs, threads=2)
    plain = convert(path, out=root / "plain", **common)
    t0 = time.perf_counter()
    fb = convert(path, out=root / "fallback", max_drop=0.5, **common)
    print(f"\nconvert --max-drop 0.5 ({time.perf_counter() - t0:.0f} s for three targets, float references included)")
    print(f"{'target':<14} {'float':>6} {'PTQ':>6} {'drop':>6} {'after':>6} {'drop':>6}  {'met':<4} "
          f"{'MAC layers float':<18} {'size plain->kept':<20} int8/float p50 plain->kept")
    for p, f in zip(plain["targets"], fb["targets"], strict=True):
        pa, fa, plan = p["accuracy"], f["accuracy"], f.get("fallback", {})
        kept_macs = [n for n in plan.get("kept_layers", []) if n in macs]
        print(f"{p['target']:<14} {pa['float_top1']:6.2%} {pa['top1']:6.2%} {-pa['delta_points']:6.2f} "
              f"{fa['top1']:6.2%} {-fa['delta_points']:6.2f}  {'yes' if plan.get('met') else 'NO':<4} "
              f"{len(kept_macs)} of {len(macs)} ({len(kept_macs) / len(macs):.1%}){'':<4} "
              f"{p['size_bytes']:>7} -> {f['size_bytes']:<9} "
              f"{p['latency']['ratio']:.2f}x -> {f['latency']['ratio']:.2f}x")
    print("\nlayers kept float (size: float32 - int8 weights, 3 bytes per parameter; latency: the whole plan's)")
    for p, f in zip(plain["targets"], fb["targets"], strict=True):
        plan = f.get("fallback", {})
        for name in plan.get("kept_layers", []):
            cost = 3 * params.get(name, 0)
            print(f"  {f['target']:<14} {name:<28} {'MAC' if name in macs else 'other':<5} {params.get(name, 0):>7} "
                  f"params  +{cost:>6} bytes")
        print(f"  {f['target']:<14} plan: size {p['size_bytes']} -> {f['size_bytes']} bytes "
              f"({f['size_bytes'] - p['size_bytes']:+d}), p50 ratio to float {p['latency']['ratio']:.2f}x -> "
              f"{f['latency']['ratio']:.2f}x; groups {', '.join(plan.get('kept_groups', [])) or 'none'}")


def mini(args) -> None:
    import os

    from edge_inception import convert, diagnose

    root = Path(tempfile.mkdtemp(prefix="diagnose-mini-"))
    plain = convert("inception-mini", targets=TARGETS, framework=args.framework, out=root, latency_runs=1,
                    calibration_samples=200)
    paths = [r["artifact"] for r in plain["targets"]]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    d = diagnose(paths, reference="inception-mini", framework=args.framework, data="sample:evaluation",
                 samples=args.samples)
    wall = time.perf_counter() - t0
    print(f"CPU: {cpu()}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"inception-mini ({args.framework}), diagnose of {len(paths)} int8 artifacts on {args.samples} images: "
          f"{wall:.1f} s (" + ", ".join(f"{rt['runtime']} {rt['wall_s']:.1f} s" for rt in d["runtimes"]) + ")")
    from edge_inception.diagnose.render import table_rows

    heads, rows = table_rows(d, top=5)
    print(" | ".join(heads))
    for r in rows:
        print(" | ".join(r))


def v3(args) -> None:
    root = Path(tempfile.mkdtemp(prefix="diagnose-v3-"))
    # The zoo's Inception v3 ships no weights and every build draws new random ones: one build is saved
    # and both the artifacts and the reference come from that file. Each target is converted in a child
    # process of its own, so the diagnosis below is measured alone.
    code = ("import sys; from edge_inception.models.zoo import create_model; "
            "create_model('inception-v3', framework='keras', pretrained=False).save(sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(root / "v3.keras")], check=True, capture_output=True)
    code = ("from edge_inception import convert; import json, sys; r = convert(sys.argv[3], targets=sys.argv[1], "
            "out=sys.argv[2], latency_runs=1, calibration='sample', calibration_samples=32); "
            "print(json.dumps([t['artifact'] for t in r['targets']]))")
    paths = []
    for target in args.targets.split(","):
        out = subprocess.run([sys.executable, "-c", code, target, str(root / target), str(root / "v3.keras")],
                             check=True, capture_output=True, text=True).stdout
        paths += json.loads(out.strip().splitlines()[-1])
    from edge_inception import diagnose

    t0 = time.perf_counter()
    d = diagnose(paths, reference=root / "v3.keras", data="sample:evaluation", samples=args.samples)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"CPU: {cpu()}")
    print(f"inception-v3 (keras, 299x299, random weights), diagnose of {args.targets} on {args.samples} images: "
          f"{wall:.0f} s, peak RSS {peak:.2f} GiB; "
          + "; ".join(f"{rt['runtime']}: {rt['mapped']}/{rt['quantized_tensors']} tensors mapped, batch "
                      f"{rt['batch_size']}" for rt in d["runtimes"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ptq-hurts")
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--latency-runs", type=int, default=100)
    pm = sub.add_parser("planted-mini")
    pm.add_argument("--test", type=int, default=2000)
    pm.add_argument("--wide", type=float, default=200.0)
    pm.add_argument("--latency-runs", type=int, default=100)
    m = sub.add_parser("mini")
    m.add_argument("--samples", type=int, default=100)
    m.add_argument("--framework", choices=("keras", "torch"), default="keras")
    v = sub.add_parser("v3")
    v.add_argument("--samples", type=int, default=100)
    v.add_argument("--targets", default=TARGETS)
    args = ap.parse_args()
    _quiet()
    {"ptq-hurts": ptq_hurts, "planted-mini": planted_mini, "mini": mini, "v3": v3}[args.what](args)


if __name__ == "__main__":
    main()
