"""The steps `convert` takes for diagnosis and fallback, kept here so the pipeline (api.py) only calls them.

    keep = plan_layers(ctx, target)                   # --keep-float patterns -> source layers (with groups)
    violations = exempt(violations, info, graph, keep) # profile rules a kept-float layer breaks on purpose
    built, fallback = meet_target_budget(ctx, target, built, ref_session)   # --max-drop / --min-agreement
    write_diagnosis(report, ctx)                      # --diagnose: out/diagnose.json and report['diagnose']
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from edge_inception._core.errors import TargetFailed
from edge_inception.diagnose.keep import KeepFloat


def graph_of(ctx):
    from edge_inception.diagnose.names import SourceGraph

    if getattr(ctx, "_diagnose_graph", None) is None:
        ctx._diagnose_graph = SourceGraph.of(ctx.lm)
    return ctx._diagnose_graph


def check_options(lm, fallback) -> None:
    """Before any work: the source is one diagnosis reads, and every --keep-float pattern names a layer."""
    from edge_inception._core.errors import UsageError
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.plan import resolve_keep_float

    if lm.kind not in ("keras", "tf_keras", "torch"):
        raise UsageError(f"--diagnose, --keep-float, --max-drop and --min-agreement read Keras and PyTorch source "
                         f"models; this one is {lm.kind}", fix="convert without them, or from the Keras model")
    if fallback.keep_float:
        resolve_keep_float(fallback.keep_float, SourceGraph.of(lm))


def plan_layers(ctx, target):
    """The layers --keep-float names (each with its group), or None when none is asked for."""
    from edge_inception.diagnose.plan import expand_groups, refuse_fallback, resolve_keep_float

    pats = ctx.fallback.keep_float
    if not pats or not target.is_quantized:
        return None
    refuse_fallback(target)
    graph = graph_of(ctx)
    return KeepFloat(expand_groups(resolve_keep_float(pats, graph), graph))


def exempt(violations: list[str], info: dict, graph, keep) -> list[str]:
    """Drop the precision rules broken by layers the plan keeps float (a full_integer profile on the CPU
    allows float kernels there by the user's choice); every other rule still applies."""
    if not keep:
        return violations
    kept = info.get("keep_float", {})
    names = {n for k in ("no_quantize_ops", "nodes_to_exclude", "ignored_scope", "pt2e_module_names")
             for n in kept.get(k, [])}
    keep = set(keep)
    out = []
    for v in violations:
        quoted = re.findall(r"'([^']+)'", v)
        precision = "unquantized" in v or "full_integer" in v or "full-integer" in v
        # The (DE)QUANTIZE ops at the edges of a float region are the plan's own machinery.
        boundary = v.startswith(("operator QUANTIZE ", "operator DEQUANTIZE "))
        if precision and (boundary or any(q in names or graph.layer_for(q) in keep for q in quoted)):
            continue
        out.append(v)
    return out


def meet_target_budget(ctx, target, built: dict, ref_session) -> tuple[dict, dict | None]:
    """--max-drop / --min-agreement for one int8 target: the fewest fallback groups that meet the budget on
    the evaluation set; the chosen artifact replaces the plain one at its planned path."""
    from edge_inception._core.progress import progress
    from edge_inception.diagnose.plan import fallback_groups, refuse_fallback
    from edge_inception.diagnose.run import diagnose_artifact
    from edge_inception.diagnose.search import Budget, candidate_groups, measure, meet_budget
    from edge_inception.evaluation.accuracy import predict
    from edge_inception.formats import artifact_files, artifact_path
    from edge_inception.runtimes import get_runtime

    fb = ctx.fallback
    if (fb.max_drop is None and fb.min_agreement is None) or not target.is_quantized:
        return built, None
    if ctx.eval_src is None:
        raise TargetFailed(f"{target.name}: --max-drop/--min-agreement need labelled evaluation data (--eval-data)")
    refuse_fallback(target)
    if ctx.qat is not None:
        from edge_inception._core.errors import UsageError

        raise UsageError("--max-drop/--min-agreement search post-training quantization plans",
                         fix="drop --method qat, or keep layers float by hand with --keep-float on a PTQ run")
    budget = Budget(max_drop=fb.max_drop, min_agreement=fb.min_agreement)
    runtime = get_runtime(target.runtime)

    def logits_of(path):
        out, labels, _ = predict({"c": runtime.load(path, threads=ctx.threads)}, ctx.eval_src, ctx.lm.spec,
                                 description=f"{target.name}: evaluating a fallback plan")
        return out["c"]

    ref, labels, _ = predict({"r": ref_session}, ctx.eval_src, ctx.lm.spec, description=f"{target.name}: float")
    ref = ref["r"]
    plain = logits_of(built["artifact"])
    plain_m = measure(ref, plain, labels)
    graph = graph_of(ctx)
    info = {"budget": budget.text(), "plain": plain_m}
    if budget.holds(plain_m):
        return built, {**info, "met": True, "kept_groups": [], "kept_layers": [],
                       "note": "the plain int8 artifact meets it"}
    d = diagnose_artifact(built["artifact"], lm=ctx.lm, graph=graph, source=ctx.eval_src, samples=64,
                          threads=ctx.threads, label=f"{target.name}: diagnosing for the fallback plan")
    ctx.__dict__.setdefault("_fallback_diagnoses", {})[target.name] = d  # report.html draws it (write_diagnosis)
    candidates = candidate_groups(d["layers"], fallback_groups(graph))
    work = Path(ctx.out) / f".fallback-{target.name}"
    work.mkdir(exist_ok=True)
    infos: dict[Path, dict] = {}

    def build(layers):
        from edge_inception.quantizers import quantize

        dest = artifact_path(work, f"candidate{len(infos) + 1}", target.format)
        infos[dest] = quantize(ctx.lm, dest, target=target, calibration=ctx.calib, keep_float=KeepFloat(layers))
        return dest

    try:
        with progress(f"{target.name}: fallback search", total=2 * len(candidates)) as advance:
            plan = meet_budget(build=build, predict=logits_of, ref_logits=ref, labels=labels, candidates=candidates,
                               budget=budget, plain_logits=plain, advance=advance)
        chosen = plan["final"]["artifact"]
        if chosen is not None:
            dest = Path(built["artifact"])
            plain_size = sum(p.stat().st_size for p in artifact_files(dest))
            for src in artifact_files(chosen)[1:]:  # companions first (an IR's .bin), then the file readers open
                os.replace(src, dest.with_suffix(src.suffix))
            os.replace(chosen, dest)
            from edge_inception.formats import artifact_size, embed_spec
            from edge_inception.validate import validate

            embed_spec(dest, target.format, ctx.lm.spec)  # as for every artifact of the run
            # Re-verified against the profile like the plain one; only the kept layers' precision is exempt.
            violations = exempt(validate(dest, target), infos[chosen], graph, plan["kept_layers"])
            plan["verification"] = {"ok": not violations, "violations": violations}
            plan["compiled"] = infos[chosen].get("keep_float", {})

            plan["size_bytes_plain"], plan["size_bytes"] = plain_size, artifact_size(dest)
            quantized = sum(1 for lay in graph.order if lay.kind in ("conv", "dense"))
            kept_macs = sum(1 for n in plan["kept_layers"] if graph.layers[n].kind in ("conv", "dense"))
            plan["kept_share_of_quantized_layers"] = round(kept_macs / quantized, 4) if quantized else None
        plan["final"].pop("artifact", None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return built, {**info, **plan}


def write_diagnosis(report: dict, ctx) -> None:
    """--diagnose: every int8 artifact of the run against the source model: the full diagnosis in
    out/diagnose.json, and under report["diagnose"] what report.html and report.md draw (schema 1.4).
    --max-drop/--min-agreement alone: the diagnoses its search made of the plain int8 artifacts."""
    from edge_inception.diagnose.api import diagnose

    rows = [r for r in report["targets"] if r.get("status") == "ok" and r.get("precision") == "int8"]
    if not rows:
        return
    if not ctx.fallback.diagnose:
        _searched_diagnoses(report, ctx, rows)
        return
    src = ctx.eval_src if ctx.eval_src is not None else (ctx.calib.source if ctx.calib else None)
    result = diagnose([r["artifact"] for r in rows], reference=ctx.lm, data=src, samples=100, out=ctx.out,
                      force=True, threads=ctx.threads, html=False)
    report["diagnose"] = for_report(result, targets=[r["target"] for r in rows])
    report["diagnose"]["path"] = str(Path(ctx.out) / "diagnose.json")


def _searched_diagnoses(report: dict, ctx, rows: list[dict]) -> None:
    from edge_inception.diagnose.findings import findings

    done = getattr(ctx, "_fallback_diagnoses", {})
    rows = [r for r in rows if r["target"] in done]
    if not rows:  # every target met the budget as it was: nothing was diagnosed
        return
    graph = graph_of(ctx)
    runtimes = []
    for r in rows:
        d = dict(done[r["target"]])
        d["findings"] = findings(d, graph)
        d["reference"] = f"{ctx.lm.source} (the plain int8 artifact, before the fallback plan)"
        runtimes.append(d)
    result = {"data": {"source": ctx.eval_src.name, "samples": runtimes[0]["samples"]},
              "modules": [{"name": m["name"], "branches": len(m["branches"])} for m in graph.modules],
              "runtimes": runtimes}
    report["diagnose"] = for_report(result, targets=[r["target"] for r in rows])


_STATS = ("sqnr_db", "cosine", "rmse_per_step", "clipped")


def for_report(result: dict, *, targets: list[str] | None = None) -> dict:
    """What the report views read of a diagnosis: each row's place, score and headline statistics (the
    full statistics stay in diagnose.json)."""
    def trim(stats):
        return {k: stats[k] for k in _STATS if k in (stats or {})}

    runtimes = []
    for i, rt in enumerate(result["runtimes"]):
        layers = []
        for r in rt["layers"]:
            row = {k: r.get(k) for k in ("rank", "source_layer", "module", "branch", "artifact_tensor", "op",
                                         "name_map", "depth", "score_db")}
            if "local" in r:
                row["local"], row["accumulated"] = trim(r["local"]), trim(r["accumulated"])
            if r.get("branches"):
                row["branches"] = [{"input": b["input"], "local": trim(b["local"]),
                                    "accumulated": trim(b["accumulated"])} for b in r["branches"]]
            layers.append(row)
        runtimes.append({"target": targets[i] if targets else None, "runtime": rt["runtime"],
                         "artifact": rt["artifact"], "reference": rt.get("reference"),
                         "quantized_tensors": rt["quantized_tensors"], "mapped": rt["mapped"],
                         "output": rt["output"], "wall_s": rt["wall_s"], "layers": layers,
                         "findings": rt.get("findings", []), "notes": rt.get("notes", [])})
    return {"samples": result["data"]["samples"], "data": result["data"], "modules": result["modules"],
            "runtimes": runtimes,
            "worst": {rt["runtime"]: rt["layers"][0]["source_layer"] for rt in result["runtimes"] if rt["layers"]}}
