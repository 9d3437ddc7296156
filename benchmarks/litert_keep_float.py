"""Why LiteRT's keep-float goes through ai-edge-quantizer: the same plans on the planted inception-mini of
`diagnose_figures.py planted-mini` (inception_5b branch 1 x200, the logits' rows for it /200), compiled
three ways, each artifact evaluated on the same 2,000 Fashion-MNIST test images:

  converter   the TFLite converter's quantizer with the plan's tensors denylisted (QuantizationDebugger,
              denylisted_nodes), found by tensor name as the fallback did before
  +output     the same, plus the model output's op (named 'StatefulPartitionedCall_1:0', no layer in it)
  aeq         what `--keep-float` does now: ai-edge-quantizer, static int8 recipe, kept ops no_quantize

    flock /tmp/bigmem.lock python benchmarks/litert_keep_float.py      # ~3 min on 2 cores

For each it prints top-1 and the int8 scales of the tensors that feed inception_5b's concatenation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
PLANS = (["inception_5b_concat"], ["inception_5b_*"])


def _planted(root: Path, wide: float, test: int) -> Path:
    from edge_inception.data.readers import read_fashion_mnist
    from edge_inception.models.loader import load_model

    x, y = read_fashion_mnist("train")
    idx = np.random.default_rng(0).choice(len(x), 8000, replace=False)
    np.savez(root / "train.npz", images=x[idx], labels=y[idx])
    xt, yt = read_fashion_mnist("test")
    np.savez(root / "test.npz", images=xt[:test], labels=yt[:test])
    model = load_model("inception-mini").model
    bn = model.get_layer("inception_5b_b1_1x1_bn")
    g, b, mean, var = bn.get_weights()
    bn.set_weights([g * wide, b * wide, mean, var])
    k, bias = model.get_layer("logits").get_weights()
    k[: len(g)] /= wide
    model.get_layer("logits").set_weights([k, bias])
    model.save(root / "planted-mini.keras")
    return root / "planted-mini.keras"


def _converter(lm, calib, keep, graph, with_output: bool) -> bytes:
    from ai_edge_litert import schema_py_generated as schema

    from edge_inception._core.native import import_tensorflow, quiet_native
    from edge_inception.exporters.tflite import make_converter

    tf = import_tensorflow()
    with make_converter(lm) as conv, quiet_native():
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = calib.tflite_representative_dataset
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        dbg = tf.lite.experimental.QuantizationDebugger(converter=conv,
                                                        debug_dataset=calib.tflite_representative_dataset)
        sg = schema.Model.GetRootAs(dbg.calibrated_model, 0).Subgraphs(0)
        outs = [sg.Tensors(op.Outputs(k)).Name().decode() for op in map(sg.Operators, range(sg.OperatorsLength()))
                for k in range(op.OutputsLength())]
        names = [n for n in outs if graph.layer_for(n) in keep]  # op outputs named after a kept layer
        if with_output:
            names.append(sg.Tensors(sg.Outputs(0)).Name().decode())
        dbg.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names)
        return dbg.get_nondebug_quantized_model()


def _evaluate(fb: bytes, lm, test: Path, graph) -> tuple[float, dict]:
    from ai_edge_litert.interpreter import Interpreter

    from edge_inception.data.readers import open_source

    it = Interpreter(model_content=fb, num_threads=2)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    hits = n = 0
    for images, labels in open_source(test, lm.spec).batches(100):
        x = lm.spec.model_input(images)
        it.resize_tensor_input(inp["index"], list(x.shape))
        it.allocate_tensors()
        it.set_tensor(inp["index"], x.astype(np.float32))
        it.invoke()
        hits += int((it.get_tensor(out["index"]).argmax(1) == labels).sum())
        n += len(labels)
    feeds = set(graph.layers["inception_5b_concat"].inputs)
    scales = {graph.layer_for(t["name"]): t["quantization"][0] for t in it.get_tensor_details()
              if t["dtype"] == np.int8 and graph.layer_for(t["name"]) in feeds}
    return hits / n, scales


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wide", type=float, default=200.0)
    ap.add_argument("--test", type=int, default=2000)
    args = ap.parse_args()
    from benchmarks.diagnose_figures import _quiet, cpu

    _quiet()
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.keep import KeepFloat
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.plan import expand_groups, resolve_keep_float
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target

    root = Path(tempfile.mkdtemp(prefix="litert-keep-float-"))
    lm = load_model(_planted(root, args.wide, args.test))
    graph = SourceGraph.of(lm)
    calib = CalibrationSet(open_source(root / "train.npz", lm.spec, labelled=False, limit=200), lm.spec, batch_size=8)
    macs = {lay.name for lay in graph.order if lay.kind in ("conv", "dense")}
    hits = [(lm.model.predict(lm.spec.model_input(im), verbose=0).argmax(1) == lab)
            for im, lab in open_source(root / "test.npz", lm.spec).batches(100)]
    print(f"CPU: {cpu()}\nfloat (Keras) top-1 {np.concatenate(hits).mean():.2%} on {args.test} test images")
    for pats in PLANS:
        keep = expand_groups(resolve_keep_float(pats, graph), graph)
        print(f"\n--keep-float {' '.join(pats)}: {len(set(keep) & macs)} of {len(macs)} conv/dense layers")
        for how in ("converter", "+output", "aeq"):
            if how == "aeq":
                dest = root / "aeq.tflite"
                quantize(lm, dest, target=get_target("tflite-int8"), calibration=calib, keep_float=KeepFloat(keep))
                fb = dest.read_bytes()
            else:
                fb = _converter(lm, calib, set(keep), graph, how == "+output")
            top1, scales = _evaluate(fb, lm, root / "test.npz", graph)
            shown = ", ".join(f"{k.removeprefix('inception_5b_')} {v:.4g}" for k, v in sorted(scales.items()))
            print(f"  {how:<10} top-1 {top1:.2%}   int8 inputs of the concatenation: {shown or 'none (kept float)'}")


if __name__ == "__main__":
    main()
