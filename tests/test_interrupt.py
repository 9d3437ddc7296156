"""Ctrl-C: a run stops within seconds in every phase, exits 130, and leaves --out as it was before it
(what it created removed, what --force replaced put back); a rerun then works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import as_from_a_terminal

ENTRY = [sys.executable, "-c", "from edge_inception.cli import entry; entry()"]


def _snapshot(folder: Path) -> dict[str, bytes] | None:
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _interrupt_convert(out: Path, *, when: str, extra: tuple[str, ...] = ()) -> tuple[int, float, str]:
    """Start a real `edge-inception convert`, send SIGINT 1 s after stderr shows ``when``; (exit code,
    seconds from SIGINT to exit, stderr)."""
    # Progress lines on stderr say which phase it is in: never quieted here.
    env = {**{k: v for k, v in os.environ.items() if k != "EDGE_INCEPTION_QUIET"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([*ENTRY, "convert", "--target", "tflite-int8", "--out", str(out), "--latency-runs", "5",
                             *extra], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
                            preexec_fn=as_from_a_terminal)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if when in line:
                break
        else:
            pytest.fail(f"never saw {when!r}: {''.join(seen)[-2000:]}")
        time.sleep(1.0)  # well inside the native conversion (it takes ~5 s on a fast CPU)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
        return code, time.monotonic() - sent, "".join(seen) + rest
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("when", ["tflite-fp32: converting ...", "tflite-int8: converting ..."])
def test_ctrl_c_during_conversion_exits_130_and_leaves_out_as_it_was(tmp_path, when):
    out = tmp_path / "out"
    code, seconds, err = _interrupt_convert(out, when=when)
    assert code == 130, err[-2000:]
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    assert "interrupted" in err and "Traceback" not in err, err[-2000:]
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    if "int8" not in when:
        return
    # A rerun is not blocked by anything the interrupted run left ("already exists").
    proc = subprocess.run([*ENTRY, "convert", "--target", "tflite-fp32", "--out", str(out), "--latency-runs", "2",
                           "--eval-limit", "100"],  # whether it runs, not what it measures
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "report.json").is_file() and (out / "inception-mini.tflite-fp32.tflite").is_file()


def test_ctrl_c_with_force_puts_back_what_it_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # An earlier run's files, and one of the user's own: after the interrupt, each is byte for byte as it was.
    (out / "inception-mini.tflite-fp32.tflite").write_bytes(b"an earlier float artifact")
    (out / "report.json").write_text('{"earlier": true}\n')
    (out / "notes.txt").write_text("mine\n")
    before = _snapshot(out)
    code, seconds, err = _interrupt_convert(out, when="tflite-int8: converting ...", extra=("--force",))
    assert code == 130 and seconds < 10, (code, seconds, err[-2000:])
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no backup folder, no temporary file


# ---------------------------------------------------------------------------------------- the parts


def test_run_interruptible_hands_back_result_and_errors():
    from edge_inception._core.interrupt import run_interruptible

    assert run_interruptible(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        run_interruptible(lambda: 1 / 0)


# Runs in a process of its own: the SIGINT goes to that process, not to a pytest(-xdist) worker, whose
# own signal handling would end it.
BLOCKED_WORKER = """
import os, signal, sys, threading, time
from pathlib import Path

from edge_inception._core.atomic import atomic_write_text
from edge_inception._core.interrupt import Cancelled, run_interruptible, workers_running

folder = Path(sys.argv[1])
release, outcome = threading.Event(), {}

def blocked():
    release.wait()
    try:
        atomic_write_text(folder / "late.txt", "written after the interrupt")
    except Cancelled:
        outcome["cancelled"] = True

threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
t0 = time.monotonic()
try:
    run_interruptible(blocked)
    sys.exit("not interrupted")
except KeyboardInterrupt:
    pass
print("stopped_after", time.monotonic() - t0)
print("abandoned", workers_running())
release.set()
deadline = time.monotonic() + 5
while workers_running() and time.monotonic() < deadline:
    time.sleep(0.01)
print("cancelled", outcome.get("cancelled", False))
print("late_written", (folder / "late.txt").exists())
print("left", sorted(p.name for p in folder.iterdir()))
"""


def test_ctrl_c_reaches_the_main_thread_while_the_worker_is_blocked(tmp_path):
    """The worker sits in a call that does not return (as a native converter does); Ctrl-C still stops
    the caller at once, and the abandoned worker can no longer put a file in place."""
    proc = subprocess.run([sys.executable, "-c", BLOCKED_WORKER, str(tmp_path)], capture_output=True, text=True,
                          preexec_fn=as_from_a_terminal,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert float(facts["stopped_after"]) < 2
    assert facts["abandoned"] == "True"
    assert facts["cancelled"] == "True" and facts["late_written"] == "False"
    assert facts["left"] == "[]"


def test_rollback_removes_what_the_run_made_and_restores_what_it_replaced(tmp_path):
    from edge_inception._core.atomic import atomic_write_text
    from edge_inception._core.rollback import rollback_on_failure

    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("old")
    (out / "other.txt").write_text("untouched")
    with pytest.raises(RuntimeError), rollback_on_failure(out, protect=[out / "kept.txt"]):
        atomic_write_text(out / "kept.txt", "new")
        atomic_write_text(out / "made.txt", "new")
        (out / "sub").mkdir()
        raise RuntimeError("mid-run")
    assert _snapshot(out) == {"kept.txt": b"old", "other.txt": b"untouched"}
    fresh = tmp_path / "a" / "b" / "out"
    with pytest.raises(KeyboardInterrupt), rollback_on_failure(fresh):
        atomic_write_text(fresh / "x", "y")
        raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()
    with rollback_on_failure(out, protect=[out / "kept.txt"]):  # success keeps the new files, drops backups
        atomic_write_text(out / "kept.txt", "newer")
    assert (out / "kept.txt").read_text() == "newer"
    assert sorted(p.name for p in out.iterdir()) == ["kept.txt", "other.txt"]
