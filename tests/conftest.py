import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edge_inception.cli import main  # noqa: E402


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def sample_arrays():
    from edge_inception.data.readers import read_sample

    return {"calibration": read_sample("calibration"), "evaluation": read_sample("evaluation")}


def write_pngs(folder, images, labels=None, class_names=None):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        sub = folder if labels is None else folder / (class_names[labels[i]] if class_names else str(labels[i]))
        sub.mkdir(exist_ok=True)
        Image.fromarray(np.asarray(im, np.uint8)).save(sub / f"{i:05d}.png")
    return folder


@pytest.fixture(scope="session")
def image_folders(tmp_path_factory, sample_arrays):
    """Real Fashion-MNIST images as PNG files: an unlabelled calibration folder, a labelled eval folder."""
    root = tmp_path_factory.mktemp("images")
    cx, _ = sample_arrays["calibration"]
    ex, ey = sample_arrays["evaluation"]
    return {
        "calibration": write_pngs(root / "calib", cx[:100]),
        "evaluation": write_pngs(root / "eval", ex[:300], ey[:300]),
    }


@pytest.fixture(scope="session")
def main_job(tmp_path_factory):
    """The README's main job, run once: convert the shipped model to tflite-int8."""
    out = tmp_path_factory.mktemp("main-job")
    code = main(["convert", "--target", "tflite-int8", "--out", str(out), "--force"])
    return code, out
