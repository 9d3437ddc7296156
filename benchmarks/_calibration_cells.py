"""Shared by benchmarks/calibration_recipes.py and benchmarks/calibration_vs_library.py: one float export
per runtime, int8 cells scored against it on the same evaluation images, and the CPU line every figure
names.

    floats = FloatRefs(lm, folder, eval_src)             # tflite-fp32, onnx-fp32, openvino-fp32, logits cached
    floats.score("onnx-int8", path)                      # accuracy dict (top-1, agreement, delta_ci95, ...)
    floats.latency("onnx-int8", path, runs=300)          # paired with the float one: ratio, p50s
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, for the PTQ-hurts model

FLOAT_OF = {"tflite-int8": "tflite-fp32", "onnx-int8": "onnx-fp32", "openvino-int8": "openvino-fp32"}


def cpu_line() -> str:
    from edge_inception._core.host import host_facts

    h = host_facts()
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx") if h["isa"].get(f)]
    name = h["cpu"]
    with open("/proc/cpuinfo") as f:  # the full model name; host_facts shortens it
        name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    return f"{name} ({h['cores']} cores; flags {', '.join(flags) or 'none of avx2/avx512/vnni'})"


class FloatRefs:
    def __init__(self, lm, folder: Path, eval_src, *, threads: int = 2):
        from edge_inception.exporters import export
        from edge_inception.formats import artifact_path, embed_spec
        from edge_inception.targets import get_target

        self.lm, self.eval_src, self.threads = lm, eval_src, threads
        self.paths, self._logits = {}, {}
        for name in sorted(set(FLOAT_OF.values())):
            t = get_target(name)
            dest = artifact_path(folder, f"{lm.spec.name}.{name}", t.format)
            export(lm, dest, target=t)
            embed_spec(dest, t.format, lm.spec)
            self.paths[name] = dest

    def _session(self, target: str, path: Path):
        from edge_inception.runtimes import get_runtime
        from edge_inception.targets import get_target

        return get_runtime(get_target(target).runtime).load(path, threads=self.threads)

    def _float_logits(self, ref: str):
        from edge_inception.evaluation.accuracy import predict

        if ref not in self._logits:
            logits, labels, _ = predict({"ref": self._session(ref, self.paths[ref])}, self.eval_src, self.lm.spec)
            self._logits[ref] = (logits["ref"], labels)
        return self._logits[ref]

    def score(self, target: str, path: Path) -> dict:
        from edge_inception.evaluation.accuracy import accuracy_summary, predict

        ref_logits, labels = self._float_logits(FLOAT_OF[target])
        logits, _, _ = predict({"cand": self._session(target, path)}, self.eval_src, self.lm.spec)
        return accuracy_summary(ref_logits, logits["cand"], labels)

    def pair(self, target: str, reference: Path, candidate: Path, *, runs: int) -> dict:
        """Two artifacts of ``target``'s runtime timed against each other, interleaved."""
        from edge_inception.evaluation.latency import paired_latency

        images, _ = next(iter(self.eval_src.batches(1)))
        x = self.lm.spec.model_input(images)
        return paired_latency(self._session(target, reference), self._session(target, candidate), x, runs=runs)

    def latency(self, target: str, path: Path, *, runs: int) -> dict:
        from edge_inception.evaluation.latency import paired_latency

        images, _ = next(iter(self.eval_src.batches(1)))
        x = self.lm.spec.model_input(images)
        ref = FLOAT_OF[target]
        return paired_latency(self._session(ref, self.paths[ref]), self._session(target, path), x, runs=runs)


def ptq_hurts_model(folder: Path, *, train: int = 8000) -> tuple[Path, Path]:
    """The PTQ-hurts model of benchmarks/qat_ptq_hurts.py (two concatenated branches 150x apart), trained
    on a seeded 8,000-image subset of the training split; returns (model file, that subset as .npz)."""
    import numpy as np

    from edge_inception.data.readers import read_fashion_mnist
    from tests.test_qat import _unbalanced_concat_model

    x, y = read_fashion_mnist("train")
    idx = np.random.default_rng(0).choice(len(x), train, replace=False)
    np.savez(folder / "train.npz", images=x[idx], labels=y[idx])
    return _unbalanced_concat_model(folder / "unbalanced.keras", x[idx], y[idx]), folder / "train.npz"


def pct(v) -> str:
    return "—" if v is None else f"{100 * v:.2f}"


def interval(a: dict) -> str:
    lo, hi = a["delta_ci95"]
    return f"{a['delta_points']:+.2f} [{lo:+.2f}, {hi:+.2f}]"
