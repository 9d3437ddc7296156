"""Keras runtime: a Keras 3 .keras, a tf_keras/Keras .h5 or a SavedModel folder, run by TensorFlow.

    session = get_runtime("keras").load("model.keras", threads=2)
    logits = session.run(float32_nhwc_batch)

The source model is the float reference users trust most; running it behind the same contract lets
`eval` and `bench` compare any artifact with the model it came from. TensorFlow's thread pools can be
sized only before its first op runs: a later request for another count is recorded, not applied.
"""

from __future__ import annotations

from pathlib import Path

from edge_inception._core.host import host_facts
from edge_inception.runtimes import RuntimeBase, register_runtime


def _set_tf_threads(threads: int) -> int | None:
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process
        pass
    return tf.config.threading.get_intra_op_parallelism_threads() or None


class KerasSession:
    def __init__(self, path: Path, threads: int):
        from edge_inception.models.loader import load_model
        from edge_inception.models.reference import SourceSession

        applied = _set_tf_threads(threads)
        lm = load_model(str(path))
        self._inner = SourceSession(lm)
        self.spec = lm.spec
        self.input_shape = (None, *lm.spec.input_shape)
        self.path = path
        self.facts = {**self._inner.facts, "threads": threads, "threads_applied": applied, **host_facts()}

    def run(self, batch):
        return self._inner.run(batch)


@register_runtime
class KerasRuntime(RuntimeBase):
    name = "keras"
    format = "keras"
    suffixes = (".keras", ".h5", ".hdf5", "/ (SavedModel folder)")

    def accepts(self, path) -> bool:
        path = Path(path)
        if path.is_dir():
            return (path / "saved_model.pb").is_file()
        return path.is_file() and path.suffix in (".keras", ".h5", ".hdf5")

    def load(self, path, *, threads: int) -> KerasSession:
        return KerasSession(Path(path), threads)

    def read_spec(self, path):
        return None  # a Keras file carries its input shape but not its preprocessing

    def infer_spec(self, path):
        from edge_inception.models.loader import load_model

        return load_model(str(path)).spec
