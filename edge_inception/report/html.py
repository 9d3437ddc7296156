"""Self-contained HTML view of a report.json: one file, inline CSS and SVG, no script, no external URL.

    text = render_html(report)      # report: the dict convert/evaluate/benchmark return
    Path("report.html").write_text(text)

Shows the summary table, the top-1 change of every target with its 95% interval against the gate
threshold the report recorded (a forest plot), the latency distribution of every target beside its
float reference on one shared ms axis, the sizes, and the notes and host facts. Every string that comes
from the report is escaped: model names, paths and messages are user input.
"""

from __future__ import annotations

import html
import math

from edge_inception.report.markdown import (
    DASH,
    MINUS,
    TABLES,
    check_schema,
    convert_table,
    data_text,
    failure_text,
    gate_threshold,
    host_text,
    isa_text,
    latency_stats,
    mb,
    model_text,
    ms,
    num,
    points,
    ptq_table,
    pvalue,
    ratio,
    reference_label,
    row_notes,
    signed,
    used_columns,
)

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
    text = f"{v:g}" if abs(v) < 1e5 else f"{v:.0f}"
    return text.replace("-", MINUS)


def _axis(scale: Scale, y_top: float, y_axis: float, unit: str) -> list[str]:
    """Grid lines from y_top to the axis, tick labels under it, the unit at the right end."""
    out = [f'<line x1="{PLOT_X0}" y1="{y_axis}" x2="{PLOT_X1}" y2="{y_axis}" stroke="{AXIS}"/>']
    last_x = -1e9
    for t in scale.ticks:
        x = scale.x(t)
        out.append(f'<line x1="{x:.1f}" y1="{y_top}" x2="{x:.1f}" y2="{y_axis}" stroke="{GRID}"/>')
        label = tick_label(t)
        if x - last_x < len(label) * CHAR_W + 8:  # would touch its neighbour: keep the grid line only
            continue
        last_x = x
        out.append(f'<line x1="{x:.1f}" y1="{y_axis}" x2="{x:.1f}" y2="{y_axis + 4}" stroke="{AXIS}"/>'
                   f'<text x="{x:.1f}" y="{y_axis + 16}" text-anchor="middle" class="tick">{e(label)}</text>')
    # The unit sits right of the last tick label, which is centred on the axis end.
    last = tick_label(scale.ticks[-1]) if scale.ticks and abs(scale.x(scale.ticks[-1]) - PLOT_X1) < 30 else ""
    out.append(f'<text x="{PLOT_X1 + 10 + len(last) * CHAR_W / 2:.1f}" y="{y_axis + 16}" class="tick">{e(unit)}</text>')
    return out


def _fit(text: str, width: float, *, char_w: float = CHAR_W) -> str:
    limit = max(4, int(width / char_w))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(x: float, y: float, text: str, width: float, *, cls: str = "lbl", anchor: str = "start") -> str:
    """A label shortened to ``width``; the full text is the hover title."""
    short = _fit(text, width, char_w=CHAR_W * (1.08 if "name" in cls else 1.0))
    title = f"<title>{e(text)}</title>" if short != text else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{title}{e(short)}</text>'


def _svg(height: float, body: list[str], *, cls: str, label: str, extra: str = "") -> str:
    return (f'<svg class="plot {cls}" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
            f'aria-label="{e(label)}"{extra}>' + "".join(body) + "</svg>")


def _skipped(report: dict, plotted: set[str], what: str) -> str:
    """A line naming the targets a plot leaves out, and why, so a missing row is never a silent gap."""
    out = []
    for r in report.get("targets") or []:
        name = str(r.get("target", "?"))
        if name not in plotted:
            out.append(f"{name} (failed)" if r.get("status") != "ok" else f"{name} (no {what})")
    return f'<p class="muted">Not shown: {e(", ".join(out))}.</p>' if out else ""


# --- latency -----------------------------------------------------------------------------------------

def _quantile(sorted_x: list[float], q: float) -> float:
    if len(sorted_x) == 1:
        return sorted_x[0]
    pos = q * (len(sorted_x) - 1)
    i = int(math.floor(pos))
    j = min(i + 1, len(sorted_x) - 1)
    return sorted_x[i] + (sorted_x[j] - sorted_x[i]) * (pos - i)


class _Series:
    """One artifact's latency: the samples if the report kept them, else the summary statistics."""

    def __init__(self, label: str, stats: dict, color: str, role: str):
        self.label, self.color, self.role = label, color, role
        self.samples = sorted(v for v in (num(s) for s in stats.get("samples_ms") or []) if v is not None and v > 0)
        self.p50 = num(stats.get("p50_ms"))
        self.p90, self.p99 = num(stats.get("p90_ms")), num(stats.get("p99_ms"))
        if self.samples:
            s = self.samples
            self.q1, self.q3 = _quantile(s, 0.25), _quantile(s, 0.75)
            # The median line is the report's p50 (what the tables say); the samples give the rest.
            self.med = self.p50 if self.p50 is not None else _quantile(s, 0.5)
            self.p50 = self.med
            iqr = self.q3 - self.q1
            self.wlo = min(v for v in s if v >= self.q1 - 1.5 * iqr)
            self.whi = max(v for v in s if v <= self.q3 + 1.5 * iqr)
            # The axis shows the body of the data; far outliers (a shared machine's hiccups) are counted
            # at the edge instead of squashing every box into a few pixels.
            pad = max(3 * iqr, 0.1 * self.med)
            self.lo, self.hi = max(s[0], self.q1 - pad), min(s[-1], self.q3 + pad)
        else:
            self.q1 = self.med = self.q3 = self.wlo = self.whi = None
            vals = [v for v in (self.p50, self.p90, self.p99) if v is not None and v > 0]
            self.lo, self.hi = (min(vals), max(vals)) if vals else (None, None)

    @property
    def usable(self) -> bool:
        return self.lo is not None


def _latency_series(row: dict) -> list[_Series]:
    lat = row.get("latency") or {}
    out = []
    ref = latency_stats(lat, "reference")
    if ref:
        out.append(_Series(reference_label(row), ref, REF_COLOR, "reference"))
    cand = latency_stats(lat, "candidate")
    if cand:
        out.append(_Series(str(row.get("target", "?")), cand, CAND_COLOR, "candidate"))
    return [s for s in out if s.usable]


def latency_scale(series: list[_Series]) -> Scale:
    lo = min(s.lo for s in series)
    hi = max(s.hi for s in series)
    if hi / lo > 20:
        return log_scale(lo, hi)
    pad = (hi - lo) * 0.04 or hi * 0.05
    return linear_scale(max(lo - pad, 0.0), hi + pad)


def _jitter(i: int) -> float:
    """Deterministic spread in [-1, 1] (golden-ratio sequence): the same report renders the same file."""
    return ((i * 0.6180339887) % 1.0) * 2 - 1


def latency_plot(row: dict, series: list[_Series], scale: Scale, *, kind: str = "convert") -> str:
    lat = row.get("latency") or {}
    row_h, top = 40, 30
    y_axis = top + row_h * len(series) + 6
    height = y_axis + 26
    name = str(row.get("target", "?"))
    body = [_label(8, 18, name, LABEL_W + 200, cls="name")]
    if row.get("device_run") is False:
        x = 8 + min(len(name), (LABEL_W + 200) / CHAR_W) * 8.6 + 12  # 8.6: a bold 14-unit glyph
        body.append(f'<text x="{x:.1f}" y="18" class="sub" style="fill:{WARN}">'
                    'not run on device · timed on this host</text>')
    r = num(lat.get("ratio"))
    if r is not None:
        verdict = "slower" if r > 1.0 else "faster"
        ci = lat.get("ratio_ci95")
        if ci and len(ci) == 2 and num(ci[0]) is not None and num(ci[1]) is not None:
            verdict = "slower" if ci[0] > 1 else "faster" if ci[1] < 1 else "no clear difference"
        text = f"p50 ratio {ratio(r, ci)} · {verdict}"
        colour = BAD if verdict == "slower" else GOOD if verdict == "faster" else MUTED
        body.append(f'<text x="{WIDTH - 8}" y="18" text-anchor="end" class="lbl" '
                    f'style="fill:{colour};font-weight:600">{e(text)}</text>')
    body += _axis(scale, top - 4, y_axis, "ms")
    for k, s in enumerate(series):
        yc = top + row_h * k + row_h / 2
        role = (("float reference" if s.role == "reference" else "target") if kind == "convert" else
                ("reference" if s.role == "reference" else "artifact"))
        body.append(f'<text x="8" y="{yc - 3:.1f}" class="sub">{e(role)}</text>')
        body.append(_label(8, yc + 11, s.label, LABEL_W - 16))
        body += _series_marks(s, scale, yc, row_h)
        right = f"p50 {ms(s.p50)} ms"
        if s.p99 is not None:
            right += f" · p99 {ms(s.p99)}"
        body.append(f'<text x="{PLOT_X1 + 10}" y="{yc + 4:.1f}" class="val">{e(right)}</text>')
    return _svg(height, body, cls="latency", label=f"latency of {row.get('target', '?')}",
                extra=f' data-target="{e(str(row.get("target", "?")))}"')


def _series_marks(s: _Series, scale: Scale, yc: float, row_h: float) -> list[str]:
    out = []
    half = 8
    if s.samples:
        beyond = [v for v in s.samples if v > scale.hi or v < scale.lo]
        for i, v in enumerate(s.samples):
            if scale.lo <= v <= scale.hi:
                out.append(f'<circle cx="{scale.x(v):.1f}" cy="{yc + _jitter(i) * (row_h / 2 - 5):.1f}" r="2.2" '
                           f'fill="{s.color}" fill-opacity="0.35"/>')
        x1, xq1, xm, xq3, x9 = (scale.x(v) for v in (s.wlo, s.q1, s.med, s.q3, s.whi))
        stroke = f'stroke="{s.color}" stroke-width="1.5"'
        out.append(f'<line x1="{x1:.1f}" y1="{yc}" x2="{xq1:.1f}" y2="{yc}" {stroke}/>'
                   f'<line x1="{xq3:.1f}" y1="{yc}" x2="{x9:.1f}" y2="{yc}" {stroke}/>'
                   f'<line x1="{x1:.1f}" y1="{yc - 5}" x2="{x1:.1f}" y2="{yc + 5}" {stroke}/>'
                   f'<line x1="{x9:.1f}" y1="{yc - 5}" x2="{x9:.1f}" y2="{yc + 5}" {stroke}/>')
        out.append(f'<rect x="{xq1:.1f}" y="{yc - half}" width="{max(xq3 - xq1, 1):.1f}" height="{2 * half}" '
                   f'fill="{s.color}" fill-opacity="0.18" stroke="{s.color}" stroke-width="1.5" rx="2"/>')
        if beyond:
            hi_n = sum(v > scale.hi for v in beyond)
            lo_n = len(beyond) - hi_n
            for n, x, sign in ((hi_n, PLOT_X1, 1), (lo_n, PLOT_X0, -1)):
                if n:
                    out.append(f'<path d="M{x - sign * 7:.1f},{yc - 5} L{x:.1f},{yc} L{x - sign * 7:.1f},{yc + 5} Z" '
                               f'fill="{s.color}"><title>{n} sample(s) beyond the axis</title></path>')
    med = s.med if s.med is not None else s.p50
    if med is not None:
        xm = scale.x(med)
        out.append(f'<line class="median" data-series="{s.role}" data-ms="{med:.6g}" x1="{xm:.1f}" '
                   f'y1="{yc - half - 3}" x2="{xm:.1f}" y2="{yc + half + 3}" stroke="{s.color}" stroke-width="3.5"/>')
    if not s.samples:  # summary only: p50 with a line to p99 (or p90)
        tail = s.p99 or s.p90
        if tail is not None and med is not None:
            out.append(f'<line x1="{scale.x(med):.1f}" y1="{yc}" x2="{scale.x(tail):.1f}" y2="{yc}" '
                       f'stroke="{s.color}" stroke-width="1.5" stroke-dasharray="3 3"/>')
    return out


def latency_section(report: dict) -> str:
    rows = [(r, _latency_series(r)) for r in report.get("targets") or [] if r.get("status") == "ok"]
    rows = [(r, s) for r, s in rows if s]
    if not rows:
        return ""
    scale = latency_scale([s for _, ss in rows for s in ss])
    names = ("float reference", "target") if report.get("kind", "convert") == "convert" else ("reference", "artifact")
    legend = (f'<p class="legend"><span class="sw" style="background:{REF_COLOR}"></span>{names[0]} '
              f'<span class="sw" style="background:{CAND_COLOR}"></span>{names[1]} · box: quartiles, whiskers: '
              f'1.5 IQR, dots: every timed run, thick line: median; one ms axis for all '
              f'targets{" (logarithmic)" if scale.log else ""}; ▸ marks runs beyond the axis</p>')
    kind = report.get("kind", "convert")
    plots = "".join(f'<figure>{latency_plot(r, s, scale, kind=kind)}</figure>' for r, s in rows)
    lat = rows[0][0].get("latency") or {}
    how = []
    for key, label in (("threads", "threads"), ("batch", "batch"), ("runs", "runs")):
        if lat.get(key) is not None:
            how.append(f"{label} {lat[key]}")
    if lat.get("stop_reason"):
        how.append(f"stopped: {lat['stop_reason']}")
    how_text = f'<p class="muted">{e(", ".join(how))}</p>' if how else ""
    skipped = _skipped(report, {str(r.get("target", "?")) for r, _ in rows}, "latency measured")
    return f'<section><h2>Latency per inference</h2>{legend}{plots}{how_text}{skipped}</section>'


# --- accuracy change (forest plot) ------------------------------------------------------------------

def _ci(v) -> tuple[float, float] | None:
    if v and len(v) == 2 and num(v[0]) is not None and num(v[1]) is not None:
        return float(v[0]), float(v[1])
    return None


def forest_plot(report: dict) -> str:
    entries = []  # (row, label, sublabel, delta, ci, p, is_ptq)
    for r in report.get("targets") or []:
        if r.get("status") != "ok":
            continue
        acc = r.get("accuracy") or {}
        d = num(acc.get("delta_points"))
        if d is None:
            continue
        sub = f"{_pct(acc.get('float_top1'))} → {_pct(acc.get('top1'))}"
        tag = "QAT" if (r.get("ptq") or r.get("method") == "qat") else ""
        entries.append((r, str(r.get("target", "?")) + (f" · {tag}" if tag else ""), sub, d,
                        _ci(acc.get("delta_ci95")), acc.get("mcnemar_p"), False))
        pacc = (r.get("ptq") or {}).get("accuracy") or {}
        pd = num(pacc.get("delta_points"))
        if pd is not None:
            entries.append((r, f"{r.get('target', '?')} · PTQ", f"{_pct(pacc.get('float_top1'))} → "
                            f"{_pct(pacc.get('top1'))}", pd, _ci(pacc.get("delta_ci95")), pacc.get("mcnemar_p"), True))
    if not entries:
        return ""
    gates = [gate_threshold(report, r) for r, *_ in entries]
    values = [0.0]
    for (_, _, _, d, ci, _, _), g in zip(entries, gates, strict=True):
        values += [d, *(ci or ())]
        if g is not None:
            values.append(-g)
    span = max(values) - min(values)
    scale = linear_scale(min(values) - 0.06 * span - 0.05, max(values) + 0.06 * span + 0.05, count=6)
    x0 = scale.x(0)
    heads = [(x0, "no change", "#333")] + [(scale.x(-g), f"gate {signed(-g, 1)} pt", BAD)
                                            for g in sorted({g for g in gates if g is not None})]
    placed = _place_labels(heads)
    row_h, top = 36, 26 + 13 * max(line for *_, line in placed)
    y_axis = top + row_h * len(entries) + 4
    body = []
    body += _axis(scale, top - 6, y_axis, "points")
    body.append(f'<line x1="{x0:.1f}" y1="{top - 10}" x2="{x0:.1f}" y2="{y_axis}" stroke="#333" stroke-width="1.2"/>')
    for x, text, colour, line in placed:
        body.append(f'<text x="{x:.1f}" y="{top - 13 - 13 * line}" text-anchor="middle" class="sub" '
                    f'style="fill:{colour}">{e(text)}</text>')
    for k, ((_, label, sub, d, ci, p, is_ptq), g) in enumerate(zip(entries, gates, strict=True)):
        y0 = top + row_h * k
        yc = y0 + row_h / 2
        if k % 2:
            body.insert(0, f'<rect x="0" y="{y0}" width="{WIDTH}" height="{row_h}" fill="#f6f7f9"/>')
        if g is not None:
            xg = scale.x(-g)
            # A segment per row: targets whose profiles allow different drops each show their own.
            body.append(f'<line class="gate" data-points="{-g:g}" x1="{xg:.1f}" y1="{y0}" x2="{xg:.1f}" '
                        f'y2="{y0 + row_h}" stroke="{BAD}" stroke-width="1.5" stroke-dasharray="5 3"/>')
        lo_ok = ci[0] if ci else d
        colour = PTQ_COLOR if is_ptq else (REF_COLOR if g is None else GOOD if lo_ok >= -g else
                                           WARN if d >= -g else BAD)
        body.append(_label(8, yc - 2, label, LABEL_W - 16))
        body.append(f'<text x="8" y="{yc + 12:.1f}" class="sub">{e(sub)}</text>')
        if ci:
            xa, xb = scale.x(ci[0]), scale.x(ci[1])
            body.append(f'<line class="ci" x1="{xa:.1f}" y1="{yc}" x2="{xb:.1f}" y2="{yc}" stroke="{colour}" '
                        f'stroke-width="2.5"/><line x1="{xa:.1f}" y1="{yc - 6}" x2="{xa:.1f}" y2="{yc + 6}" '
                        f'stroke="{colour}" stroke-width="2"/><line x1="{xb:.1f}" y1="{yc - 6}" x2="{xb:.1f}" '
                        f'y2="{yc + 6}" stroke="{colour}" stroke-width="2"/>')
        xd = scale.x(d)
        fill = "#fff" if is_ptq else colour
        body.append(f'<rect class="delta" data-points="{d:.6g}" x="{xd - 6:.1f}" y="{yc - 6}" width="12" height="12" '
                    f'transform="rotate(45 {xd:.1f} {yc})" fill="{fill}" stroke="{colour}" stroke-width="2"/>')
        right = points(d, ci)
        pv = pvalue(p)
        body.append(f'<text x="{PLOT_X1 + 10}" y="{yc - 1:.1f}" class="val">{e(right)}</text>')
        if pv != DASH:
            body.append(f'<text x="{PLOT_X1 + 10}" y="{yc + 13:.1f}" class="sub">McNemar p {e(pv)}</text>')
    height = y_axis + 26
    svg = _svg(height, body, cls="forest", label="top-1 change per target with 95% interval")
    method = next(((r.get("accuracy") or {}).get("ci_method") for r, *_ in entries
                   if (r.get("accuracy") or {}).get("ci_method")), None)
    gate_note = (" Dashed red line: the largest top-1 drop the target's gate allows; green: the whole interval "
                 "is within it, amber: the change is within it but the interval reaches past it, red: beyond it."
                 if any(g is not None for g in gates) else "")
    unrecorded = sorted({str(r.get("target", "?")) for (r, *_), g in zip(entries, gates, strict=True) if g is None})
    if unrecorded and report.get("kind", "convert") == "convert":  # eval/bench artifacts have no profile
        gate_note += (f" No gate line for {', '.join(unrecorded)}: the report records no gate thresholds "
                      f"(schema {report.get('schema_version')}; convert records them since 1.2).")
    caption = ("Top-1 of each target minus its float reference on the same images, in percentage points; "
               "diamond: measured change, bar: 95% interval" + (f" ({method})" if method else "") + "." + gate_note)
    skipped = _skipped(report, {str(r.get("target", "?")) for r, *_ in entries}, "accuracy change measured")
    return (f'<section><h2>Accuracy change against float</h2><figure>{svg}'
            f'<figcaption>{e(caption)}</figcaption></figure>{skipped}</section>')


def _place_labels(labels: list[tuple[float, str, str]]) -> list[tuple[float, str, str, int]]:
    """Centred labels above a plot, each on the lowest line where it touches no other: (x, text, colour, line)."""
    lines: list[list[tuple[float, float]]] = []
    out = []
    for x, text, colour in sorted(labels):
        half = len(text) * 3.1 + 4  # 11-unit glyphs are about 6.2 wide
        x = min(max(x, PLOT_X0 - 20 + half), PLOT_X1 + 60 - half)
        line = next((i for i, spans in enumerate(lines) if all(x + half < a or x - half > b for a, b in spans)),
                    len(lines))
        if line == len(lines):
            lines.append([])
        lines[line].append((x - half, x + half))
        out.append((x, text, colour, line))
    return out


def _pct(x) -> str:
    x = num(x)
    return DASH if x is None else f"{x * 100:.2f}%"


def top1_plot(report: dict) -> str:
    """Eval without a reference: top-1 (and top-5) per artifact as bars, when no change can be drawn."""
    groups = []
    for r in report.get("targets") or []:
        acc = r.get("accuracy") or {}
        bars = [(lbl, num(acc.get(k)), c) for k, lbl, c in (("top1", "top-1", CAND_COLOR), ("top5", "top-5", REF_COLOR))
                if num(acc.get(k)) is not None]
        if r.get("status") == "ok" and bars:
            groups.append((str(r.get("target", "?")), [(lbl, v * 100, c, f"{v * 100:.2f}%") for lbl, v, c in bars], ""))
    if not groups:
        return ""
    svg = bar_chart(groups, linear_scale(0, 100, count=5), unit="%", cls="top1")
    return f'<section><h2>Accuracy</h2><figure>{svg}</figure></section>'


# --- sizes ---------------------------------------------------------------------------------------------

def bar_chart(groups: list[tuple[str, list[tuple[str, float, str, str]], str]], scale: Scale, *, unit: str,
              cls: str) -> str:
    """groups: (name, [(bar label, value, colour, value text)], right-hand note)."""
    bar_h, gap, top, head = 16, 12, 10, 20
    body, y = [], top
    for name, bars, note in groups:
        body.append(_label(8, y + 14, name, LABEL_W + 300, cls="name"))
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
            body.append(_label(20, yb + 12.5, lbl, LABEL_W - 28, cls="sub"))
        y += len(bars) * (bar_h + 4) + gap
    y_axis = y - gap + 8
    body = [*_axis(scale, top - 4, y_axis, unit)[1:], *body,
            f'<line x1="{PLOT_X0}" y1="{y_axis}" x2="{PLOT_X1}" y2="{y_axis}" stroke="{AXIS}"/>']
    return _svg(y_axis + 26, body, cls=cls, label=f"{cls} chart")


def size_section(report: dict) -> str:
    groups = []
    for r in report.get("targets") or []:
        size = num(r.get("size_bytes"))
        if size is None or r.get("status") != "ok":
            continue
        bars = []
        ref = r.get("reference") or {}
        ref_size = num(ref.get("size_bytes"))
        if ref_size is not None:
            bars.append((f"float · {ref.get('target', 'reference')}", ref_size / 1e6, REF_COLOR, mb(ref_size)))
        bars.append((str(r.get("precision") or "artifact"), size / 1e6, CAND_COLOR, mb(size)))
        rr = num(r.get("size_ratio"))
        note = "" if rr is None or rr <= 0 else (f"{rr:.1f}× smaller" if rr >= 1 else f"{1 / rr:.1f}× larger")
        groups.append((str(r.get("target", "?")), bars, note))
    if not groups:
        return ""
    top = max(v for _, bars, _ in groups for _, v, _, _ in bars)
    svg = bar_chart(groups, linear_scale(0, top, count=5), unit="MB", cls="size")
    skipped = _skipped(report, {n for n, _, _ in groups}, "size")
    return f'<section><h2>Size on disk</h2><figure>{svg}</figure>{skipped}</section>'


# --- page ----------------------------------------------------------------------------------------------

CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
 "Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:24px;margin:0 0 2px;overflow-wrap:anywhere}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #e3e6ea}
.kind{color:#5f6670;font-size:13px;text-transform:uppercase;letter-spacing:.06em}
.verdict{display:inline-block;margin:10px 0 4px;padding:4px 10px;border-radius:6px;font-weight:600}
.verdict.ok{background:#e6f4ea;color:#1e6b36}.verdict.failed{background:#fbe9e7;color:#a12a1d}
.facts{display:flex;flex-wrap:wrap;gap:6px 8px;margin:10px 0 0;padding:0;list-style:none}
.facts li{background:#f1f3f5;border-radius:6px;padding:3px 9px;font-size:13px;overflow-wrap:anywhere}
.facts b{color:#5f6670;font-weight:600;margin-right:4px}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{padding:5px 7px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{background:#f6f7f9;font-weight:600;color:#3d444d}
th:first-child,td:first-child,th.l,td.l{text-align:left}
td{font-variant-numeric:tabular-nums}
td.name{font-weight:600}td.name.long{white-space:normal;overflow-wrap:anywhere;min-width:12em}
td small{display:block;color:#5f6670;font-size:11.5px}
tbody tr:nth-child(even){background:#fafbfc}
.st{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600}
.st.ok{background:#e6f4ea;color:#1e6b36}.st.failed{background:#fbe9e7;color:#a12a1d}
.st.warn{background:#fff4d6;color:#7a5600}
figure{margin:6px 0 14px}
figcaption,.muted{color:#5f6670;font-size:12.5px}
svg.plot{display:block;max-width:100%;height:auto;font-family:system-ui,-apple-system,"Segoe UI",Roboto,
 "Noto Sans","DejaVu Sans",sans-serif}
svg .tick{font-size:11px;fill:#5f6670}
svg .lbl{font-size:12.5px;fill:#1f2328}
svg .name{font-size:14px;font-weight:700;fill:#1f2328}
svg .sub{font-size:11px;fill:#5f6670}
svg .val{font-size:12px;fill:#1f2328;font-variant-numeric:tabular-nums}
svg .inbar{font-size:12px;fill:#fff;font-weight:600}
.legend{font-size:12.5px;color:#3d444d;margin:4px 0 8px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}
.sw:first-child{margin-left:0}
ul.notes{padding-left:20px;margin:6px 0}ul.notes li{margin:3px 0;overflow-wrap:anywhere}
li.fail{color:#a12a1d}
dl.host{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:6px 0;font-size:13px}
dl.host dt{color:#5f6670}dl.host dd{margin:0;overflow-wrap:anywhere}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f5;padding:1px 4px;
 border-radius:4px;overflow-wrap:anywhere}
footer{margin-top:28px;color:#8a919a;font-size:12px}
"""


def _status_cell(word: str) -> str:
    cls = "ok" if word.startswith("ok") else "failed" if word == "failed" else "warn"
    return f'<span class="st {cls}">{e(word)}</span>'


def _two_line(text: str) -> str:
    """'0.67 MB (3.6× smaller)' → the value, and its interval or remark on a smaller second line, so
    the table fits a laptop screen."""
    for sep in (" [", " ("):
        head, found, tail = text.partition(sep)
        if found and head:
            return f"{e(head)}<small>{e(found.strip() + tail)}</small>"
    return e(text)


def _html_table(headers: list[str], rows: list[list[str]], *, keep: int = 2) -> str:
    cols = used_columns(rows, len(headers), keep=keep)
    head = "".join(f'<th{" class=l" if i < keep else ""}>{e(headers[i])}</th>' for i in cols)
    body = []
    for r in rows:
        cells = []
        for i in cols:
            if i == 0:
                cells.append(f'<td class="name{" long" if len(r[0]) > 36 else ""}">{e(r[0])}</td>')
            elif i == 1 and keep > 1:
                word, _, more = r[1].partition(" · ")
                cells.append(f"<td class=l>{_status_cell(word)}" + (f"<small>{e(more)}</small>" if more else "")
                             + "</td>")
            else:
                cells.append(f"<td>{_two_line(r[i])}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def summary_section(report: dict) -> str:
    kind = report.get("kind", "convert")
    targets = report.get("targets") or []
    if not targets:
        return '<section><h2>Summary</h2><p class="muted">No targets in this report.</p></section>'
    parts = [_html_table(*TABLES.get(kind, convert_table)(report))]
    headers, rows = ptq_table(report)
    if rows:
        parts.append('<h3>QAT against post-training quantization</h3>' + _html_table(headers, rows, keep=1))
    items = []
    for r in targets:
        if r.get("status") != "ok":
            items.append(f'<li class="fail"><b>{e(str(r.get("target", "?")))}</b> failed: '
                         f'{e(failure_text(r))}</li>')
    for r in targets:
        for note in row_notes(r):
            items.append(f'<li><b>{e(str(r.get("target", "?")))}</b>: {e(note)}</li>')
    if items:
        parts.append('<ul class="notes">' + "".join(items) + "</ul>")
    return '<section><h2>Summary</h2>' + "".join(parts) + "</section>"


def host_section(report: dict) -> str:
    host = report.get("host") or {}
    facts = []
    if host:
        facts.append(("CPU", host_text(host)))
        isa = host.get("isa") or {}
        if isa:
            has = ", ".join(k for k, v in isa.items() if v) or "none of those checked"
            lacks = ", ".join(k for k, v in isa.items() if not v)
            facts.append(("ISA", f"has {has}" + (f" · lacks {lacks}" if lacks else "")))
        for key, label in (("machine", "machine"), ("os", "OS"), ("python", "Python")):
            if host.get(key):
                facts.append((label, str(host[key])))
    engines = []
    for r in report.get("targets") or []:
        eng = r.get("engine") or {}
        if eng.get("engine") or eng.get("version"):
            engines.append(f"{r.get('target', '?')}: {eng.get('engine', '')} {eng.get('version', '')}".strip())
    if engines:
        facts.append(("engines", "; ".join(dict.fromkeys(engines))))
    data = report.get("data") or {}
    ev = data.get("evaluation") or {}
    if ev.get("fingerprint"):
        facts.append(("data fingerprint", f"sha256 {ev['fingerprint']}"))
    settings = {k: v for k, v in (report.get("settings") or {}).items() if v is not None and k != "stop_rule"}
    if settings:
        facts.append(("settings", ", ".join(f"{k} {v}" for k, v in settings.items())))
    rule = (report.get("settings") or {}).get("stop_rule")
    if rule:
        facts.append(("stopping rule", str(rule)))
    model = report.get("model") or {}
    if model.get("input_shape"):
        shape = "×".join(str(v) for v in model["input_shape"])
        facts.append(("input", f"{shape} {model.get('layout', '')}".strip()))
    artifacts = [(str(r.get("target", "?")), str(r["artifact"])) for r in report.get("targets") or []
                 if r.get("artifact") and str(r["artifact"]) != str(r.get("target"))]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    dl += "".join(f"<dt>{e(k)}</dt><dd><code>{e(v)}</code></dd>" for k, v in artifacts)
    if not dl:
        return ""
    return f'<section><h2>Host, settings and artifacts</h2><dl class="host">{dl}</dl></section>'


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; nothing fetched, nothing run)."""
    check_schema(report)
    kind = str(report.get("kind", "convert"))
    targets = report.get("targets") or []
    failed = [r for r in targets if r.get("status") != "ok"]
    ok = not failed and report.get("status", "ok") == "ok"
    model = model_text(report.get("model"))
    host = report.get("host") or {}
    noun = "target" if kind == "convert" else "artifact"
    many = f"{noun}s" if len(targets) != 1 else noun
    verdict = ((f"all {len(targets)} {many} ok" if len(targets) > 1 else f"{len(targets)} {many} ok") if ok else
               f"{len(failed)} of {len(targets)} {many} failed" if failed else "failed")
    data = report.get("data") or {}
    facts = [("host", f"{host_text(host)} · {isa_text(host)}")]
    if kind == "bench" and not data.get("evaluation"):
        if data.get("latency_input"):
            facts.append(("input", str(data["latency_input"])))
    else:
        facts.append(("data", data_text(data)))
    ref = report.get("reference")
    if isinstance(ref, dict) and (ref.get("target") or ref.get("artifact")):
        facts.append(("reference", str(ref.get("target") or ref.get("artifact"))))
    tool = report.get("tool") or {}
    head = (f'<header><div class="kind">edge-inception {e(kind)} report</div><h1>{e(model)}</h1>'
            f'<div class="verdict {"ok" if ok else "failed"}">{"✓" if ok else "✗"} {e(verdict)}</div>'
            '<ul class="facts">' + "".join(f"<li><b>{e(k)}</b>{e(v)}</li>" for k, v in facts) + "</ul></header>")
    sections = [summary_section(report), forest_plot(report)]
    if not any((r.get("accuracy") or {}).get("delta_points") is not None for r in targets):
        sections.append(top1_plot(report))
    sections += [latency_section(report), size_section(report), host_section(report)]
    foot = f"{tool.get('name', 'edge-inception')} {tool.get('version', '')}".strip()
    if report.get("created"):
        foot += f" · {report['created']}"
    foot += f" · report.json schema {report.get('schema_version')}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(model)} · edge-inception {e(kind)}</title><style>{CSS}</style></head>"
            f"<body><main>{head}{''.join(sections)}<footer>{e(foot)}</footer></main></body></html>\n")
