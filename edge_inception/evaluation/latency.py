"""Latency: one artifact alone, or a candidate against its float reference interleaved (A B A B ...) so
that drift of a shared machine hits both alike.

    lat = paired_latency(float_session, int8_session, x, runs=50)          # fixed count (convert)
    lat = paired_latency(float_session, int8_session, x, rule=StopRule())  # adaptive (bench)
    lat["ratio"], lat["ratio_ci95"], lat["candidate"]["p99_ms"]
    one = time_session(session, x, rule=StopRule(min_time_s=10))
    time_chunks(sample, batch=1, rule=StopRule())   # samples that come in chunks (a device's runner)

Stopping rule (``StopRule``): after ``min_runs`` timed runs (and ``min_time_s``), stop as soon as the
95% interval of the median — of the latency alone, or of the per-pair ratio when two artifacts are
compared — is within ±``precision`` (default 1%) of the median; otherwise stop at ``max_runs`` or
``max_time_s``. The interval is distribution-free (order statistics), since latency has a long right
tail. ``runs=N`` instead times exactly N runs. The reason a run stopped is kept in the result.

``ratio`` is the median of the per-pair ratios (candidate / reference of the same pair), with its 95%
interval ``ratio_ci95``: each pair ran back to back, so a slow spell of the machine hits both. The ratio
of the two medians is kept as ``ratio_of_medians``; on a bimodal, noisy run the two can differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge_inception.evaluation.stats import median_ci


@dataclass(frozen=True)
class StopRule:
    precision: float = 0.01  # half-width of the median's 95% interval, relative to the median
    min_runs: int = 20
    max_runs: int = 1000
    min_time_s: float = 0.0
    max_time_s: float = 60.0
    check_every: int = 10

    def describe(self) -> str:
        return (f"stop when the 95% interval of the median is within ±{self.precision:.1%} of it (checked every "
                f"{self.check_every} runs after {self.min_runs} runs and {self.min_time_s:g} s), "
                f"else at {self.max_runs} runs or {self.max_time_s:g} s")

    def verdict(self, values: list[float], elapsed: float) -> str | None:
        n = len(values)
        if n >= self.max_runs:
            return f"run limit ({self.max_runs} runs)"
        if elapsed >= self.max_time_s and n >= 2:
            return f"time limit ({self.max_time_s:g} s)"
        if n < self.min_runs or elapsed < self.min_time_s or n % self.check_every:
            return None
        med = float(np.median(values))
        lo, hi = median_ci(values)
        if med > 0 and max(med - lo, hi - med) <= self.precision * med:
            return f"median's 95% interval within ±{self.precision:.1%} after {n} runs"
        return None


def summarize(seconds, *, batch: int = 1) -> dict:
    """Per-inference statistics in ms from per-call times in seconds (a call runs ``batch`` images)."""
    t = np.asarray(seconds, float) * 1e3
    p50 = float(np.median(t))
    return {"runs": int(len(t)), "p50_ms": p50, "p90_ms": float(np.percentile(t, 90)),
            "p99_ms": float(np.percentile(t, 99)), "mean_ms": float(t.mean()),
            "std_ms": float(t.std(ddof=1)) if len(t) > 1 else 0.0, "min_ms": float(t.min()),
            "p50_ci95": median_ci(t), "throughput_ips": batch * 1e3 / p50 if p50 else None,
            "samples_ms": [round(float(v), 4) for v in t]}


def time_session(session, x: np.ndarray, *, runs: int | None = None, rule: StopRule | None = None,
                 warmup: int = 5) -> dict:
    """Time one session: warm-up, then ``runs`` timed calls or until ``rule`` says stop."""
    for _ in range(warmup):
        session.run(x)

    def sample(k: int) -> list[float]:
        times = []
        for _ in range(k):
            t0 = time.perf_counter()
            session.run(x)
            times.append(time.perf_counter() - t0)
        return times

    return time_chunks(sample, batch=len(x), runs=runs, rule=rule)


def time_chunks(sample, *, batch: int, runs: int | None = None, rule: StopRule | None = None,
                chunk: int = 1) -> dict:
    """The stopping rule and statistics over per-call times (seconds) that ``sample(k)`` returns ``k`` at a
    time: one by one here, a chunk per request from a device's runner (devices/), so both stop and
    summarize by the same code. The rule is consulted after every chunk."""
    rule = rule or StopRule()
    times: list[float] = []
    start = time.perf_counter()
    reason = None
    while reason is None:
        k = max(1, min(chunk, (rule.max_runs if runs is None else runs) - len(times)))
        times.extend(sample(k))
        if runs is not None:
            reason = f"fixed count ({runs} runs)" if len(times) >= runs else None
        else:
            reason = rule.verdict(times, time.perf_counter() - start)
    return {**summarize(times, batch=batch), "batch": int(batch), "stop_reason": reason,
            "stop_rule": None if runs is not None else rule.describe()}


def paired_latency(reference, candidate, x: np.ndarray, *, runs: int | None = 50, rule: StopRule | None = None,
                   warmup: int = 5, x_reference: np.ndarray | None = None) -> dict:
    """Interleave reference and candidate; with ``runs=None`` the ``rule`` decides when to stop, on the
    interval of the median per-pair ratio. ``x_reference``: the same images in the reference's own
    layout, when it differs from the candidate's."""
    xr = x if x_reference is None else x_reference
    for _ in range(warmup):
        reference.run(xr)
        candidate.run(x)

    def sample(start: int, k: int) -> tuple[list[float], list[float]]:
        ref_t, cand_t = [], []
        for i in range(start, start + k):
            # Alternate which goes first so neither always runs on a cache the other warmed.
            pair = ((reference, xr), (candidate, x))
            (first, x1), (second, x2) = pair if i % 2 == 0 else pair[::-1]
            t0 = time.perf_counter()
            first.run(x1)
            t1 = time.perf_counter()
            second.run(x2)
            t2 = time.perf_counter()
            a, b = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
            ref_t.append(a)
            cand_t.append(b)
        return ref_t, cand_t

    return paired_chunks(sample, batch=len(x), runs=runs, rule=rule)


def paired_chunks(sample, *, batch: int, runs: int | None = 50, rule: StopRule | None = None,
                  chunk: int = 1) -> dict:
    """The interleaved comparison over pairs that ``sample(start, k)`` returns as (reference times,
    candidate times) for pairs ``start .. start+k-1`` (pair i runs the reference first when i is even).
    One pair at a time here; a chunk per request from a device's runner (devices/)."""
    rule = rule or StopRule()
    ref_t: list[float] = []
    cand_t: list[float] = []
    ratios: list[float] = []
    start = time.perf_counter()
    reason = None
    while reason is None:
        k = max(1, min(chunk, (rule.max_runs if runs is None else runs) - len(ratios)))
        a, b = sample(len(ratios), k)
        ref_t.extend(a)
        cand_t.extend(b)
        ratios.extend(bi / ai for ai, bi in zip(a, b, strict=True))
        if runs is not None:
            reason = f"fixed count ({runs} pairs)" if len(ratios) >= runs else None
        else:
            reason = rule.verdict(ratios, time.perf_counter() - start)
    ref_s, cand_s = summarize(ref_t, batch=batch), summarize(cand_t, batch=batch)
    return {
        "runs": len(ratios),
        "batch": int(batch),
        "reference": ref_s,
        "candidate": cand_s,
        "reference_p50_ms": ref_s["p50_ms"],
        "p50_ms": cand_s["p50_ms"],
        "p90_ms": cand_s["p90_ms"],
        "ratio": float(np.median(ratios)),
        "ratio_ci95": median_ci(ratios),
        "paired_ratio": float(np.median(ratios)),  # = ratio; kept for schema-1.0 readers
        "ratio_of_medians": cand_s["p50_ms"] / ref_s["p50_ms"],
        "throughput_ips": cand_s["throughput_ips"],
        "stop_reason": reason,
        "stop_rule": None if runs is not None else rule.describe(),
    }


def int8_speed_notes(ratio: float, *, quantized: bool) -> list[str]:
    """What a report row says when an int8 artifact is not faster than its float reference, and why."""
    from edge_inception._core.host import host_facts

    if not quantized or ratio < 1.0:
        return []
    isa = host_facts()["isa"]
    if not isa["vnni"] and not isa["dotprod"]:
        return ["int8 is not faster than float here: this CPU has no int8 dot-product instructions "
                "(AVX-512 VNNI, AVX-VNNI, AMX or ARM dotprod), so int8 buys size, not speed; "
                "expect gains on VNNI/AMX CPUs, ARM and NPUs"]
    return ["int8 is not faster than float on this runtime and CPU"]
