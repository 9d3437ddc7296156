"""The worker path of convert (edge_inception/target_worker.py): when it is used, and that an error in a
worker reaches the caller as the same one-line error with the same exit code.

The worker path itself converts for real in tests/test_full_size.py (a full-size PyTorch Inception v3 to
three int8 targets, one worker each); these checks start no framework and stay within a few seconds.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from edge_inception._core.errors import InputError, UsageError
from edge_inception.options import ConvertOptions
from edge_inception.target_worker import ENV, WORKER_WEIGHT_BYTES, run_in_worker, use_workers, weight_bytes


class _Counted:
    def __init__(self, n: int):
        self.n = n

    def count_params(self) -> int:
        return self.n


def _model(nbytes: int):
    return SimpleNamespace(model=_Counted(nbytes // 4))


def test_workers_only_for_a_large_model_to_several_targets(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    opts = ConvertOptions.from_keywords(targets="tflite-int8,onnx-int8")
    big, small = _model(WORKER_WEIGHT_BYTES), _model(WORKER_WEIGHT_BYTES - 4)
    assert weight_bytes(big) == WORKER_WEIGHT_BYTES
    assert use_workers(big, ["a", "b"], opts)
    assert not use_workers(small, ["a", "b"], opts)
    assert not use_workers(big, ["a"], opts)  # one target (a sweep cell): already alone in its process
    qat = ConvertOptions.from_keywords(targets="tflite-int8", method="qat", train_data="sample")
    assert not use_workers(big, ["a", "b"], qat)  # the trained model lives in this process
    monkeypatch.setenv(ENV, "always")
    assert use_workers(small, ["a"], opts)
    monkeypatch.setenv(ENV, "never")
    assert not use_workers(big, ["a", "b"], opts)
    monkeypatch.setenv(ENV, "sometimes")
    with pytest.raises(UsageError, match=ENV):
        use_workers(big, ["a", "b"], opts)


def test_an_input_error_in_the_worker_is_raised_here(tmp_path):
    from edge_inception.targets import get_target

    missing = tmp_path / "missing.keras"
    load = {"ref": str(missing), "keywords": {"framework": "keras", "preprocessing": None, "weights": None,
                                              "input_shape": None, "trust_remote_code": False}}
    with pytest.raises(InputError) as info:
        run_in_worker(load, {}, get_target("onnx-int8"))
    assert str(missing) in info.value.message and info.value.exit_code == 2


def test_options_are_picklable_for_the_worker():
    import pickle

    opts = ConvertOptions.from_keywords(targets="onnx-int8")
    for part in (opts.measure, opts.fallback):
        assert pickle.loads(pickle.dumps(part)) == part
    assert dataclasses.is_dataclass(opts.measure)


def test_jobs_is_refused_where_targets_share_state(monkeypatch):
    with pytest.raises(UsageError, match="--jobs 2"):
        ConvertOptions.from_keywords(targets="tflite-int8,onnx-int8", jobs=2, method="qat", train_data="sample")
    with pytest.raises(UsageError, match="--jobs 2"):
        ConvertOptions.from_keywords(targets="tflite-int8,onnx-int8", jobs=2, max_drop=0.5)
    with pytest.raises(UsageError, match="--jobs 0 is out of range"):
        ConvertOptions.from_keywords(targets="tflite-int8", jobs=0)
    opts = ConvertOptions.from_keywords(targets="tflite-int8,onnx-int8", jobs=2)
    small = _model(4)
    monkeypatch.delenv(ENV, raising=False)
    assert use_workers(small, ["a", "b"], opts)  # any size: side by side needs processes
    assert not use_workers(small, ["a"], opts)
    monkeypatch.setenv(ENV, "never")
    with pytest.raises(UsageError, match=ENV):
        use_workers(small, ["a", "b"], opts)


def test_jobs_converts_side_by_side_and_times_afterwards(tmp_path, every_target_job):
    """Two targets converted by two workers at once (their run times overlap), each row timed after both
    finished and the same accuracy as the one-target-at-a-time run of the same profiles."""
    import os

    from edge_inception import convert

    targets = ["tflite-int8", "onnx-int8"]
    report = convert(targets=",".join(targets), jobs=2, out=tmp_path / "out", latency_runs=3)
    rows = report["targets"]
    assert [r["target"] for r in rows] == targets and all(r["status"] == "ok" for r in rows)
    workers = [r["conversion"]["worker"] for r in rows]
    assert len({w["pid"] for w in workers} | {os.getpid()}) == 3
    (a, b) = [(w["started"], w["started"] + w["wall_s"]) for w in workers]
    assert a[0] < b[1] and b[0] < a[1], f"the workers ran one after the other: {a}, {b}"
    for row in rows:
        assert row["latency"]["runs"] >= 3 and row["latency"]["ratio"] > 0
        assert row["reference"]["target"] == every_target_job[2][row["target"]]["reference"]["target"]
        assert row["accuracy"]["top1"] == every_target_job[2][row["target"]]["accuracy"]["top1"]
