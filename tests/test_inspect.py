"""`edge-inception inspect`: Inception modules found from the graph, MACs, 1x1 bottleneck savings, and
shape problems in a Keras model description named branch by branch."""

import json
import zipfile

import pytest

from edge_inception._core.errors import InputError
from edge_inception.inspect import inspect_model

# The textbook case (GoogLeNet paper, section 4; e.g. Andrew Ng's "1x1 convolutions" lecture):
# 28x28x192 input, 32 filters 5x5 'same' = 28*28*32 * 5*5*192 = 120,422,400 MACs; with a 16-channel
# 1x1 reduction: 28*28*16*192 + 28*28*32 * 5*5*16 = 2,408,448 + 10,035,200 = 12,443,648 MACs.
MACS_WITHOUT = 120_422_400
MACS_WITH = 12_443_648


def _module(keras, *, padding_3x3="same", name="inception_3a"):
    """A GoogLeNet 3a-shaped Inception module on a 28x28x192 input (Table 1 filter counts)."""
    L = keras.layers
    x = keras.Input((28, 28, 192), name="module_input")
    b1 = L.Conv2D(64, 1, padding="same", activation="relu", name=f"{name}_1x1")(x)
    b2 = L.Conv2D(96, 1, padding="same", activation="relu", name=f"{name}_3x3_reduce")(x)
    b2 = L.Conv2D(128, 3, padding=padding_3x3, activation="relu", name=f"{name}_3x3")(b2)
    b3 = L.Conv2D(16, 1, padding="same", activation="relu", name=f"{name}_5x5_reduce")(x)
    b3 = L.Conv2D(32, 5, padding="same", activation="relu", name=f"{name}_5x5")(b3)
    b4 = L.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    b4 = L.Conv2D(32, 1, padding="same", activation="relu", name=f"{name}_pool_proj")(b4)
    y = L.Concatenate(name=f"{name}_output")([b1, b2, b3, b4])
    y = L.Dense(10, name="logits")(L.GlobalAveragePooling2D(name="gap")(y))
    return keras.Model(x, y, name="textbook")


@pytest.fixture(scope="module")
def keras():
    from edge_inception._core.native import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def test_textbook_1x1_bottleneck_macs(keras):
    r = inspect_model(_module(keras))
    (m,) = r["modules"]
    assert m["input_shape"] == [28, 28, 192] and m["output_shape"] == [28, 28, 256]
    by_summary = {b["summary"]: b for b in m["branches"]}
    b5 = by_summary["1x1 conv 16 -> 5x5 conv 32"]["bottleneck"]
    assert b5["macs_without_reduction"] == MACS_WITHOUT
    assert b5["macs_with_reduction"] == MACS_WITH
    assert b5["reduction"] == "inception_3a_5x5_reduce" and b5["convolutions"] == ["inception_3a_5x5"]
    b3 = by_summary["1x1 conv 96 -> 3x3 conv 128"]["bottleneck"]
    assert b3["macs_without_reduction"] == 28 * 28 * 128 * 9 * 192
    assert b3["macs_with_reduction"] == 28 * 28 * 96 * 192 + 28 * 28 * 128 * 9 * 96
    # Branches with no kxk convolution after a 1x1 have no bottleneck; shares add up to one.
    assert by_summary["1x1 conv 64"]["bottleneck"] is None
    assert by_summary["3x3 max-pool -> 1x1 conv 32"]["bottleneck"] is None
    assert sum(b["mac_share"] for b in m["branches"]) == pytest.approx(1.0, abs=1e-3)
    assert m["macs"] == sum(b["macs"] for b in m["branches"])
    assert r["totals"]["macs"] == m["macs"] + 256 * 10  # + the classifier


def test_modules_are_found_from_the_graph_not_names(keras):
    """Rename every layer: the module and its branches are still found (a fork re-joined by a concat)."""
    m = _module(keras, name="zz")
    r = inspect_model(m)
    assert r["totals"]["inception_modules"] == 1
    assert [len(b["layers"]) for b in r["modules"][0]["branches"]] == [1, 2, 2, 2]
    assert r["modules"][0]["input"] == "module_input"


def test_zoo_googlenet_keras_and_torch(keras):
    k = inspect_model("googlenet")
    assert k["totals"]["params"] == 7_013_112 and k["totals"]["inception_modules"] == 9
    t = inspect_model("googlenet", framework="torch")
    assert t["totals"]["params"] == 6_624_904 and t["totals"]["inception_modules"] == 9
    assert [m["name"] for m in t["modules"]] == ["inception3a", "inception3b", "inception4a", "inception4b",
                                                 "inception4c", "inception4d", "inception4e", "inception5a",
                                                 "inception5b"]
    # torchvision's model card: 1.50 GFLOPS (multiply-accumulates) for googlenet at 224x224.
    assert 1.49e9 < t["totals"]["macs"] < 1.51e9
    # Keras 3a follows Table 1 with a real 5x5: 28*28*32*25*16 MACs; torchvision's "5x5" is 3x3.
    k3a, t3a = k["modules"][0], t["modules"][0]
    assert k3a["branches"][2]["bottleneck"]["macs_with_reduction"] == 28 * 28 * 16 * 192 + 28 * 28 * 32 * 25 * 16
    assert t3a["branches"][2]["bottleneck"]["macs_with_reduction"] == 28 * 28 * 16 * 192 + 28 * 28 * 32 * 9 * 16
    assert t3a["input_shape"] == [192, 28, 28] and t3a["output_shape"] == [256, 28, 28]
    # Same convolution MACs in both frameworks outside the "5x5" branches.
    assert k3a["branches"][1]["macs"] == t3a["branches"][1]["macs"]


def test_tf_keras_model_and_nested_concats_stay_in_their_module():
    """Inception v3's 8x8 blocks concatenate 1x3/3x1 pairs inside a branch: one module, four branches."""
    import tf_keras

    from edge_inception.models.zoo import inception_mini

    r = inspect_model(inception_mini.build_keras(keras_module=tf_keras))
    assert r["framework"] == "keras" and r["totals"]["inception_modules"] == 6
    assert r["totals"]["params"] == 592_330
    assert [len(m["branches"]) for m in r["modules"]] == [4] * 6

    import keras

    x = keras.Input((8, 8, 64))
    s = keras.layers.Conv2D(32, 1)(x)
    pair = keras.layers.Concatenate()([keras.layers.Conv2D(16, (1, 3), padding="same")(s),
                                       keras.layers.Conv2D(16, (3, 1), padding="same")(s)])
    y = keras.layers.Concatenate(name="block")([keras.layers.Conv2D(16, 1)(x), pair])
    (m,) = inspect_model(keras.Model(x, y))["modules"]
    assert m["name"] == "block" and len(m["branches"]) == 2
    assert m["branches"][1]["summary"] == "1x1 conv 32 -> 1x3 conv 16 -> 3x1 conv 16 -> concat"
    assert m["branches"][1]["bottleneck"]["macs_without_reduction"] == 2 * 8 * 8 * 16 * 3 * 64


def _broken_keras_file(keras, tmp_path):
    """A .keras archive of the textbook module whose 3x3 branch says padding='valid' (26x26 vs 28x28).
    Keras refuses to build such a model, so it is written by editing a good archive's config.json, as a
    hand-edited or generated model description would be."""
    good = tmp_path / "good.keras"
    _module(keras).save(good)
    bad = tmp_path / "broken.keras"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                cfg = json.loads(data)
                for layer in cfg["config"]["layers"]:
                    if layer["name"] == "inception_3a_3x3":
                        layer["config"]["padding"] = "valid"
                data = json.dumps(cfg).encode()
            zout.writestr(item, data)
    return bad


EXPECTED = ("Inception module 'inception_3a_output' cannot concatenate its branches: branch 2 of 4 "
            "(1x1 conv 96 -> 3x3 conv 128, ending in 'inception_3a_3x3') gives 26x26 where the other branches "
            "give 28x28: its layer 'inception_3a_3x3' (3x3 conv 128, padding='valid') turns 28x28 into 26x26; "
            "use padding='same' so every branch keeps the 28x28 grid")


def test_padding_mismatch_named_by_inspect_and_convert(keras, tmp_path, run_cli):
    bad = _broken_keras_file(keras, tmp_path)
    with pytest.raises(InputError) as e:
        inspect_model(bad)
    assert e.value.message == f"{bad}: {EXPECTED}"
    code, out, err = run_cli("inspect", str(bad))
    assert code == 2 and out == ""
    assert err.strip() == f"edge-inception: error: {bad}: {EXPECTED}"
    assert len(err.strip().splitlines()) == 1
    # convert loads through the same loader: the same one line, before any work, nothing written.
    code, _, err = run_cli("convert", str(bad), "--target", "tflite-int8", "--calibration", "sample",
                           "--out", str(tmp_path / "out"))
    assert code == 2 and EXPECTED in err
    assert not (tmp_path / "out").exists()


def test_padding_mismatch_in_a_model_json(keras, tmp_path, run_cli):
    cfg = json.loads(_module(keras).to_json())
    for layer in cfg["config"]["layers"]:
        if layer["name"] == "inception_3a_3x3":
            layer["config"]["padding"] = "valid"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(cfg))
    code, _, err = run_cli("inspect", str(path))
    assert code == 2 and EXPECTED in err
    # The intact description is analysed without building the model: same MACs as the built one.
    path.write_text(_module(keras).to_json())
    code, out, _ = run_cli("inspect", str(path), "--json")
    assert code == 0
    r = json.loads(out)
    bn = r["modules"][0]["branches"][2]["bottleneck"]
    assert (bn["macs_without_reduction"], bn["macs_with_reduction"]) == (MACS_WITHOUT, MACS_WITH)
    assert r["totals"]["params"] == _module(keras).count_params()


def test_torch_cat_mismatch_names_the_module():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.branch1 = nn.Conv2d(8, 4, 1)
            self.branch2 = nn.Conv2d(8, 4, 3)  # no padding: 14x14 -> 12x12

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x)], 1)

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Block())
    with pytest.raises(InputError) as e:
        inspect_model(net, input_shape=(3, 14, 14))
    assert "module '1' (Block) fails in forward" in e.value.message
    assert "branch1 14x14, branch2 12x12" in e.value.message


def test_cli_table_and_json(run_cli):
    code, out, _ = run_cli("inspect", "inception-mini")
    assert code == 0
    assert "inception_3a_concat" in out and "parameters" in out
    code, out, _ = run_cli("inspect", "inception-mini", "--framework", "torch", "--json")
    r = json.loads(out)
    # Keras counts 592,330 with BatchNorm's moving mean and variance; PyTorch's parameters() leave those
    # buffers out: 1,704 BatchNorm channels x 2 fewer.
    assert code == 0 and r["framework"] == "torch" and r["totals"]["params"] == 592_330 - 2 * 1_704
    assert r["totals"]["inception_modules"] == 6
