"""One cell's work, the same in a Ray worker and in this process: convert into a staging folder, write
the reproducibility manifest beside (and into) the artifact, and hand the folder back.

    job = cell_job(cell, sweep, key=key, inputs=inputs)     # plain JSON: what a worker needs
    result = run_cell(job, stage)                          # {'status', 'row', 'files', 'host', 'wall_s', ...}

A failure is the cell's alone: an error edge-inception raises on purpose becomes its one-line message;
anything else becomes 'internal error: Type: first line'. Nothing here raises but Ctrl-C.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from edge_inception.sweep.recipes import recipe_keywords

CELL_OUT = "cell"  # the convert --out inside a cell's folder


def convert_keywords(cell, sweep) -> dict:
    """The convert() keywords that build ``cell`` (what `convert --reproduce` replays)."""
    m = cell.model
    kw: dict = {"targets": [cell.target], "framework": m.framework, "threads": sweep.measure.threads,
                "latency_runs": sweep.measure.latency_runs, "eval_data": sweep.evaluation.data,
                "eval_limit": sweep.evaluation.limit}
    kw.update({k: v for k, v in (("weights", m.weights), ("preprocessing", m.preprocessing),
                                 ("input_shape", tuple(m.input_shape) if m.input_shape else None)) if v is not None})
    kw.update(recipe_keywords(cell.recipe))
    if cell.method is not None and cell.method.method == "qat":
        kw.update(cell.method.model_dump(exclude={"name"}))
    return kw


def cell_job(cell, sweep, *, key: str, inputs: dict) -> dict:
    return {"id": cell.id, "key": key, "model": cell.model.model, "target": cell.target,
            "convert": convert_keywords(cell, sweep), "inputs": inputs}


def manifest(job: dict, *, host: dict) -> dict:
    """The reproducibility manifest: the key, its inputs, the convert keywords, seeds, tool, host."""
    from edge_inception import __version__

    return {"cell": job["id"], "key": job["key"], "model": job["model"], "target": job["target"],
            "convert": job["convert"], "inputs": job["inputs"],
            "seeds": {"eval_subset": 0, "calibration_subset": 0, "numpy": 0},
            "tool": {"name": "edge-inception", "version": __version__}, "host": host}


def run_cell(job: dict, stage: Path) -> dict:
    """Convert the cell into ``stage``; returns the cell's record (also written as stage/cell.json)."""
    from edge_inception._core.host import host_facts
    from edge_inception.api import convert
    from edge_inception.sweep.cache import RECORD, content_sha256

    t0 = time.perf_counter()
    host = {**host_facts(), "hostname": platform.node()}
    record: dict = {"id": job["id"], "key": job["key"], "host": host, "pid": os.getpid()}
    out = stage / CELL_OUT
    kw = {k: v for k, v in job["convert"].items() if v is not None}
    try:
        report = convert(job["model"], out=out, force=True, **kw)
        row = report["targets"][0]
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - a cell fails alone: its reason becomes the row's message
        from edge_inception._core.errors import EdgeInceptionError

        reason = e.message if isinstance(e, EdgeInceptionError) else f"internal error: {type(e).__name__}: " \
            + (str(e).strip().splitlines() or [""])[0][:300]
        record.update(status="failed", row={"target": job["target"], "status": "failed", "message": reason},
                      files={}, wall_s=time.perf_counter() - t0)
        return record
    man = json.loads(json.dumps(manifest(job, host=host)))  # as JSON has it (tuples become lists) everywhere
    if row["status"] == "ok" and row.get("artifact"):
        from edge_inception.sweep.manifest import embed_manifest

        if embed_manifest(Path(row["artifact"]), row["format"], man):  # the artifact carries it too
            _resize(row)
    report["manifest"] = man
    report.pop("path", None), report.pop("views", None)  # staging paths, gone once the folder is committed
    from edge_inception._core.atomic import atomic_write_text

    _relative(row, out)  # the cell's report names its artifacts beside it: the folder moves after this
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    row = json.loads(json.dumps(row))
    for holder in (row, row.get("reference") or {}):  # the record's paths are relative to the cell's folder
        if holder.get("artifact") and not Path(holder["artifact"]).is_absolute() and ":" not in holder["artifact"]:
            holder["artifact"] = f"{CELL_OUT}/{holder['artifact']}"
    files = {str(p.relative_to(stage)): content_sha256(p) for p in sorted(stage.rglob("*")) if p.is_file()}
    record.update(status=row["status"], row=row, manifest=man, files=files,
                  data=report.get("data"), model_info=report.get("model"), wall_s=time.perf_counter() - t0,
                  peak_rss_mb=_peak_rss_mb())
    (stage / RECORD).write_text(json.dumps(record, indent=2) + "\n")
    record["files"] = {**files, RECORD: None}
    return record


def _peak_rss_mb() -> dict:
    """This process's peak RSS so far (a worker that ran earlier cells counts them too: cells_per_worker 1
    makes it this cell's) and that of its largest finished subprocess (litert-torch runs in its own venv)."""
    import resource

    return {"process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "largest_subprocess": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _resize(row: dict) -> None:
    from edge_inception.formats import artifact_size

    row["size_bytes"] = artifact_size(row["artifact"])
    ref = row.get("reference") or {}
    if ref.get("size_bytes"):
        row["size_ratio"] = ref["size_bytes"] / row["size_bytes"]


def _relative(row: dict, folder: Path) -> None:
    for holder in (row, row.get("reference") or {}):
        if holder.get("artifact") and Path(holder["artifact"]).is_absolute():
            p = Path(holder["artifact"])
            if folder in p.parents:
                holder["artifact"] = str(p.relative_to(folder))
