"""Penultimate features of the float source model, for the 'diverse' selection.

    feats, what = penultimate_features(loaded_model, source)   # (N, D) float32, "input of layer 'logits'"

The input of the model's last dense layer (Keras Dense, torch nn.Linear) is what the classifier
separates classes by; distances there follow what the model sees, not raw pixels. A model without such
a layer (a SavedModel) gives its outputs instead, and the report says which was used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge_inception.data.readers import ImageSource


def _keras_features(model) -> tuple[Callable, str]:
    from edge_inception._core.native import import_tensorflow

    import_tensorflow()
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    if not dense:
        return (lambda x: np.asarray(model(x, training=False))), "model outputs (no Dense layer)"
    last = dense[-1]
    keras = __import__(type(model).__module__.split(".")[0])  # keras or tf_keras, as the model was built
    sub = keras.Model(model.inputs, last.input)
    return (lambda x: np.asarray(sub(x, training=False))), f"input of the last Dense layer '{last.name}'"


def _torch_features(model) -> tuple[Callable, str]:
    import torch

    linear = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not linear:
        def outputs(x):
            with torch.no_grad():
                return model(torch.from_numpy(x)).numpy()

        return outputs, "model outputs (no nn.Linear layer)"
    name, last = linear[-1]
    seen: list = []

    def run(x):
        handle = last.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach().numpy()))
        try:
            with torch.no_grad():
                model(torch.from_numpy(x))
        finally:
            handle.remove()
        return seen.pop()

    return run, f"input of the last nn.Linear '{name}'"


_TAPS = {"keras": _keras_features, "tf_keras": _keras_features, "torch": _torch_features}


def penultimate_features(lm, source: ImageSource, *, batch_size: int = 64) -> tuple[np.ndarray, str]:
    tap = _TAPS.get(lm.kind)
    if tap is not None:
        fn, what = tap(lm.model)
    else:
        from edge_inception.models.reference import source_session

        fn, what = source_session(lm).run, "model outputs (a SavedModel has no layers to tap)"
    out = [np.asarray(fn(lm.spec.model_input(images)), np.float32).reshape(len(images), -1)
           for images, _ in source.batches(batch_size)]
    return np.concatenate(out), what
