"""Run the source model itself (Keras object or SavedModel) behind the runtime Session contract, so
float targets can be compared with the model they came from.

    session = source_session(loaded_model)
    logits = session.run(float_nhwc_batch)
"""

from __future__ import annotations

import numpy as np

from edge_inception.models.loader import LoadedModel


class SourceSession:
    def __init__(self, lm: LoadedModel):
        self._lm = lm
        if lm.kind == "torch":
            import torch

            model = lm.model

            def run(x):
                with torch.no_grad():
                    return model(torch.from_numpy(x)).numpy()

            self._fn = run
            self.facts = {"engine": "torch", "version": torch.__version__}
            return
        from edge_inception._core.native import import_tensorflow

        tf = import_tensorflow()

        if lm.kind == "saved_model":
            sig = tf.saved_model.load(str(lm.model)).signatures["serving_default"]
            (name,) = sig.structured_input_signature[1]
            self._fn = lambda x: next(iter(sig(**{name: tf.constant(x)}).values())).numpy()
        else:
            model = lm.model
            self._fn = lambda x: np.asarray(model(x, training=False))
        self.facts = {"engine": lm.kind, "version": tf.__version__}

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._fn(batch.astype(np.float32))


def source_session(lm: LoadedModel) -> SourceSession:
    return SourceSession(lm)
