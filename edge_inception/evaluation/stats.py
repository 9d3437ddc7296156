"""Statistics for paired comparisons: is an int8 model's change real, or noise?

    d = paired_delta_ci(ref_correct, cand_correct)      # top-1 change with a 95% interval
    d["delta"], d["ci95"], d["mcnemar_p"]               # fractions; p of the exact McNemar test
    proportion_ci(9_950, 10_000)                        # Wilson interval of a proportion (agreement)
    median_ci(samples)                                  # distribution-free interval of a median
    encode_bits(correct) / decode_bits(text, n)         # per-sample outcomes, compact, inside report.json

Accuracy change: both models see the same images, so the change is the mean of per-image differences
(+1 fixed, -1 broken, 0 same). Its interval is a **paired bootstrap** (percentile method, 10,000
resamples, seeded): resampling images with replacement only moves the counts of fixed and broken
images, so it is drawn from a multinomial over the three outcomes — exact for the bootstrap and fast for
any dataset size. The **exact McNemar test** (two-sided binomial test on the discordant images) gives a
p-value beside it.
"""

from __future__ import annotations

import base64
import math

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 10_000
CI_METHOD = "paired bootstrap (percentile, 10,000 resamples, seed 0); exact McNemar test for p"


def paired_delta_ci(reference_correct, candidate_correct, *, confidence: float = CONFIDENCE,
                    resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Change of accuracy (candidate - reference, as a fraction) with its paired-bootstrap interval."""
    ref = np.asarray(reference_correct, bool)
    cand = np.asarray(candidate_correct, bool)
    if ref.shape != cand.shape or ref.ndim != 1:
        raise ValueError("paired outcomes must be two 1-D arrays of the same length")
    n = len(ref)
    fixed = int(np.sum(cand & ~ref))
    broken = int(np.sum(ref & ~cand))
    delta = (fixed - broken) / n if n else 0.0
    if n == 0 or fixed + broken == 0:
        lo = hi = delta
    else:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n, [fixed / n, broken / n, 1 - (fixed + broken) / n], size=resamples)
        boot = (counts[:, 0] - counts[:, 1]) / n
        alpha = (1 - confidence) / 2
        lo, hi = (float(v) for v in np.quantile(boot, [alpha, 1 - alpha]))
    return {"delta": delta, "ci95": [lo, hi], "fixed": fixed, "broken": broken, "n": n,
            "mcnemar_p": mcnemar_exact_p(fixed, broken), "method": CI_METHOD}


def mcnemar_exact_p(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of the discordant pairs against 1/2."""
    m = fixed + broken
    if m == 0:
        return 1.0
    k = min(fixed, broken)
    # P(X <= k) for X ~ Binomial(m, 1/2), in log space so large m does not underflow.
    logs = [math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) - m * math.log(2) for i in range(k + 1)]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2 * tail)


def proportion_ci(successes: int, n: int, *, confidence: float = CONFIDENCE) -> list[float]:
    """Wilson score interval of a proportion (agreement, top-1)."""
    if n == 0:
        return [0.0, 1.0]
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def median_ci(samples, *, confidence: float = CONFIDENCE) -> list[float]:
    """Distribution-free interval of a median from order statistics (the binomial method): no normality
    assumed, which matters for latency, whose distribution has a long right tail."""
    x = np.sort(np.asarray(samples, float))
    n = len(x)
    if n < 6:  # too few for a 95% order-statistic interval: the range is all we can say
        return [float(x[0]), float(x[-1])] if n else [math.nan, math.nan]
    z = _z(confidence)
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)))
    hi = min(n - 1, int(math.ceil(n / 2 + half)))
    return [float(x[lo]), float(x[hi])]


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def encode_bits(flags) -> str:
    """Boolean per-sample outcomes as base64 of numpy.packbits (1,250 bytes per 10,000 images)."""
    return base64.b64encode(np.packbits(np.asarray(flags, bool)).tobytes()).decode("ascii")


def decode_bits(text: str, n: int) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(text), np.uint8)
    return np.unpackbits(raw)[:n].astype(bool)
