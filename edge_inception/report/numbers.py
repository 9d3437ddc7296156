"""Number formatting for every human view of a report or a gate result: Markdown, HTML, the terminal
tables and the gate's messages. One set, so the same value reads the same everywhere.

    points(-0.1, [-0.4, 0.15])      # '−0.10 pt [−0.40, +0.15]'
    pct(0.9955), ms(0.412), mb(742_000), ratio(0.92, [0.9, 0.95]), pvalue(0.0004)
    signed(-0.1), signed_pct(0.25)  # '−0.10', '+25.0%'

Negative numbers take the real minus sign U+2212 ("−0.10", not "-0.10"): it is as wide as "+" so
columns line up, and it is what the Markdown, HTML and terminal views have always shown. JSON is
never formatted here; its numbers stay numbers. Missing values (None, NaN, strings) print as a dash.
"""

from __future__ import annotations

import math

MINUS = "\u2212"
DASH = "—"


def num(x) -> float | None:
    """A finite float, or None for anything missing or not a number (NaN, strings, None, booleans)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def minus(text: str) -> str:
    """``text`` with ASCII hyphen-minus signs of numbers replaced by U+2212 (for labels formatted elsewhere)."""
    return text.replace("-", MINUS)


def signed(x: float, digits: int = 2) -> str:
    """'+0.15', '−0.10'; a value that rounds to zero has no sign ('0.00')."""
    text = f"{abs(x):.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f}"
    return ("+" if x > 0 else MINUS) + text


def plain(x: float, digits: int = 2) -> str:
    """Fixed decimals, with a real minus sign when negative and no '+'."""
    return minus(f"{x:.{digits}f}")


def interval(ci, fmt) -> str:
    """' [lo, hi]' with each end formatted by ``fmt``; '' when ``ci`` is not two numbers."""
    if not ci or len(ci) != 2 or num(ci[0]) is None or num(ci[1]) is None:
        return ""
    return f" [{fmt(float(ci[0]))}, {fmt(float(ci[1]))}]"


def pct(x, digits: int = 2) -> str:
    """A share as a percentage: 0.9955 -> '99.55%'."""
    x = num(x)
    return DASH if x is None else f"{plain(x * 100, digits)}%"


def signed_pct(x, digits: int = 1) -> str:
    """A relative change as a signed percentage: 0.25 -> '+25.0%', -0.05 -> '−5.0%'."""
    x = num(x)
    return DASH if x is None else f"{signed(x * 100, digits)}%"


def points(delta, ci=None, digits: int = 2) -> str:
    """'−0.11 pt [−0.25, +0.03]' — a change in percentage points with its 95% interval."""
    d = num(delta)
    if d is None:
        return DASH
    return f"{signed(d, digits)} pt" + interval(ci, lambda v: signed(v, digits))


def ms(x) -> str:
    """Latency with precision that follows its size: 0.412, 4.12, 41.2, 412."""
    x = num(x)
    if x is None:
        return DASH
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return plain(x, 3)


def mb(n) -> str:
    """A size in bytes: '1.23 GB', '0.74 MB', '55.0 kB' (decimal units)."""
    n = num(n)
    if n is None:
        return DASH
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e5:  # one unit down to 0.1 MB keeps a column of sizes comparable at a glance
        return f"{n / 1e6:.2f} MB"
    return f"{plain(n / 1e3, 1)} kB"


def times(x, digits: int = 1) -> str:
    """A size ratio in words: 3.6 -> '3.6× smaller', 0.5 -> '2.0× larger'; '' when not positive."""
    x = num(x)
    if x is None or x <= 0:
        return ""
    return f"{x:.{digits}f}× smaller" if x >= 1 else f"{1 / x:.{digits}f}× larger"


def ratio(x, ci=None, digits: int = 2) -> str:
    """'0.92× [0.90, 0.95]' — a latency ratio (target / reference) with its interval."""
    x = num(x)
    if x is None:
        return DASH
    return f"{plain(x, digits)}×" + interval(ci, lambda v: plain(v, digits))


def pvalue(p) -> str:
    p = num(p)
    if p is None:
        return DASH
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def db(x) -> str:
    """SQNR: None is the schema's "outputs identical" (infinite SQNR)."""
    if x is None:
        return "identical"
    x = num(x)
    return DASH if x is None else f"{plain(x, 1)} dB"


def cosine(x) -> str:
    x = num(x)
    return DASH if x is None else plain(x, 5)


def count(x, unit: str = "") -> str:
    """A rounded quantity: throughput, memory, load time ('412 MB')."""
    x = num(x)
    return DASH if x is None else f"{plain(x, 0)}{' ' + unit if unit else ''}"
