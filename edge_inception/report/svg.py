"""SVG building blocks of the HTML report: scales with readable ticks, an axis, labels shortened to fit
(the full text as hover title), the <svg> element, and a horizontal bar chart.

    scale = linear_scale(0, 100, count=5)             # or log_scale(0.4, 180) for a wide latency span
    body = axis(scale, y_top, y_axis, "ms") + [label(8, 18, name, LABEL_W)]
    figure = svg(height, body, cls="latency", label="latency of tflite-int8")

Colours and the plot geometry live here so every plot shares them. Every string is escaped.
"""

from __future__ import annotations

import html
import math

from edge_inception.report.numbers import minus

REF_COLOR = "#3b6ea8"    # float reference: blue
CAND_COLOR = "#e0801f"   # quantized target: orange (blue/orange stays distinct for colour-blind readers)
PTQ_COLOR = "#8c6bb1"
GOOD, WARN, BAD = "#2a8a4a", "#a36b00", "#c0392b"  # dark enough for text on white
GRID, AXIS, MUTED = "#e3e6ea", "#8a919a", "#5f6670"

WIDTH = 960        # SVG user units; the SVG scales to the page width
LABEL_W = 220      # left column: names
VALUE_W = 190      # right column: numbers
PLOT_X0, PLOT_X1 = LABEL_W, WIDTH - VALUE_W
CHAR_W = 6.6       # average glyph width of the 12-unit sans-serif, to shorten labels before they overlap

e = html.escape


# --- scales and ticks --------------------------------------------------------------------------------

class Scale:
    """Maps values onto [PLOT_X0, PLOT_X1]; logarithmic when the data spans more than ``log_above``x."""

    def __init__(self, lo: float, hi: float, *, log: bool = False, ticks: list[float] | None = None):
        self.lo, self.hi, self.log = lo, hi, log
        self.ticks = ticks or []

    def x(self, v: float) -> float:
        lo, hi = (math.log10(self.lo), math.log10(self.hi)) if self.log else (self.lo, self.hi)
        v = math.log10(max(v, 1e-12)) if self.log else v
        t = 0.5 if hi == lo else (v - lo) / (hi - lo)
        return PLOT_X0 + min(max(t, 0.0), 1.0) * (PLOT_X1 - PLOT_X0)


def nice_step(span: float, count: int = 6) -> float:
    raw = span / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def linear_scale(lo: float, hi: float, *, count: int = 6, include: tuple[float, ...] = ()) -> Scale:
    lo, hi = min(lo, *include) if include else lo, max(hi, *include) if include else hi
    if hi <= lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, count)
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    ticks = [lo + i * step for i in range(int(round((hi - lo) / step)) + 1)]
    return Scale(lo, hi, ticks=[round(t, 12) for t in ticks])


def log_scale(lo: float, hi: float) -> Scale:
    lo, hi = lo / 1.08, hi * 1.08
    ticks = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** k
            if lo <= v <= hi:
                ticks.append(round(v, 12))
    if len(ticks) < 3:  # less than a decade: add the in-between multiples
        decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        ticks = sorted({round(m * 10.0 ** k, 12) for k in decades for m in range(1, 10) if lo <= m * 10.0 ** k <= hi})
    return Scale(lo, hi, log=True, ticks=ticks)


def tick_label(v: float) -> str:
    return minus(f"{v:g}" if abs(v) < 1e5 else f"{v:.0f}")


def axis(scale: Scale, y_top: float, y_axis: float, unit: str) -> list[str]:
    """Grid lines from y_top to the axis, tick labels under it, the unit at the right end."""
    out = [f'<line x1="{PLOT_X0}" y1="{y_axis}" x2="{PLOT_X1}" y2="{y_axis}" stroke="{AXIS}"/>']
    last_x = -1e9
    for t in scale.ticks:
        x = scale.x(t)
        out.append(f'<line x1="{x:.1f}" y1="{y_top}" x2="{x:.1f}" y2="{y_axis}" stroke="{GRID}"/>')
        text = tick_label(t)
        if x - last_x < len(text) * CHAR_W + 8:  # would touch its neighbour: keep the grid line only
            continue
        last_x = x
        out.append(f'<line x1="{x:.1f}" y1="{y_axis}" x2="{x:.1f}" y2="{y_axis + 4}" stroke="{AXIS}"/>'
                   f'<text x="{x:.1f}" y="{y_axis + 16}" text-anchor="middle" class="tick">{e(text)}</text>')
    # The unit sits right of the last tick label, which is centred on the axis end.
    last = tick_label(scale.ticks[-1]) if scale.ticks and abs(scale.x(scale.ticks[-1]) - PLOT_X1) < 30 else ""
    out.append(f'<text x="{PLOT_X1 + 10 + len(last) * CHAR_W / 2:.1f}" y="{y_axis + 16}" class="tick">{e(unit)}</text>')
    return out


def fit(text: str, width: float, *, char_w: float = CHAR_W) -> str:
    limit = max(4, int(width / char_w))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(x: float, y: float, text: str, width: float, *, cls: str = "lbl", anchor: str = "start") -> str:
    """A label shortened to ``width``; the full text is the hover title."""
    short = fit(text, width, char_w=CHAR_W * (1.08 if "name" in cls else 1.0))
    title = f"<title>{e(text)}</title>" if short != text else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{title}{e(short)}</text>'


def svg(height: float, body: list[str], *, cls: str, label: str, extra: str = "") -> str:
    return (f'<svg class="plot {cls}" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
            f'aria-label="{e(label)}"{extra}>' + "".join(body) + "</svg>")


def skipped(report: dict, plotted: set[str], what: str) -> str:
    """A line naming the targets a plot leaves out, and why, so a missing row is never a silent gap."""
    out = []
    for r in report.get("targets") or []:
        name = str(r.get("target", "?"))
        if name not in plotted:
            out.append(f"{name} (failed)" if r.get("status") != "ok" else f"{name} (no {what})")
    return f'<p class="muted">Not shown: {e(", ".join(out))}.</p>' if out else ""


def bar_chart(groups: list[tuple[str, list[tuple[str, float, str, str]], str]], scale: Scale, *, unit: str,
              cls: str) -> str:
    """groups: (name, [(bar label, value, colour, value text)], right-hand note)."""
    bar_h, gap, top, head = 16, 12, 10, 20
    body, y = [], top
    for name, bars, note in groups:
        body.append(label(8, y + 14, name, LABEL_W + 300, cls="name"))
        if note:
            body.append(f'<text x="{WIDTH - 8}" y="{y + 14}" text-anchor="end" class="lbl">{e(note)}</text>')
        y += head
        for k, (lbl, v, colour, text) in enumerate(bars):
            yb = y + k * (bar_h + 4)
            xv = scale.x(v)
            body.append(f'<rect class="bar" data-value="{v:.6g}" x="{PLOT_X0}" y="{yb}" '
                        f'width="{max(xv - PLOT_X0, 1):.1f}" height="{bar_h}" fill="{colour}" rx="2">'
                        f'<title>{e(lbl)}: {e(text)}</title></rect>')
            inside = xv - PLOT_X0 > len(text) * CHAR_W + 60
            tx = xv - 6 if inside else xv + 6
            body.append(f'<text x="{tx:.1f}" y="{yb + 12.5}" text-anchor="{"end" if inside else "start"}" '
                        f'class="{"inbar" if inside else "val"}">{e(text)}</text>')
            body.append(label(20, yb + 12.5, lbl, LABEL_W - 28, cls="sub"))
        y += len(bars) * (bar_h + 4) + gap
    y_axis = y - gap + 8
    body = [*axis(scale, top - 4, y_axis, unit)[1:], *body,
            f'<line x1="{PLOT_X0}" y1="{y_axis}" x2="{PLOT_X1}" y2="{y_axis}" stroke="{AXIS}"/>']
    return svg(y_axis + 26, body, cls=cls, label=f"{cls} chart")
