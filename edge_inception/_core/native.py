"""Keep TensorFlow's and LiteRT's native chatter (C++ logs, MLIR dumps, Keras export listings) out of
the user's terminal. What they print is kept and returned, for error messages.

    with quiet_native() as captured:
        converter.convert()
    captured()  # the text they printed
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def quiet_native() -> Iterator[Callable[[], str]]:
    if os.environ.get("EDGE_INCEPTION_VERBOSE"):
        yield lambda: ""
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
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
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def import_tensorflow():
    """Import TensorFlow (and so Keras) with its start-up chatter about CUDA and absl silenced."""
    import sys as _sys

    if "tensorflow" in _sys.modules:
        return _sys.modules["tensorflow"]
    with quiet_native():
        import tensorflow as tf
    return tf
