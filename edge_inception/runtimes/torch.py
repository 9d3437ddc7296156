"""PyTorch runtime: an ExportedProgram (.pt2) or a TorchScript file, run eagerly on the CPU.

    session = get_runtime("torch").load("model.pt2", threads=2)
    logits = session.run(float32_nchw_batch)

``threads`` sets torch's intra-op pool, which is process-wide: the last session loaded decides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_inception._core.host import host_facts
from edge_inception.runtimes import RuntimeBase, register_runtime


class TorchSession:
    def __init__(self, path: Path, threads: int, input_shape=None):
        import torch

        from edge_inception.models.loader import load_model

        torch.set_num_threads(threads)
        lm = load_model(str(path), framework="torch", input_shape=input_shape)
        self._model = lm.model
        self.spec = lm.spec
        c_h_w = (lm.spec.channels, lm.spec.height, lm.spec.width)
        self.input_shape = (None, *(c_h_w if lm.spec.layout == "NCHW" else lm.spec.input_shape))
        self.path = path
        self.facts = {"engine": "torch", "version": torch.__version__, "threads": threads, **host_facts()}

    def run(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self._model(torch.from_numpy(np.ascontiguousarray(batch, np.float32))).numpy()


@register_runtime
class TorchRuntime(RuntimeBase):
    name = "torch"
    format = "torch"
    suffixes = (".pt2", ".pt", ".ts")

    def load(self, path, *, threads: int) -> TorchSession:
        return TorchSession(Path(path), threads)

    def infer_spec(self, path):
        from edge_inception.models.loader import load_model

        return load_model(str(path), framework="torch").spec
