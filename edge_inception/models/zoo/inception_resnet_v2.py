"""inception-resnet-v2: Inception-ResNet v2 (Szegedy et al., arXiv 1602.07261) at 299x299x3, Keras and PyTorch.

    from edge_inception.models.zoo import create_model
    m = create_model("inception-resnet-v2", pretrained=False)    # keras.applications, random weights
    t = create_model("inception-resnet-v2", framework="torch", pretrained=False)  # timm's names, no timm
    m = build_keras(weights="inception_resnet_v2.h5")            # your local ImageNet weights file
    m = build_keras(input_shape=(75, 75, 3))                     # smaller input (75x75 is the minimum)

Nothing is downloaded: ``weights`` is None (random) unless you pass a local file, which
keras.applications loads by layer name. [-1, 1] input ("inception" preprocessing), as
``keras.applications.inception_resnet_v2.preprocess_input``.
"""

from __future__ import annotations

from pathlib import Path

from edge_inception.models.spec import ModelSpec, Preprocessing
from edge_inception.models.zoo import register_model

INPUT_SHAPE = (299, 299, 3)

SPEC = ModelSpec(name="inception-resnet-v2", framework="keras", input_shape=INPUT_SHAPE, layout="NHWC",
                 preprocessing=Preprocessing.preset("inception"), labels=())


@register_model("inception-resnet-v2", framework="keras", spec=SPEC, weights=None,
                description="keras.applications.InceptionResNetV2, 299x299x3, 1000 classes, random weights")
def build_keras(num_classes: int = 1000, *, weights: str | Path | None = None,
                input_shape: tuple[int, int, int] = INPUT_SHAPE, classifier_activation: str | None = None,
                keras_module=None):
    """Keras' own InceptionResNetV2 with its classifier. Logits by default (like the other zoo entries);
    ``classifier_activation="softmax"`` gives Keras' head. ``keras_module`` may be ``tf_keras``."""
    from edge_inception._core.errors import InputError

    if keras_module is None:
        import keras as keras_module
    if weights is not None and not Path(weights).is_file():
        raise InputError(weights, "does not exist", fix="pass a local Keras weights file (.h5 or .weights.h5)")
    return keras_module.applications.InceptionResNetV2(
        weights=None if weights is None else str(weights), include_top=True, classes=num_classes,
        input_shape=input_shape, classifier_activation=classifier_activation)


TORCH_SPEC = ModelSpec(name="inception-resnet-v2", framework="torch", input_shape=INPUT_SHAPE, layout="NCHW",
                       preprocessing=Preprocessing.preset("inception"), labels=())


@register_model("inception-resnet-v2", framework="torch", spec=TORCH_SPEC, weights=None,
                description="plain-PyTorch Inception-ResNet v2 with timm's names (NCHW), random weights")
def build_torch(num_classes: int = 1000):
    """timm's ``inception_resnet_v2`` without timm: its state_dict names and 55,843,464 parameters, so a
    timm checkpoint loads strictly. [-1, 1] input, as timm's (IMAGENET_INCEPTION_MEAN/STD = 0.5)."""
    from edge_inception.models.zoo._inception_resnet_v2_torch import InceptionResnetV2

    return InceptionResnetV2(num_classes=num_classes)
