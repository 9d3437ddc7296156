"""Untrusted input, command by command: every bad input is exit 2, exactly one stderr line naming what is
wrong, no traceback, and nothing new on disk (the case's folder is listed before and after).

Cases run in-process through the CLI's own entry function (fast: the frameworks are imported once);
those that could hang (a FIFO) or need another user (an unwritable folder, as root) run the real
console script in a subprocess. EDGE_INCEPTION_CASES_IN_SUBPROCESS=1 runs every case that way, with a
timeout, which is how the count against the unfixed code was taken (an unfixed case may hang).

The security payloads and the Ctrl-C runs are in tests/test_security.py and tests/test_interrupt.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_inception.cli import main
from tests._bad_inputs import (
    _bomb_folder,
    _eleven_classes,
    _fifo,
    _gate_copy,
    _gray_then_rgb,
    _not_a_folder,
    _npz,
    _one_corrupt,
    _out,
    _profile,
    _renamed_keras,
    _ro_folder,
    _sixteen_bit,
    _truncated_keras,
    build_models,
)

ALL_IN_SUBPROCESS = bool(os.environ.get("EDGE_INCEPTION_CASES_IN_SUBPROCESS"))
HUGE = "1000000000"


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    return build_models(tmp_path_factory.mktemp("models"))


# ------------------------------------------------------------------------------------------ the cases


@dataclass
class Case:
    id: str
    build: object  # (tmp, models) -> argv
    needles: tuple[str, ...] = ()
    subprocess: bool = False
    no_root_override: bool = False  # root writes anywhere: run without CAP_DAC_OVERRIDE (setpriv)


CASES = [
    # ---- convert: the model
    Case("convert-feature-map-output", lambda t, m: ["convert", str(m["feature_map"]), "--calibration", "sample",
                                                      "--target", "tflite-fp32", *_out(t)],
         ("feature_map.keras", "class scores")),
    Case("convert-dynamic-image-size", lambda t, m: ["convert", str(m["dynamic"]), "--calibration", "sample",
                                                      "--target", "tflite-fp32", *_out(t)],
         ("dynamic.keras", "fixed")),
    Case("convert-zero-byte-keras", lambda t, m: ["convert", str((t / "zero.keras").touch() or t / "zero.keras"),
                                                   *_out(t)], ("zero.keras", "empty")),
    Case("convert-truncated-keras", _truncated_keras, ("trunc.keras", "not a complete .keras")),
    Case("convert-renamed-keras", _renamed_keras, ("renamed.keras", "PNG")),
    Case("convert-zero-byte-pt2", lambda t, m: ["convert", str((t / "zero.pt2").touch() or t / "zero.pt2"),
                                                 *_out(t)], ("zero.pt2", "empty")),
    Case("convert-zero-byte-h5", lambda t, m: ["convert", str((t / "zero.h5").touch() or t / "zero.h5"), *_out(t)],
         ("zero.h5", "empty")),
    Case("convert-fifo-model", lambda t, m: ["convert", str(_fifo(t, "fifo.keras")), *_out(t)],
         ("fifo.keras", "not a regular file"), subprocess=True),
    Case("convert-factory-raises", lambda t, m: ["convert", f"{m['nets']}:boom", "--input-shape", "1,28,28",
                                                 "--target", "onnx-fp32", *_out(t)],
         ("nets.py:boom", "the factory exploded")),
    Case("convert-input-shape-zero-negative", lambda t, m: ["convert", f"{m['nets']}:ok", "--input-shape", "1,0,-5",
                                                            "--target", "onnx-fp32", *_out(t)],
         ("--input-shape", "1,0,-5")),
    Case("convert-input-shape-absurd", lambda t, m: ["convert", f"{m['nets']}:ok", "--input-shape", "1,100000,100000",
                                                     "--target", "onnx-fp32", *_out(t)], ("--input-shape",)),
    Case("convert-zero-byte-weights", lambda t, m: ["convert", f"{m['nets']}:ok", "--input-shape", "1,28,28",
                                                    "--weights", str((t / "w.pt").touch() or t / "w.pt"),
                                                    "--target", "onnx-fp32", *_out(t)], ("w.pt", "empty")),
    # ---- convert: numeric options and profiles
    Case("convert-absurd-threads", lambda t, m: ["convert", "--threads", HUGE, *_out(t)], ("--threads",)),
    Case("convert-absurd-latency-runs", lambda t, m: ["convert", "--latency-runs", "10000000000", *_out(t)],
         ("--latency-runs",)),
    Case("convert-profile-calibration-recipe-escapes",
         lambda t, m: ["convert", "--target-file", str(_profile(t, **{"quantizer.calibration_recipe": "../../x"})),
                       "--target", "tflite-fp32", *_out(t)], ("profile.toml", "calibration_recipe")),
    Case("convert-profile-min-agreement-7",
         lambda t, m: ["convert", "--target-file", str(_profile(t, **{"gate.min_agreement": 7.0})),
                       "--target", "tflite-fp32", *_out(t)], ("profile.toml", "min_agreement")),
    Case("convert-profile-max-top1-drop-negative",
         lambda t, m: ["convert", "--target-file", str(_profile(t, **{"gate.max_top1_drop": -1})),
                       "--target", "tflite-fp32", *_out(t)], ("profile.toml", "max_top1_drop")),
    Case("convert-profile-name-escapes-out",
         lambda t, m: ["convert", "--target-file", str(_profile(t, name="../../../escaped")), "--target", "tflite-fp32",
                       *_out(t)], ("profile.toml", "name")),
    Case("convert-profile-name-with-slash",
         lambda t, m: ["convert", "--target-file", str(_profile(t, name="sub/int8")), "--target", "tflite-fp32",
                       *_out(t)], ("profile.toml", "name")),
    # ---- convert: data
    Case("convert-npz-10-images-5-labels", lambda t, m: ["convert", "--eval-data", str(_npz(t, labels=range(5))),
                                                          *_out(t)], ("bad.npz", "5 labels")),
    Case("convert-npz-labels-50-59", lambda t, m: ["convert", "--eval-data", str(_npz(t, labels=range(50, 60))),
                                                   *_out(t)], ("bad.npz", "59")),
    Case("convert-npz-negative-label", lambda t, m: ["convert", "--eval-data", str(_npz(t, labels=[-1] * 10)),
                                                     *_out(t)], ("bad.npz", "-1")),
    Case("convert-eleven-class-folders", lambda t, m: ["convert", "--eval-data", str(_eleven_classes(t)), *_out(t)],
         ("eleven", "11 class")),
    Case("convert-16-bit-pngs", lambda t, m: ["convert", "--calibration", str(_sixteen_bit(t)), *_out(t)],
         ("00000.png", "16-bit")),
    Case("convert-grayscale-then-rgb", lambda t, m: ["convert", "--calibration", str(_gray_then_rgb(t)), *_out(t)],
         ("00001.png", "3 colour channels")),
    Case("convert-one-corrupt-png", lambda t, m: ["convert", "--calibration", str(_one_corrupt(t)), *_out(t)],
         ("00010.png",)),
    Case("convert-decompression-bomb-png", lambda t, m: ["convert", "--calibration", str(_bomb_folder(t)), *_out(t)],
         ("bomb.png", "pixels")),
    Case("convert-fifo-calibration-npz", lambda t, m: ["convert", "--calibration", str(_fifo(t, "c.npz")), *_out(t)],
         ("c.npz", "not a regular file"), subprocess=True),
    # ---- convert: --out
    Case("convert-out-under-a-file", lambda t, m: ["convert", "--out", str(_not_a_folder(t) / "out")], ("afile",)),
    Case("convert-out-in-proc", lambda t, m: ["convert", "--out", "/proc/edge-inception-out"], ("/proc",)),
    Case("convert-out-in-sys", lambda t, m: ["convert", "--out", "/sys/edge-inception-out"], ("/sys",)),
    Case("convert-out-unwritable", lambda t, m: ["convert", "--out", str(_ro_folder(t) / "out")],
         ("ro", "writ"), subprocess=True, no_root_override=True),
    # ---- eval
    Case("eval-reference-with-other-class-count",
         lambda t, m: ["eval", str(m["ten"]), "--data", "sample", "--limit", "20", "--reference", str(m["five"])],
         ("five.keras", "5 classes")),
    Case("eval-feature-map-artifact", lambda t, m: ["eval", str(m["feature_map"]), "--data", "sample", "--limit", "20"],
         ("feature_map.keras", "class scores")),
    Case("eval-npz-10-images-5-labels", lambda t, m: ["eval", str(m["ten"]), "--data", str(_npz(t, labels=range(5)))],
         ("bad.npz", "5 labels")),
    Case("eval-npz-labels-50-59", lambda t, m: ["eval", str(m["ten"]), "--data", str(_npz(t, labels=range(50, 60)))],
         ("bad.npz", "59")),
    Case("eval-eleven-class-folders", lambda t, m: ["eval", str(m["ten"]), "--data", str(_eleven_classes(t))],
         ("eleven", "11 class")),
    Case("eval-absurd-threads", lambda t, m: ["eval", str(m["ten"]), "--data", "sample", "--threads", HUGE],
         ("--threads",)),
    Case("eval-absurd-batch", lambda t, m: ["eval", str(m["ten"]), "--data", "sample", "--batch", HUGE], ("--batch",)),
    Case("eval-zero-byte-tflite", lambda t, m: ["eval", str((t / "e.tflite").touch() or t / "e.tflite"),
                                                "--data", "sample"], ("e.tflite", "empty")),
    Case("eval-out-in-proc", lambda t, m: ["eval", str(m["ten"]), "--data", "sample", "--out", "/proc/edge-eval"],
         ("/proc",)),
    Case("eval-fifo-data", lambda t, m: ["eval", str(m["ten"]), "--data", str(_fifo(t, "d.npz"))],
         ("d.npz", "not a regular file"), subprocess=True),
    # ---- bench
    Case("bench-absurd-threads", lambda t, m: ["bench", str(m["ten"]), "--threads", HUGE], ("--threads",)),
    Case("bench-absurd-runs", lambda t, m: ["bench", str(m["ten"]), "--runs", "1000000000000"], ("--runs",)),
    Case("bench-zero-byte-onnx", lambda t, m: ["bench", str((t / "b.onnx").touch() or t / "b.onnx")],
         ("b.onnx", "empty")),
    Case("bench-out-under-a-file", lambda t, m: ["bench", str(m["ten"]), "--runs", "2",
                                                 "--out", str(_not_a_folder(t) / "o")], ("afile",)),
    Case("bench-corrupt-data-png", lambda t, m: ["bench", str(m["ten"]), "--runs", "2", "--data",
                                                 str(_one_corrupt(t))], ("00010.png",)),
    Case("bench-fifo-artifact", lambda t, m: ["bench", str(_fifo(t, "f.tflite"))], ("f.tflite", "not a regular file"),
         subprocess=True),
    # ---- gate
    Case("gate-junit-overwrites-file", lambda t, m: ["gate", str(_gate_copy(t)), "--junit",
                                                     str(_not_a_folder(t))], ("afile", "already exists")),
    Case("gate-out-overwrites-file", lambda t, m: ["gate", str(_gate_copy(t)), "--out", str(_not_a_folder(t))],
         ("afile", "already exists")),
    Case("gate-junit-onto-the-report", lambda t, m: ["gate", str(_gate_copy(t)), "--junit", str(t / "report.json"),
                                                     "--force"], ("report.json", "read")),
    Case("gate-out-onto-the-report", lambda t, m: ["gate", str(_gate_copy(t)), "--out", str(t / "report.json"),
                                                   "--force"], ("report.json", "read")),
    Case("gate-junit-in-proc", lambda t, m: ["gate", str(_gate_copy(t)), "--junit", "/proc/gate.xml"], ("/proc",)),
    Case("gate-junit-under-a-file", lambda t, m: ["gate", str(_gate_copy(t)), "--junit",
                                                  str(_not_a_folder(t) / "gate.xml")], ("afile",)),
    Case("gate-out-in-sys", lambda t, m: ["gate", str(_gate_copy(t)), "--out", "/sys/gate.json"], ("/sys",)),
    Case("gate-zero-byte-report", lambda t, m: ["gate", str((t / "r.json").touch() or t / "r.json")], ("r.json",)),
    Case("gate-fifo-report", lambda t, m: ["gate", str(_fifo(t, "r.json"))], ("r.json", "not a regular file"),
         subprocess=True),
    Case("gate-fifo-config", lambda t, m: ["gate", str(_gate_copy(t)), "--config", str(_fifo(t, "g.toml"))],
         ("g.toml", "not a regular file"), subprocess=True),
    # ---- inspect
    Case("inspect-malformed-json", lambda t, m: ["inspect", str((t / "m.json").write_text('{"class_name": ') and
                                                                t / "m.json")], ("m.json", "JSON")),
    Case("inspect-json-not-a-model", lambda t, m: ["inspect", str((t / "l.json").write_text("[1, 2]") and
                                                                  t / "l.json")], ("l.json",)),
    Case("inspect-zero-byte-h5", lambda t, m: ["inspect", str((t / "z.h5").touch() or t / "z.h5")], ("z.h5", "empty")),
    Case("inspect-truncated-keras", lambda t, m: ["inspect", *_truncated_keras(t, m)[1:2]],
         ("trunc.keras", "not a complete .keras")),
    Case("inspect-factory-raises", lambda t, m: ["inspect", f"{m['nets']}:boom", "--input-shape", "1,28,28"],
         ("nets.py:boom", "the factory exploded")),
    Case("inspect-input-shape-zero-negative", lambda t, m: ["inspect", f"{m['nets']}:ok", "--input-shape", "1,0,-5"],
         ("--input-shape",)),
    Case("inspect-fifo-model", lambda t, m: ["inspect", str(_fifo(t, "fifo.h5"))], ("fifo.h5", "not a regular file"),
         subprocess=True),
    # ---- targets
    Case("targets-name-escapes", lambda t, m: ["targets", "--target-file", str(_profile(t, name="../../x"))],
         ("profile.toml", "name")),
    Case("targets-calibration-recipe-escapes",
         lambda t, m: ["targets", "--target-file", str(_profile(t, **{"quantizer.calibration_recipe": "../../x"}))],
         ("profile.toml", "calibration_recipe")),
    Case("targets-min-agreement-7", lambda t, m: ["targets", "--target-file",
                                                  str(_profile(t, **{"gate.min_agreement": 7.0}))],
         ("profile.toml", "min_agreement")),
    Case("targets-opset-zero", lambda t, m: ["targets", "--target-file", str(_profile(t, **{"export.opset": 0}))],
         ("profile.toml", "opset")),
    Case("targets-path-as-name", lambda t, m: ["targets", "../tflite-int8"], ("../tflite-int8",)),
    Case("targets-fifo-profile", lambda t, m: ["targets", "--target-file", str(_fifo(t, "p.toml"))],
         ("p.toml", "not a regular file"), subprocess=True),
    # ---- models
    Case("models-unexpected-argument", lambda t, m: ["models", "inception-mini"], ("inception-mini",)),
    Case("models-unknown-option", lambda t, m: ["models", "--verbose"], ("--verbose",)),
]


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run_subprocess(argv, cwd: Path, no_root_override: bool):
    prefix = []
    if no_root_override and os.geteuid() == 0:
        # util-linux's setpriv: the same root, minus the capability that lets it write into a 0555 folder.
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    # The user's environment: TensorFlow's log level unset (conftest sets one for in-process runs).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([*prefix, sys.executable, "-c", "from edge_inception.cli import entry; entry()", *argv],
                          cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(case: Case, models, tmp_path, monkeypatch, capfd):
    work = tmp_path / "case"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = case.build(work, models)
    before = _listing(work)
    if case.subprocess or ALL_IN_SUBPROCESS:
        try:
            code, err = _run_subprocess(argv, work, case.no_root_override)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{case.id}: still running after 120 s (hangs)")
    else:
        capfd.readouterr()
        code = main(argv)
        err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err[-3000:]
    assert code == 2, (code, err[-3000:])
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith("edge-inception: error: "), lines[0]
    for needle in case.needles:
        assert needle in lines[0], lines[0]
    assert _listing(work) == before, sorted(_listing(work) - before)


def test_there_are_at_least_40_cases_across_every_command():
    by_command: dict[str, int] = {}
    for c in CASES:
        by_command[c.id.split("-")[0]] = by_command.get(c.id.split("-")[0], 0) + 1
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    assert set(by_command) == {"convert", "eval", "bench", "gate", "inspect", "targets", "models"}, by_command
