"""Image sources: Fashion-MNIST idx files, .npz arrays, image folders and the shipped sample.

    src = open_source("fashion-mnist", spec, split="test")        # 10,000 labelled images
    src = open_source("photos/", spec, labelled=False)            # a folder of JPEG/PNG files
    for images, labels in src.batches(64):                        # uint8 NHWC, streamed
        ...

Every source yields uint8 NHWC batches already resized to the model's input; the float transform
comes from ModelSpec.preprocessing, so float and int8 models always see the same tensors.

Images are untrusted input too: every file of a folder is checked when it is opened (header, pixel
count, bit depth, channels, PNG checksums), so a bad one is named before any conversion work, and
``check_labels(src, classes)`` refuses labels the model cannot give.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError
from edge_inception._core.files import check_regular_file
from edge_inception._core.shipped import shipped_dir
from edge_inception.models.spec import ModelSpec

FASHION_MNIST_DIR = Path(os.environ.get("EDGE_INCEPTION_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_LABELS = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
SAMPLE_FILE = shipped_dir("calibration") / "fashion_mnist_sample.npz"  # see calibration/README.md
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold (Image.MAX_IMAGE_PIXELS)


class ImageSource:
    """A finite, re-iterable stream of uint8 NHWC images with optional integer labels."""

    name: str
    labels: np.ndarray | None

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:  # pragma: no cover
        raise NotImplementedError

    @property
    def labelled(self) -> bool:
        return self.labels is not None


@dataclass
class ArraySource(ImageSource):
    name: str
    images: np.ndarray  # uint8 NHWC at the model's size
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        for i in range(0, len(self.images), batch_size):
            yield self.images[i : i + batch_size], None if self.labels is None else self.labels[i : i + batch_size]


@dataclass
class FolderSource(ImageSource):
    """Image files read lazily, a batch at a time, so large folders never sit in memory at once."""

    name: str
    files: list[Path]
    labels: np.ndarray | None
    spec: ModelSpec
    class_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.files)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        for i in range(0, len(self.files), batch_size):
            chunk = self.files[i : i + batch_size]
            images = np.stack([_read_image(f, self.spec) for f in chunk])
            yield images, None if self.labels is None else self.labels[i : i + batch_size]


def open_source(
    ref: str | os.PathLike,
    spec: ModelSpec,
    *,
    split: str = "test",
    labelled: bool = True,
    limit: int | None = None,
    seed: int = 0,
) -> ImageSource:
    """Open a data reference: 'fashion-mnist', 'sample', a .npz file or an image folder.

    ``split`` picks the Fashion-MNIST split ('train' or 'test') and the sample part ('calibration' for
    train, 'evaluation' for test). ``limit`` keeps a seeded random subset of that many images.
    """
    ref_s = str(ref)
    if ref_s in ("fashion-mnist", "fashion-mnist:train", "fashion-mnist:test"):
        part = ref_s.split(":")[1] if ":" in ref_s else split
        images, labels = read_fashion_mnist(part)
        src: ImageSource = ArraySource(f"fashion-mnist:{part}", _fit_arrays(images, spec, ref_s), labels)
    elif ref_s in ("sample", "sample:calibration", "sample:evaluation"):
        part = ref_s.split(":")[1] if ":" in ref_s else ("calibration" if split == "train" else "evaluation")
        images, labels = read_sample(part)
        src = ArraySource(f"sample:{part}", _fit_arrays(images, spec, ref_s), labels)
    else:
        path = Path(ref_s)
        if not path.exists():
            raise InputError(path, "does not exist", fix="pass an image folder, a .npz file or 'fashion-mnist'")
        check_regular_file(path, what="image folder or .npz file", allow_dir=True)
        if path.is_file() and path.suffix == ".npz":
            src = _open_npz(path, spec)
        elif path.is_dir():
            src = _open_folder(path, spec, labelled=labelled)
        else:
            raise InputError(path, "is neither an image folder nor a .npz file",
                             fix="pass a folder of JPEG/PNG images or a .npz with an 'images' array")
    if labelled and not src.labelled:
        raise InputError(ref_s, "has no labels",
                         fix="put the images in one sub-folder per class, or add a 'labels' array to the .npz")
    if limit is not None and limit < len(src):
        src = _subset(src, limit, seed)
    return src


def read_fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The Debian package's idx files: (N, 28, 28) uint8 images and (N,) int64 labels."""
    prefix = {"train": "train", "test": "t10k"}[split]
    img_path = FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz"
    lbl_path = FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    for p in (img_path, lbl_path):
        if not p.is_file():
            raise InputError(p, "Fashion-MNIST is not installed", fix="apt-get install dataset-fashion-mnist")
    return _read_idx(img_path), _read_idx(lbl_path).astype(np.int64)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise InputError(path, "is not an unsigned-byte idx file", fix="reinstall dataset-fashion-mnist")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def read_sample(part: str) -> tuple[np.ndarray, np.ndarray]:
    """The real Fashion-MNIST sample shipped in the package (see calibration/README.md)."""
    with np.load(SAMPLE_FILE) as z:
        key = {"calibration": "calibration", "evaluation": "evaluation"}[part]
        return z[f"{key}_images"], z[f"{key}_labels"].astype(np.int64)


def _open_npz(path: Path, spec: ModelSpec) -> ArraySource:
    try:
        with np.load(path, allow_pickle=False) as z:
            if "images" not in z:
                raise InputError(path, f"has no 'images' array (found: {', '.join(z.files) or 'none'})",
                                 fix="save uint8 images as np.savez(path, images=..., labels=...)")
            images = z["images"]
            labels = z.get("labels")
    except (OSError, ValueError, EOFError) as e:
        raise InputError(path, f"cannot be read as .npz ({' '.join(str(e).split())[:160]})",
                         fix="write it with numpy.savez") from None
    if images.dtype != np.uint8:
        raise InputError(path, f"'images' is {images.dtype}, expected uint8 pixels", fix="store raw 0-255 pixels")
    if images.ndim == 0 or len(images) == 0:
        raise InputError(path, "holds no images", fix="add images to the 'images' array")
    if labels is not None:
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(path, f"'labels' is a {labels.dtype} array of shape {labels.shape}, not one integer "
                             "class index per image", fix="save labels as a 1-D integer array")
        if len(labels) != len(images):
            raise InputError(path, f"holds {len(images)} images but {len(labels)} labels",
                             fix="save exactly one label per image")
        labels = labels.astype(np.int64)
    return ArraySource(str(path), _fit_arrays(images, spec, path), labels)


def _open_folder(path: Path, spec: ModelSpec, *, labelled: bool) -> FolderSource:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(path, "holds no JPEG or PNG images", fix="point it at a folder of .jpg/.png files")
    class_dirs = sorted({f.relative_to(path).parts[0] for f in files if len(f.relative_to(path).parts) > 1})
    loose = [f for f in files if len(f.relative_to(path).parts) == 1]
    labels = None
    if class_dirs and not loose:
        # Class index: by the model's label names when the folders use them, else sorted folder order
        # (the convention of keras.utils.image_dataset_from_directory).
        if spec.labels and set(class_dirs) <= set(spec.labels):
            index = {name: spec.labels.index(name) for name in class_dirs}
        elif all(d.isdigit() for d in class_dirs):
            index = {d: int(d) for d in class_dirs}
        else:
            index = {name: i for i, name in enumerate(class_dirs)}
        labels = np.array([index[f.relative_to(path).parts[0]] for f in files], np.int64)
    elif labelled:
        raise InputError(path, "has images outside class sub-folders, so they carry no labels",
                         fix="put labelled images in one sub-folder per class")
    # Every file's header (and a PNG's checksums) now, so a bad image is named before any conversion
    # work; the first is decoded too, as evaluation will.
    for f in files:
        _check_image(f, spec)
    _read_image(files[0], spec)
    return FolderSource(str(path), files, labels, spec, tuple(class_dirs))


_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)  # PIL reports broken chunks as SyntaxError


def _bad_image(path: Path, e: BaseException) -> InputError:
    why = " ".join(str(e).split())[:120]
    return InputError(path, f"is not a readable image ({type(e).__name__}{': ' + why if why else ''})",
                      fix="remove it or replace it with a valid JPEG/PNG")


def _check_mode(path: Path, im, spec: ModelSpec) -> None:
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise InputError(path, f"claims {w} x {h} pixels (more than {MAX_PIXELS:,}): a decompression bomb, not a photo",
                         fix="remove it, or downscale it before use")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F") or "16" in im.mode:
        raise InputError(path, f"is a {16 if '16' in im.mode else 32}-bit image ({im.mode}); edge-inception reads "
                         "8-bit pixels and would clip it", fix="convert it to 8 bits per channel")
    channels = len(im.getbands()) - ("A" in im.getbands())
    if spec.channels == 1 and channels != 1 and im.mode != "P":
        raise InputError(path, f"has {channels} colour channels but the model takes 1 (grayscale)",
                         fix="convert the images to grayscale, or use a model with 3 input channels")


def _check_image(path: Path, spec: ModelSpec) -> None:
    """Header-only checks (cheap): readable, not a bomb, 8-bit, channels; a PNG's chunk checksums."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_mode(path, im, spec)
                if im.format == "PNG":
                    im.verify()  # every chunk's CRC, to the end: a truncated or damaged file fails here
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(path, f"is too large to decode safely ({' '.join(str(e).split())[:100]})",
                         fix="remove it, or downscale it before use") from None
    except _IMAGE_ERRORS as e:
        raise _bad_image(path, e) from None


def _read_image(path: Path, spec: ModelSpec) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            _check_mode(path, im, spec)
            im.load()
            im = im.convert("L" if spec.channels == 1 else "RGB")
            if im.size != (spec.width, spec.height):
                im = im.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
            arr = np.asarray(im, np.uint8)
    except InputError:
        raise
    except (Image.DecompressionBombError, *_IMAGE_ERRORS) as e:
        raise _bad_image(path, e) from None
    return arr.reshape(spec.height, spec.width, spec.channels)


def check_labels(src: ImageSource | None, classes: int | None, *, model: str = "the model") -> None:
    """Labels a model with ``classes`` outputs can give: 0 .. classes-1. A folder with more class
    sub-folders than that, or a label outside the range, is refused before any work (it would be
    counted wrong every time, silently)."""
    if src is None or classes is None or src.labels is None or len(src.labels) == 0:
        return
    names = getattr(src, "class_names", ())
    if names and len(names) > classes:
        raise InputError(src.name, f"has {len(names)} class folders but {model} gives {classes} classes",
                         fix=f"keep at most {classes} class sub-folders, named by the model's labels or "
                             f"0-{classes - 1}")
    low, high = int(np.min(src.labels)), int(np.max(src.labels))
    if low < 0 or high >= classes:
        raise InputError(src.name, f"has labels from {low} to {high} but {model} gives {classes} classes "
                         f"(labels 0 to {classes - 1})", fix="use class indices the model was trained with")


def _fit_arrays(images: np.ndarray, spec: ModelSpec, origin) -> np.ndarray:
    """(N,H,W) or (N,H,W,C) uint8 -> (N, model H, model W, model C)."""
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise InputError(origin, f"images have shape {images.shape}, expected (N, H, W) or (N, H, W, C)",
                         fix="store images as an (N, H, W, C) uint8 array")
    c = images.shape[-1]
    if c != spec.channels:
        if c == 1 and spec.channels == 3:
            images = np.repeat(images, 3, axis=-1)  # grayscale into an RGB model loses nothing
        else:
            raise InputError(origin, f"images have {c} channels but the model takes {spec.channels}",
                             fix=f"provide {spec.channels}-channel images")
    if images.shape[1:3] != (spec.height, spec.width):
        from PIL import Image

        mode = "L" if spec.channels == 1 else "RGB"
        images = np.stack([
            np.asarray(Image.fromarray(im.squeeze(-1) if spec.channels == 1 else im, mode)
                       .resize((spec.width, spec.height), Image.Resampling.BILINEAR)).reshape(
                spec.height, spec.width, spec.channels)
            for im in images
        ])
    return np.ascontiguousarray(images)


def _subset(src: ImageSource, n: int, seed: int) -> ImageSource:
    idx = np.sort(np.random.default_rng(seed).choice(len(src), size=n, replace=False))
    if isinstance(src, ArraySource):
        return ArraySource(src.name, src.images[idx], None if src.labels is None else src.labels[idx])
    assert isinstance(src, FolderSource)
    files = [src.files[i] for i in idx]
    return FolderSource(src.name, files, None if src.labels is None else src.labels[idx], src.spec, src.class_names)
