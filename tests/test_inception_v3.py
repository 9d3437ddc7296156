"""inception-v3 in the zoo: Keras and PyTorch entries, torchvision-compatible names and parameter counts."""

import subprocess
import sys

import numpy as np
import pytest

from edge_inception.models.spec import Preprocessing
from edge_inception.models.zoo import get_entry, inception_v3, list_models

# torchvision's model card for inception_v3 (Inception_V3_Weights.IMAGENET1K_V1, "num_params"),
# https://pytorch.org/vision/stable/models/generated/torchvision.models.inception_v3.html; its
# checkpoint carries the AuxLogits head.
TORCHVISION_PARAMS_WITH_AUX = 27_161_264
# AuxLogits is conv0 (768*128 + 2*128 BN) + conv1 (128*768*5*5 + 2*768 BN) + fc (768*1000 + 1000)
# = 3,326,696 parameters, so torchvision's model with AuxLogits=None has:
TORCHVISION_PARAMS_NO_AUX = 23_834_568
# keras.applications.InceptionV3(weights=None, include_top=True).count_params(), BN moving stats included.
KERAS_PARAMS = 23_851_784

# (name, shape) pairs of torchvision's inception_v3 state_dict: stem, every block type, the head.
TORCHVISION_TENSORS = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_mean": (32,),
    "Conv2d_1a_3x3.bn.num_batches_tracked": (),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch3x3dbl_3b.bn.weight": (384,),
    "Mixed_7c.branch_pool.bn.running_var": (192,),
    "fc.weight": (1000, 2048),
    "fc.bias": (1000,),
}
TORCHVISION_AUX_TENSORS = {
    "AuxLogits.conv0.conv.weight": (128, 768, 1, 1),
    "AuxLogits.conv1.conv.weight": (768, 128, 5, 5),
    "AuxLogits.conv1.bn.running_mean": (768,),
    "AuxLogits.fc.weight": (1000, 768),
}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def torch_model():
    return inception_v3.build_torch().eval()


@pytest.fixture(scope="module")
def torch_model_aux():
    return inception_v3.build_torch(aux_logits=True)


def test_both_entries_registered_with_their_spec():
    entries = {(e.name, e.framework): e for e in list_models()}
    for framework, layout in (("keras", "NHWC"), ("torch", "NCHW")):
        e = entries[("inception-v3", framework)]
        assert e.weights is None and e.weights_path is None
        assert e.spec.name == "inception-v3" and e.spec.framework == framework
        assert e.spec.input_shape == (299, 299, 3) and e.spec.layout == layout
        assert e.spec.preprocessing == Preprocessing.preset("inception")
        assert e.spec.labels == ()


def test_listing_the_zoo_imports_no_framework():
    code = ("import sys; from edge_inception.models.zoo import list_models; list_models(); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_torch_parameter_counts_match_torchvision(torch_model, torch_model_aux):
    assert n_params(torch_model_aux) == TORCHVISION_PARAMS_WITH_AUX
    assert n_params(torch_model) == TORCHVISION_PARAMS_NO_AUX
    assert n_params(inception_v3.build_torch(num_classes=10)) == TORCHVISION_PARAMS_NO_AUX - 2049 * 990


def test_torch_state_dict_uses_torchvision_names(torch_model, torch_model_aux):
    sd, sd_aux = torch_model.state_dict(), torch_model_aux.state_dict()
    assert {k: tuple(sd[k].shape) for k in TORCHVISION_TENSORS} == TORCHVISION_TENSORS
    assert {k: tuple(sd_aux[k].shape) for k in TORCHVISION_AUX_TENSORS} == TORCHVISION_AUX_TENSORS
    assert not any(k.startswith("AuxLogits.") for k in sd)
    # 94 BasicConv2d (conv weight + 5 BN tensors each) + fc; AuxLogits adds 2 more and its own fc.
    assert (len(sd), len(sd_aux)) == (94 * 6 + 2, 96 * 6 + 4)
    assert set(sd_aux) - set(sd) == {k for k in sd_aux if k.startswith("AuxLogits.")}


def test_torchvision_checkpoint_loads_strictly_with_or_without_aux(torch_model_aux, tmp_path):
    import torch

    # A checkpoint in torchvision's layout (it carries AuxLogits), written to disk and read back safely.
    state = {k: torch.rand_like(v.float()).to(v.dtype) + 0.5 for k, v in torch_model_aux.state_dict().items()}
    torch.save(state, tmp_path / "inception_v3.pth")
    state = torch.load(tmp_path / "inception_v3.pth", weights_only=True)
    for aux_logits in (True, False):
        model = inception_v3.build_torch(aux_logits=aux_logits)
        model.load_state_dict(state)  # strict
        assert torch.equal(model.state_dict()["Mixed_7c.branch_pool.bn.running_var"],
                           state["Mixed_7c.branch_pool.bn.running_var"])
    # Strict still means strict for everything but the absent aux head.
    with pytest.raises(RuntimeError, match="Unexpected key"):
        model.load_state_dict({**state, "Mixed_5b.extra.weight": torch.zeros(1)})
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict({k: v for k, v in state.items() if k != "fc.bias"})


def test_torch_forward_eval_returns_logits_only(torch_model, torch_model_aux):
    import torch

    with torch.no_grad():
        y = torch_model(torch.rand(2, 3, 299, 299) * 2 - 1)
        # The aux head is skipped in eval; 75x75 is the smallest input the trunk takes, so this stays cheap.
        y_aux = torch_model_aux.eval()(torch.zeros(1, 3, 75, 75))
    assert isinstance(y, torch.Tensor) and y.shape == (2, 1000)
    assert torch.isfinite(y).all()
    assert isinstance(y_aux, torch.Tensor) and y_aux.shape == (1, 1000)


def test_keras_parameter_count_and_forward():
    from edge_inception._core.native import import_tensorflow

    import_tensorflow()
    model = inception_v3.build_keras()
    assert model.count_params() == KERAS_PARAMS
    assert tuple(model.input_shape) == (None, *get_entry("inception-v3", "keras").spec.input_shape)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 299, 299, 3)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, 1000)
    assert np.all(np.isfinite(y))
    assert not np.allclose(y.sum(axis=1), 1.0, atol=1e-3)  # logits, like the PyTorch twin, not softmax
    probs = np.asarray(inception_v3.build_keras(classifier_activation="softmax")(x, training=False))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)  # keras.applications' own head on request
