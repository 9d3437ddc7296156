"""A deliberately damaged copy of the shipped inception-mini: same float function, bad int8.

    python tests/data/gate/damage.py out.keras [--scale 64]

One channel of the stem's BatchNorm is scaled up by ``scale`` (its ReLU output grows by the same
factor) and every consumer of the stem divides that input channel's weights by it, so the float model
computes the same function. int8 activations share one scale per tensor, so the one wide channel
squeezes every other stem channel into a few quantization levels: a real, quantization-only regression
of the kind an outlier channel after a training change causes.
"""

from __future__ import annotations

import sys


def damage(dest: str, *, scale: float = 64.0, channel: int = 0) -> str:

    from edge_inception._core.native import import_tensorflow
    from edge_inception.models.zoo import create_model

    import_tensorflow()
    model = create_model("inception-mini")
    bn = model.get_layer("stem_bn")
    gamma, beta, mean, var = bn.get_weights()
    gamma, beta = gamma.copy(), beta.copy()
    gamma[channel] *= scale
    beta[channel] *= scale
    bn.set_weights([gamma, beta, mean, var])
    # Consumers of the stem's output (through max-pools, which commute with a positive per-channel scale).
    consumers = [layer for layer in model.layers
                 if layer.name.startswith("inception_3a_") and layer.name.endswith("_1x1_conv")]
    assert len(consumers) == 4, [c.name for c in consumers]
    for conv in consumers:
        (kernel,) = conv.get_weights()
        kernel = kernel.copy()
        kernel[:, :, channel, :] /= scale
        conv.set_weights([kernel])
    model.save(dest)
    return dest


if __name__ == "__main__":
    args = sys.argv[1:]
    damage(args[0], scale=float(args[2]) if len(args) > 2 else 64.0)
