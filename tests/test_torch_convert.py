"""PyTorch models through the shared pipeline: ONNX (dynamo exporter) and OpenVINO, int8 and float."""

import json

import pytest
import torch
from torch import nn

from edge_inception._core.errors import TargetFailed
from edge_inception.exporters._torch import torch_to_onnx, torch_to_openvino
from edge_inception.models.spec import ModelSpec

# One conversion serves the int8 and the float checks: the float targets are the int8 targets' references,
# and two runs loaded the model, exported the references and evaluated the source and references twice.
# 100 calibration images instead of the profiles' 500 (each profile keeps its own recipe otherwise):
# litert-torch's PT2E observers calibrate one image at a time, about 0.3 s each on 2 cores, and fewer
# images only make the accuracy bar below harder to meet.
TWIN_TARGETS = "tflite-int8,onnx-int8,openvino-int8,tflite-fp32,tflite-fp16,onnx-fp32"


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    from edge_inception.api import _Context
    from edge_inception.cli import main

    out = tmp_path_factory.mktemp("torch-twin")
    built, build = [], _Context._build  # which profiles were converted, in order (the real conversion runs)

    def counted(self, target, **kw):
        built.append(target.name)
        return build(self, target, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_Context, "_build", counted)
        code = main(["convert", "inception-mini", "--framework", "torch", "--target", TWIN_TARGETS,
                     "--calibration-samples", "100", "--out", str(out), "--latency-runs", "5"])
    return code, out, json.loads((out / "report.json").read_text()), built


def test_torch_twin_to_every_int8_target(twin):
    code, tmp_path, report, _ = twin
    assert code == 0, [(r["target"], r["message"]) for r in report["targets"] if r["status"] != "ok"]
    assert report["model"]["kind"] == "torch" and report["model"]["layout"] == "NCHW"
    int8 = [row for row in report["targets"] if row["precision"] == "int8"]
    assert {r["target"] for r in int8} == {"tflite-int8", "onnx-int8", "openvino-int8"}
    for row in int8:
        assert row["status"] == "ok", row["message"]
        assert row["calibration"]["samples"] == 100
        acc = row["accuracy"]
        assert acc["float_top1"] > 0.88  # trained weights, real images
        assert abs(acc["delta_points"]) <= 1.0 and acc["agreement"] >= 0.97
        assert row["reference"]["target"] in ("tflite-fp32", "onnx-fp32", "openvino-fp32")
        assert row["verification"]["ok"]  # tflite-int8: every operator integer
    _verifier_names_module_paths(tmp_path, {**report, "targets": int8})
    onnx_row = next(r for r in report["targets"] if r["target"] == "onnx-int8")
    expected = "int8" if report["host"]["isa"]["vnni"] else "uint8"  # U8S8 with VNNI, U8U8 without
    conv = onnx_row["conversion"]
    assert conv["activations"] == "uint8" and conv["weights"].split()[0] == expected and conv["isa_reason"]


def _verifier_names_module_paths(out, report):
    """ONNX nodes and OpenVINO layers of a PyTorch model are named after its modules, through BatchNorm
    folding: a verifier failure (the float references checked against int8 rules) names each Conv's
    module, and the int8 ONNX keeps those names through ONNX Runtime's quantizer."""
    import onnx

    from edge_inception.models.zoo import create_model
    from edge_inception.targets import get_target
    from edge_inception.validate import validate

    model = create_model("inception-mini", framework="torch", pretrained=False)
    paths = {name for name, _ in model.named_modules() if name}
    rows = {r["reference"]["target"]: r for r in report["targets"]}
    for fmt, profile, word in (("onnx", "onnx-int8", "node"), ("openvino", "openvino-int8", "layer")):
        float_file = out / rows[f"{fmt}-fp32"]["reference"]["artifact"].split("/")[-1]
        problems = [p for p in validate(float_file, get_target(profile)) if "unquantized float32 weights" in p]
        assert len(problems) >= 30, problems  # every Conv and the classifier
        for p in problems:
            name = p.split(f"({word} '")[1].split("'")[0]
            module = name.removeprefix("__module.").split("/")[0]
            assert module in paths and "Multiply" not in name and "node_" not in name, p
        assert any(f"({word} '{'__module.' if fmt == 'openvino' else ''}stem.0/" in p for p in problems), problems
    int8 = onnx.load(str(out / next(r for r in report["targets"] if r["target"] == "onnx-int8")["artifact"]
                         .split("/")[-1]), load_external_data=False)
    convs = [n.name for n in int8.graph.node if n.op_type == "Conv"]
    assert convs and all(n.split("/")[0] in paths for n in convs), convs


def test_torch_float_targets_match_the_module(twin):
    code, _, report, built = twin
    assert code == 0
    # tflite-fp32 and onnx-fp32 are rows and the int8 rows' references: each profile is converted once.
    assert sorted(built) == sorted([*TWIN_TARGETS.split(","), "openvino-fp32"]), built
    rows = {r["target"]: r for r in report["targets"]}
    for name in ("tflite-fp32", "onnx-fp32"):
        assert rows[name]["status"] == "ok", rows[name]["message"]
        assert rows[name]["reference"]["target"] == "source (torch)"
        assert rows[name]["accuracy"]["agreement"] >= 0.999 and rows[name]["accuracy"]["sqnr_db"] > 60, rows[name]
    fp16 = rows["tflite-fp16"]
    assert fp16["status"] == "ok", fp16["message"]
    assert fp16["reference"]["target"] == "tflite-fp32" and 1.7 < fp16["size_ratio"] < 2.2
    assert fp16["accuracy"]["agreement"] >= 0.995 and fp16["accuracy"]["sqnr_db"] > 40


def test_without_litert_torch_only_tflite_fails(tmp_path, run_cli, monkeypatch):
    from edge_inception.exporters import _litert_torch

    monkeypatch.setattr(_litert_torch, "VENV", tmp_path / "no-venv")
    code, _, _ = run_cli("convert", "inception-mini", "--framework", "torch", "--target", "tflite-fp32,onnx-fp32",
                         "--out", str(tmp_path / "out"), "--latency-runs", "2", "--eval-limit", "100")
    assert code == 1
    rows = {r["target"]: r for r in json.loads((tmp_path / "out" / "report.json").read_text())["targets"]}
    assert rows["tflite-fp32"]["status"] == "failed"
    assert "edge-inception setup litert-torch" in rows["tflite-fp32"]["message"]
    assert rows["onnx-fp32"]["status"] == "ok"


class _Odd(nn.Module):
    def forward(self, x):
        return torch.special.bessel_j0(x)  # no ONNX translation exists


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.odd = _Odd()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.odd(self.conv(x)).mean((2, 3)))


def test_unsupported_operator_names_operator_and_layer(tmp_path):
    spec = ModelSpec(name="n", framework="torch", input_shape=(8, 8, 3), layout="NCHW")
    with pytest.raises(TargetFailed) as e:
        torch_to_onnx(_Net().eval(), spec, tmp_path / "n.onnx", opset=17)
    assert "bessel_j0" in e.value.message and "in layer 'odd'" in e.value.message
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TargetFailed) as e:  # OpenVINO's frontend names the operator; we add the layer
        torch_to_openvino(_Net().eval(), spec)
    assert e.value.message.startswith("OpenVINO export failed at operator aten.special_bessel_j0 in layer 'odd'")
