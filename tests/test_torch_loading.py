"""PyTorch models in: factories (module or file), ExportedProgram, TorchScript, state_dicts, safely."""

import numpy as np
import pytest
import torch

from edge_inception._core.errors import InputError, UsageError
from edge_inception.models.loader import load_model

NET = '''
import torch
from torch import nn

def small():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))
'''


@pytest.fixture
def net_file(tmp_path):
    f = tmp_path / "nets.py"
    f.write_text(NET)
    return f


def test_zoo_torch_twin():
    lm = load_model("inception-mini", framework="torch")
    assert lm.kind == "torch" and lm.spec.layout == "NCHW" and lm.spec.input_shape == (28, 28, 1)
    assert not lm.model.training


def test_module_factory_with_weights(tmp_path):
    from edge_inception.models.zoo import inception_mini

    model = inception_mini.build_torch()
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    lm = load_model("edge_inception.models.zoo.inception_mini:build_torch", weights=tmp_path / "sd.pt",
                    input_shape=(1, 28, 28))
    assert lm.kind == "torch" and lm.spec.input_shape == (28, 28, 1)
    for k, v in model.state_dict().items():
        assert torch.equal(lm.model.state_dict()[k], v)


def test_file_factory_needs_input_shape(net_file):
    with pytest.raises(UsageError, match="--input-shape"):
        load_model(f"{net_file}:small")
    lm = load_model(f"{net_file}:small", input_shape=(3, 32, 32))
    assert lm.spec.input_shape == (32, 32, 3) and lm.spec.name == "small"


def test_state_dict_that_does_not_fit(net_file, tmp_path):
    from edge_inception.models.zoo import inception_mini

    torch.save(inception_mini.build_torch().state_dict(), tmp_path / "other.pt")
    with pytest.raises(InputError) as e:
        load_model(f"{net_file}:small", weights=tmp_path / "other.pt", input_shape=(3, 32, 32))
    assert "other.pt" in e.value.message and "does not fit the architecture" in e.value.message
    assert "unexpected keys" in e.value.message


def test_pickled_code_is_refused(net_file, tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this would have run",))

    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="not a plain state_dict"):
        load_model(f"{net_file}:small", weights=tmp_path / "evil.pt", input_shape=(3, 32, 32))


def test_exported_program_infers_its_shape(tmp_path):
    from edge_inception.models.zoo import inception_mini

    model = inception_mini.build_torch().eval()
    fixed = torch.export.export(model, (torch.zeros(1, 1, 28, 28),))
    torch.export.save(fixed, tmp_path / "fixed.pt2")
    with pytest.raises(InputError, match="fixed batch size"):
        load_model(tmp_path / "fixed.pt2")
    ep = torch.export.export(model, (torch.zeros(2, 1, 28, 28),),
                             dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, tmp_path / "mini.pt2")
    lm = load_model(tmp_path / "mini.pt2")
    assert lm.spec.input_shape == (28, 28, 1)
    x = torch.from_numpy(np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(lm.model(x).numpy(), model(x).numpy(), atol=1e-5)


def test_torchscript_loads(tmp_path, net_file):
    lm0 = load_model(f"{net_file}:small", input_shape=(3, 16, 16))
    torch.jit.save(torch.jit.script(lm0.model), tmp_path / "small.pt")
    lm = load_model(tmp_path / "small.pt", input_shape=(3, 16, 16))
    assert lm.kind == "torch" and lm.spec.input_shape == (16, 16, 3)
    with pytest.raises(UsageError, match="--input-shape"):
        load_model(tmp_path / "small.pt")


def test_not_a_torchscript_file(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a TorchScript model"):
        load_model(tmp_path / "junk.pt", input_shape=(3, 8, 8))
