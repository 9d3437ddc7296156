"""Whether code carried by a model file may run: off unless the user says so, per call or per command.

    load_model("model.h5", trust_remote_code=True)       # this call
    with trusting(True):                                 # everything loaded inside (eval/bench runtimes)
        session = get_runtime("keras").load("model.h5", threads=2)
    trusted(None)                                        # the current scope's answer (False by default)

A context variable rather than a parameter on every Runtime.load: runtimes load model files through
load_model, and the command that was given --trust-remote-code is the only one that may allow it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_TRUST = contextvars.ContextVar("edge_inception_trust_remote_code", default=False)


@contextlib.contextmanager
def trusting(flag: bool) -> Iterator[None]:
    token = _TRUST.set(bool(flag))
    try:
        yield
    finally:
        _TRUST.reset(token)


def trusted(explicit: bool | None = None) -> bool:
    """``explicit`` when given, else the enclosing ``trusting`` scope's flag."""
    return _TRUST.get() if explicit is None else bool(explicit)


def scoped(fn):
    """Decorator: run ``fn`` inside ``trusting(trust_remote_code)``, the keyword it is called with."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with trusting(kwargs.get("trust_remote_code", False)):
            return fn(*args, **kwargs)

    return wrapper
