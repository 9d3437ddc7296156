"""PyTorch source models for diagnose: the layers are torch.export's operators named by module path
(as ``inspect`` names them), and their float values come from running that exported graph.

    rows, nodes = torch_rows(lm)        # inspect's rows ('features.3.b2.0', 'features.3/cat', ...) and
                                        # the fx node computing each
    probe = TorchProbe(lm, ["features.0.b2.2", "features.0"])
    probe.run(batch)                    # {row name: float32 (N, C, H, W) value, LOGITS: the model output}

The graph is exported once per model with a dynamic batch (so batches of any size run through it, as
the Keras probe's traced function does), and the same export names the rows and computes them: an fx
Interpreter keeps the outputs of the asked nodes only, one batch at a time.
"""

from __future__ import annotations

import numpy as np

from edge_inception.diagnose.source import LOGITS


def _export(lm):
    """(ExportedProgram, rows, row name -> fx node name), once per loaded model."""
    cache = lm.__dict__.setdefault("_diagnose_torch", {})
    if "ep" in cache:
        return cache["ep"], cache["rows"], cache["nodes"]
    import torch

    from edge_inception.inspect.torch import _rows

    h, w, c = lm.spec.input_shape
    model = lm.model if hasattr(lm.model, "_in_spec") else lm.model.eval()
    x = torch.zeros(2, c, h, w)
    try:  # a dynamic batch: the probe runs whole batches
        ep = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
                                 strict=False)
    except Exception:  # noqa: BLE001 - a model that pins its batch (x.view(1, -1)): batch 1, one image at a time
        ep = torch.export.export(model, (x[:1],), strict=False)
    rows = _rows(ep)
    # _rows makes one row per user input and per call_function node, in graph order: the same walk pairs
    # each row with its node.
    sig = ep.graph_signature
    lifted = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers) | set(
        getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
    walked = [n.name for n in ep.graph.nodes
              if (n.op == "placeholder" and n.name not in lifted) or n.op == "call_function"]
    nodes = {r.name: n for r, n in zip(rows, walked, strict=True)}
    cache.update(ep=ep, rows=rows, nodes=nodes)
    return ep, rows, nodes


def torch_rows(lm):
    _, rows, nodes = _export(lm)
    return rows, nodes


class TorchProbe:
    def __init__(self, lm, names: list[str]):
        import torch

        self.names = list(names)
        ep, _, nodes = _export(lm)
        self._want = {nodes[n]: n for n in self.names}
        self._module = ep.module()
        image = next(n for n in ep.graph.nodes if n.name == nodes["input"])
        self._batch1 = not isinstance(image.meta["val"].shape[0], torch.SymInt)

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self._batch1 and len(batch) > 1:
            parts = [self.run(batch[i : i + 1]) for i in range(len(batch))]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        import torch

        want, got = self._want, {}

        class Keep(torch.fx.Interpreter):
            def run_node(self, n):
                out = super().run_node(n)
                if n.name in want and isinstance(out, torch.Tensor):  # not a shape or an index tuple
                    got[want[n.name]] = out.detach().float().numpy().copy()
                return out

        # One intra-op thread: between two batches of the probe the runtimes' own pools run, and torch's
        # OpenMP workers at 2 threads made a 32-image batch of inception-mini take 1.9 s instead of 0.07 on
        # the shared 2-core machine (they wait on each other at every operator when the cores are busy).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                out = Keep(self._module).run(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
        finally:
            torch.set_num_threads(threads)
        if isinstance(out, list | tuple):
            out = out[0]
        got[LOGITS] = out.detach().float().numpy()
        return got
