"""ModelSpec: what a model expects as input, so calibration and evaluation preprocess identically.

    spec = ModelSpec(name="inception-mini", framework="keras", input_shape=(28, 28, 1),
                     preprocessing=Preprocessing(scale=1 / 255))
    x = spec.preprocessing.apply(uint8_images)   # float32, NHWC
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError, UsageError

PRESETS = {
    # name: (scale, mean, std) applied as ((x * scale) - mean) / std on uint8 pixels
    "unit": (1 / 255, (0.0,), (1.0,)),
    "inception": (1 / 127.5, (1.0,), (1.0,)),  # [-1, 1], Inception v1/v3 convention
    "imagenet": (1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "raw": (1.0, (0.0,), (1.0,)),
}


@dataclass(frozen=True)
class Preprocessing:
    """Pixel transform applied to uint8 images: ``((x * scale) - mean) / std`` per channel."""

    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    resize: str = "bilinear"

    @classmethod
    def preset(cls, name: str) -> Preprocessing:
        from edge_inception._core.errors import UsageError

        if name not in PRESETS:
            raise UsageError(f"unknown preprocessing '{name}'", fix=f"use one of {', '.join(PRESETS)}")
        scale, mean, std = PRESETS[name]
        return cls(scale=scale, mean=mean, std=std)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 NHWC -> float32 NHWC."""
        x = images.astype(np.float32) * np.float32(self.scale)
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        return (x - mean) / std


@dataclass(frozen=True)
class ModelSpec:
    """Facts about a model's input and output that every stage needs."""

    name: str
    framework: str  # "keras" | "tf_keras" | "torch"
    input_shape: tuple[int, int, int]  # H, W, C of one image, always in NHWC order
    layout: str = "NHWC"  # the model's own layout; data is produced NHWC and transposed if needed
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    labels: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return self.input_shape[0]

    @property
    def width(self) -> int:
        return self.input_shape[1]

    @property
    def channels(self) -> int:
        return self.input_shape[2]

    def to_model_layout(self, nhwc: np.ndarray) -> np.ndarray:
        """Data is produced NHWC; a channels-first model (PyTorch) takes it transposed."""
        return np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)) if self.layout == "NCHW" else nhwc

    def model_input(self, images: np.ndarray) -> np.ndarray:
        """uint8 NHWC images -> the float tensor the model takes, in its own layout."""
        return self.to_model_layout(self.preprocessing.apply(images))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """The inverse of ``to_dict`` (what artifacts carry in their metadata)."""
        pre = d.get("preprocessing") or {}
        return cls(name=str(d["name"]), framework=str(d["framework"]),
                   input_shape=tuple(int(v) for v in d["input_shape"]), layout=str(d.get("layout", "NHWC")),
                   preprocessing=Preprocessing(scale=float(pre.get("scale", 1 / 255)),
                                               mean=tuple(pre.get("mean", (0.0,))), std=tuple(pre.get("std", (1.0,))),
                                               resize=str(pre.get("resize", "bilinear"))),
                   labels=tuple(d.get("labels") or ()))


# An artifact made elsewhere carries no spec: its input shape is read from the model itself.
def require_image_shape(shape, path: Path, layout: str) -> tuple[int, int, int]:
    """(N, H, W, C) or (N, C, H, W) of an artifact's input -> H, W, C, or an InputError."""
    dims = list(shape)
    if len(dims) != 4:
        raise InputError(path, f"takes input of shape {tuple(dims)}, not an image batch")
    h, w, c = (dims[1], dims[2], dims[3]) if layout == "NHWC" else (dims[2], dims[3], dims[1])
    if any(not isinstance(d, int) or d <= 0 for d in (h, w, c)):
        raise InputError(path, f"has a dynamic image size {tuple(dims)}", fix="pass --input-shape")
    return h, w, c


def guess_layout(shape) -> str:
    """Channels-last unless the second dimension looks like channels and the last does not."""
    dims = list(shape)
    if len(dims) == 4 and dims[1] in (1, 3) and dims[3] not in (1, 3):
        return "NCHW"
    return "NHWC"


def inferred_spec(path: Path, shape, framework: str) -> ModelSpec:
    if not shape:
        raise UsageError(f"{path}: its input shape is unknown", fix="pass a model with a static image input")
    layout = guess_layout(shape)
    return ModelSpec(name=path.stem, framework=framework, input_shape=require_image_shape(shape, path, layout),
                     layout=layout, preprocessing=Preprocessing.preset("unit"))
