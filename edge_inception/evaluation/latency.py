"""Latency of a candidate against its float reference, measured interleaved (A B A B ...) in one run
so that drift of a shared machine hits both alike. ``ratio`` is the ratio of the two medians (what
the table shows beside them); ``paired_ratio`` is the median of per-pair ratios, kept for analysis.

    lat = paired_latency(float_session, int8_session, x, runs=50, warmup=5)
    lat["p50_ms"], lat["reference_p50_ms"], lat["ratio"]
"""

from __future__ import annotations

import time

import numpy as np


def paired_latency(reference, candidate, x: np.ndarray, *, runs: int = 50, warmup: int = 5) -> dict:
    for _ in range(warmup):
        reference.run(x)
        candidate.run(x)
    ref_t, cand_t = np.empty(runs), np.empty(runs)
    for i in range(runs):
        # Alternate which goes first so neither always runs on a cache the other warmed.
        first, second = (reference, candidate) if i % 2 == 0 else (candidate, reference)
        t0 = time.perf_counter()
        first.run(x)
        t1 = time.perf_counter()
        second.run(x)
        t2 = time.perf_counter()
        a, b = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
        ref_t[i], cand_t[i] = a, b
    return {
        "runs": runs,
        "batch": int(len(x)),
        "reference_p50_ms": float(np.median(ref_t) * 1e3),
        "p50_ms": float(np.median(cand_t) * 1e3),
        "p90_ms": float(np.percentile(cand_t, 90) * 1e3),
        "ratio": float(np.median(cand_t) / np.median(ref_t)),
        "paired_ratio": float(np.median(cand_t / ref_t)),
    }
