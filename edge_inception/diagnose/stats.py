"""Per-layer error statistics, accumulated batch by batch: only sums are kept, never the tensors.

    acc = ErrorStats(scale=0.031, zero_point=-128, qmin=-128, qmax=127)
    for ref, got in batches:
        acc.add(ref, got)                   # float reference and dequantized int8 values, same shape
    acc.summary()   # {'sqnr_db', 'cosine', 'mse', 'max_abs', 'rmse_per_step', 'clipped', ...}

SQNR and cosine are over every value seen (all samples, all channels), as the runtimes' own debuggers
compute them; ``rmse_per_step`` is RMSE divided by the quantization step: pure rounding of a value
spread evenly over a step gives 1/sqrt(12) ~ 0.29, so a figure far above it says the error is not
rounding (clipping, a shared scale, or errors carried in from earlier layers).
"""

from __future__ import annotations

import math

import numpy as np

_CHUNK = 1 << 16  # values per step of ErrorStats.add: 512 KiB in float64


class ErrorStats:
    def __init__(self, *, scale: float | None = None, zero_point: int | None = None,
                 qmin: int | None = None, qmax: int | None = None):
        self.scale, self.zero_point, self.qmin, self.qmax = scale, zero_point, qmin, qmax
        self.n = 0
        self.sig = self.err = self.dot = self.got2 = 0.0
        self.max_abs = 0.0
        self.clipped = 0
        self.ref_min, self.ref_max = math.inf, -math.inf

    def add(self, ref: np.ndarray, got: np.ndarray) -> None:
        r_all, g_all = np.ravel(ref), np.ravel(got)
        if r_all.size != g_all.size:
            raise ValueError(f"reference and value differ in size ({r_all.size} vs {g_all.size})")
        lo_hi = self.range()
        self.n += r_all.size
        # In float64, a chunk at a time, without BLAS: numpy's dot would run OpenBLAS's own thread pool,
        # which on a busy 2-core machine fought the runtimes' and torch's pools (diagnose of the PyTorch
        # inception-mini took 70 s, 33 s with OPENBLAS_NUM_THREADS=1); einsum's loop is single-threaded,
        # and a chunk stays in cache.
        for i in range(0, r_all.size, _CHUNK):
            r = r_all[i : i + _CHUNK].astype(np.float64)
            g = g_all[i : i + _CHUNK].astype(np.float64)
            d = g - r
            self.sig += dot(r, r)
            self.err += dot(d, d)
            self.dot += dot(r, g)
            self.got2 += dot(g, g)
            self.max_abs = max(self.max_abs, float(np.abs(d).max()))
            self.ref_min = min(self.ref_min, float(r.min()))
            self.ref_max = max(self.ref_max, float(r.max()))
            if lo_hi is not None:
                lo, hi = lo_hi
                # half a step beyond the last level is still rounded, not clipped
                half = self.scale / 2
                self.clipped += int(np.count_nonzero(r < lo - half)) + int(np.count_nonzero(r > hi + half))

    def range(self) -> tuple[float, float] | None:
        """The float interval the int8 levels cover, or None where the tensor's parameters are unknown."""
        if self.scale is None or self.zero_point is None or self.qmin is None:
            return None
        return (self.qmin - self.zero_point) * self.scale, (self.qmax - self.zero_point) * self.scale

    def summary(self) -> dict:
        if self.n == 0:
            return {"values": 0}
        mse = self.err / self.n
        if self.err == 0:
            sqnr = math.inf
        elif self.sig == 0:
            sqnr = -math.inf
        else:
            sqnr = 10 * math.log10(self.sig / self.err)
        denom = math.sqrt(self.sig * self.got2)
        out = {"values": self.n, "sqnr_db": _finite(sqnr), "cosine": round(self.dot / denom, 6) if denom else None,
               "mse": float(f"{mse:.6g}"), "max_abs": float(f"{self.max_abs:.6g}"),
               "ref_min": float(f"{self.ref_min:.6g}"), "ref_max": float(f"{self.ref_max:.6g}")}
        if self.scale:
            out["rmse_per_step"] = round(math.sqrt(mse) / self.scale, 4)
            out["clipped"] = round(self.clipped / self.n, 6)
            used = (self.ref_max - min(self.ref_min, 0.0)) / self.scale  # levels the values really span
            out["levels_used"] = round(used, 1)
        return out


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """The dot product of two 1-D arrays without BLAS: numpy's ``@`` runs OpenBLAS's thread pool, which on
    a busy machine waits on the runtimes' and torch's pools (see ErrorStats.add)."""
    return float(np.einsum("i,i->", a, b))


def _finite(v: float) -> float | None:
    """JSON has no infinity: an exact match is reported as 999 dB (a sentinel named in docs), none as None."""
    if math.isnan(v):
        return None
    if math.isinf(v):
        return 999.0 if v > 0 else -999.0
    return round(v, 3)


def fake_quant(x: np.ndarray, *, scale: float, zero_point: int, qmin: int, qmax: int) -> np.ndarray:
    """What a quantize-dequantize pair gives ``x``: used where a runtime's op is fed a float value and its
    output quantizer has to be applied outside the runtime (ONNX QDQ, OpenVINO FakeQuantize)."""
    q = np.clip(np.round(x / scale) + zero_point, qmin, qmax)
    return ((q - zero_point) * scale).astype(np.float32)
