"""A PyTorch scaled residual (``relu(x + 0.3 * proj(cat(branches)))``) through litert-torch's PT2E int8:
every operator integer, read from the artifact; and verifier messages that name the user's modules."""

import numpy as np
import pytest
import torch
from torch import nn

from edge_inception.exporters._module_paths import module_path, rename
from edge_inception.models.spec import ModelSpec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Mixed(nn.Module):
    """An Inception-ResNet module as a user writes it: branches, concat, 1x1 projection, scaled add."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.b0 = nn.Sequential(nn.Conv2d(c, 4, 1), nn.ReLU())
        self.b1 = nn.Sequential(nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.proj = nn.Conv2d(8, c, 1)

    def forward(self, x):
        r = self.proj(torch.cat([self.b0(x), self.b1(x)], 1))
        return torch.relu(x + 0.3 * r)


class ResNetToy(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(Mixed(), Mixed())
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


class _Calibration:
    """What torch_to_tflite reads from a CalibrationSet: float NCHW batches (real Fashion-MNIST images)."""

    def __init__(self, images):
        self.images = images

    def float_batches(self):
        yield self.images


@pytest.fixture(scope="module")
def converted(tmp_path_factory, sample_arrays):
    from edge_inception.exporters._litert_torch import litert_torch_python, torch_to_tflite

    if litert_torch_python() is None:
        pytest.fail("litert-torch is not set up: run `edge-inception setup litert-torch`")
    torch.manual_seed(0)
    model = ResNetToy().eval()
    images = sample_arrays["calibration"][0][:64, None].astype(np.float32) / 255
    spec = ModelSpec(name="toy", framework="torch", input_shape=(28, 28, 1), layout="NCHW")
    dest = tmp_path_factory.mktemp("residual") / "toy.tflite"
    torch_to_tflite(model, spec, dest, calibration=_Calibration(images), io_dtype="float32")
    return model, dest, sample_arrays["evaluation"][0][:32, None].astype(np.float32) / 255


def test_scaled_residual_is_full_integer(converted):
    from ai_edge_litert import interpreter as litert

    from edge_inception.targets import get_target
    from edge_inception.validate import describe, validate

    model, path, x = converted
    assert validate(path, get_target("tflite-int8")) == []
    interp = litert.Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    kinds = [op["op_name"] for op in ops]
    assert kinds.count("ADD") == 2 and kinds[0] == "QUANTIZE" and kinds[-1] == "DEQUANTIZE", kinds
    for op in ops[1:-1]:  # between the float edges, every tensor an operator touches is integer
        for i in [*op["inputs"], *op["outputs"]]:
            if i >= 0:
                dtype = np.dtype(tensors[i]["dtype"]).name
                assert dtype in ("int8", "int32"), (op["op_name"], tensors[i]["name"], dtype)
    assert {op.layer for op in describe(path, "tflite").ops if op.type == "ADD"} == {"blocks.0", "blocks.1"}
    # and it still computes the model: int8 logits track the float module's on real images
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], [1, 1, 28, 28])
    interp.allocate_tensors()
    out = []
    for i in range(len(x)):
        interp.set_tensor(interp.get_input_details()[0]["index"], x[i:i + 1])
        interp.invoke()
        out.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    out = np.concatenate(out)
    sqnr = 10 * np.log10((ref ** 2).sum() / ((ref - out) ** 2).sum())
    assert sqnr > 20, sqnr


def test_verifier_failure_names_the_module_path(converted):
    from edge_inception.targets import get_target
    from edge_inception.validate import validate

    model, path, _ = converted
    problems = validate(path, get_target("tflite-int8-npu"))  # per-channel weights break its per-tensor rule
    weights = [p for p in problems if "per-channel weights" in p]
    assert weights and all("<locals>" not in p and "torch.nn.modules" not in p for p in problems), problems
    assert any("(layer 'blocks.1.proj')" in p for p in weights), weights
    paths = {name for name, _ in model.named_modules()} | {"ResNetToy"}
    for p in weights:
        assert p.split("(layer '")[1].split("'")[0] in paths, p


def test_litert_torch_names_map_to_module_paths():
    model = ResNetToy()
    here = f"{__name__}.ResNetToy"
    chain = f"{here}/torch.nn.modules.container.Sequential_blocks/{__name__}.Mixed_1/torch.nn.modules.conv.Conv2d_proj"
    assert module_path(chain, model) == "blocks.1.proj"
    wrapper = "torch.export._trace._non_strict_export.<locals>._tuplify_outputs.<locals>._aot_export_non_strict" \
              ".<locals>.Wrapper"
    assert module_path(wrapper, model) == "ResNetToy"
    assert rename(f"{chain};2;{here}", model) == "blocks.1.proj;2;ResNetToy"
    assert rename(f"{chain};", model) == "blocks.1.proj"
    assert rename("serving_default_args_0", model) == "serving_default_args_0"
    assert module_path(f"{here}/{__name__}.Mixed_9", model) is None  # no such child: left as it was


class _Odd(nn.Module):
    def forward(self, x):
        return torch.special.bessel_j0(x)


class _OddNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3)
        self.head = nn.Sequential(nn.ReLU(), _Odd())

    def forward(self, x):
        return self.head(self.stem(x)).mean((2, 3))


def test_converter_failure_names_the_module_that_calls_the_operator():
    from edge_inception.exporters._module_paths import export_for_quantization, naming_the_layer

    program = export_for_quantization(_OddNet().eval(), (torch.zeros(1, 1, 8, 8),))
    # the shape of litert-torch's message for an operator it has no lowering for
    msg = naming_the_layer("NotImplementedError: no lowering for aten.special_bessel_j0.default", program)
    assert msg == "NotImplementedError: no lowering for aten.special_bessel_j0.default in layer 'head.1'"
    assert naming_the_layer("ValueError: something else", program) == "ValueError: something else"
