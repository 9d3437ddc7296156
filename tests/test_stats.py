"""Statistics a user bets a CI gate on: intervals that cover what they claim, and a latency ratio that a
busy machine does not move."""

import math
import multiprocessing as mp
import time

import numpy as np
import pytest

from edge_inception.evaluation import stats
from edge_inception.evaluation.latency import StopRule, paired_latency, time_session


def _paired_outcomes(rng, n, p_ref, flip_fix, flip_break):
    """Reference correct with prob p_ref; the candidate breaks a share of the right ones and fixes a
    share of the wrong ones. True change = p_wrong * flip_fix - p_ref * flip_break."""
    ref = rng.random(n) < p_ref
    u = rng.random(n)
    cand = np.where(ref, u >= flip_break, u < flip_fix)
    return ref, cand


def test_interval_covers_a_known_difference_at_its_nominal_rate():
    rng = np.random.default_rng(1)
    p_ref, fix, brk = 0.9, 0.05, 0.02
    true = (1 - p_ref) * fix - p_ref * brk  # -1.3 points
    covered = 0
    trials = 300
    for seed in range(trials):
        ref, cand = _paired_outcomes(rng, 5000, p_ref, fix, brk)
        lo, hi = stats.paired_delta_ci(ref, cand, seed=seed, resamples=2000)["ci95"]
        covered += lo <= true <= hi
    # 95% nominal; 300 trials: a binomial 99.9% band around 0.95 is about [0.91, 0.98].
    assert 0.91 <= covered / trials <= 0.99


def test_a_real_difference_excludes_zero_and_noise_does_not():
    rng = np.random.default_rng(2)
    ref, cand = _paired_outcomes(rng, 10_000, 0.9, 0.05, 0.03)  # true change -2.2 points
    d = stats.paired_delta_ci(ref, cand)
    lo, hi = d["ci95"]
    assert hi < 0  # coverage of the true value is the previous test's job
    assert d["mcnemar_p"] < 1e-6
    ref, cand = _paired_outcomes(rng, 10_000, 0.9, 0.02 * 0.9 / 0.1, 0.02)  # as many fixed as broken: true 0
    d = stats.paired_delta_ci(ref, cand)
    assert d["ci95"][0] < 0 < d["ci95"][1]
    assert d["mcnemar_p"] > 0.01


def test_identical_models_have_a_zero_width_interval():
    ref = np.array([True, False, True, True])
    d = stats.paired_delta_ci(ref, ref)
    assert d["delta"] == 0 and d["ci95"] == [0.0, 0.0] and d["mcnemar_p"] == 1.0


def test_mcnemar_is_the_exact_binomial_test():
    # 2 * P(X <= 10), X ~ Binomial(40, 1/2), summed exactly.
    exact = 2 * sum(math.comb(40, i) for i in range(11)) / 2**40
    assert stats.mcnemar_exact_p(10, 30) == pytest.approx(exact, rel=1e-9)
    assert stats.mcnemar_exact_p(30, 10) == pytest.approx(exact, rel=1e-9)
    assert stats.mcnemar_exact_p(5000, 5000) == 1.0  # no underflow on large counts


def test_wilson_and_median_intervals():
    lo, hi = stats.proportion_ci(9950, 10_000)
    assert lo < 0.995 < hi and hi - lo < 0.003
    rng = np.random.default_rng(3)
    covered = sum(lo <= 1.0 <= hi for lo, hi in (stats.median_ci(rng.exponential(1 / math.log(2), 101))
                                                  for _ in range(400)))  # exponential with median 1
    assert 0.91 <= covered / 400 <= 0.995


def test_bits_round_trip():
    flags = np.random.default_rng(4).random(10_001) < 0.5
    assert np.array_equal(stats.decode_bits(stats.encode_bits(flags), len(flags)), flags)


class _Work:
    """A session whose cost is a fixed amount of single-threaded work: ``repeat`` sorts of one array."""

    facts: dict = {}

    def __init__(self, repeat: int):
        self.repeat = repeat
        self.data = np.random.default_rng(0).random(60_000)

    def run(self, x):
        for _ in range(self.repeat):
            np.sort(self.data, kind="heapsort")
        return x


def _burn(stop):
    while not stop.is_set():
        pass


def test_interleaved_ratio_is_stable_when_a_background_process_loads_a_cpu():
    a, b = _Work(1), _Work(2)  # b does twice a's work: the true ratio is about 2
    x = np.zeros((1, 1))
    quiet = paired_latency(a, b, x, runs=150)
    stop = mp.Event()
    burner = mp.Process(target=_burn, args=(stop,), daemon=True)
    burner.start()
    try:
        time.sleep(0.2)
        loaded = paired_latency(a, b, x, runs=150)
    finally:
        stop.set()
        burner.join(5)
    assert 1.6 < quiet["ratio"] < 2.4
    assert loaded["ratio"] == pytest.approx(quiet["ratio"], rel=0.15)
    lo, hi = loaded["ratio_ci95"]
    assert lo <= loaded["ratio"] <= hi


def test_stop_rule_stops_early_on_a_steady_session_and_says_why():
    lat = time_session(_Work(1), np.zeros((1, 1)), rule=StopRule(precision=0.05, max_runs=500))
    assert lat["runs"] < 500 and "interval" in lat["stop_reason"]
    lo, hi = lat["p50_ci95"]
    assert lo <= lat["p50_ms"] <= hi and hi - lo <= 0.1 * lat["p50_ms"] + 1e-9
    fixed = time_session(_Work(1), np.zeros((1, 1)), runs=12)
    assert fixed["runs"] == 12 and fixed["stop_reason"] == "fixed count (12 runs)"
    for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "throughput_ips"):
        assert fixed[key] > 0
