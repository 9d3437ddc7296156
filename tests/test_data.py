"""Readers give the model's input size and channels, stream in batches, and label folders correctly."""

import numpy as np

from edge_inception.data.calibration import CalibrationSet
from edge_inception.data.readers import SAMPLE_FILE, open_source, read_fashion_mnist
from edge_inception.models.zoo import get_entry
from tests.conftest import write_pngs

SPEC = get_entry("inception-mini").spec


def _write_idx(path, array):
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_reader_on_files_it_did_not_write(tmp_path, monkeypatch):
    from edge_inception.data import readers

    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), rng.integers(0, 10, 7)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    monkeypatch.setattr(readers, "FASHION_MNIST_DIR", tmp_path)
    x, y = read_fashion_mnist("test")
    assert np.array_equal(x, images) and np.array_equal(y, labels) and y.dtype == np.int64


def test_fashion_mnist_test_split_from_debian_package():
    """The README's set-up installs Debian's dataset-fashion-mnist; the full split is read from it."""
    x, y = read_fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10


def test_shipped_sample_is_real_and_balanced(sample_arrays):
    cx, cy = sample_arrays["calibration"]
    ex, ey = sample_arrays["evaluation"]
    assert cx.shape == (500, 28, 28) and ex.shape == (2000, 28, 28)
    assert np.bincount(cy).tolist() == [50] * 10 and np.bincount(ey).tolist() == [200] * 10
    # They are the package's own images, at the recorded indices.
    with np.load(SAMPLE_FILE) as z:
        xt, _ = read_fashion_mnist("test")
        assert np.array_equal(xt[z["evaluation_index"]], ex)


def test_image_folder_roundtrip_and_batches(tmp_path, sample_arrays):
    ex, ey = sample_arrays["evaluation"]
    folder = write_pngs(tmp_path / "eval", ex[:50], ey[:50])
    src = open_source(folder, SPEC, labelled=True)
    assert len(src) == 50
    batches = list(src.batches(16))
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    order = np.argsort([f.name for f in src.files])  # files are sorted by class folder, then name
    assert images.shape == (50, 28, 28, 1)
    idx = [int(f.stem) for f in src.files]
    assert np.array_equal(images[..., 0], ex[idx]) and np.array_equal(labels, ey[idx])
    del order


def test_folder_named_by_label_names_maps_to_model_classes(tmp_path, sample_arrays):
    ex, ey = sample_arrays["evaluation"]
    names = ["T-shirt/top".replace("/", "_")] + list(SPEC.labels[1:])
    folder = write_pngs(tmp_path / "named", ex[:40], ey[:40], class_names=names)
    src = open_source(folder, SPEC, labelled=True)
    # 'T-shirt_top' is not a model label, so the sorted-folder convention applies and is consistent.
    assert len(set(src.labels.tolist())) == len(set(ey[:40].tolist()))


def test_resize_and_grayscale_to_rgb(tmp_path):
    from dataclasses import replace

    spec = replace(SPEC, input_shape=(32, 32, 3))
    np.savez(tmp_path / "g.npz", images=np.full((3, 28, 28), 200, np.uint8), labels=np.array([0, 1, 2]))
    src = open_source(tmp_path / "g.npz", spec)
    (images, labels), = list(src.batches(8))
    assert images.shape == (3, 32, 32, 3) and np.all(images == 200)
    assert labels.tolist() == [0, 1, 2]


def test_calibration_set_limits_and_streams(sample_arrays):
    src = open_source("sample:calibration", SPEC, labelled=False)
    calib = CalibrationSet(src, SPEC, samples=70, batch_size=32)
    reps = list(calib.tflite_representative_dataset())
    assert len(reps) == 70 and reps[0][0].shape == (1, 28, 28, 1) and reps[0][0].dtype == np.float32
    assert reps[0][0].min() >= 0.0 and reps[0][0].max() <= 1.0


def test_subset_is_seeded():
    a = open_source("sample:evaluation", SPEC, limit=100, seed=3)
    b = open_source("sample:evaluation", SPEC, limit=100, seed=3)
    assert np.array_equal(a.images, b.images) and len(a) == 100
