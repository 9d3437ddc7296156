"""Ours against each library's documented defaults, side by side in one run: inception-mini (Keras),
the same float export per runtime, the same 500 calibration images (the default recipe's: the shipped
sample), the full 10,000-image Fashion-MNIST test split.

    python benchmarks/calibration_vs_library.py                 # 300 interleaved latency runs per artifact
    python benchmarks/calibration_vs_library.py --latency-runs 1000

Library defaults, as their documentation gives them:
- LiteRT: the converter's full-integer recipe ("Integer only", ai.google.dev/edge/litert/models/
  post_training_integer_quant): Optimize.DEFAULT, the representative dataset, TFLITE_BUILTINS_INT8 and
  int8 input/output (the runtime quantizes the input with the model's own scale).
- ONNX Runtime: ``quant_pre_process`` then ``quantize_static`` with nothing but the data reader (QDQ,
  S8S8, per-tensor weights, MinMax), on the onnx-fp32 export.
- NNCF: ``nncf.quantize(model, dataset)`` on the openvino-fp32 IR, every argument default except
  ``subset_size=500`` (its default is 300) so both see the same 500 images; saved uncompressed.
Ours: the shipped tflite-int8, onnx-int8 and openvino-int8 profiles, each with the recipe it names
(the same 500 images: the fingerprint is printed).
Prints top-1, its change against the float export [95% CI], agreement, int8/float p50 (interleaved,
median of per-pair ratios) and the CPU with its flags. ``flock /tmp/bigmem.lock ...`` on a shared machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _calibration_cells import FloatRefs, cpu_line, interval, pct


def tflite_documented(lm, calib, dest: Path) -> None:
    from edge_inception._core.native import import_tensorflow
    from edge_inception.exporters.tflite import convert_to_file, make_converter

    tf = import_tensorflow()
    with make_converter(lm) as converter:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = calib.tflite_representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        convert_to_file(converter, dest)


def ort_documented(float_onnx: Path, calib, dest: Path) -> None:
    from onnxruntime.quantization import quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edge_inception.quantizers.ort_ptq import _reader

    pre = dest.with_suffix(".pre.onnx")
    quant_pre_process(float_onnx, pre)
    quantize_static(pre, dest, _reader(calib))
    pre.unlink()


def nncf_documented(float_xml: Path, calib, dest: Path) -> None:
    import nncf
    import openvino as ov

    from edge_inception.quantizers.nncf_ptq import _Samples

    model = ov.Core().read_model(str(float_xml))
    quantized = nncf.quantize(model, nncf.Dataset(_Samples(calib)), subset_size=len(calib))
    ov.save_model(quantized, str(dest), compress_to_fp16=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-runs", type=int, default=300)
    args = ap.parse_args()

    from edge_inception.calibration_recipes import build_calibration, get_recipe
    from edge_inception.data.readers import open_source
    from edge_inception.formats import embed_spec
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    lm = load_model("inception-mini")
    calib = build_calibration(get_recipe("default"), lm, default_source="sample:calibration")
    rows = []
    with tempfile.TemporaryDirectory(prefix="calibration-vs-library-") as tmp:
        root = Path(tmp)
        floats = FloatRefs(lm, root, open_source("fashion-mnist", lm.spec, split="test"))
        cells = []
        for name, fmt, suffix in (("tflite-int8", "tflite", ".tflite"), ("onnx-int8", "onnx", ".onnx"),
                                  ("openvino-int8", "openvino", ".xml")):
            ours, target = root / f"ours.{name}{suffix}", get_target(name)
            recipe = get_recipe(target.quantizer["calibration_recipe"])
            own = build_calibration(recipe, lm, default_source="sample:calibration")
            assert own.fingerprint == calib.fingerprint, "the profile's recipe selects other images"
            info = quantize(lm, ours, target=target, calibration=own)
            cells.append((name, fmt, f"edge-inception {name} (recipe {recipe.name})", ours, info))
        docs = {"tflite-int8": (root / "doc.tflite", lambda d: tflite_documented(lm, calib, d),
                                "the converter's documented full-integer recipe (int8 I/O)"),
                "onnx-int8": (root / "doc.onnx", lambda d: ort_documented(floats.paths["onnx-fp32"], calib, d),
                              "quantize_static defaults (QDQ, S8S8, per-tensor, MinMax)"),
                "openvino-int8": (root / "doc.xml", lambda d: nncf_documented(floats.paths["openvino-fp32"], calib, d),
                                  "nncf.quantize defaults (subset_size=500)")}
        for name, (dest, make, label) in docs.items():
            make(dest)
            cells.append((name, get_target(name).format, label, dest, None))
        direct = {}
        for name, fmt, label, path, info in cells:
            embed_spec(path, fmt, lm.spec)
            acc = floats.score(name, path)
            lat = floats.latency(name, path, runs=args.latency_runs)
            choice = ""
            if info is not None:
                choice = info.get("overflow_fix") or info.get("weights", "")
                choice = f" ({info.get('activations', '')}/{choice})" if name == "onnx-int8" else f" ({choice})"
            rows.append((name, label + choice, acc, lat))
            if info is None:  # ours against the library's default directly, interleaved: int8 vs int8
                ours = next(c[3] for c in cells if c[0] == name and c[4] is not None)
                direct[name] = floats.pair(name, path, ours, runs=args.latency_runs)
            print(f"  {name} {label}: top-1 {acc['top1']:.4f} agreement {acc['agreement']:.4f} "
                  f"ratio {lat['ratio']:.2f}", flush=True)
    print(f"\nCPU: {cpu_line()}; 2 threads, batch 1; eval: fashion-mnist test split (10,000 images); "
          f"calibration: the default recipe's {len(calib)} images (sha256 {calib.fingerprint[:12]})")
    print("| runtime | maker | top-1 | change vs float [95% CI] | agreement | int8/float p50 [95% CI] |")
    print("|---|---|---:|---|---:|---|")
    for name, label, acc, lat in rows:
        lo, hi = lat["ratio_ci95"]
        print(f"| {name} | {label} | {pct(acc['top1'])} | {interval(acc)} | {pct(acc['agreement'])}% | "
              f"{lat['ratio']:.2f} [{lo:.2f}, {hi:.2f}] |")
    print("\nours / library default, p50, the two int8 artifacts interleaved directly:")
    for name, lat in direct.items():
        lo, hi = lat["ratio_ci95"]
        print(f"  {name}: {lat['ratio']:.2f} [{lo:.2f}, {hi:.2f}]")


if __name__ == "__main__":
    main()
