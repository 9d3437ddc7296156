"""Wall time and peak RSS of each stage of a full-size conversion, to find which stage peaks.

    flock /tmp/bigmem.lock python benchmarks/full_size_stages.py inception-v3 --framework keras --target onnx-int8

Runs ``convert`` in this process (EDGE_INCEPTION_TARGET_WORKERS=never) with the pipeline's stage
functions wrapped: model load, float export (per format), quantization (calibration runs inside the
converters, so it is timed with them; ORT's pre-processing and quantize_static are shown apart), the
converters' inner steps (tf2onnx freezing/grappler/optimizers, OpenVINO convert_model, nncf.quantize),
verification, evaluation and latency. For each stage: wall time, the peak RSS of this process and its
children while it ran (sampled every 50 ms, benchmarks/_rss.py), and the RSS left when it ended (what a
later stage in the same process starts from). "largest" is the largest single process while the stage
ran (sampled), e.g. the tf2onnx child of a large Keras model's export; "exact" is this process's own
high-water mark while the stage ran (Linux VmHWM, reset at every stage boundary: no spike between two
samples is missed). Nested stages are indented.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _rss import GIB, TreeSampler, cpu_line  # noqa: E402

# (module, attribute) of each wrapped stage; a module that is not installed is skipped.
STAGES = [
    ("edge_inception.models.loader", "load_model", "load model"),
    ("edge_inception.exporters", "export", "float export"),
    ("edge_inception.quantizers", "quantize", "calibrate + quantize"),
    ("edge_inception.validate", "validate", "verify against the profile"),
    ("edge_inception.evaluation.accuracy", "predict", "evaluate"),
    ("edge_inception.evaluation.latency", "paired_latency", "latency"),
    ("tf2onnx.convert", "from_function", "tf2onnx from_function"),
    ("tf2onnx.tf_loader", "from_function", "tf2onnx freeze + grappler"),
    ("tf2onnx.optimizer", "optimize_graph", "tf2onnx ONNX optimizers"),
    ("edge_inception.exporters._tf2onnx_split", "export", "tf2onnx split in two processes"),
    ("edge_inception.exporters._tf2onnx_split", "_frozen_graph_def", "freeze, this process"),
    ("subprocess", "run", "child process (grappler + tf2onnx)"),
    ("onnxruntime.quantization.shape_inference", "quant_pre_process", "ORT quant_pre_process"),
    ("onnxruntime.quantization", "quantize_static", "ORT quantize_static (calibration included)"),
    ("openvino", "convert_model", "openvino.convert_model"),
    ("nncf", "quantize", "nncf.quantize (calibration included)"),
    ("edge_inception.exporters._torch", "torch_to_onnx", "torch.onnx export"),
    ("edge_inception.exporters._litert_torch", "torch_to_tflite", "litert-torch (subprocess)"),
    # The TFLite converter's own steps (TensorFlow 2.21's lite.py; a name it no longer has is skipped).
    ("edge_inception.exporters.tflite", "_saved_model", "Keras -> SavedModel (once per model)"),
    ("tensorflow.lite.python.lite", "TFLiteKerasModelConverterV2._convert_keras_to_saved_model",
     "converter: Keras -> SavedModel, reloaded"),
    ("tensorflow.lite.python.lite", "_convert_saved_model", "converter: SavedModel -> TFLite (MLIR)"),
    ("tensorflow.lite.python.lite", "_convert_graphdef", "converter: GraphDef -> TFLite (MLIR)"),
    ("tensorflow.lite.python.optimize.calibrator", "add_intermediate_tensors", "converter: add intermediate tensors"),
    ("tensorflow.lite.python.optimize.calibrator", "Calibrator.calibrate", "converter: calibration"),
    ("tensorflow.lite.python.lite", "_mlir_quantize", "converter: MLIR quantizer"),
]


class _ExactPeak:
    """This process's exact RSS high-water mark per stage: VmHWM is read and reset at every stage boundary
    and what it read is credited to every stage open at that moment."""

    def __init__(self) -> None:
        self.open: list[float] = []

    @staticmethod
    def _read_and_reset() -> float:
        try:
            with open("/proc/self/status") as f:
                hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024 / GIB
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # VmHWM := current RSS
        except (OSError, StopIteration):  # not Linux, or no permission
            return float("nan")
        return hwm

    def _credit(self) -> None:
        hwm = self._read_and_reset()
        self.open = [max(p, hwm) for p in self.open]

    def enter(self) -> None:
        self._credit()
        self.open.append(0.0)

    def leave(self) -> float:
        self._credit()
        return self.open.pop()


_EXACT = _ExactPeak()


def _wrap(depth: list[int], log: list, module: str, attr: str, label: str) -> None:
    import psutil

    try:
        mod = importlib.import_module(module)
    except ImportError:
        return
    *path, name = attr.split(".")  # "Class.method" wraps a method
    owner = functools.reduce(getattr, path, mod)
    original = getattr(owner, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def timed(*args, **kwargs):
        depth[0] += 1
        start_len = len(log)
        log.append(None)  # keeps the parent stage above its children
        t0 = time.perf_counter()
        _EXACT.enter()
        with TreeSampler() as inner:
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
                exact = _EXACT.leave()
                left = psutil.Process().memory_info().rss / GIB
                log[start_len] = (depth[0], label, time.perf_counter() - t0, inner.peak_tree_gib,
                                  inner.peak_process_gib, exact, left)

    setattr(owner, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="inception-v3")
    ap.add_argument("--framework", default="keras", choices=["keras", "torch"])
    ap.add_argument("--target", default="onnx-int8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibration-samples", type=int, default=100)
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--eval-limit", type=int, default=0,
                    help="evaluate on this many shipped sample images (random weights: timing only)")
    a = ap.parse_args()
    os.environ["EDGE_INCEPTION_TARGET_WORKERS"] = "never"

    log: list = []
    with TreeSampler() as sampler:
        depth = [0]  # nesting of the stage being timed, shared by every wrapper
        for module, attr, label in STAGES:
            _wrap(depth, log, module, attr, label)
        from edge_inception.api import convert

        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            convert(a.model, framework=a.framework, targets=a.target, out=out, threads=a.threads,
                    calibration_samples=a.calibration_samples, latency_runs=a.latency_runs,
                    **({"eval_data": "sample:evaluation", "eval_limit": a.eval_limit} if a.eval_limit else {}))
        wall = time.perf_counter() - t0
    print(f"command: {' '.join(sys.argv)}")
    print(f"CPU: {cpu_line()}")
    print(f"{a.model} ({a.framework}) -> {a.target} in one process: {wall:.0f} s, peak RSS "
          f"{sampler.peak_tree_gib:.2f} GiB (process and children, sampled)")
    print(f"{'stage':52} {'wall s':>7} {'peak GiB':>9} {'largest':>9} {'exact':>9} {'RSS after':>9}")
    for entry in log:
        if entry is None:
            continue
        depth, label, wall_s, peak, largest, exact, left = entry
        print(f"{'  ' * depth + label:52} {wall_s:7.1f} {peak:9.2f} {largest:9.2f} {exact:9.2f} {left:9.2f}")


if __name__ == "__main__":
    main()
