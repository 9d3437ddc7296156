"""inception-resnet-mini: a small Inception-ResNet for 28x28 grayscale images (Fashion-MNIST).

    from edge_inception.models.zoo import create_model
    k = create_model("inception-resnet-mini")                     # Keras, trained weights
    t = create_model("inception-resnet-mini", framework="torch")  # PyTorch twin, the same weights

The shape of Keras' InceptionResNetV2 at toy size: a stem, three residual modules A at 14x14
(block35-like, residual scale 0.17), a reduction module to 6x6 (valid stride-2 convolutions and a
max-pool, concatenated), two residual modules B (block17-like, 1x7/7x1, scale 0.1) and one residual
module C (block8-like, 1x3/3x1, scale 0.2), global average pooling and a classifier. In every
residual module the branches are concatenated, projected back to the module's width by a biased 1x1
convolution without BatchNorm, scaled by a constant and added to the module input, then ReLU.

The twins share names: the Keras layer ``block_a1_b2_1_conv`` is the PyTorch module
``block_a1.b2.1.conv`` (dots for underscores after the module name), so errors, diagnoses and the
weight port all use one vocabulary. The PyTorch residual is written ``x + 0.17 * up`` on purpose: it
is the form users write, and the int8 exporters must handle it (exporters/_module_paths.py's
export_for_quantization).
"""

from __future__ import annotations

from edge_inception.data.readers import FASHION_MNIST_LABELS
from edge_inception.models.spec import ModelSpec, Preprocessing
from edge_inception.models.zoo import register_model

NAME = "inception-resnet-mini"
NUM_CLASSES = 10
STEM = (32, 64)  # stem_1 at 28x28, stem_2 at 14x14 after a 2x2 max-pool
WIDTH_A = 64
# Reduction: b0 3x3/2; b1 1x1 -> 3x3 -> 3x3/2; b2 3x3/2 max-pool (WIDTH_A channels). 14x14 -> 6x6.
REDUCTION = {"b0": 96, "b1": (32, 48, 64)}
WIDTH_B = REDUCTION["b0"] + REDUCTION["b1"][-1] + WIDTH_A  # 224
# module -> (kind, residual scale); the scales are Keras InceptionResNetV2's for block35/17/8.
MODULES = {"block_a1": ("a", 0.17), "block_a2": ("a", 0.17), "block_a3": ("a", 0.17),
           "block_b1": ("b", 0.1), "block_b2": ("b", 0.1), "block_c1": ("c", 0.2)}
# kind -> branches, each a list of (filters, kernel) convolutions, stride 1, "same" padding.
BRANCHES = {
    "a": [[(16, (1, 1))], [(16, (1, 1)), (16, (3, 3))], [(16, (1, 1)), (24, (3, 3)), (32, (3, 3))]],
    "b": [[(64, (1, 1))], [(48, (1, 1)), (56, (1, 7)), (64, (7, 1))]],
    "c": [[(64, (1, 1))], [(64, (1, 1)), (80, (1, 3)), (96, (3, 1))]],
}
CARD_ARCHITECTURE = [  # the model card's architecture lines (train.py)
    "- **Architecture**: stem conv 3x3/32 (28x28), 2x2 max-pool, conv 3x3/64; residual modules A1-A3",
    "  (14x14, branches 1x1/16; 1x1->3x3/16; 1x1->3x3->3x3/32, scale 0.17); a reduction to 6x6 (valid",
    "  3x3/2 conv, 1x1->3x3->3x3/2, 3x3/2 max-pool, concatenated to 224); residual modules B1-B2 (1x1/64;",
    "  1x1->1x7->7x1/64, scale 0.1) and C1 (1x1/64; 1x1->1x3->3x1/96, scale 0.2). In each residual module",
    "  the branches are concatenated, projected by a biased 1x1 conv, scaled, added to the input, ReLU.",
    "  Global average pool, dense 10. BatchNorm after every other conv.",
]


def _spec(framework: str) -> ModelSpec:
    return ModelSpec(
        name=NAME,
        framework=framework,
        input_shape=(28, 28, 1),
        layout="NCHW" if framework == "torch" else "NHWC",
        preprocessing=Preprocessing(scale=1 / 255, mean=(0.0,), std=(1.0,)),
        labels=FASHION_MNIST_LABELS,
    )


def module_width(kind: str) -> int:
    return WIDTH_A if kind == "a" else WIDTH_B


def conv_bn_names() -> list[tuple[str, int, int, tuple[int, int], int]]:
    """Every conv+BN unit in model order: (name, cin, cout, kernel, stride). One list, both twins."""
    units = [("stem_1", 1, STEM[0], (3, 3), 1), ("stem_2", STEM[0], STEM[1], (3, 3), 1)]
    for mod, (kind, _) in MODULES.items():
        if mod == "block_b1":
            c1, c2, c3 = REDUCTION["b1"]
            units += [("reduction.b0", WIDTH_A, REDUCTION["b0"], (3, 3), 2),
                      ("reduction.b1.0", WIDTH_A, c1, (1, 1), 1), ("reduction.b1.1", c1, c2, (3, 3), 1),
                      ("reduction.b1.2", c2, c3, (3, 3), 2)]
        cin = module_width(kind)
        for i, branch in enumerate(BRANCHES[kind]):
            prev = cin
            for j, (f, k) in enumerate(branch):
                units.append((f"{mod}.b{i}.{j}", prev, f, k, 1))
                prev = f
    return units


def _keras_name(path: str) -> str:
    return path.replace(".", "_")


@register_model(NAME, framework="keras", spec=_spec("keras"), weights="inception_resnet_mini.keras.weights.h5",
                description="Inception-ResNet: 3 A + reduction + 2 B + 1 C residual modules, 28x28x1, Fashion-MNIST")
def build_keras(keras_module=None):
    """Functional Keras model. ``keras_module`` may be ``tf_keras`` for a Keras 2 twin (QAT)."""
    if keras_module is None:
        import keras as keras_module
    L = keras_module.layers
    units = {name: (cout, k, s) for name, _, cout, k, s in conv_bn_names()}

    def conv_bn(x, path):
        cout, k, s = units[path]
        n = _keras_name(path)
        pad = "valid" if s == 2 else "same"  # valid stride-2, as Keras IRv2's reductions (no asymmetric pad)
        x = L.Conv2D(cout, k, strides=s, padding=pad, use_bias=False, name=f"{n}_conv")(x)
        x = L.BatchNormalization(epsilon=1e-3, name=f"{n}_bn")(x)
        return L.ReLU(name=f"{n}_relu")(x)

    inputs = keras_module.Input((28, 28, 1), name="image")
    x = conv_bn(inputs, "stem_1")
    x = L.MaxPooling2D(2, name="stem_pool")(x)
    x = conv_bn(x, "stem_2")
    for mod, (kind, scale) in MODULES.items():
        if mod == "block_b1":
            r0 = conv_bn(x, "reduction.b0")
            r1 = conv_bn(conv_bn(conv_bn(x, "reduction.b1.0"), "reduction.b1.1"), "reduction.b1.2")
            r2 = L.MaxPooling2D(3, strides=2, padding="valid", name="reduction_b2_pool")(x)
            x = L.Concatenate(axis=-1, name="reduction_concat")([r0, r1, r2])
        branches = []
        for i, branch in enumerate(BRANCHES[kind]):
            b = x
            for j in range(len(branch)):
                b = conv_bn(b, f"{mod}.b{i}.{j}")
            branches.append(b)
        mixed = L.Concatenate(axis=-1, name=f"{mod}_concat")(branches)
        up = L.Conv2D(module_width(kind), 1, use_bias=True, name=f"{mod}_up")(mixed)
        up = L.Rescaling(scale, name=f"{mod}_scale")(up)
        x = L.Add(name=f"{mod}_add")([x, up])
        x = L.ReLU(name=f"{mod}_relu")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.2, name="dropout")(x)
    outputs = L.Dense(NUM_CLASSES, name="logits")(x)
    return keras_module.Model(inputs, outputs, name="inception_resnet_mini")


@register_model(NAME, framework="torch", spec=_spec("torch"), weights="inception_resnet_mini.torch.pt",
                description="PyTorch twin of the Keras inception-resnet-mini (NCHW), same weights")
def build_torch():
    import torch
    from torch import nn

    class ConvBN(nn.Module):
        def __init__(self, cin: int, cout: int, k: tuple[int, int], stride: int):
            super().__init__()
            pad = (0, 0) if stride == 2 else (k[0] // 2, k[1] // 2)
            self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False)
            # eps and momentum match Keras' BatchNormalization(epsilon=1e-3, momentum=0.99)
            self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.bn(self.conv(x)))

    units = {name: (cin, cout, k, s) for name, cin, cout, k, s in conv_bn_names()}

    def branch(prefix: str, n: int) -> nn.Sequential:
        return nn.Sequential(*[ConvBN(*units[f"{prefix}.{j}"]) for j in range(n)])

    class Residual(nn.Module):
        def __init__(self, mod: str, kind: str, scale: float):
            super().__init__()
            self.scale = scale
            for i, b in enumerate(BRANCHES[kind]):
                setattr(self, f"b{i}", branch(f"{mod}.b{i}", len(b)))
            self.n = len(BRANCHES[kind])
            width = sum(b[-1][0] for b in BRANCHES[kind])
            self.up = nn.Conv2d(width, module_width(kind), 1, bias=True)
            self.relu = nn.ReLU()

        def forward(self, x):
            mixed = torch.cat([getattr(self, f"b{i}")(x) for i in range(self.n)], dim=1)
            return self.relu(x + self.scale * self.up(mixed))

    class Reduction(nn.Module):
        def __init__(self):
            super().__init__()
            self.b0 = ConvBN(*units["reduction.b0"])
            self.b1 = branch("reduction.b1", 3)
            self.b2 = nn.MaxPool2d(3, stride=2)

        def forward(self, x):
            return torch.cat([self.b0(x), self.b1(x), self.b2(x)], dim=1)

    class InceptionResNetMini(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem_1 = ConvBN(*units["stem_1"])
            self.stem_pool = nn.MaxPool2d(2)
            self.stem_2 = ConvBN(*units["stem_2"])
            for mod, (kind, scale) in MODULES.items():
                if mod == "block_b1":
                    self.reduction = Reduction()
                setattr(self, mod, Residual(mod, kind, scale))
            self.dropout = nn.Dropout(0.2)
            self.logits = nn.Linear(WIDTH_B, NUM_CLASSES)

        def forward(self, x):
            x = self.stem_2(self.stem_pool(self.stem_1(x)))
            for mod in MODULES:
                if mod == "block_b1":
                    x = self.reduction(x)
                x = getattr(self, mod)(x)
            x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            return self.logits(self.dropout(x))

    return InceptionResNetMini()


def keras_to_torch_state_dict(keras_model) -> dict:
    """Map a trained Keras inception-resnet-mini's weights onto the PyTorch twin's state_dict by name."""
    import numpy as np
    import torch

    def conv_w(kernel):  # Keras HWIO -> PyTorch OIHW
        return torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1)).copy())

    sd = {}
    for path, *_ in conv_bn_names():
        n = _keras_name(path)
        (kernel,) = keras_model.get_layer(f"{n}_conv").get_weights()
        gamma, beta, mean, var = keras_model.get_layer(f"{n}_bn").get_weights()
        sd[f"{path}.conv.weight"] = conv_w(kernel)
        for key, val in zip(("weight", "bias", "running_mean", "running_var"), (gamma, beta, mean, var), strict=True):
            sd[f"{path}.bn.{key}"] = torch.from_numpy(val.copy())
        sd[f"{path}.bn.num_batches_tracked"] = torch.tensor(0)
    for mod in MODULES:
        kernel, bias = keras_model.get_layer(f"{mod}_up").get_weights()
        sd[f"{mod}.up.weight"] = conv_w(kernel)
        sd[f"{mod}.up.bias"] = torch.from_numpy(bias.copy())
    w, b = keras_model.get_layer("logits").get_weights()
    sd["logits.weight"] = torch.from_numpy(w.T.copy())
    sd["logits.bias"] = torch.from_numpy(b.copy())
    torch_model = build_torch()
    torch_model.load_state_dict(sd)  # strict: every key must be covered
    return torch_model.state_dict()
