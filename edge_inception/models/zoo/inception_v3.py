"""inception-v3: Inception v3 (Szegedy et al., 2015) at 299x299x3, as Keras and PyTorch zoo entries.

    from edge_inception.models.zoo import create_model
    k = create_model("inception-v3", pretrained=False)                     # keras.applications.InceptionV3
    t = create_model("inception-v3", framework="torch", pretrained=False)  # torchvision-compatible names
    t = build_torch(aux_logits=True)                                       # with the training-only aux head

No weights ship (nothing is downloaded here). The PyTorch model is written without torchvision but
keeps its state_dict names, so ``load_state_dict`` of a torchvision checkpoint works strictly, with or
without the aux head. Both take [-1, 1] input (the "inception" preprocessing); torchvision's pretrained
builder instead turns ``transform_input`` on and expects ImageNet mean/std-normalized input.
The two are architectural twins, not weight twins: Keras' InceptionV3 has no BatchNorm scale and no
dropout, and ends in softmax by default.
"""

from __future__ import annotations

from edge_inception.models.spec import ModelSpec, Preprocessing
from edge_inception.models.zoo import register_model

INPUT_SHAPE = (299, 299, 3)


def _spec(framework: str) -> ModelSpec:
    return ModelSpec(
        name="inception-v3",
        framework=framework,
        input_shape=INPUT_SHAPE,
        layout="NCHW" if framework == "torch" else "NHWC",
        preprocessing=Preprocessing.preset("inception"),
        labels=(),
    )


@register_model("inception-v3", framework="keras", spec=_spec("keras"), weights=None,
                description="keras.applications.InceptionV3, 299x299x3, 1000 classes, random weights")
def build_keras(num_classes: int = 1000, *, classifier_activation: str | None = None, keras_module=None):
    """Keras' own InceptionV3. ``keras_module`` may be ``tf_keras`` for a Keras 2 model (tfmot QAT).
    Logits by default, like the PyTorch entry, so int8-vs-float fidelity (SQNR) is measured on the
    values that decide the class, not on a softmax that squashes them; "softmax" gives Keras' head."""
    if keras_module is None:
        import keras as keras_module
    return keras_module.applications.InceptionV3(
        weights=None, include_top=True, classes=num_classes, input_shape=INPUT_SHAPE,
        classifier_activation=classifier_activation)


@register_model("inception-v3", framework="torch", spec=_spec("torch"), weights=None,
                description="torchvision-compatible Inception v3 (NCHW), no aux head, random weights")
def build_torch(*, aux_logits: bool = False, num_classes: int = 1000, transform_input: bool = False):
    """Inception v3 with torchvision's parameter names. The auxiliary classifier is left out by default:
    it only matters in training, and without it eval and export see a single logits output."""
    from edge_inception.models.zoo._inception_v3_torch import Inception3

    return Inception3(num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input)

