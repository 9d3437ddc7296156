"""ONNX export: tf2onnx for TensorFlow sources, torch.onnx for PyTorch.

    export_onnx(loaded_model, dest, target=get_target("onnx-fp32"))  # float ONNX, dynamic batch
    proto = onnx_model(loaded_model, opset=17)                   # the same, in memory

Keras 3, tf_keras and SavedModel sources all go through one path: a tf.function with a fixed NHWC
signature (batch left dynamic so evaluation can batch) handed to ``tf2onnx.convert.from_function``.
Keras 3's own ``model.export(format='onnx')`` fails on a model that was never called, and
``tf2onnx.convert.from_keras`` takes only tf_keras models; a function works for all three. A model
of 128 MiB or more of float weights is frozen here and converted by tf2onnx in a child process
(exporters/_tf2onnx_split.py: the same graph and names), so no process holds both the Keras model and
tf2onnx's copies (Keras Inception-ResNet v2: docs/benchmarks.md#full-size-conversion-within-4-gib).
PyTorch modules go through torch.onnx's dynamo exporter (exporters/_torch.py) and keep NCHW.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from edge_inception._core.atomic import atomic_path
from edge_inception._core.errors import TargetFailed
from edge_inception._core.native import quiet_native
from edge_inception._core.registry import Registry
from edge_inception.exporters import SOURCE_KINDS, TF_KINDS, register_exporter
from edge_inception.formats.onnx import SPEC_KEY
from edge_inception.models.loader import LoadedModel

OPSET = 17  # the [export] opset default of the target schema; ORT 1.17+ and OpenVINO read it
INPUT_NAME, OUTPUT_NAME, BATCH_DIM = "image", "logits", "batch"
# Source kind -> fn(lm, opset) -> (float ModelProto, converter description)
ONNX_GRAPHS: Registry = Registry("ONNX graph builder")


def _source_function(lm: LoadedModel):
    """(tf.function, input_signature) computing logits from a float32 NHWC batch."""
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()

    h, w, c = lm.spec.input_shape
    signature = [tf.TensorSpec([None, h, w, c], tf.float32, name=INPUT_NAME)]
    if lm.kind == "saved_model":
        loaded = tf.saved_model.load(str(lm.model))
        (arg,) = loaded.signatures["serving_default"].structured_input_signature[1]

        def call(x):
            # Through ``loaded``, not a saved signature: the function must keep the object (and so its
            # variables) alive until tf2onnx has traced and frozen it.
            return next(iter(loaded.signatures["serving_default"](**{arg: x}).values()))
    else:
        model = lm.model

        def call(x):
            return model(x, training=False)

    return tf.function(call, input_signature=signature), signature


def onnx_model(lm: LoadedModel, *, opset: int = OPSET):
    """The float32 ONNX ModelProto of ``lm``, with input 'image' [batch, ...] in the model's own layout
    (NHWC for Keras, NCHW for PyTorch) and output 'logits'."""
    import onnx

    # One export per model and opset: the onnx-fp32 reference and the quantizer's input are the same
    # graph, and a full-size export is the slowest and most memory-hungry step (docs/benchmarks.md).
    # Kept on the LoadedModel, so it lives only as long as the model; callers get a copy to change.
    memo = lm.__dict__.setdefault("_onnx_exports", {})
    if opset not in memo:
        proto, converter = ONNX_GRAPHS.get(lm.kind)(lm, opset)
        _rename_io(proto)
        _set_metadata(proto, {SPEC_KEY: json.dumps(lm.spec.to_dict()), "edge_inception.source_kind": lm.kind,
                              "edge_inception.converter": converter})
        memo[opset] = proto
    copy = onnx.ModelProto()
    copy.CopyFrom(memo[opset])
    return copy


@ONNX_GRAPHS.register(*TF_KINDS)
def _tf_proto(lm: LoadedModel, opset: int):
    from edge_inception._core.native import import_tensorflow

    tf = import_tensorflow()
    import tf2onnx

    from edge_inception.exporters import _tf2onnx_split
    from edge_inception.models.loader import weight_bytes

    fn, signature = _source_function(lm)
    if weight_bytes(lm) >= _tf2onnx_split.SPLIT_WEIGHT_BYTES:
        proto = _tf2onnx_split.export(fn, signature, opset)
    else:
        proto = tf2onnx_convert(lambda: tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)[0])
    return proto, f"tf2onnx {tf2onnx.__version__}, tensorflow {tf.__version__}"


def tf2onnx_convert(run):
    """``run()``'s ONNX ModelProto, with tf2onnx's optimizers in place; if that fails, again the way
    tf2onnx skips a failing optimizer. Any failure is a one-line TargetFailed."""
    try:
        try:
            with quiet_native(), _optimizers_in_place():
                return run()
        except Exception:  # noqa: BLE001 - an optimizer that fails in place: again the way tf2onnx skips it
            with quiet_native():
                return run()
    except Exception as e:  # noqa: BLE001 - tf2onnx raises plain exceptions of many types
        msg = " ".join(str(e).split())
        raise TargetFailed(f"ONNX export with tf2onnx failed: {msg[:300] or type(e).__name__}") from None


@contextlib.contextmanager
def _optimizers_in_place():
    """tf2onnx's ONNX optimizers without a deep copy of the whole graph, weights included, before each
    one (its TF2ONNX_CATCH_ERRORS switch; the copy lets it skip an optimizer that fails). The copies were
    the largest part of the peak: Keras Inception v3's export 5.56 -> 4.24 GiB RSS, 19.5 -> 10.9 s (docs/benchmarks.md).
    tf2onnx 1.17 reads only whether the variable is set; any failure is retried with the copies."""
    import gc
    import threading

    key = "TF2ONNX_CATCH_ERRORS"
    saved = os.environ.get(key)
    os.environ[key] = "FALSE"
    # tf2onnx's graphs are reference cycles that Python's collector reaches late (a full collection waits
    # for a quarter more long-lived objects, and TensorFlow holds millions): collected every second while
    # it runs and once after, Inception v3's export peaked 0.6 GiB lower and its process kept 1.75 GiB,
    # not 4.48 GiB, for the quantizer that follows.
    stop = threading.Event()

    def collect() -> None:
        while not stop.wait(1.0):
            gc.collect()

    collector = threading.Thread(target=collect, name="tf2onnx-gc", daemon=True)
    collector.start()
    try:
        with _fresh_node_protos():
            yield
    finally:
        stop.set()
        collector.join()
        gc.collect()
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


@contextlib.contextmanager
def _fresh_node_protos():
    """tf2onnx's ``Node.update_proto`` writing each node into a new NodeProto instead of clearing and
    refilling the old one. Under protobuf's upb backend a cleared field's memory stays in its message's
    arena until the message dies, so every optimizer pass (each ends in ``update_proto``; 24 passes for
    Inception-ResNet v2) kept one more copy of every weight: +0.2 GiB a pass, 1.74 -> 6.74 GiB over
    the optimizers (docs/benchmarks.md). Same names, attributes and graph; only the memory differs."""
    from onnx import NodeProto
    from tf2onnx.graph import Node

    original = Node.update_proto

    def update_proto(self, external_tensor_storage=None):
        for attr_name, sub_graph in (self.get_body_graphs() or {}).items():
            proto = sub_graph.make_graph(f"graph for {self.name} {attr_name}",
                                         external_tensor_storage=external_tensor_storage)
            self.set_attr(attr_name, proto)
        fresh = NodeProto()
        for field, value in self._op.ListFields():  # name, op_type, domain, doc string, ...
            if field.name in ("input", "output", "attribute"):
                continue
            if hasattr(value, "extend"):
                getattr(fresh, field.name).extend(value)
            elif hasattr(value, "CopyFrom"):
                getattr(fresh, field.name).CopyFrom(value)
            else:
                setattr(fresh, field.name, value)
        fresh.input.extend(self.input)
        fresh.output.extend(self.output)
        fresh.attribute.extend(self.get_onnx_attrs(external_tensor_storage).values())
        self._op = fresh

    Node.update_proto = update_proto
    try:
        yield
    finally:
        Node.update_proto = original


@ONNX_GRAPHS.register("torch")
def _torch_proto(lm: LoadedModel, opset: int):
    """torch.onnx's dynamo exporter (the TorchScript exporter is deprecated since torch 2.9)."""
    import tempfile

    import onnx
    import torch

    from edge_inception.exporters._torch import torch_to_onnx

    with tempfile.TemporaryDirectory(prefix="edge-inception-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        torch_to_onnx(lm.model, lm.spec, path, opset=opset)
        proto = onnx.load(str(path))  # external data, if any, is read into the proto here
    return proto, f"torch.onnx dynamo exporter, torch {torch.__version__}"


def _rename_io(proto) -> None:
    """Stable names ('image' -> 'logits', batch dimension 'batch') instead of tf2onnx's 'Identity:0'
    and 'unk__367', so artifacts from every Keras generation look alike to users and runtimes."""
    graph = proto.graph
    renames = {graph.output[0].name: OUTPUT_NAME, graph.input[0].name: INPUT_NAME}
    for node in graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    graph.output[0].name = OUTPUT_NAME
    graph.input[0].name = INPUT_NAME
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM


def _set_metadata(proto, props: dict[str, str]) -> None:
    import onnx

    merged = {p.key: p.value for p in proto.metadata_props} | props
    onnx.helper.set_model_props(proto, merged)


def save_onnx(proto, dest: Path) -> None:
    import onnx

    with atomic_path(dest) as tmp:
        onnx.save_model(proto, str(tmp))


@register_exporter("onnx", *SOURCE_KINDS)
def export_onnx(lm: LoadedModel, dest: Path, *, target) -> dict:
    precision, opset = target.precision, target.export.get("opset", OPSET)
    if precision != "float32":
        raise TargetFailed(f"the ONNX exporter writes float32 only, not {precision}; int8 comes from a quantizer")
    proto = onnx_model(lm, opset=opset)
    save_onnx(proto, dest)
    converter = next(p.value for p in proto.metadata_props if p.key == "edge_inception.converter")
    return {"converter": converter, "precision": precision, "opset": opset}
