"""Inputs for tests/test_untrusted_input.py: tiny models, broken images, edited profiles, FIFOs.
Every builder writes into the case's own folder and returns what goes on the command line."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np

GATE_REPORT = Path(__file__).parent / "data" / "gate" / "report.json"

def _png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")  # also under a name that is not .png
    return path


def _gray(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def _gray_folder(folder: Path, n: int = 6) -> Path:
    for i in range(n):
        _png(folder / f"{i:05d}.png", _gray(i))
    return folder


def _bomb_png(path: Path, side: int = 60_000) -> Path:
    """A valid PNG header claiming side x side pixels (3.6 G): what Pillow calls a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _profile(tmp: Path, **changes) -> Path:
    """The shipped tflite-int8 profile with some keys changed (under a new name unless given)."""
    import tomllib

    from edge_inception.targets import get_target

    text = Path(get_target("tflite-int8").source).read_text()
    data = tomllib.loads(text)
    data["name"] = changes.pop("name", "my-int8")
    for key, value in changes.items():
        section, _, k = key.rpartition(".")
        (data.setdefault(section, {}) if section else data)[k] = value
    lines = []
    for k, v in data.items():
        if not isinstance(v, dict):
            lines.append(f"{k} = {json.dumps(v)}")
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp / "profile.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


NETS_PY = '''
import torch

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(1, 4, 3)
        self.f = torch.nn.Linear(4, 10)

    def forward(self, x):
        return self.f(self.c(x).mean((2, 3)))

def ok():
    return Tiny()

def boom():
    raise RuntimeError("the factory exploded")
'''


def build_models(root: Path) -> dict:
    """Tiny Keras 3 models (random weights: loading and shape checks only) and a torch factory file."""
    import keras

    def save(name, inp, out):
        path = root / name
        keras.Model(inp, out).save(path)
        return path

    inp = keras.Input((28, 28, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    ten = save("ten.keras", inp, keras.layers.Dense(10)(x))
    inp = keras.Input((28, 28, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    five = save("five.keras", inp, keras.layers.Dense(5)(x))
    inp = keras.Input((28, 28, 1))
    feature_map = save("feature_map.keras", inp, keras.layers.Conv2D(4, 3)(inp))
    inp = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    dynamic = save("dynamic.keras", inp, keras.layers.Dense(10)(x))
    (root / "nets.py").write_text(NETS_PY)
    return {"ten": ten, "five": five, "feature_map": feature_map, "dynamic": dynamic, "nets": root / "nets.py"}



def _out(tmp):
    return ["--out", str(tmp / "out")]


def _truncated_keras(tmp, m):
    data = Path(m["ten"]).read_bytes()
    (tmp / "trunc.keras").write_bytes(data[: len(data) // 2])
    return ["convert", str(tmp / "trunc.keras"), "--calibration", "sample", *_out(tmp)]


def _renamed_keras(tmp, m):
    _png(tmp / "renamed.keras", _gray())
    return ["convert", str(tmp / "renamed.keras"), "--calibration", "sample", *_out(tmp)]


def _npz(tmp, name="bad.npz", n=10, labels=None):
    np.savez(tmp / name, images=np.stack([_gray(i) for i in range(n)]),
             **({} if labels is None else {"labels": np.asarray(labels)}))
    return tmp / name


def _eleven_classes(tmp):
    for k in range(11):
        _png(tmp / "eleven" / str(k) / "a.png", _gray(k))
    return tmp / "eleven"


def _sixteen_bit(tmp):
    for i in range(4):
        _png(tmp / "deep" / f"{i:05d}.png", (np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) * 80 + i))
    return tmp / "deep"


def _gray_then_rgb(tmp):
    _png(tmp / "mixed" / "00000.png", _gray())
    for i in range(1, 4):
        _png(tmp / "mixed" / f"{i:05d}.png", np.random.default_rng(i).integers(0, 256, (28, 28, 3), dtype=np.uint8))
    return tmp / "mixed"


def _one_corrupt(tmp):
    folder = _gray_folder(tmp / "calib", 20)
    good = (folder / "00010.png").read_bytes()
    (folder / "00010.png").write_bytes(good[: len(good) // 2])
    return folder


def _bomb_folder(tmp):
    folder = _gray_folder(tmp / "calib", 4)
    _bomb_png(folder / "bomb.png")
    return folder


def _fifo(tmp, name):
    os.mkfifo(tmp / name)
    return tmp / name


def _gate_copy(tmp):
    shutil.copy(GATE_REPORT, tmp / "report.json")
    return tmp / "report.json"


def _not_a_folder(tmp):
    (tmp / "afile").write_text("I am a file\n")
    return tmp / "afile"


def _ro_folder(tmp):
    (tmp / "ro").mkdir()
    os.chmod(tmp / "ro", 0o555)
    return tmp / "ro"


