"""The Pareto front of a sweep (top-1 change up, latency down, size down) and its SVG scatter plot.

    front = pareto_front(rows)              # cell ids no other cell (on the same device) beats on all three
    svg_text = pareto_plot(rows, front)     # latency (x) vs top-1 change (y); marker area ~ size

A cell is on the front when no other cell measured on the same device is at least as good on all three
objectives and better on one; each device (and the cells' own hosts) has its own front and plot.
Only cells with all three figures take part; the others are listed under the plot.
"""

from __future__ import annotations

import math

from edge_inception.report.numbers import mb, ms, signed
from edge_inception.report.svg import AXIS, CAND_COLOR, GRID, MUTED, REF_COLOR, WIDTH, e, svg


def objectives(row: dict) -> tuple[float, float, float] | None:
    """(top-1 change in points, candidate p50 latency ms, size bytes), or None where one is missing."""
    if row.get("status") != "ok":
        return None
    delta = (row.get("accuracy") or {}).get("delta_points")
    lat = (row.get("latency") or {}).get("p50_ms")
    size = row.get("size_bytes")
    if not all(isinstance(v, (int, float)) for v in (delta, lat, size)):
        return None
    return float(delta), float(lat), float(size)


def _dominates(a: tuple, b: tuple) -> bool:
    better_eq = a[0] >= b[0] and a[1] <= b[1] and a[2] <= b[2]
    return better_eq and (a[0] > b[0] or a[1] < b[1] or a[2] < b[2])


def pareto_front(rows: list[dict]) -> list[str]:
    """The front of each device's rows (the cells' own hosts are one group): a latency on one device is
    not comparable with another's, so a cell is on the front of the device it was measured on."""
    front = []
    for group in by_device(rows).values():
        points = {r["cell"]["id"]: o for r in group if (o := objectives(r)) is not None}
        front += [cid for cid, p in points.items()
                  if not any(_dominates(q, p) for other, q in points.items() if other != cid)]
    return front


def by_device(rows: list[dict]) -> dict[str | None, list[dict]]:
    """Rows grouped by ``cell.device`` (None: measured where the cell was converted), in first-seen order."""
    groups: dict[str | None, list[dict]] = {}
    for r in rows:
        groups.setdefault((r.get("cell") or {}).get("device"), []).append(r)
    return groups


def pareto_plot(rows: list[dict], front: list[str]) -> str:
    pts = [(r["cell"]["id"], o) for r in rows if (o := objectives(r)) is not None]
    if not pts:
        return '<p class="muted">No cell has accuracy, latency and size together: nothing to plot.</p>'
    x0, x1, y_top, y_bot, h = 90, WIDTH - 40, 24, 330, 380
    lats = [o[1] for _, o in pts]
    deltas = [o[0] for _, o in pts]
    sizes = [o[2] for _, o in pts]
    lo, hi = min(lats), max(lats)
    log = hi / lo > 8 if lo > 0 else False
    if hi == lo:
        lo, hi = lo * 0.9, hi * 1.1 + 1e-9

    def fx(v: float) -> float:
        t = (math.log(v / lo) / math.log(hi / lo)) if log else (v - lo) / (hi - lo)
        return x0 + 20 + t * (x1 - x0 - 40)

    dlo, dhi = min([*deltas, 0.0]), max([*deltas, 0.0])
    pad = max(0.25, (dhi - dlo) * 0.1)
    dlo, dhi = dlo - pad, dhi + pad

    def fy(v: float) -> float:
        return y_bot - (v - dlo) / (dhi - dlo) * (y_bot - y_top)

    smax = max(sizes)
    body = [f'<line x1="{x0}" y1="{fy(0):.1f}" x2="{x1}" y2="{fy(0):.1f}" stroke="{AXIS}" stroke-dasharray="4 3"/>',
            f'<line x1="{x0}" y1="{y_bot}" x2="{x1}" y2="{y_bot}" stroke="{AXIS}"/>',
            f'<line x1="{x0}" y1="{y_top}" x2="{x0}" y2="{y_bot}" stroke="{AXIS}"/>']
    for i in range(5):
        v = dlo + (dhi - dlo) * i / 4
        body.append(f'<line x1="{x0}" y1="{fy(v):.1f}" x2="{x1}" y2="{fy(v):.1f}" stroke="{GRID}"/>'
                    f'<text class="tick" x="{x0 - 6}" y="{fy(v) + 4:.1f}" text-anchor="end">{e(signed(v))}</text>')
        lv = lo * (hi / lo) ** (i / 4) if log else lo + (hi - lo) * i / 4
        body.append(f'<text class="tick" x="{fx(lv):.1f}" y="{y_bot + 16}" text-anchor="middle">{e(ms(lv))}</text>')
    body.append(f'<text class="sub" x="{(x0 + x1) / 2}" y="{y_bot + 34}" text-anchor="middle">p50 latency, ms'
                f'{" (log scale)" if log else ""} — left is faster</text>')
    body.append(f'<text class="sub" x="14" y="{(y_top + y_bot) / 2}" transform="rotate(-90 14 {(y_top + y_bot) / 2})" '
                'text-anchor="middle">top-1 change vs float, points — up is better</text>')
    on = [p for p in pts if p[0] in front]
    on.sort(key=lambda p: p[1][1])
    if len(on) > 1:
        path = " ".join(f"{fx(o[1]):.1f},{fy(o[0]):.1f}" for _, o in on)
        body.append(f'<polyline points="{path}" fill="none" stroke="{CAND_COLOR}" stroke-width="1.5"/>')
    for cid, (d, lat, size) in pts:
        r = 4 + 10 * math.sqrt(size / smax)  # area follows size
        colour = CAND_COLOR if cid in front else REF_COLOR
        title = f"{cid}: {signed(d)} pt, {ms(lat)} ms, {mb(size)}"
        body.append(f'<circle cx="{fx(lat):.1f}" cy="{fy(d):.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="0.55" '
                    f'stroke="{colour}"><title>{e(title)}</title></circle>')
        if cid in front:
            body.append(f'<text class="val" x="{fx(lat) + r + 3:.1f}" y="{fy(d) - 3:.1f}">{e(cid)}</text>')
    legend = (f'<div class="legend"><span class="sw" style="background:{CAND_COLOR}"></span>on the Pareto front'
              f'<span class="sw" style="background:{REF_COLOR}"></span>dominated (another cell is at least as good on '
              f'top-1 change, latency and size, and better on one) · marker area ~ size '
              f'<span style="color:{MUTED}">(largest {e(mb(smax))})</span></div>')
    return legend + svg(h, body, cls="pareto", label="Pareto view: latency vs top-1 change, size as marker area")
