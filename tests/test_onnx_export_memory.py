"""The float ONNX export's memory fixes (exporters/onnx.py, exporters/_tf2onnx_split.py): tf2onnx's node
protos rewritten without keeping old copies, and the large-model route (freeze here, grappler and tf2onnx
in a child process) giving the graph that one process gives."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _constant_nodes(count: int, mib: int):
    """tf2onnx Nodes, each a Constant holding ``mib`` MiB of float weights, in one tf2onnx Graph."""
    from onnx import numpy_helper
    from tf2onnx.graph import Graph

    graph = Graph([], opset=17)
    for i in range(count):
        value = numpy_helper.from_array(np.full((mib << 18,), i, np.float32), f"w{i}")
        graph.make_node("Const", [], attr={"value": value}, outputs=[f"w{i}"], name=f"c{i}")
    return graph


def test_fresh_node_protos_keep_one_copy_of_the_weights_and_the_same_nodes():
    from edge_inception.exporters.onnx import _fresh_node_protos

    passes, count, mib = 8, 4, 8  # 32 MiB of weights, 8 optimizer passes
    graph = _constant_nodes(count, mib)
    graph.update_proto()
    before = [n.op.SerializeToString() for n in graph.get_nodes()]
    start = _rss_mib()
    with _fresh_node_protos():
        for _ in range(passes):
            graph.update_proto()
    grown = _rss_mib() - start
    assert [n.op.SerializeToString() for n in graph.get_nodes()] == before  # the same protos
    # tf2onnx's own update_proto keeps each pass's copy in the message's arena: 8 x 32 MiB.
    assert grown < 2 * count * mib, f"{grown:.0f} MiB more after {passes} passes"
    start = _rss_mib()
    for _ in range(passes):
        graph.update_proto()
    assert _rss_mib() - start > (passes - 2) * count * mib  # what the fix is for, still so in tf2onnx


def _names(proto) -> list[str]:
    """Node names, which diagnose maps back to Keras layers. tf2onnx numbers the nodes it makes
    ('mul_1__6') with a counter per process, so a second export in one process differs there too."""
    return [re.sub(r"__\d+", "__N", n.name) for n in proto.graph.node]


@pytest.fixture(scope="module")
def mini_exports():
    """inception-resnet-mini (Keras 3) exported in one process and through the split route."""
    from edge_inception.exporters import _tf2onnx_split
    from edge_inception.exporters.onnx import onnx_model
    from edge_inception.models.loader import load_model

    lm = load_model("inception-resnet-mini", framework="keras")
    one = onnx_model(lm)
    lm.__dict__.pop("_onnx_exports")
    saved, _tf2onnx_split.SPLIT_WEIGHT_BYTES = _tf2onnx_split.SPLIT_WEIGHT_BYTES, 0
    try:
        split = onnx_model(lm)
    finally:
        _tf2onnx_split.SPLIT_WEIGHT_BYTES = saved
    return lm, one, split


def test_the_split_export_gives_the_one_process_graph(mini_exports):
    import onnxruntime as ort

    from edge_inception.formats.onnx import SPEC_KEY

    lm, one, split = mini_exports
    assert _names(split) == _names(one)
    assert [n.op_type for n in split.graph.node] == [n.op_type for n in one.graph.node]
    assert len(split.graph.initializer) == len(one.graph.initializer)
    assert split.opset_import == one.opset_import
    meta = {p.key: p.value for p in split.metadata_props}
    assert json.loads(meta[SPEC_KEY]) == json.loads(json.dumps(lm.spec.to_dict()))
    x = np.random.default_rng(0).random((3, *lm.spec.input_shape), dtype=np.float32)
    run = ort.InferenceSession(split.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in run.get_inputs()] == ["image"] and run.get_outputs()[0].name == "logits"
    np.testing.assert_allclose(run.run(None, {"image": x})[0], lm.model(x).numpy(), atol=1e-4)


@pytest.mark.parametrize("kind", ["h5", "saved_model"])
def test_the_split_exports_a_tf_keras_model(kind, tmp_path, monkeypatch):
    import onnxruntime as ort

    from edge_inception.exporters import _tf2onnx_split
    from edge_inception.exporters.onnx import onnx_model
    from edge_inception.models.loader import load_model
    from tests.conftest import tiny_tf_keras_model

    path, _ = tiny_tf_keras_model(tmp_path, kind)
    lm = load_model(path)
    one = onnx_model(lm)
    lm.__dict__.pop("_onnx_exports")
    monkeypatch.setattr(_tf2onnx_split, "SPLIT_WEIGHT_BYTES", 0)
    split = onnx_model(lm)
    assert _names(split) == _names(one)
    x = np.random.default_rng(1).random((2, 16, 16, 3), dtype=np.float32)
    got, want = (ort.InferenceSession(p.SerializeToString()).run(None, {"image": x})[0] for p in (split, one))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.shape == (2, 5) and np.abs(got).max() > 0


def test_the_tf2onnx_child_reports_a_bad_graph_in_one_line(tmp_path):
    from edge_inception.exporters import _tf2onnx_split

    (tmp_path / "frozen.pb").write_bytes(b"not a GraphDef")
    (tmp_path / "job.json").write_text(json.dumps({"inputs": ["image:0"], "outputs": ["Identity:0"],
                                                   "opset": 17, "name": "f", "renames": {}}))
    proc = subprocess.run([sys.executable, "-m", _tf2onnx_split.__name__, str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == _tf2onnx_split._FAILED
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ONNX export with tf2onnx failed:") and "Traceback" not in proc.stderr
    assert not (tmp_path / "model.onnx").exists()


def test_a_split_export_quantizes_and_verifies_as_onnx_int8(tmp_path, run_cli, monkeypatch):
    """ONNX Runtime's quantizer and the int8 verification take the split route's float ONNX."""
    from edge_inception.exporters import _tf2onnx_split
    from tests.conftest import tiny_tf_keras_model

    path, calib = tiny_tf_keras_model(tmp_path, "h5")
    monkeypatch.setattr(_tf2onnx_split, "SPLIT_WEIGHT_BYTES", 0)
    calls, export = [], _tf2onnx_split.export
    monkeypatch.setattr(_tf2onnx_split, "export", lambda *a: calls.append(a) or export(*a))
    code, _, err = run_cli("convert", str(path), "--target", "onnx-int8", "--calibration", str(calib),
                           "--out", str(tmp_path / "out"), "--latency-runs", "2")
    assert code == 0, err
    (row,) = json.loads((tmp_path / "out" / "report.json").read_text())["targets"]
    assert row["status"] == "ok" and row["verification"]["ok"], row["message"]
    assert row["reference"]["target"] == "onnx-fp32"
    assert len(calls) == 1  # one split export, shared by the float reference and the quantizer


def test_one_image_per_calibration_run_gives_the_same_int8_model(tmp_path, run_cli, monkeypatch):
    """A large model calibrates one image per ORT run (ort_ptq.ONE_IMAGE_PER_RUN_BYTES); under MinMax
    that gives the ranges, and so the int8 model, of the recipe's batches."""
    import onnx
    from onnx import numpy_helper

    from edge_inception.quantizers import ort_ptq
    from tests.conftest import tiny_tf_keras_model

    path, calib = tiny_tf_keras_model(tmp_path, "h5")

    def convert(out: str):
        code, _, err = run_cli("convert", str(path), "--target", "onnx-int8", "--calibration", str(calib),
                               "--out", str(tmp_path / out), "--latency-runs", "2")
        assert code == 0, err
        (row,) = json.loads((tmp_path / out / "report.json").read_text())["targets"]
        assert row["status"] == "ok" and row["verification"]["ok"], row["message"]
        model = onnx.load(str(next((tmp_path / out).glob("*.onnx-int8.onnx"))))
        # tf2onnx numbers the nodes it makes per process, and ORT names its tensors after them
        return row["conversion"], sorted((re.sub(r"__\d+", "__N", i.name), numpy_helper.to_array(i).tobytes())
                                         for i in model.graph.initializer)

    batched, want = convert("batched")
    monkeypatch.setattr(ort_ptq, "ONE_IMAGE_PER_RUN_BYTES", 0)
    single, got = convert("single")
    assert batched["calibration_images_per_run"] > 1 and single["calibration_images_per_run"] == 1
    assert batched["calibration_method"] == single["calibration_method"] == "CalibrationMethod.MinMax"
    assert [n for n, _ in got] == [n for n, _ in want] and any("scale" in n for n, _ in got)
    assert got == want  # every scale, zero point and int8 weight, bit for bit
