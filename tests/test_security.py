"""No code runs from a model file, nothing is written outside --out, and the gate never overwrites.

Every payload here would create a marker file if it ran; each test asserts the marker never appears
through edge-inception, and (where the format allows it) that the same payload does run when the
file is loaded the unsafe way -- torch.export.load, or --trust-remote-code -- so a test cannot pass
on a dead payload.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

GATE_REPORT = Path(__file__).parent / "data" / "gate" / "report.json"


def _touch(marker: Path) -> str:
    return f"__import__('os').system('touch {marker}')"


# ------------------------------------------------------------------------------------------- Keras


def _tf_keras_lambda_h5(path: Path, marker: Path) -> Path:
    import tf_keras

    payload = eval(f"lambda t: ({_touch(marker)}, t)[1]")  # noqa: S307 - the payload under test
    inp = tf_keras.Input((28, 28, 1))
    x = tf_keras.layers.Lambda(payload)(inp)
    x = tf_keras.layers.GlobalAveragePooling2D()(tf_keras.layers.Conv2D(4, 3)(x))
    tf_keras.Model(inp, tf_keras.layers.Dense(10)(x)).save(path)
    marker.unlink(missing_ok=True)  # saving traced the lambda once
    return path


def test_h5_lambda_never_runs_on_convert_inspect_eval_bench(tmp_path, run_cli):
    marker = tmp_path / "MARKER"
    evil = str(_tf_keras_lambda_h5(tmp_path / "evil.h5", marker))
    out = tmp_path / "out"
    for argv in (["convert", evil, "--calibration", "sample", "--target", "tflite-fp32", "--out", str(out)],
                 ["inspect", evil], ["eval", evil, "--data", "sample", "--limit", "8"], ["bench", evil, "--runs", "2"]):
        code, _, err = run_cli(*argv)
        assert code == 2, (argv, err)
        assert "Lambda layer" in err and "--trust-remote-code" in err and err.count("\n") == 1, err
        assert not marker.exists(), argv
    assert not out.exists()
    # The payload is live: the flag that says "I trust this file" lets it run.
    code, _, err = run_cli("inspect", evil, "--trust-remote-code")
    assert code == 0, err
    assert marker.exists()


def test_keras3_lambda_is_refused_before_keras_reads_it(tmp_path, run_cli):
    import keras

    marker = tmp_path / "MARKER"
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(eval(f"lambda t: ({_touch(marker)}, t)[1]"))(inp)  # noqa: S307
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    keras.Model(inp, keras.layers.Dense(10)(x)).save(tmp_path / "evil.keras")
    marker.unlink(missing_ok=True)
    code, _, err = run_cli("inspect", str(tmp_path / "evil.keras"))
    assert code == 2 and "Lambda layer" in err and not marker.exists(), err


def test_code_carrying_keras_configs_are_found():
    from edge_inception.models.safe_keras import find_code

    def layer(cls, **config):
        inner = {"class_name": cls, "config": {"name": "l", **config}}
        return {"class_name": "Functional", "config": {"layers": [inner]}}

    assert "Lambda layer" in find_code(layer("Lambda", function="4wEAAAAA", function_type="lambda"))
    assert "tf.io.write_file" in find_code(layer("TFOpLambda", function="io.write_file"))
    assert "tf.raw_ops.WriteFile" in find_code(layer("TFOpLambda", function="raw_ops.WriteFile"))
    assert "module 'my_pkg.layers'" in find_code({"module": "my_pkg.layers", "class_name": "Custom", "config": {}})
    assert "lambda" in find_code({"class_name": "__lambda__", "config": {"value": "..."}})
    assert find_code(layer("TFOpLambda", function="math.multiply")) is None  # what `x * 2.0` saves as
    assert find_code(layer("Conv2D", filters=4, activation="relu")) is None


def test_plain_h5_with_tf_ops_still_loads(tmp_path):
    import tf_keras

    from edge_inception.models.loader import load_model

    inp = tf_keras.Input((16, 16, 3))
    x = tf_keras.layers.Conv2D(4, 3)(inp) * 2.0  # a TFOpLambda(math.multiply) layer in the saved config
    tf_keras.Model(inp, tf_keras.layers.Dense(5)(tf_keras.layers.GlobalAveragePooling2D()(x))).save(tmp_path / "m.h5")
    lm = load_model(tmp_path / "m.h5")
    assert lm.kind == "tf_keras" and lm.spec.input_shape == (16, 16, 3) and lm.classes == 5


# ----------------------------------------------------------------------------------------- .pt2


class _Net:
    @staticmethod
    def build():
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.c = torch.nn.Conv2d(1, 4, 3)
                self.f = torch.nn.Linear(4, 10)

            def forward(self, x):
                return self.f(self.c(x).mean((2, 3)))

        return Net().eval()


@pytest.fixture(scope="module")
def good_pt2(tmp_path_factory):
    """A normal ExportedProgram with a dynamic batch, as the README asks users to export it."""
    import torch

    path = tmp_path_factory.mktemp("pt2") / "good.pt2"
    ep = torch.export.export(_Net.build(), (torch.zeros(2, 1, 28, 28),),
                             dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    torch.export.save(ep, path)
    return path


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a .pt2 archive entry by entry; ``edit(name_inside_archive, bytes)`` may change an entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename.split("/", 1)[1], zin.read(info.filename)))
    return dst


def _edit_program(fn):
    def edit(name, data):
        if name != "models/model.json":
            return data
        program = json.loads(data)
        fn(program)
        return json.dumps(program).encode()

    return edit


def _pickled(code: str) -> bytes:
    import torch

    class Payload:
        def __reduce__(self):
            return eval, (code,)

    buf = io.BytesIO()
    torch.save(Payload(), buf)
    return buf.getvalue()


def _payload(kind: str, good: Path, tmp: Path, marker: Path, module: str = "ei_payload_mod") -> Path:
    touch = _touch(marker)
    dst = tmp / f"{kind}.pt2"
    if kind == "sample-inputs":  # torch.export.load's weights_only=False fallback; returns valid inputs
        blob = _pickled(f"({touch}, ((__import__('torch').zeros(2, 1, 28, 28),), {{}}))[1]")
        return _rewrite(good, dst, lambda n, d: blob if n == "data/sample_inputs/model.pt" else d)
    if kind == "pickled-weight":
        blob = _pickled(f"({touch}, __import__('torch').zeros(4, 1, 3, 3))[1]")

        def edit(name, data):
            if name == "data/weights/model_weights_config.json":
                config = json.loads(data)
                config["config"]["c.weight"]["use_pickle"] = True
                return json.dumps(config).encode()
            return blob if name == "data/weights/weight_0" else data

        return _rewrite(good, dst, edit)
    if kind == "guards-code":  # exec'd by ExportedProgram.module()
        return _rewrite(good, dst, _edit_program(lambda p: p.update(guards_code=[f"{touch} == 0"])))
    if kind == "shape-expression":  # sympy.sympify, i.e. eval, during deserialization
        def sym(p):
            text = json.dumps(p).replace(json.dumps("Symbol('s77', positive=True, integer=True)"),
                                         json.dumps(f"Symbol('s77', positive=True, integer=True) + 0*({touch})"))
            p.clear()
            p.update(json.loads(text))

        return _rewrite(good, dst, _edit_program(sym))
    if kind == "pytree-import":  # a treespec context naming a module: importing it runs its code
        def enum(p):
            sig = p["graph_module"]["module_call_graph"][0]["signature"]
            spec = json.loads(sig["in_spec"])
            spec[1]["children_spec"][1]["context"] = json.dumps([{"__enum__": True, "fqn": f"{module}:E",
                                                                  "name": "A"}])
            sig["in_spec"] = json.dumps(spec)

        return _rewrite(good, dst, _edit_program(enum))
    if kind == "graph-target":  # a node whose target resolves to torch.os.system
        def node(p):
            p["graph_module"]["graph"]["nodes"].insert(0, {
                "target": "torch.os.system", "name": "evil", "outputs": [], "metadata": {},
                "inputs": [{"name": "command", "arg": {"as_string": f"touch {marker}"}, "kind": 1}]})

        return _rewrite(good, dst, _edit_program(node))
    raise ValueError(kind)


LIVE = ["sample-inputs", "pickled-weight", "guards-code", "shape-expression", "pytree-import"]


@pytest.mark.parametrize("kind", [*LIVE, "graph-target"])
def test_pt2_payload_never_runs(kind, good_pt2, tmp_path, run_cli, monkeypatch):
    marker = tmp_path / "MARKER"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "ei_payload_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    evil = _payload(kind, good_pt2, tmp_path, marker)
    out = tmp_path / "out"
    argvs = [["inspect", str(evil)]]
    if kind == "sample-inputs":  # the one the issue found: every command that loads a .pt2
        argvs += [["convert", str(evil), "--target", "onnx-fp32", "--out", str(out)],
                  ["eval", str(evil), "--data", "sample", "--limit", "8"], ["bench", str(evil), "--runs", "2"]]
    for argv in argvs:
        code, _, err = run_cli(*argv)
        assert code == 2, (argv, err)
        assert err.count("\n") == 1 and "--trust-remote-code" in err, err
        assert not marker.exists(), argv
    assert not out.exists()


@pytest.mark.parametrize("kind", LIVE)
def test_pt2_payloads_are_live_through_torch_export_load(kind, good_pt2, tmp_path, monkeypatch):
    """The same files through torch's own loader (what edge-inception called before): the marker appears."""
    import logging

    import torch

    marker = tmp_path / "MARKER"
    module = "ei_payload_live_mod"  # imported here for real: a name no other test imports
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    evil = _payload(kind, good_pt2, tmp_path, marker, module=module)
    logging.disable(logging.CRITICAL)
    try:
        torch.export.load(str(evil)).module()(torch.zeros(2, 1, 28, 28))
    except Exception:  # noqa: BLE001, S110 - some payloads break the program after they ran
        pass
    finally:
        logging.disable(logging.NOTSET)
    assert marker.exists()


def test_normal_pt2_with_dynamic_batch_loads_and_converts(good_pt2, tmp_path, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli("convert", str(good_pt2), "--target", "onnx-fp32", "--out", str(out), "--latency-runs", "2")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["targets"][0]["status"] == "ok" and (out / "good.onnx-fp32.onnx").is_file()
    code, _, err = run_cli("inspect", str(good_pt2), "--json")
    assert code == 0, err


# ---------------------------------------------------------------------------------------- --out


def _profile(tmp: Path, name: str) -> Path:
    from edge_inception.targets import get_target

    text = Path(get_target("tflite-fp32").source).read_text().replace('name = "tflite-fp32"', f"name = {name!r}")
    path = tmp / "escape.toml"
    path.write_text(text)
    return path


def test_profile_name_cannot_escape_out(tmp_path, run_cli):
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    out = tmp_path / "a" / "b" / "c" / "out"
    for name in ("../../../escaped", "sub/escaped", "..", "x/../../escaped"):
        code, _, err = run_cli("convert", "--target-file", str(_profile(tmp_path, name)), "--target", "tflite-fp32",
                               "--out", str(out))
        assert code == 2 and "not a plain identifier" in err, err
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*escaped*")]


def test_artifact_path_through_a_symlink_out_of_out_is_refused(tmp_path, run_cli):
    outside = tmp_path / "outside.tflite"
    outside.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "inception-mini.tflite-fp32.tflite").symlink_to(outside)
    code, _, err = run_cli("convert", "--target", "tflite-fp32", "--out", str(out), "--force")
    assert code == 2 and "outside the output folder" in err, err
    assert outside.read_bytes() == b"precious"


def test_inside_and_identifier_rules(tmp_path):
    from edge_inception._core.errors import InputError
    from edge_inception._core.names import check_identifier, inside

    assert check_identifier("tflite-int8-npu") == "tflite-int8-npu"
    for bad in ("../x", "a/b", "a\\b", "..", ".hidden", "", "a b", "x" * 65, None, 3):
        with pytest.raises(InputError):
            check_identifier(bad)
    assert inside(tmp_path, tmp_path / "m.tflite") == tmp_path / "m.tflite"
    with pytest.raises(InputError):
        inside(tmp_path / "out", tmp_path / "out" / ".." / "m.tflite")


# ------------------------------------------------------------------------------------------ gate


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_gate_never_overwrites_without_force_and_never_its_inputs(tmp_path, run_cli):
    report = tmp_path / "report.json"
    shutil.copy(GATE_REPORT, report)
    base = tmp_path / "baseline.json"
    shutil.copy(GATE_REPORT, base)
    existing = tmp_path / "gate.xml"
    existing.write_text("<previous/>")
    before = {p: _sha(p) for p in (report, base, existing)}
    for argv in (["--junit", str(existing)], ["--out", str(existing)],
                 ["--junit", str(report), "--force"], ["--out", str(report), "--force"],
                 ["--junit", str(base), "--baseline", str(base), "--force"],
                 ["--junit", str(tmp_path / "j.xml"), "--out", str(tmp_path / "j.xml")]):
        code, _, err = run_cli("gate", str(report), *argv)
        assert code == 2 and err.count("\n") == 1, (argv, err)
        assert {p: _sha(p) for p in before} == before, argv
    assert not (tmp_path / "j.xml").exists()
    code, _, err = run_cli("gate", str(report), "--junit", str(existing), "--force")
    assert code == 0, err
    assert existing.read_text().startswith("<?xml") and _sha(report) == before[report]


def test_convert_gate_checks_junit_before_converting(tmp_path, run_cli):
    existing = tmp_path / "gate.xml"
    existing.write_text("<previous/>")
    code, _, err = run_cli("convert", "--gate", "--junit", str(existing), "--out", str(tmp_path / "out"))
    assert code == 2 and "already exists" in err and "--force" in err, err
    assert existing.read_text() == "<previous/>" and not (tmp_path / "out").exists()
