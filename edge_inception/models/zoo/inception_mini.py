"""inception-mini: a small GoogLeNet-style net for 28x28 grayscale images (Fashion-MNIST).

A stem, six Inception modules in three stages with the paper's four branches (1x1; 1x1->3x3; 1x1->5x5;
3x3 max-pool->1x1) concatenated on channels, global average pooling and a classifier. The Keras
and PyTorch builders are twins: same layers, same order, same names, so weights port one-to-one.
"""

from __future__ import annotations

from edge_inception.data.readers import FASHION_MNIST_LABELS
from edge_inception.models.spec import ModelSpec, Preprocessing
from edge_inception.models.zoo import register_model

STEM = 32
# module name -> (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj). Three stages, as in GoogLeNet:
# 3a-3b at 14x14, 4a-4b at 7x7, 5a-5b at 4x4, each stage entered through a 2x2 max-pool. Stage 5
# holds most of the weights at little compute, so weights (not per-tensor metadata) dominate the file.
MODULES = {
    "3a": (16, 16, 24, 8, 8, 8),
    "3b": (32, 24, 48, 8, 16, 16),
    "4a": (48, 32, 64, 8, 24, 24),
    "4b": (64, 48, 96, 16, 32, 32),
    "5a": (96, 64, 160, 24, 64, 64),
    "5b": (112, 80, 160, 24, 64, 48),
}
POOL_BEFORE = {"3a", "4a", "5a"}
NUM_CLASSES = 10
CARD_ARCHITECTURE = [  # the model card's architecture lines (train.py)
    "- **Architecture**: stem conv 3x3/32, Inception modules 3a-3b (14x14), 4a-4b (7x7), 5a-5b (4x4),",
    "  each with the four branches 1x1; 1x1->3x3; 1x1->5x5; 3x3 max-pool->1x1, concatenated; a 2x2",
    "  max-pool before each stage, global average pool, dense 10. BatchNorm after every conv.",
]


def _spec(framework: str) -> ModelSpec:
    return ModelSpec(
        name="inception-mini",
        framework=framework,
        input_shape=(28, 28, 1),
        layout="NCHW" if framework == "torch" else "NHWC",
        preprocessing=Preprocessing(scale=1 / 255, mean=(0.0,), std=(1.0,)),
        labels=FASHION_MNIST_LABELS,
    )


def module_channels(name: str) -> int:
    b1, _, b2, _, b3, b4 = MODULES[name]
    return b1 + b2 + b3 + b4


@register_model("inception-mini", framework="keras", spec=_spec("keras"),
                weights="inception_mini.keras.weights.h5",
                description="6 Inception modules (3a-5b), 28x28x1, trained on Fashion-MNIST")
def build_keras(keras_module=None):
    """Functional Keras model. ``keras_module`` may be ``tf_keras`` for a Keras 2 twin (QAT)."""
    if keras_module is None:
        import keras as keras_module
    L = keras_module.layers

    def conv_bn(x, filters, size, name):
        x = L.Conv2D(filters, size, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = L.BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x)
        return L.ReLU(name=f"{name}_relu")(x)

    inputs = keras_module.Input((28, 28, 1), name="image")
    x = conv_bn(inputs, STEM, 3, "stem")
    for name, (c1, r3, c3, r5, c5, cp) in MODULES.items():
        if name in POOL_BEFORE:
            x = L.MaxPooling2D(2, padding="same", name=f"pool_{name}")(x)
        p = f"inception_{name}"
        b1 = conv_bn(x, c1, 1, f"{p}_b1_1x1")
        b2 = conv_bn(conv_bn(x, r3, 1, f"{p}_b2_1x1"), c3, 3, f"{p}_b2_3x3")
        b3 = conv_bn(conv_bn(x, r5, 1, f"{p}_b3_1x1"), c5, 5, f"{p}_b3_5x5")
        b4 = L.MaxPooling2D(3, strides=1, padding="same", name=f"{p}_b4_pool")(x)
        b4 = conv_bn(b4, cp, 1, f"{p}_b4_1x1")
        x = L.Concatenate(axis=-1, name=f"{p}_concat")([b1, b2, b3, b4])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.2, name="dropout")(x)
    outputs = L.Dense(NUM_CLASSES, name="logits")(x)
    return keras_module.Model(inputs, outputs, name="inception_mini")


@register_model("inception-mini", framework="torch", spec=_spec("torch"),
                weights="inception_mini.torch.pt",
                description="PyTorch twin of the Keras inception-mini (NCHW), same weights")
def build_torch():
    import torch
    from torch import nn

    class ConvBN(nn.Sequential):
        def __init__(self, cin: int, cout: int, k: int):
            # eps and momentum match Keras' BatchNormalization(epsilon=1e-3, momentum=0.99)
            super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                             nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True))

    class Inception(nn.Module):
        def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, cp: int):
            super().__init__()
            self.b1 = ConvBN(cin, c1, 1)
            self.b2 = nn.Sequential(ConvBN(cin, r3, 1), ConvBN(r3, c3, 3))
            self.b3 = nn.Sequential(ConvBN(cin, r5, 1), ConvBN(r5, c5, 5))
            self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvBN(cin, cp, 1))

        def forward(self, x):
            return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)

    class InceptionMini(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = ConvBN(1, STEM, 3)
            blocks: list[nn.Module] = []
            cin = STEM
            for name, cfg in MODULES.items():
                if name in POOL_BEFORE:
                    blocks.append(nn.MaxPool2d(2, ceil_mode=True))  # = Keras padding="same" (7 -> 4)
                blocks.append(Inception(cin, *cfg))
                cin = module_channels(name)
            self.features = nn.Sequential(*blocks)
            self.dropout = nn.Dropout(0.2)
            self.logits = nn.Linear(cin, NUM_CLASSES)

        def forward(self, x):
            x = self.features(self.stem(x))
            x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            return self.logits(self.dropout(x))

    return InceptionMini()


def keras_to_torch_state_dict(keras_model) -> dict:
    """Map a trained Keras inception-mini's weights onto the PyTorch twin's state_dict."""
    import numpy as np
    import torch

    torch_model = build_torch()
    sd = {}
    torch_convbn = [torch_model.stem]
    for block in torch_model.features:
        if hasattr(block, "b1"):
            torch_convbn += [block.b1, block.b2[0], block.b2[1], block.b3[0], block.b3[1], block.b4[1]]
    keras_names = ["stem"]
    for name in MODULES:
        p = f"inception_{name}"
        keras_names += [f"{p}_b1_1x1", f"{p}_b2_1x1", f"{p}_b2_3x3", f"{p}_b3_1x1", f"{p}_b3_5x5", f"{p}_b4_1x1"]
    prefix = {id(m): n for n, m in torch_model.named_modules()}
    for kname, tmod in zip(keras_names, torch_convbn, strict=True):
        tp = prefix[id(tmod)]
        (kernel,) = keras_model.get_layer(f"{kname}_conv").get_weights()
        gamma, beta, mean, var = keras_model.get_layer(f"{kname}_bn").get_weights()
        sd[f"{tp}.0.weight"] = torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1)).copy())
        for key, val in zip(("weight", "bias", "running_mean", "running_var"), (gamma, beta, mean, var), strict=True):
            sd[f"{tp}.1.{key}"] = torch.from_numpy(val.copy())
        sd[f"{tp}.1.num_batches_tracked"] = torch.tensor(0)
    w, b = keras_model.get_layer("logits").get_weights()
    sd["logits.weight"] = torch.from_numpy(w.T.copy())
    sd["logits.bias"] = torch.from_numpy(b.copy())
    torch_model.load_state_dict(sd)  # strict: every key must be covered
    return torch_model.state_dict()
