"""The Runtime contract, written once and run over every registered runtime (adding a runtime adds it here:
the test fails until the runtime has an artifact to contract-test).

Each runtime loads a float artifact of the shipped, trained inception-mini made for it, with a thread
count; runs batches of any size on real images; reports its engine, version and the host's ISA facts;
knows the files it runs and the ModelSpec they carry; refuses a file that is not a model with a one-line
error. Its answers must match the source Keras model's on real images.
"""

from pathlib import Path

import numpy as np
import pytest

from edge_inception._core.errors import InputError
from edge_inception.runtimes import get_runtime, list_runtimes
from tests.conftest import float_artifacts


def _make_artifacts(root: Path) -> dict[str, Path]:
    """One float artifact per runtime, from the shipped inception-mini (trained weights)."""
    import torch

    from edge_inception.models.loader import load_model
    from edge_inception.targets import get_target

    made = float_artifacts(root, ("tflite-fp32", "onnx-fp32", "openvino-fp32"))
    out = {get_target(name).runtime: path for name, path in made.items()}
    load_model("inception-mini").model.save(root / "m.keras")
    out["keras"] = root / "m.keras"
    tm = load_model("inception-mini", framework="torch")
    batch = torch.export.Dim("batch", min=1, max=1024)
    ep = torch.export.export(tm.model, (torch.zeros(2, 1, 28, 28),), dynamic_shapes=({0: batch},))
    torch.export.save(ep, root / "m.pt2")
    out["torch"] = root / "m.pt2"
    return out


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return _make_artifacts(tmp_path_factory.mktemp("runtimes"))


@pytest.fixture(scope="module")
def source_logits(sample_arrays):
    from edge_inception.models.loader import load_model

    lm = load_model("inception-mini")
    images, labels = sample_arrays["evaluation"]
    images = images[:64, :, :, None]  # (N, 28, 28) grey -> NHWC
    x = lm.spec.model_input(images)
    return np.asarray(lm.model(x, training=False)), images, labels[:64]


RUNTIMES = [rt.name for rt in list_runtimes()]


def test_five_runtimes_are_registered():
    assert set(RUNTIMES) >= {"litert", "onnxruntime", "openvino", "keras", "torch"}


@pytest.mark.parametrize("name", RUNTIMES)
def test_runtime_contract(name, artifacts, source_logits):
    from edge_inception.artifacts import open_artifact

    assert name in artifacts, f"runtime {name} has no artifact in the contract test: add one to _make_artifacts"
    rt = get_runtime(name)
    path = artifacts[name]
    assert rt.accepts(path)
    assert not any(get_runtime(o).accepts(path) for o in RUNTIMES if o != name), "two runtimes claim one file"

    # The artifact knows what it takes: input size, layout and preprocessing, so eval/bench need no flags.
    art = open_artifact(path)
    assert art.runtime == name
    assert art.spec.input_shape == (28, 28, 1)
    assert art.spec.layout == ("NCHW" if name == "torch" else "NHWC")

    session = rt.load(path, threads=1)
    facts = session.facts
    assert facts["engine"] and facts["version"] and facts["threads"] == 1
    assert "avx2" in facts["isa"] and "vnni" in facts["isa"] and facts["cpu"]
    assert session.input_shape[1:] == ((1, 28, 28) if name == "torch" else (28, 28, 1))

    ref, images, labels = source_logits
    for n in (1, 7, 64):  # any batch size
        y = session.run(art.spec.model_input(images[:n]))
        assert y.shape == (n, 10) and y.dtype == np.float32
    y = session.run(art.spec.model_input(images))
    # Float artifacts of a trained model: same answers as the source on real images.
    assert np.array_equal(y.argmax(1), ref.argmax(1))
    assert np.max(np.abs(y - ref)) < 1e-3
    assert (y.argmax(1) == labels).mean() > 0.85


@pytest.mark.parametrize("name", RUNTIMES)
def test_runtime_refuses_a_file_that_is_not_a_model(name, tmp_path):
    rt = get_runtime(name)
    suffix = next(s for s in rt.suffixes if s.startswith("."))
    bogus = tmp_path / f"notes{suffix}"
    bogus.write_text("this is a text file, not a model\n")
    with pytest.raises(InputError) as e:
        rt.load(bogus, threads=1)
    assert str(bogus) in e.value.message and "\n" not in e.value.message


def test_open_artifact_refuses_a_model_for_another_runtime(artifacts):
    from edge_inception.artifacts import open_artifact

    with pytest.raises(InputError, match="not a model the openvino runtime runs"):
        open_artifact(artifacts["litert"], runtime="openvino")
