"""tf2onnx's ``from_function`` in two processes, for models whose float export would not fit in 4 GiB
in one: this process freezes the function into a GraphDef (TensorFlow's variables become constants),
a child process runs grappler and tf2onnx's conversion on it and writes the ONNX file.

    proto = export(fn, input_signature, opset)   # the ModelProto from_function would give

The steps and their arguments are tf2onnx 1.17's own (``tf_loader.from_function``, then
``convert._convert_common``), so node and tensor names are the same as in one process. Keras
Inception-ResNet v2 (223 MB of weights) in one process: freezing leaves 2.7 GiB behind and grappler
adds 2.2 GiB on top (docs/benchmarks.md#full-size-conversion-within-4-gib); split, no process holds
both the Keras model and grappler's copies. The child starts a TensorFlow of its own (0.67 GiB, a few
seconds), so smaller models stay in one process.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from edge_inception._core.errors import TargetFailed

# Inception v3 (95 MB of float weights) exports in 3.7 GiB in one process; Inception-ResNet v2 (223 MB)
# is the zoo model that needs the split.
SPLIT_WEIGHT_BYTES = 128 << 20
_FAILED = 3  # the child's exit code for a conversion error it reports on its last stderr line


def export(fn, signature, opset: int):
    """The float ONNX ModelProto of tf.function ``fn``: frozen here, converted in a child process."""
    import onnx

    from edge_inception._core.native import import_tensorflow, quiet_native

    tf = import_tensorflow()
    from tf2onnx.convert import tensor_names_from_structed

    concrete = fn.get_concrete_function(*signature)
    inputs = [t.name for t in concrete.inputs if t.dtype != tf.dtypes.resource]
    outputs = [t.name for t in concrete.outputs if t.dtype != tf.dtypes.resource]
    name = concrete.name.decode() if isinstance(concrete.name, bytes) else str(concrete.name)
    job = {"inputs": inputs, "outputs": outputs, "opset": opset, "name": name,
           "renames": tensor_names_from_structed(concrete, inputs, outputs)}
    with tempfile.TemporaryDirectory(prefix="edge-inception-tf2onnx-") as tmp:
        try:
            with quiet_native(), tf.device("/cpu:0"):
                graph_def = _frozen_graph_def(concrete)
        except Exception as e:  # noqa: BLE001 - TensorFlow's freezing raises plain exceptions of many types
            msg = " ".join(str(e).split())
            raise TargetFailed(f"ONNX export: freezing the TensorFlow graph failed: {msg[:300]}") from None
        Path(tmp, "frozen.pb").write_bytes(graph_def.SerializeToString())
        del graph_def, concrete
        gc.collect()
        Path(tmp, "job.json").write_text(json.dumps(job))
        proc = subprocess.run([sys.executable, "-m", __name__, tmp], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, errors="replace")
        if proc.returncode == _FAILED:
            raise TargetFailed(proc.stderr.strip().splitlines()[-1])
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])[-300:]
            raise TargetFailed(f"ONNX export: the tf2onnx process exited with {proc.returncode}: {tail}")
        return onnx.load(str(Path(tmp, "model.onnx")))


def _frozen_graph_def(concrete):
    """tf2onnx's ``tf_loader.from_function`` up to, not including, grappler, without the ConcreteFunction
    that ``convert_variables_to_constants_v2`` builds from the frozen GraphDef only for tf2onnx to turn it
    back into one: that import, its registration and ``as_graph_def`` each copy every weight. The child
    prunes to the outputs and adds the shapes (``_with_shapes``) as that function's graph would have."""
    from tensorflow.python.framework import convert_to_constants as c2c
    from tf2onnx import tf_loader

    try:
        data = c2c._FunctionConverterDataInEager(func=concrete, lower_control_flow=False, aggressive_inlining=True)
        graph_def, _ = c2c._replace_variables_by_constants(converter_data=data)
    except ValueError as e:
        if "incompatible with expected resource" not in str(e):
            raise
        graph_def = tf_loader.fix_freezing_errors(tf_loader.convert_variables_to_constants_large_model(concrete))
    return tf_loader.fix_freezing_errors_part2(graph_def)


def _with_shapes(tf, graph_def, outputs: list[str]):
    """``graph_def`` pruned to what ``outputs`` need, with each node's ``_output_shapes``."""
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [o.split(":")[0] for o in outputs])
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
    return graph.as_graph_def(add_shapes=True)


def _convert(folder: Path) -> None:
    """The child: grappler and tf2onnx on ``folder``/frozen.pb, written to ``folder``/model.onnx."""
    import onnx

    from edge_inception._core.native import import_tensorflow
    from edge_inception.exporters.onnx import tf2onnx_convert

    tf = import_tensorflow()
    from tf2onnx import tf_loader
    from tf2onnx.convert import _convert_common

    job = json.loads((folder / "job.json").read_text())
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((folder / "frozen.pb").read_bytes())
    with tf.device("/cpu:0"):
        graph_def = _with_shapes(tf, graph_def, job["outputs"])
        with tf.Graph().as_default() as graph, tf_loader.tf_session(graph=graph) as sess:
            tf.import_graph_def(graph_def, name="")
            inputs = tf_loader.inputs_without_resource(sess, job["inputs"])
            graph_def = tf_loader.tf_optimize(inputs, job["outputs"], graph_def)
        gc.collect()
        proto = tf2onnx_convert(lambda: _convert_common(
            graph_def, name=job["name"], continue_on_error=True, target=None, opset=job["opset"],
            custom_ops=None, custom_op_handlers=None, custom_rewriter=None, extra_opset=None,
            shape_override=None, input_names=inputs, output_names=job["outputs"], inputs_as_nchw=None,
            outputs_as_nchw=None, large_model=False, tensors_to_rename=job["renames"],
            initialized_tables=None)[0])
    onnx.save_model(proto, str(folder / "model.onnx"))


if __name__ == "__main__":
    try:
        _convert(Path(sys.argv[1]))
    except TargetFailed as e:
        print(str(e), file=sys.stderr)
        sys.exit(_FAILED)
    except Exception as e:  # noqa: BLE001 - grappler raises plain exceptions of many types
        print(f"ONNX export with tf2onnx failed: {' '.join(str(e).split())[:300]}", file=sys.stderr)
        sys.exit(_FAILED)
