"""The plots of the HTML report, each a <section> rendered from the report alone.

    latency_section(report)   # every target beside its float reference on one shared ms axis
    forest_plot(report)       # top-1 change per target with its 95% interval and the row's gate
    top1_plot(report)         # eval without a reference: top-1/top-5 bars
    size_section(report)      # float and int8 sizes

The gate line of the forest plot is the threshold the report recorded per row (``targets[].gate``,
schema 1.2); a row without one is drawn without a line, and the caption says so.
"""

from __future__ import annotations

import math

from edge_inception.report.cells import gate_threshold, latency_stats, reference_label
from edge_inception.report.numbers import DASH, mb, ms, num, pct, points, pvalue, ratio, signed, times
from edge_inception.report.svg import (
    BAD,
    CAND_COLOR,
    CHAR_W,
    GOOD,
    LABEL_W,
    MUTED,
    PLOT_X0,
    PLOT_X1,
    PTQ_COLOR,
    REF_COLOR,
    WARN,
    WIDTH,
    Scale,
    axis,
    bar_chart,
    e,
    label,
    linear_scale,
    log_scale,
    skipped,
    svg,
)

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
    body = [label(8, 18, name, LABEL_W + 200, cls="name")]
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
    body += axis(scale, top - 4, y_axis, "ms")
    for k, s in enumerate(series):
        yc = top + row_h * k + row_h / 2
        role = (("float reference" if s.role == "reference" else "target") if kind == "convert" else
                ("reference" if s.role == "reference" else "artifact"))
        body.append(f'<text x="8" y="{yc - 3:.1f}" class="sub">{e(role)}</text>')
        body.append(label(8, yc + 11, s.label, LABEL_W - 16))
        body += _series_marks(s, scale, yc, row_h)
        right = f"p50 {ms(s.p50)} ms"
        if s.p99 is not None:
            right += f" · p99 {ms(s.p99)}"
        body.append(f'<text x="{PLOT_X1 + 10}" y="{yc + 4:.1f}" class="val">{e(right)}</text>')
    return svg(height, body, cls="latency", label=f"latency of {row.get('target', '?')}",
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
    for key in ("threads", "batch", "runs"):
        if lat.get(key) is not None:
            how.append(f"{key} {lat[key]}")
    if lat.get("stop_reason"):
        how.append(f"stopped: {lat['stop_reason']}")
    how_text = f'<p class="muted">{e(", ".join(how))}</p>' if how else ""
    missing = skipped(report, {str(r.get("target", "?")) for r, _ in rows}, "latency measured")
    return f'<section><h2>Latency per inference</h2>{legend}{plots}{how_text}{missing}</section>'


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
        sub = f"{pct(acc.get('float_top1'))} → {pct(acc.get('top1'))}"
        tag = "QAT" if (r.get("ptq") or r.get("method") == "qat") else ""
        entries.append((r, str(r.get("target", "?")) + (f" · {tag}" if tag else ""), sub, d,
                        _ci(acc.get("delta_ci95")), acc.get("mcnemar_p"), False))
        pacc = (r.get("ptq") or {}).get("accuracy") or {}
        pd = num(pacc.get("delta_points"))
        if pd is not None:
            entries.append((r, f"{r.get('target', '?')} · PTQ", f"{pct(pacc.get('float_top1'))} → "
                            f"{pct(pacc.get('top1'))}", pd, _ci(pacc.get("delta_ci95")), pacc.get("mcnemar_p"), True))
    if not entries:
        return ""
    gates = [gate_threshold(r) for r, *_ in entries]
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
    body += axis(scale, top - 6, y_axis, "points")
    body.append(f'<line x1="{x0:.1f}" y1="{top - 10}" x2="{x0:.1f}" y2="{y_axis}" stroke="#333" stroke-width="1.2"/>')
    for x, text, colour, line in placed:
        body.append(f'<text x="{x:.1f}" y="{top - 13 - 13 * line}" text-anchor="middle" class="sub" '
                    f'style="fill:{colour}">{e(text)}</text>')
    for k, ((_, name, sub, d, ci, p, is_ptq), g) in enumerate(zip(entries, gates, strict=True)):
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
        body.append(label(8, yc - 2, name, LABEL_W - 16))
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
    figure = svg(height, body, cls="forest", label="top-1 change per target with 95% interval")
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
    missing = skipped(report, {str(r.get("target", "?")) for r, *_ in entries}, "accuracy change measured")
    return (f'<section><h2>Accuracy change against float</h2><figure>{figure}'
            f'<figcaption>{e(caption)}</figcaption></figure>{missing}</section>')


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
    figure = bar_chart(groups, linear_scale(0, 100, count=5), unit="%", cls="top1")
    return f'<section><h2>Accuracy</h2><figure>{figure}</figure></section>'


# --- sizes ---------------------------------------------------------------------------------------------

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
        note = times(rr)
        groups.append((str(r.get("target", "?")), bars, note))
    if not groups:
        return ""
    top = max(v for _, bars, _ in groups for _, v, _, _ in bars)
    figure = bar_chart(groups, linear_scale(0, top, count=5), unit="MB", cls="size")
    missing = skipped(report, {n for n, _, _ in groups}, "size")
    return f'<section><h2>Size on disk</h2><figure>{figure}</figure>{missing}</section>'
