"""Every shipped calibration recipe (and a few single-setting variants) x {tflite-int8, onnx-int8,
openvino-int8}, on inception-mini (Keras) and on the PTQ-hurts model, scored on the full 10,000-image
Fashion-MNIST test split against one float export per runtime.

    python benchmarks/calibration_recipes.py                         # both models, every recipe and variant
    python benchmarks/calibration_recipes.py --models inception-mini --no-variants
    python benchmarks/calibration_recipes.py --recipes default,v-bias-none,v-bias-full \\
        --targets openvino-int8 --repeats 5                          # calibration time, median of 5

Calibration images come from the Fashion-MNIST training split for inception-mini (so random,
stratified and diverse really choose among 60,000) and from the PTQ-hurts model's own 8,000 training
images. Each cell: the recipe's images selected once (shared by the three targets), ``quantize`` timed
(calibration + quantization, the "calib s" column; with ``--repeats N`` the median of N runs, the
recipes taking turns, so a busy spell of a shared machine hits each alike), top-1, its change against
the float export with the paired 95% interval, and top-1 agreement with float. A recipe a library
cannot do is printed as refused, as convert would refuse it. Heavy enough for the bigmem lock on a shared machine:
``flock /tmp/bigmem.lock python benchmarks/calibration_recipes.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _calibration_cells import FloatRefs, cpu_line, interval, pct, ptq_hurts_model

TARGETS = ("tflite-int8", "onnx-int8", "openvino-int8")
# One setting changed from `default` each: what the data should decide.
VARIANTS = {
    "v-minmax": {"method": '"minmax"'},
    "v-mse": {"method": '"mse"'},
    "v-entropy": {"method": '"entropy"'},
    "v-bias-none": {"bias_correction": '"none"'},
    "v-bias-full": {"bias_correction": '"full"'},
}


SHORT = (("activations_range_estimator_params=", "ranges="), ("not set (NNCF default: MEAN_MINMAX per-tensor)",
         "unset (MEAN_MINMAX)"), ("not set (NNCF default: True)", "unset (True)"),
         ("RangeEstimatorParameters(QUANTILE, mean over images, quantile_outlier_prob=", "QUANTILE(outlier_prob="),
         ("RangeEstimatorParametersSet.", ""), ("CalibrationMethod.", ""),
         ("representative_dataset=min/max over every sample (the converter's only estimator), "
          "bias_correction=none (the converter has none)", "min/max (its only estimator), no bias correction"))


def _short(text: str) -> str:
    for long, short in SHORT:
        text = text.replace(long, short)
    return text


def _variant_files(folder: Path) -> list[Path]:
    from edge_inception.calibration_recipes import get_recipe

    base = Path(get_recipe("default").file).read_text().splitlines()
    out = []
    for name, changes in VARIANTS.items():
        lines = [f'name = "{name}"' if ln.startswith("name =") else ln for ln in base]
        lines = [f"{ln.split(' =')[0]} = {changes[ln.split(' =')[0]]}" if ln.split(" =")[0] in changes else ln
                 for ln in lines]
        out.append(folder / f"{name}.toml")
        out[-1].write_text("\n".join(lines) + "\n")
    return out


def run_model(label: str, lm, calibration: str, recipes, folder: Path, *, targets=TARGETS, repeats=1) -> list[tuple]:
    from statistics import median

    from edge_inception._core.errors import InputError
    from edge_inception.calibration_recipes import build_calibration
    from edge_inception.calibration_recipes.methods import check_supported, route
    from edge_inception.data.readers import open_source
    from edge_inception.formats import artifact_path, embed_spec
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    eval_src = open_source("fashion-mnist", lm.spec, split="test")
    floats = FloatRefs(lm, folder, eval_src)
    rows, cells = [], []
    for r in recipes:
        calib = None
        for name in targets:
            t = get_target(name)
            try:
                check_supported(r, route(t.quantizer["library"], lm.kind), where=r.file, target=name)
            except InputError as e:
                rows.append((label, r.name, name, "refused: " + e.message.split(": ", 1)[1].split(" (")[0], None, None))
                continue
            calib = calib or build_calibration(r, lm, source=calibration)
            dest = artifact_path(folder, f"{lm.spec.name}.{r.name}.{name}", t.format)
            cells.append({"recipe": r.name, "target": t, "calib": calib, "dest": dest, "seconds": [], "row": len(rows)})
            rows.append(None)
    for _ in range(repeats):  # round-robin, so a slow spell of a shared machine is spread over every cell
        for c in cells:
            start = time.perf_counter()
            c["info"] = quantize(lm, c["dest"], target=c["target"], calibration=c["calib"])
            c["seconds"].append(time.perf_counter() - start)
    for c in cells:
        t = c["target"]
        embed_spec(c["dest"], t.format, lm.spec)
        told = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in c["info"]["calibration"]["told"].items())
        acc, seconds = floats.score(t.name, c["dest"]), median(c["seconds"])
        rows[c["row"]] = (label, c["recipe"], t.name, _short(told), seconds, acc)
        print(f"  {label} {c['recipe']} {t.name}: top-1 {acc['top1']:.4f} (float {acc['float_top1']:.4f}), "
              f"agreement {acc['agreement']:.4f}, {seconds:.1f} s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="inception-mini,ptq-hurts")
    ap.add_argument("--recipes", default="default,fast,stratified,robust,diverse")
    ap.add_argument("--no-variants", action="store_true", help="shipped recipes only")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--repeats", type=int, default=1, help="time each quantization N times (median)")
    args = ap.parse_args()

    from edge_inception.calibration_recipes import get_recipe, load_recipe_file
    from edge_inception.models.loader import load_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="calibration-recipes-") as tmp:
        root = Path(tmp)
        variants = {} if args.no_variants else {f.stem: load_recipe_file(f) for f in _variant_files(root)}
        wanted = args.recipes.split(",")
        recipes = [variants.pop(n) if n in variants else get_recipe(n) for n in wanted]
        recipes += list(variants.values()) if args.recipes == ap.get_default("recipes") else []
        for label in args.models.split(","):
            folder = root / label
            folder.mkdir()
            if label == "ptq-hurts":
                model, train = ptq_hurts_model(folder)
                lm, calibration = load_model(str(model)), str(train)
            else:
                lm, calibration = load_model(label), "fashion-mnist"
            rows += run_model(label, lm, calibration, recipes, folder, targets=args.targets.split(","),
                              repeats=args.repeats)
    print(f"\nCPU: {cpu_line()}; 2 threads; eval: fashion-mnist test split (10,000 images); "
          f"calib s: median of {args.repeats}")
    floats = {(m, t): a["float_top1"] for m, _, t, _, _, a in rows if a is not None}
    print("float top-1: " + ", ".join(f"{m} {t.split('-')[0]} {pct(v)}" for (m, t), v in floats.items()))
    print("| model | recipe | target | told | calib s | top-1 | change vs float [95% CI] | agreement |")
    print("|---|---|---|---|---:|---:|---|---:|")
    for label, recipe, target, told, seconds, acc in rows:
        if acc is None:
            print(f"| {label} | {recipe} | {target} | {told} | — | — | — | — |")
        else:
            print(f"| {label} | {recipe} | {target} | {told} | {seconds:.1f} | {pct(acc['top1'])} | "
                  f"{interval(acc)} | {pct(acc['agreement'])} |")


if __name__ == "__main__":
    main()
