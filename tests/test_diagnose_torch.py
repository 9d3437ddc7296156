"""diagnose on a PyTorch source: figures keyed by module path, Inception module and branch, in LiteRT
(litert-torch), ONNX Runtime and OpenVINO; the planted wide branch ranked first; the fallback plan in
module paths compiled to all three backends and read back from each artifact.

The model (tests/_planted_torch.py) is one Inception-style module whose branch ``mix.a`` is 300x wider
than the others, trained briefly on the shipped Fashion-MNIST sample; quantized once per backend, plain
and with the module's group kept float.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TARGETS = ("tflite-int8", "onnx-int8", "openvino-int8")
FACTORY = str(Path(__file__).with_name("_planted_torch.py")) + ":build"


@pytest.fixture(scope="module")
def planted_torch(tmp_path_factory):
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.keep import KeepFloat
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.plan import expand_groups, resolve_keep_float
    from edge_inception.exporters._litert_torch import litert_torch_python
    from edge_inception.formats import artifact_path
    from edge_inception.models.loader import load_model
    from edge_inception.quantizers import quantize
    from edge_inception.targets import get_target
    from tests._planted_torch import train_and_plant

    if litert_torch_python() is None:
        pytest.fail("litert-torch is not set up: run `edge-inception setup litert-torch`")
    root = tmp_path_factory.mktemp("diagnose-torch")
    train_and_plant(root / "w.pt")
    lm = load_model(FACTORY, framework="torch", weights=root / "w.pt", input_shape=(1, 28, 28))
    graph = SourceGraph.of(lm)
    keep = expand_groups(resolve_keep_float(["mix*"], graph), graph)  # the module: branches, concatenation, reader
    calib = CalibrationSet(open_source("sample:calibration", lm.spec, labelled=False, limit=32), lm.spec,
                           batch_size=8)
    plain, kept = {}, {}
    for name in TARGETS:
        t = get_target(name)
        plain[name] = artifact_path(root, f"planted.{name}", t.format)
        quantize(lm, plain[name], target=t, calibration=calib)
        dest = artifact_path(root, f"kept.{name}", t.format)
        kept[name] = (dest, quantize(lm, dest, target=t, calibration=calib, keep_float=KeepFloat(keep)))
    return lm, graph, keep, plain, kept


def test_module_paths_modules_and_branches_and_the_planted_branch_first(planted_torch):
    from edge_inception import diagnose

    lm, graph, _, plain, _ = planted_torch
    assert graph.place("mix.b.2") == ("mix", "branch2") and graph.place("mix") == ("mix", None)
    d = diagnose([plain[t] for t in TARGETS], reference=lm, data="sample:evaluation", samples=16)
    assert d["modules"] == [{"name": "mix", "branches": 3}]
    for rt in d["runtimes"]:
        rows = {r["source_layer"]: r for r in rt["layers"] if r["source_layer"]}
        # the ReLU ends each folded conv + BatchNorm + ReLU: the module path of what the fused op computes
        assert {"stem.2", "mix.a.2", "mix.b.2", "mix.p.2"} <= set(rows), (rt["runtime"], sorted(rows))
        assert rows["mix.b.2"]["branch"] == "branch2" and rows["mix.a.2"]["module"] == "mix"
        first = rt["layers"][0]
        assert first["module"] == "mix" and first["source_layer"] != "mix.a.2", (rt["runtime"], first)
        assert first["score_db"] < 5 and rows["mix.a.2"]["local"]["sqnr_db"] > first["score_db"] + 10
        shared = [f for f in rt["findings"] if f["kind"] == "concat_shared_scale"]
        assert shared and shared[0]["wide_input"] == "mix.a.2" and shared[0]["range_ratio"] > 20, rt["findings"]
        assert all(r["artifact_tensor"] for r in rt["layers"])  # and the artifact's own name beside it


def test_fallback_in_module_paths_is_really_float_in_each_artifact(planted_torch):
    """Read each artifact: the kept modules compute in float, the stem and the head stay int8; it pays off."""
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.verify import float_ops
    from edge_inception.models.reference import source_session
    from edge_inception.runtimes import get_runtime
    from edge_inception.targets import get_target

    lm, graph, keep, plain, kept = planted_torch
    assert {"mix.a.2", "mix.b.0", "mix.p.2", "mix", "head"} <= set(keep) and "stem.0" not in keep
    for name in ("tflite-int8", "onnx-int8"):
        ops = float_ops(kept[name][0], graph)
        assert all(ops[n] for n in ("mix.a.2", "mix.b.2", "mix.p.2", "mix", "head")), (name, ops)
        assert not ops["stem.2"] and not ops.get("logits"), (name, ops)
        assert not any(float_ops(plain[name], graph).values()), name  # the plain artifact: all int8
    assert kept["tflite-int8"][1]["keep_float"]["pt2e_module_names"][:2] == ["mix.a.0", "mix.a.1"]
    dest, info = kept["openvino-int8"]
    ops = float_ops(dest, None)  # MAC ops: 3 branch convs and head float, stem and logits int8
    assert sorted(ops.values()) == [False, False, True, True, True, True], ops
    assert {n for n, v in ops.items() if v} <= set(info["keep_float"]["ignored_scope"])
    images, _ = next(open_source("sample:evaluation", lm.spec, labelled=False, limit=32).batches(32))
    x = lm.spec.model_input(images)
    ref = source_session(lm).run(x)

    def sqnr(path, runtime):
        got = get_runtime(runtime).load(path, threads=1).run(x)
        return 10 * np.log10((ref**2).sum() / ((got - ref) ** 2).sum())

    for name in TARGETS:
        rt = get_target(name).runtime
        assert sqnr(kept[name][0], rt) > sqnr(plain[name], rt) + 5, name
