"""googlenet: GoogLeNet / Inception v1 (Szegedy et al., arXiv 1409.4842) at 224x224x3, Keras and PyTorch.

    from edge_inception.models.zoo import create_model
    k = create_model("googlenet", pretrained=False)                      # Keras, Table 1, aux heads stripped
    t = create_model("googlenet", framework="torch", pretrained=False)   # torchvision-compatible names
    train = build_keras(aux=True)        # 3 outputs: logits, aux1 (after 4a), aux2 (after 4d), for training
    t = build_torch(aux_logits=True)     # torchvision's training model with both auxiliary heads

No weights ship. The Keras model follows Table 1 layer by layer — nine Inception modules 3a-5b with 1x1,
3x3 and 5x5 branches and pool projections, layer names after the paper's Caffe release — with
BatchNormalization after every convolution in place of the paper's LRN (as torchvision and BN-Inception
do): LRN has no int8 kernel in TFLite, ONNX Runtime or OpenVINO. The PyTorch model is torchvision's
(whose "5x5" branch has a 3x3 kernel, pytorch/vision#906), so its checkpoint loads strictly; the two
are architectural siblings, not weight twins. Both take [-1, 1] input ("inception" preprocessing).
"""

from __future__ import annotations

from edge_inception.models.spec import ModelSpec, Preprocessing
from edge_inception.models.zoo import register_model

INPUT_SHAPE = (224, 224, 3)
# Table 1: module -> (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
POOL_BEFORE = {"4a", "5a"}  # 3x3/2 max-pools between the stages (28 -> 14 -> 7)
AUX_AFTER = {"4a": "aux1", "4d": "aux2"}


def _spec(framework: str) -> ModelSpec:
    return ModelSpec(
        name="googlenet",
        framework=framework,
        input_shape=INPUT_SHAPE,
        layout="NCHW" if framework == "torch" else "NHWC",
        preprocessing=Preprocessing.preset("inception"),
        labels=(),
    )


@register_model("googlenet", framework="keras", spec=_spec("keras"), weights=None,
                description="GoogLeNet (Inception v1, Table 1, BatchNorm), 224x224x3, aux heads stripped, "
                            "random weights")
def build_keras(num_classes: int = 1000, *, aux: bool = False, input_shape: tuple[int, int, int] = INPUT_SHAPE,
                classifier_activation: str | None = None, keras_module=None):
    """Functional GoogLeNet. ``aux=True`` adds the two auxiliary classifiers (a 3-output training model:
    logits, aux1, aux2); the default is the deployment model with one output. ``keras_module`` may be
    ``tf_keras`` for a Keras 2 model (tfmot QAT). Logits unless ``classifier_activation="softmax"``."""
    if keras_module is None:
        import keras as keras_module
    L = keras_module.layers

    def conv(x, filters, size, name, strides=1):
        # BatchNorm without scale, as keras.applications' Inception v3: ReLU follows, so a per-channel
        # scale folds into the next convolution.
        x = L.Conv2D(filters, size, strides=strides, padding="same", use_bias=False, name=name)(x)
        x = L.BatchNormalization(epsilon=1e-3, scale=False, name=f"{name}_bn")(x)
        return L.ReLU(name=f"{name}_relu")(x)

    def aux_head(x, name):
        # Paper: 5x5/3 average pool (14x14 -> 4x4), 1x1 conv 128, FC 1024 + ReLU, 70% dropout, linear.
        x = L.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
        x = conv(x, 128, 1, f"{name}_conv")
        x = L.Flatten(name=f"{name}_flatten")(x)
        x = L.Dense(1024, activation="relu", name=f"{name}_fc")(x)
        x = L.Dropout(0.7, name=f"{name}_dropout")(x)
        return L.Dense(num_classes, activation=classifier_activation, name=f"{name}_logits")(x)

    inputs = keras_module.Input(input_shape, name="image")
    x = conv(inputs, 64, 7, "conv1_7x7_s2", strides=2)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    x = conv(x, 64, 1, "conv2_3x3_reduce")
    x = conv(x, 192, 3, "conv2_3x3")
    x = L.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)
    heads = []
    for name, (c1, r3, c3, r5, c5, cp) in MODULES.items():
        if name in POOL_BEFORE:
            x = L.MaxPooling2D(3, strides=2, padding="same", name=f"pool{int(name[0]) - 1}_3x3_s2")(x)
        p = f"inception_{name}"
        b1 = conv(x, c1, 1, f"{p}_1x1")
        b2 = conv(conv(x, r3, 1, f"{p}_3x3_reduce"), c3, 3, f"{p}_3x3")
        b3 = conv(conv(x, r5, 1, f"{p}_5x5_reduce"), c5, 5, f"{p}_5x5")
        b4 = L.MaxPooling2D(3, strides=1, padding="same", name=f"{p}_pool")(x)
        b4 = conv(b4, cp, 1, f"{p}_pool_proj")
        x = L.Concatenate(axis=-1, name=f"{p}_output")([b1, b2, b3, b4])
        if aux and name in AUX_AFTER:
            heads.append(aux_head(x, AUX_AFTER[name]))
    x = L.GlobalAveragePooling2D(name="pool5_7x7_s1")(x)  # the paper's 7x7/1 average pool, at any input size
    x = L.Dropout(0.4, name="pool5_drop_7x7_s1")(x)
    logits = L.Dense(num_classes, activation=classifier_activation, name="logits")(x)
    return keras_module.Model(inputs, [logits, *heads] if aux else logits, name="googlenet")


@register_model("googlenet", framework="torch", spec=_spec("torch"), weights=None,
                description="torchvision-compatible GoogLeNet (NCHW), aux heads stripped, random weights")
def build_torch(*, aux_logits: bool = False, num_classes: int = 1000, transform_input: bool = False):
    """GoogLeNet with torchvision's parameter names; a torchvision checkpoint (which carries aux1 and aux2)
    loads strictly with or without the heads. Without them (the default) eval and export see one output."""
    from edge_inception.models.zoo._googlenet_torch import GoogLeNet

    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input)
