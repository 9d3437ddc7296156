"""The zoo's GoogLeNet (Keras + PyTorch) and Inception-ResNet v2 (Keras): parameter counts, specs,
torchvision-compatible checkpoints, auxiliary heads for training and stripped for deployment, and (slow)
conversion of each to every int8 target with random weights."""

import dataclasses
import functools
import json

import numpy as np
import pytest

from edge_inception.models.spec import Preprocessing
from edge_inception.models.zoo import get_entry, googlenet, inception_resnet_v2, list_models

# torchvision's model card for googlenet (GoogLeNet_Weights.IMAGENET1K_V1, "num_params"),
# https://pytorch.org/vision/stable/models/generated/torchvision.models.googlenet.html: the deployed
# model, aux heads stripped (torchvision's pretrained builder sets aux1 = aux2 = None after loading).
TORCHVISION_PARAMS = 6_624_904
# Each InceptionAux: conv 1x1 (in*128 + 2*128 BN) + fc1 (2048*1024 + 1024) + fc2 (1024*1000 + 1000):
# 2,190,952 + 128*512 (aux1, in=512) and + 128*528 (aux2, in=528).
TORCHVISION_PARAMS_WITH_AUX = 13_004_888
# Keras GoogLeNet = Table 1 with real 5x5 kernels (+ sum of r5*c5*(25-9) over the nine modules =
# 380,928), BatchNorm without a scale (- 7,280 gammas), moving mean and variance counted by Keras'
# count_params (+ 2 * 7,280): 6,624,904 + 380,928 - 7,280 + 14,560.
KERAS_PARAMS = 7_013_112
KERAS_TRAINABLE = 6_998_552
# keras.applications.InceptionResNetV2(weights=None, include_top=True).count_params()
IRV2_PARAMS = 55_873_736

# (name, shape) pairs of torchvision's googlenet state_dict.
TORCHVISION_TENSORS = {
    "conv1.conv.weight": (64, 3, 7, 7),
    "conv1.bn.running_var": (64,),
    "conv3.conv.weight": (192, 64, 3, 3),
    "inception3a.branch1.conv.weight": (64, 192, 1, 1),
    "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
    "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),  # torchvision's "5x5" is 3x3 (vision#906)
    "inception4e.branch4.1.bn.num_batches_tracked": (),
    "inception5b.branch4.1.conv.weight": (128, 832, 1, 1),
    "fc.weight": (1000, 1024),
}
TORCHVISION_AUX_TENSORS = {
    "aux1.conv.conv.weight": (128, 512, 1, 1),
    "aux1.fc1.weight": (1024, 2048),
    "aux2.conv.conv.weight": (128, 528, 1, 1),
    "aux2.fc2.bias": (1000,),
}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def tf():
    from edge_inception._core.native import import_tensorflow

    return import_tensorflow()


def test_entries_registered_with_their_spec():
    entries = {(e.name, e.framework): e for e in list_models()}
    for (name, framework), size, layout in ((("googlenet", "keras"), 224, "NHWC"),
                                            (("googlenet", "torch"), 224, "NCHW"),
                                            (("inception-resnet-v2", "keras"), 299, "NHWC")):
        e = entries[(name, framework)]
        assert e.weights is None and e.spec.name == name and e.spec.framework == framework
        assert e.spec.input_shape == (size, size, 3) and e.spec.layout == layout
        assert e.spec.preprocessing == Preprocessing.preset("inception")


def test_models_command_lists_the_new_entries(run_cli):
    code, out, _ = run_cli("models", "--json")
    rows = {(r["name"], r["framework"]): r for r in json.loads(out)}
    assert code == 0
    assert rows[("googlenet", "torch")]["input"] == "224x224x3"
    assert rows[("inception-resnet-v2", "keras")]["input"] == "299x299x3"
    assert not rows[("googlenet", "keras")]["trained_weights"]


def test_torch_googlenet_matches_torchvision():
    import torch

    model, model_aux = googlenet.build_torch(), googlenet.build_torch(aux_logits=True)
    assert n_params(model) == TORCHVISION_PARAMS
    assert n_params(model_aux) == TORCHVISION_PARAMS_WITH_AUX
    sd, sd_aux = model.state_dict(), model_aux.state_dict()
    assert {k: tuple(sd[k].shape) for k in TORCHVISION_TENSORS} == TORCHVISION_TENSORS
    assert {k: tuple(sd_aux[k].shape) for k in TORCHVISION_AUX_TENSORS} == TORCHVISION_AUX_TENSORS
    assert not any(k.startswith("aux") for k in sd)
    # 57 BasicConv2d (conv weight + 5 BN tensors each) + fc weight and bias; each aux head adds one more
    # BasicConv2d and two linear layers.
    assert (len(sd), len(sd_aux)) == (57 * 6 + 2, 59 * 6 + 2 + 8)
    with torch.no_grad():
        y = model.eval()(torch.zeros(1, 3, 64, 64))  # any input from 32x32 up runs; 64 keeps the test fast
    assert isinstance(y, torch.Tensor) and y.shape == (1, 1000)


def test_torchvision_checkpoint_loads_strictly_with_or_without_aux(tmp_path):
    import torch

    ref = googlenet.build_torch(aux_logits=True)  # torchvision's checkpoint carries aux1 and aux2
    state = {k: torch.rand_like(v.float()).to(v.dtype) + 0.5 for k, v in ref.state_dict().items()}
    torch.save(state, tmp_path / "googlenet.pth")
    state = torch.load(tmp_path / "googlenet.pth", weights_only=True)
    outputs = []
    for aux in (True, False):
        model = googlenet.build_torch(aux_logits=aux)
        model.load_state_dict(state)  # strict
        with torch.no_grad():
            outputs.append(model.eval()(torch.ones(1, 3, 64, 64)))
    torch.testing.assert_close(outputs[0], outputs[1])  # eval: aux heads unused, same logits
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict({k: v for k, v in state.items() if k != "fc.bias"})
    # Training with aux heads gives torchvision's (logits, aux2, aux1).
    out = googlenet.build_torch(aux_logits=True).train()(torch.rand(2, 3, 64, 64))  # aux pools adaptively
    assert [tuple(t.shape) for t in out] == [(2, 1000)] * 3 and out._fields == ("logits", "aux_logits2", "aux_logits1")


def test_keras_googlenet_counts_and_aux_heads(tf):
    import tf_keras

    model = googlenet.build_keras()
    assert model.count_params() == KERAS_PARAMS
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == KERAS_TRAINABLE
    assert len(model.outputs) == 1 and tuple(model.input_shape) == (None, 224, 224, 3)
    concats = [layer for layer in model.layers if type(layer).__name__ == "Concatenate"]
    assert [c.name for c in concats] == [f"inception_{m}_output" for m in googlenet.MODULES]
    assert all(len(c.input) == 4 for c in concats)
    assert model.get_layer("inception_3a_5x5").kernel_size == (5, 5)

    train = googlenet.build_keras(aux=True, num_classes=10)
    assert [tuple(o.shape) for o in train.outputs] == [(None, 10)] * 3
    assert train.output_names == ["logits", "aux1_logits", "aux2_logits"]
    # The training model's trunk weights transfer by name to the stripped deployment model.
    deploy = googlenet.build_keras(num_classes=10)
    for layer in deploy.layers:
        layer.set_weights(train.get_layer(layer.name).get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(deploy(x, training=False)), np.asarray(train(x, training=False)[0]),
                               atol=1e-5)
    assert googlenet.build_keras(keras_module=tf_keras).count_params() == KERAS_PARAMS


def test_keras_inception_resnet_v2_count(tf, tmp_path):
    assert get_entry("inception-resnet-v2").spec.input_shape == inception_resnet_v2.INPUT_SHAPE == (299, 299, 3)
    # The parameter count does not depend on the input size; 75x75 (the smallest it takes) builds faster.
    model = inception_resnet_v2.build_keras(input_shape=(75, 75, 3))
    assert model.count_params() == IRV2_PARAMS
    from edge_inception._core.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        inception_resnet_v2.build_keras(weights=tmp_path / "missing.h5")


# ------------------------------------------------------------------------------------------------ slow

INT8_TARGETS = ("tflite-int8", "onnx-int8", "openvino-int8")


def _to_every_int8_target(name: str, framework: str, tmp_path, *, size: int | None = None) -> None:
    """Quantize straight to each int8 target with the target's own library and check the artifact against
    its profile, then run it once. This checks conversion (random weights say nothing about accuracy), so
    unlike `convert` it builds no float references and measures nothing: that halves CI time.

    The conversions run in a fresh process, not in the test worker: TensorFlow, tf2onnx and the quantizers
    keep what they allocated until the process ends (one process converting a 56M-parameter model to three
    targets in a row peaked at 21 GB here, tf2onnx alone 10.5 GB). GoogLeNet (7M parameters) converts to
    all three in one such process, which loads the framework and builds the model once, not per target;
    its peak is checked below (ru_maxrss)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        peak_mb = pool.apply(_convert_all, (name, framework, size, INT8_TARGETS, str(tmp_path)))
    assert peak_mb < 6 * 1024, f"{name} ({framework}) to {INT8_TARGETS} in one process peaked at {peak_mb} MB"


def _convert_all(name: str, framework: str, size: int | None, targets, folder: str) -> int:
    """Convert to each of ``targets`` in this process; returns its peak RSS in MB."""
    import resource
    from pathlib import Path

    from edge_inception._core.memory import release_free_memory
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.formats import artifact_path, artifact_size
    from edge_inception.models import zoo
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.runtimes import get_runtime
    from edge_inception.targets import get_target
    from edge_inception.validate import validate

    if size is not None:  # the same architecture at a smaller input (this process only)
        entry = zoo.get_entry(name, framework)
        zoo._REGISTRY[(name, framework)] = dataclasses.replace(
            entry, builder=functools.partial(entry.builder, input_shape=(size, size, 3)),
            spec=dataclasses.replace(entry.spec, input_shape=(size, size, 3)))
    lm = load_model(name, framework=framework)
    if size is not None:
        assert lm.spec.input_shape == (size, size, 3)
    src = open_source("sample:calibration", lm.spec, split="train", labelled=False, limit=4)
    calib = CalibrationSet(src, lm.spec, samples=4, batch_size=4)
    x = next(calib.float_batches())[:2]
    float_bytes = 4 * _param_count(lm)
    for target in targets:
        t = get_target(target)
        dest = artifact_path(Path(folder), f"{lm.spec.name}.{target}", t.format)
        quantize(lm, dest, target=t, calibration=calib)
        assert validate(dest, t) == [], target  # every conv int8, as the profile demands
        assert float_bytes / artifact_size(dest) > 2.5, target
        y = get_runtime(t.runtime).load(dest, threads=2).run(x)
        assert y.shape == (2, 1000) and np.isfinite(y).all(), target
        release_free_memory()
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _param_count(lm) -> int:
    if lm.kind == "torch":
        return sum(p.numel() for p in lm.model.parameters())
    return lm.model.count_params()


@pytest.mark.slow
def test_googlenet_keras_to_every_int8_target(tmp_path):
    """The stripped (deployment) Keras GoogLeNet at its 224x224 input, random weights."""
    _to_every_int8_target("googlenet", "keras", tmp_path)


@pytest.mark.slow
def test_googlenet_torch_to_every_int8_target(tmp_path):
    """The stripped torchvision-compatible GoogLeNet at 224x224, random weights (tflite-int8 through
    litert-torch in its own venv)."""
    assert get_entry("googlenet", "torch").spec.layout == "NCHW"
    _to_every_int8_target("googlenet", "torch", tmp_path)
