"""Fallback to meet a budget: the fewest groups of layers kept float so that an int8 target is within
``max_drop`` points of float top-1 (and/or agrees with float on ``min_agreement`` of the images).

    plan = meet_budget(build=lambda keep: path, predict=lambda path: logits, ref_logits=..., labels=...,
                       candidates=ranked_groups, budget=Budget(max_drop=0.5), advance=...)
    plan["kept_groups"], plan["kept_layers"], plan["final"]

As NNCF's quantize_with_accuracy_control does, candidates are ranked on the worst-hit images (those whose
int8 logits are furthest from float's): each candidate group is built float on its own and scored by how
much of the error on those images it removes. Groups are then added in that order, each addition checked
on the whole evaluation set, until the budget holds; the last artifact is the one kept (re-verified by the
caller). The candidates come from the diagnosis (the groups holding its worst-ranked layers), so only a
handful of conversions are made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORST_HIT = 64  # images the candidates are ranked on


@dataclass(frozen=True)
class Budget:
    max_drop: float | None = None       # points of top-1
    min_agreement: float | None = None  # share of images with float's top-1

    def holds(self, m: dict) -> bool:
        ok = True
        if self.max_drop is not None:
            ok &= m["drop_points"] is not None and m["drop_points"] <= self.max_drop
        if self.min_agreement is not None:
            ok &= m["agreement"] >= self.min_agreement
        return bool(ok)

    def text(self) -> str:
        parts = []
        if self.max_drop is not None:
            parts.append(f"top-1 drop <= {self.max_drop} points")
        if self.min_agreement is not None:
            parts.append(f"agreement >= {self.min_agreement:.1%}")
        return " and ".join(parts)


def measure(ref_logits: np.ndarray, logits: np.ndarray, labels: np.ndarray | None) -> dict:
    agree = float(np.mean(ref_logits.argmax(1) == logits.argmax(1)))
    drop = None
    if labels is not None:
        ref_top1, top1 = np.mean(ref_logits.argmax(1) == labels), np.mean(logits.argmax(1) == labels)
        drop = round(100 * float(ref_top1 - top1), 4)
    return {"drop_points": drop, "agreement": round(agree, 4)}


def meet_budget(*, build, predict, ref_logits: np.ndarray, labels, candidates, budget: Budget,
                plain_logits: np.ndarray, max_groups: int | None = None, advance=None) -> dict:
    """``build(layers) -> artifact``, ``predict(artifact) -> logits`` on the evaluation set, ``candidates``:
    [Group] in diagnosis order. Returns the plan and the measurements along the way."""
    err = ((plain_logits - ref_logits) ** 2).sum(1)
    worst = np.argsort(err)[::-1][:WORST_HIT]
    base = float(err[worst].sum())
    from edge_inception._core.errors import UsageError

    scored, skipped = [], []
    for g in candidates:
        try:
            path = build(list(g.layers))
        except UsageError as e:  # the backend has no op for it (a layer fused into the output): not a candidate
            skipped.append({"group": g.name, "reason": e.message})
            continue
        logits = predict(path)
        recovered = base - float(((logits[worst] - ref_logits[worst]) ** 2).sum())
        scored.append({"group": g, "recovery": recovered / base if base else 0.0, "artifact": path,
                       "alone": measure(ref_logits, logits, labels)})
        if advance:
            advance(1)
    # Most recovery first; within 5% of it, the smaller group (fewer layers kept float for about as much).
    scored.sort(key=lambda s: (-round(s["recovery"] / 0.05), len(s["group"].layers)))
    kept, steps, final = [], [], {"artifact": None, **measure(ref_logits, plain_logits, labels)}
    for s in scored[: max_groups or len(scored)]:
        if budget.holds(final):
            break
        if s["recovery"] <= 0:  # keeping it float does not help where int8 hurts most: not worth its cost
            continue
        trial = [*kept, s["group"]]
        if len(trial) == 1:
            path, logits_m = s["artifact"], s["alone"]
        else:
            path = build(list(dict.fromkeys(n for g in trial for n in g.layers)))
            logits_m = measure(ref_logits, predict(path), labels)
        steps.append({"groups": [g.name for g in trial], **logits_m})
        if advance:
            advance(1)
        if _better(logits_m, final, budget):  # a group is kept only if the whole evaluation set gains from it
            kept, final = trial, {"artifact": path, **logits_m}
    return {"budget": budget.text(), "met": budget.holds(final), "candidates": [
                {"group": s["group"].name, "kind": s["group"].kind, "layers": list(s["group"].layers),
                 "recovery_on_worst": round(s["recovery"], 4), **s["alone"]} for s in scored],
            "skipped": skipped, "kept_groups": [g.name for g in kept],
            "kept_layers": list(dict.fromkeys(n for g in kept for n in g.layers)),  # groups may overlap
            "steps": steps, "final": final}


def _better(a: dict, b: dict, budget: Budget) -> bool:
    """Closer to the budget by what it asks first (top-1 drop, else agreement), the other breaking ties."""
    keys = ["drop_points", "agreement"] if budget.max_drop is not None else ["agreement", "drop_points"]
    for k in keys:
        if a[k] is None or b[k] is None or a[k] == b[k]:
            continue
        return a[k] < b[k] if k == "drop_points" else a[k] > b[k]
    return False


def candidate_groups(diagnosis_rows: list[dict], groups, *, limit: int = 6) -> list:
    """The groups holding the worst-ranked layers of a diagnosis, worst first, at most ``limit``."""
    by_layer = {}
    for g in groups:
        for n in g.layers:
            by_layer.setdefault(n, g)
    named = {g.name: g for g in groups}
    out = []
    for r in diagnosis_rows:
        # A branch starved by its concatenation's shared scale is helped by that concatenation's group (its
        # module is named after it): with the concatenation float, each branch keeps its own int8 scale (in
        # every backend: LiteRT's goes through ai-edge-quantizer, diagnose/compile.py). Then by its own.
        module = named.get(r["module"]) if r.get("branch") else None
        for g in (module, by_layer.get(r["source_layer"])):
            if g is not None and g not in out:
                out.append(g)
        if len(out) >= limit:
            break
    return out[:limit]
