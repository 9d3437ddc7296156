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
