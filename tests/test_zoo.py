"""The zoo: registry, the Keras/PyTorch twins of inception-mini, shipped weights."""

import numpy as np
import pytest

from edge_inception.models.zoo import create_model, get_entry, inception_mini, list_models, register_model


def test_registry_lists_both_twins_and_refuses_duplicates():
    names = {(e.name, e.framework) for e in list_models()}
    assert {("inception-mini", "keras"), ("inception-mini", "torch")} <= names
    with pytest.raises(ValueError, match="registered twice"):
        register_model("inception-mini", framework="keras", spec=get_entry("inception-mini").spec)(lambda: None)


def test_inception_modules_have_four_branches_concatenated():
    m = create_model("inception-mini", pretrained=False)
    concats = [layer for layer in m.layers if layer.name.endswith("_concat")]
    assert len(concats) >= 3
    for c in concats:
        assert len(c.input) == 4
    assert m.output.shape[-1] == 10


def test_torch_twin_matches_keras_with_ported_weights():
    import torch

    keras_model = create_model("inception-mini", pretrained=False)
    # Give BatchNorm non-trivial statistics so the port of every tensor is exercised.
    rng = np.random.default_rng(0)
    for layer in keras_model.layers:
        if layer.name.endswith("_bn"):
            layer.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    torch_model = inception_mini.build_torch()
    torch_model.load_state_dict(inception_mini.keras_to_torch_state_dict(keras_model))
    torch_model.eval()
    x = rng.random((4, 28, 28, 1), dtype=np.float32)
    k = np.asarray(keras_model(x, training=False))
    with torch.no_grad():
        t = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(t, k, atol=1e-4, rtol=1e-4)


def test_shipped_torch_weights_load_safely_and_match_keras(sample_arrays):
    import torch

    entry = get_entry("inception-mini", "torch")
    state = torch.load(entry.weights_path, weights_only=True)
    assert "logits.weight" in state
    torch_model = create_model("inception-mini", framework="torch")
    keras_model = create_model("inception-mini")
    x = entry.spec.preprocessing.apply(sample_arrays["evaluation"][0][:64, ..., None])
    with torch.no_grad():
        t = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(t, np.asarray(keras_model(x, training=False)), atol=1e-3)


def test_torch_zoo_models_are_built_for_deployment():
    """Without shipped weights too: a torch model left in training mode exports dropout as random ops."""
    assert not create_model("inception-mini", framework="torch", pretrained=False).training
    assert not create_model("inception-v3", framework="torch", pretrained=False).training
    assert not create_model("googlenet", framework="torch", pretrained=False).training
