"""Ctrl-C that works while native code runs: the blocking work goes to a worker thread and the main
thread waits, so SIGINT (which Python delivers to the main thread only, between bytecodes) is seen at
once even while the TFLite converter or a quantizer holds its own thread for a minute.

    info = run_interruptible(quantize, lm, dest, target=t)   # KeyboardInterrupt within ~0.1 s of Ctrl-C
    with commit():                                           # what atomic_path holds while it renames
        os.replace(tmp, dest)

A thread cannot be stopped, so an interrupted worker is abandoned: it is marked cancelled, and its
later attempts to make a file visible (commit) raise Cancelled, so it cannot put an artifact into
--out after the run was rolled back. The command line exits at once (os._exit) when a worker is
still running, rather than waiting for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator

_lock = threading.RLock()
_cancelled: set[int] = set()  # thread idents of abandoned workers
_abandoned: list[threading.Event] = []  # each set when its worker has finished


class Cancelled(BaseException):  # noqa: N818 - not an error a library should catch (BaseException)
    """Raised in an abandoned worker when it tries to write after its run was interrupted."""


def run_interruptible(fn: Callable, /, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a worker thread; its result or exception, or KeyboardInterrupt as soon
    as Ctrl-C is pressed. Outside the main thread it just calls ``fn``."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    box: dict = {}
    done = threading.Event()
    context = contextvars.copy_context()  # the caller's settings (trust_remote_code) go with the work

    def work() -> None:
        try:
            box["value"] = context.run(fn, *args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread as it is
            box["error"] = e
        finally:
            with _lock:
                _cancelled.discard(threading.get_ident())
                done.set()

    name = getattr(getattr(fn, "func", fn), "__name__", "work")
    worker = threading.Thread(target=work, name=f"edge-inception-{name}", daemon=True)
    worker.start()
    try:
        # An Event, not Thread.join: a KeyboardInterrupt inside join() marks a running thread as
        # stopped (CPython bpo-45274), and is_alive() would then lie about the abandoned worker.
        while not done.wait(0.05):
            pass
    except KeyboardInterrupt:
        from edge_inception._core.native import release_output

        with _lock:
            if not done.is_set():
                _cancelled.add(worker.ident)
                _abandoned.append(done)
                release_output()  # the worker may hold stdout/stderr redirected (quiet_native)
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def check_not_cancelled() -> None:
    if threading.get_ident() in _cancelled:
        raise Cancelled("this run was interrupted; nothing more is written")


@contextlib.contextmanager
def commit() -> Iterator[None]:
    """Hold while making a write visible; refused (Cancelled) in an abandoned worker. Rollback holds
    the same lock, so no rename lands in the middle of it."""
    with _lock:
        check_not_cancelled()
        yield


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """No commit can happen inside this block (rollback runs in it)."""
    with _lock:
        yield


def workers_running() -> bool:
    """Whether an abandoned worker thread is still running (the CLI then exits without waiting)."""
    return any(not done.is_set() for done in _abandoned)
