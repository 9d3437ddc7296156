"""Float reference activations of the source model, one batch at a time, for the layers asked for.

    probe = SourceProbe(loaded_model, ["stem_relu", "inception_3a_concat"])
    acts = probe.run(batch)          # {layer name: float32 array (batch, ...) in the source layout}

Keras: one functional model whose outputs are those layers' outputs, built once (no copy of the weights).
"""

from __future__ import annotations

import numpy as np

from edge_inception._core.errors import UsageError

LOGITS = "@logits"  # the model output's key in run(): never a Keras layer name


def probe_for(lm, names) -> SourceProbe:
    """One probe per model and set of layers for the whole run: each is a traced function of its own."""
    from edge_inception.diagnose.reference import KIND, ArtifactProbe

    cache = lm.__dict__.setdefault("_diagnose_probes", {})
    key = tuple(names)
    if key not in cache:
        if lm.kind == "torch":
            from edge_inception.diagnose.torch_source import TorchProbe

            cache[key] = TorchProbe(lm, list(names))
        else:
            cache[key] = ArtifactProbe(lm, names) if lm.kind == KIND else SourceProbe(lm, list(names))
    return cache[key]


class SourceProbe:
    def __init__(self, lm, names: list[str]):
        if lm.kind not in ("keras", "tf_keras"):
            raise UsageError(f"diagnose compares against Keras source models; this one is {lm.kind}",
                             fix="pass the Keras model (.keras/.h5, or a zoo name with --framework keras) "
                                 "as --reference")
        self.names = list(names)
        model = lm.model
        keras_module = __import__("tf_keras" if lm.kind == "tf_keras" else "keras")
        outputs = [model.get_layer(n).output for n in self.names] + list(model.outputs)
        probe = keras_module.Model(model.inputs, outputs)
        from edge_inception._core.native import import_tensorflow

        tf = import_tensorflow()
        # Traced once for any batch size: eager calls of a many-output model cost seconds per batch.
        spec = tf.TensorSpec([None, *lm.spec.input_shape], tf.float32)
        self._fn = tf.function(lambda x: probe(x, training=False), input_signature=[spec])

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Every asked layer's output, and the model's own output under the key LOGITS."""
        out = self._fn(batch.astype(np.float32))
        if not isinstance(out, list | tuple):
            out = [out]
        return {n: np.asarray(v, dtype=np.float32) for n, v in zip([*self.names, LOGITS], out, strict=True)}
