"""Keep TensorFlow's and LiteRT's native chatter (C++ logs, MLIR dumps, Keras export listings) out of
the user's terminal. What they print is kept and returned, for error messages.

    with quiet_native() as captured:
        converter.convert()
    captured()  # the text they printed
    release_output()  # Ctrl-C while a worker is quiet: give the terminal back to the main thread

The redirection is of file descriptors 1 and 2, so it holds for the whole process, threads included.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator

_active: list[tuple[int, int]] = []  # the terminal's (stdout, stderr) saved by each quiet_native in effect
_active_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native() -> Iterator[Callable[[], str]]:
    if os.environ.get("EDGE_INCEPTION_VERBOSE"):
        yield lambda: ""
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with _active_lock:
        _active.append(saved)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)

        def captured() -> str:
            sink.seek(0)
            return sink.read().decode(errors="replace")

        try:
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            with _active_lock:
                _active.remove(saved)
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])


def release_output() -> None:
    """Point stdout and stderr back at the terminal even while a quiet_native block (in a worker that
    Ctrl-C abandoned) is still open, so the main thread's last words are seen."""
    with _active_lock:
        if _active:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(_active[0][0], 1)
            os.dup2(_active[0][1], 2)


def import_tensorflow():
    """Import TensorFlow (and so Keras) with its start-up chatter about CUDA and absl silenced."""
    import sys as _sys

    if "tensorflow" in _sys.modules:
        return _sys.modules["tensorflow"]
    with quiet_native():
        import tensorflow as tf

        # Platform discovery logs "failed call to cuInit" (ERROR level) on a machine without a GPU the
        # first time anything asks for devices: ask now, while the output is captured.
        tf.config.list_physical_devices()
    return tf
