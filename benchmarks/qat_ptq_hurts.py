"""Where post-training quantization really hurts, how much does QAT bring back, with and without
distillation?

    python benchmarks/qat_ptq_hurts.py                 # both losses, every int8 target
    python benchmarks/qat_ptq_hurts.py --train 8000 --test 2000 --learning-rate 1e-3

The model is the slow test's (tests/test_qat.py, ``_unbalanced_concat_model``): a small CNN trained
on real Fashion-MNIST whose two concatenated branches have ranges 150x apart, so one shared int8
range leaves the small branch a few levels. Prints float, PTQ and QAT top-1 per target and loss.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, for the model builder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=8000, help="training images (seeded subset)")
    ap.add_argument("--test", type=int, default=2000, help="first N test images")
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--targets", default="tflite-int8,onnx-int8,openvino-int8")
    args = ap.parse_args()

    from edge_inception import convert
    from edge_inception.data.readers import read_fashion_mnist
    from tests.test_qat import _unbalanced_concat_model

    with tempfile.TemporaryDirectory(prefix="qat-ptq-hurts-") as tmp:
        root = Path(tmp)
        x, y = read_fashion_mnist("train")
        idx = np.random.default_rng(0).choice(len(x), args.train, replace=False)
        np.savez(root / "train.npz", images=x[idx], labels=y[idx])
        xt, yt = read_fashion_mnist("test")
        np.savez(root / "test.npz", images=xt[: args.test], labels=yt[: args.test])
        model = _unbalanced_concat_model(root / "unbalanced.keras", x[idx], y[idx])
        rows = []
        for distill in (True, False):
            report = convert(model, targets=args.targets, method="qat", train_data=root / "train.npz",
                             calibration=root / "train.npz", calibration_samples=200, eval_data=root / "test.npz",
                             learning_rate=args.learning_rate, compare_ptq=True, latency_runs=1,
                             out=root / f"out-{distill}", distill=distill)
            for row in report["targets"]:
                acc = row["accuracy"]
                rows.append((row["target"], "distill" if distill else "no-distill", acc["float_top1"],
                             row["ptq"]["accuracy"]["top1"], acc["top1"]))
    print(f"{'target':<16} {'QAT loss':<11} {'float':>7} {'PTQ':>7} {'QAT':>7} {'recovered':>9}")
    for target, loss, f, p, q in rows:
        print(f"{target:<16} {loss:<11} {f:7.2%} {p:7.2%} {q:7.2%} {(q - p) / (f - p) if f > p else 0:9.0%}")


if __name__ == "__main__":
    main()
