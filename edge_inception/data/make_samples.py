"""Write the real Fashion-MNIST sample shipped in the package (calibration/fashion_mnist_sample.npz).

    python -m edge_inception.data.make_samples

Calibration: 500 images of the training split (50 per class); evaluation: 2,000 images of the
test split (200 per class); both drawn with seed 0 from Debian's dataset-fashion-mnist files.
"""

from __future__ import annotations

import io

import numpy as np

from edge_inception._core.atomic import atomic_write_bytes
from edge_inception.data.readers import SAMPLE_FILE, read_fashion_mnist


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                          for c in np.unique(labels)])
    return rng.permutation(idx)


def main() -> None:
    rng = np.random.default_rng(0)
    xtr, ytr = read_fashion_mnist("train")
    xte, yte = read_fashion_mnist("test")
    cal = stratified(ytr, 50, rng)
    ev = stratified(yte, 200, rng)
    buf = io.BytesIO()
    np.savez_compressed(buf, calibration_images=xtr[cal], calibration_labels=ytr[cal].astype(np.uint8),
                        calibration_index=cal.astype(np.int32), evaluation_images=xte[ev],
                        evaluation_labels=yte[ev].astype(np.uint8), evaluation_index=ev.astype(np.int32))
    atomic_write_bytes(SAMPLE_FILE, buf.getvalue())
    size = SAMPLE_FILE.stat().st_size / 1e6
    print(f"wrote {SAMPLE_FILE} ({size:.2f} MB): {len(cal)} calibration, {len(ev)} evaluation")


if __name__ == "__main__":
    main()
