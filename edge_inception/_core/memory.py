"""Hand memory that native converters freed back to the system before the next large allocation.

    release_free_memory()   # between conversion stages: glibc's malloc_trim(0)

The TFLite converter's MLIR pass frees most of what it allocated, but glibc keeps the freed pages in
its heaps, so the process's RSS stays high and the calibrator's allocations come on top of it. Measured
on Keras Inception-ResNet v2 (docs/benchmarks.md#full-size-conversion-within-4-gib): trimming at the
start of calibration dropped RSS from 2.24 to 1.34 GiB and the int8 conversion's peak from 3.40 to
2.86 GiB. Elsewhere (macOS, musl, Windows) there is no malloc_trim and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """True if freed heap memory was handed back (glibc), False where there is no way to."""
    trim = _malloc_trim()
    return bool(trim is not None and trim(0))
