"""Inception-ResNet in the zoo: the inception-resnet-mini twins (structure, weight port, shipped weights)
and the plain-PyTorch Inception-ResNet v2 with timm's parameter names and count."""

import json

import numpy as np
import pytest

from edge_inception.models.zoo import create_model, get_entry, inception_resnet_mini, list_models
from edge_inception.models.zoo.train import CARD_JSON

# timm's inception_resnet_v2 (huggingface/pytorch-image-models, timm/models/inception_resnet_v2.py):
# its model card gives 55.8 M parameters; the exact count of that architecture is below.
TIMM_PARAMS = 55_843_464
# (name, shape) pairs of timm's state_dict: stem, each block type, the last Block8 and the classifier.
TIMM_TENSORS = {
    "conv2d_1a.conv.weight": (32, 3, 3, 3),
    "conv2d_1a.bn.running_var": (32,),
    "conv2d_4a.conv.weight": (192, 80, 3, 3),
    "mixed_5b.branch1.1.conv.weight": (64, 48, 5, 5),
    "mixed_5b.branch3.1.conv.weight": (64, 192, 1, 1),
    "repeat.0.branch2.2.conv.weight": (64, 48, 3, 3),
    "repeat.9.conv2d.weight": (320, 128, 1, 1),
    "repeat.9.conv2d.bias": (320,),
    "mixed_6a.branch1.2.conv.weight": (384, 256, 3, 3),
    "repeat_1.19.branch1.1.conv.weight": (160, 128, 1, 7),
    "repeat_1.19.branch1.2.conv.weight": (192, 160, 7, 1),
    "mixed_7a.branch2.2.conv.weight": (320, 288, 3, 3),
    "repeat_2.8.branch1.2.conv.weight": (256, 224, 3, 1),
    "block8.conv2d.weight": (2080, 448, 1, 1),
    "conv2d_7b.bn.num_batches_tracked": (),
    "classif.weight": (1000, 1536),
    "classif.bias": (1000,),
}


def test_both_twins_and_the_torch_v2_are_registered():
    names = {(e.name, e.framework) for e in list_models()}
    assert {("inception-resnet-mini", "keras"), ("inception-resnet-mini", "torch"),
            ("inception-resnet-v2", "keras"), ("inception-resnet-v2", "torch")} <= names
    spec = get_entry("inception-resnet-v2", "torch").spec
    assert spec.layout == "NCHW" and spec.input_shape == (299, 299, 3)


def test_residual_modules_scale_the_projection_before_the_add():
    m = create_model("inception-resnet-mini", pretrained=False)
    adds = [layer for layer in m.layers if layer.name.endswith("_add")]
    assert len(adds) >= 3
    scales = {}
    for add in adds:
        mod = add.name[: -len("_add")]
        scale = m.get_layer(f"{mod}_scale")
        assert scale.input.name == m.get_layer(f"{mod}_up").output.name  # 1x1 projection -> scale -> add
        assert len(m.get_layer(f"{mod}_concat").input) >= 2
        scales[mod] = scale.scale
    assert set(scales.values()) == {0.17, 0.1, 0.2}
    assert m.get_layer("reduction_concat") is not None and m.output.shape[-1] == 10


def test_torch_twin_matches_keras_with_ported_weights():
    import torch

    keras_model = create_model("inception-resnet-mini", pretrained=False)
    rng = np.random.default_rng(0)
    for layer in keras_model.layers:  # non-trivial BatchNorm statistics, so every ported tensor matters
        if layer.name.endswith("_bn"):
            layer.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    torch_model = inception_resnet_mini.build_torch()
    torch_model.load_state_dict(inception_resnet_mini.keras_to_torch_state_dict(keras_model))
    torch_model.eval()
    x = rng.random((4, 28, 28, 1), dtype=np.float32)
    k = np.asarray(keras_model(x, training=False))
    with torch.no_grad():
        t = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(t, k, atol=1e-4, rtol=1e-4)
    # the twins share a vocabulary: each Keras conv layer is a PyTorch module path with '.' for '_'
    torch_paths = {n.replace(".", "_") for n, _ in torch_model.named_modules()}
    for layer in keras_model.layers:
        if layer.name.endswith("_conv"):
            assert layer.name[: -len("_conv")] + "_conv" in torch_paths, layer.name


def test_shipped_weights_are_trained_and_the_twins_agree(sample_arrays):
    import torch

    entry = get_entry("inception-resnet-mini", "torch")
    keras_model = create_model("inception-resnet-mini")
    torch_model = create_model("inception-resnet-mini", framework="torch")
    images, labels = sample_arrays["evaluation"]
    x = entry.spec.preprocessing.apply(images[:500, ..., None])
    k = np.asarray(keras_model(x, training=False))
    with torch.no_grad():
        t = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(t, k, atol=1e-3)
    assert (t.argmax(1) == k.argmax(1)).all()
    assert (k.argmax(1) == labels[:500]).mean() > 0.88  # trained: ~92% on the full test split
    card = json.loads(CARD_JSON.read_text())["inception-resnet-mini"]
    assert card["keras"]["test_top1"] >= 0.92 and card["torch"]["agreement_with_keras"] == 1.0


@pytest.fixture(scope="module")
def irv2_torch():
    return create_model("inception-resnet-v2", framework="torch", pretrained=False)


def test_torch_inception_resnet_v2_has_timms_names_and_count(irv2_torch):
    assert sum(p.numel() for p in irv2_torch.parameters()) == TIMM_PARAMS
    assert round(TIMM_PARAMS / 1e6, 1) == 55.8  # the model card's figure
    sd = irv2_torch.state_dict()
    for name, shape in TIMM_TENSORS.items():
        assert tuple(sd[name].shape) == shape, name
    assert len([k for k in sd if k.startswith("repeat.") and k.endswith(".conv2d.weight")]) == 10
    assert len([k for k in sd if k.startswith("repeat_1.") and k.endswith(".conv2d.weight")]) == 20
    assert len([k for k in sd if k.startswith("repeat_2.") and k.endswith(".conv2d.weight")]) == 9
    assert irv2_torch.block8.relu is None and irv2_torch.block8.scale == 1.0
    assert {b.scale for b in irv2_torch.repeat} == {0.17} and {b.scale for b in irv2_torch.repeat_2} == {0.2}
    assert not irv2_torch.training


def test_torch_inception_resnet_v2_runs(irv2_torch):
    import torch

    with torch.no_grad():  # 75x75, the smallest input its valid-padded reductions take (299 in benchmarks/)
        out = irv2_torch(torch.zeros(1, 3, 75, 75))
    assert out.shape == (1, 1000)
    # a state_dict of the same names loads strictly (what a timm checkpoint needs)
    irv2_torch.load_state_dict({k: v.clone() for k, v in irv2_torch.state_dict().items()}, strict=True)


@pytest.mark.slow
def test_inception_resnet_mini_to_every_int8_target_holds_accuracy(tmp_path):
    """The trained Keras Inception-ResNet through every int8 target on 500 real images of the shipped
    sample: each artifact verified, within the profiles' 1.0-point / 97% bar. (The PyTorch twin's
    full-integer TFLite is tests/test_residual_int8.py; both frameworks' 10,000-image figures are in
    docs/zoo.md; CI time keeps it to one framework here.)"""
    framework = "keras"
    from edge_inception import convert

    report = convert("inception-resnet-mini", framework=framework, targets="tflite-int8,onnx-int8,openvino-int8",
                     eval_limit=500, latency_runs=2, out=tmp_path / "out")
    assert report["model"]["random_weights"] is False
    for row in report["targets"]:
        assert row["status"] == "ok" and row["verification"]["ok"], (row["target"], row.get("message"))
        acc = row["accuracy"]
        assert acc["n"] == 500
        assert acc["top1"] >= acc["float_top1"] - 0.01 and acc["agreement"] >= 0.97, (row["target"], acc)
