"""Measure artifacts that already exist: accuracy and fidelity (`evaluate`), latency and memory (`benchmark`).

    from edge_inception import evaluate, benchmark
    rep = evaluate(["out/m.tflite-int8.tflite"], data="fashion-mnist", reference="out/m.tflite-fp32.tflite")
    rep["targets"][0]["accuracy"]["delta_ci95"]
    rep = benchmark(["out/m.onnx-int8.onnx"], reference="out/m.onnx-fp32.onnx", threads=2)
    rep["targets"][0]["latency"]["ratio_ci95"]

Any file a runtime here runs is accepted (TFLite, ONNX, OpenVINO IR, Keras .keras/.h5/SavedModel,
PyTorch .pt2/TorchScript); its ModelSpec comes from its metadata, so preprocessing matches `convert`.
Both write a schema-1.x report (kind "eval" or "bench") when given ``out``.
"""

from __future__ import annotations

import datetime as _dt
import resource
from pathlib import Path

import numpy as np

from edge_inception import __version__
from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.trust import scoped


def _reference(ref: str | Path, *, framework: str, preprocessing: str | None, threads: int):
    """A reference is an artifact path or a zoo model name; returns (session, spec, description)."""
    from edge_inception.artifacts import open_artifact
    from edge_inception.models import zoo
    from edge_inception.runtimes import get_runtime

    if not Path(ref).exists() and zoo.is_zoo_model(str(ref)):
        from edge_inception.models.loader import load_model
        from edge_inception.models.reference import source_session

        lm = load_model(str(ref), framework=framework, preprocessing=preprocessing)
        return source_session(lm), lm.spec, {"target": f"zoo:{ref} ({lm.kind})", "artifact": f"zoo:{ref}"}
    art = open_artifact(ref, preprocessing=preprocessing)
    return (get_runtime(art.runtime).load(art.path, threads=threads), art.spec,
            {"target": art.label, "artifact": str(art.path), "size_bytes": _size(art.path)})


def _size(path: Path) -> int:
    from edge_inception.formats import artifact_size

    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return artifact_size(path)


def _open_all(artifacts, *, preprocessing, runtime):
    from edge_inception.artifacts import open_artifact

    if isinstance(artifacts, str | Path):
        artifacts = [artifacts]
    if not artifacts:
        raise UsageError("no artifact given", fix="pass one or more model files made by `edge-inception convert`")
    return [open_artifact(a, runtime=runtime, preprocessing=preprocessing) for a in artifacts]


def _check_same_input(arts, ref_spec=None) -> None:
    specs = [(a.path, a.spec) for a in arts]
    first_path, first = specs[0]
    for path, spec in specs[1:] + ([(Path("the reference"), ref_spec)] if ref_spec is not None else []):
        if spec.input_shape != first.input_shape:
            raise InputError(path, f"takes {spec.input_shape} images but {first_path.name} takes {first.input_shape}",
                             fix="compare artifacts of the same model")


def _header(kind: str, arts, settings: dict) -> dict:
    from edge_inception._core.host import host_facts
    from edge_inception.api import REPORT_SCHEMA_VERSION

    spec = arts[0].spec
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "kind": kind,
        "tool": {"name": "edge-inception", "version": __version__},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "model": {**spec.to_dict(), "spec_source": arts[0].spec_source},
        "host": host_facts(),
        "settings": settings,
    }


def _base_row(art) -> dict:
    from edge_inception.runtimes import get_runtime

    rt = get_runtime(art.runtime)
    return {"target": art.label, "format": rt.format, "runtime": art.runtime, "status": "ok", "message": "",
            "artifact": str(art.path), "size_bytes": _size(art.path), "notes": []}


def _check_out(out, force: bool, stem: str) -> None:
    """Before any work: refuse an --out that is a file or cannot be written, or a report there without --force."""
    if out is None:
        return
    from edge_inception._core.outputs import check_output_dir

    out = Path(check_output_dir(out))
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", fix="choose another --out")
    for p in (out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.html"):
        if p.exists() and not force:
            raise InputError(p, "already exists", fix="pass --force to overwrite, or choose another --out")


def _write(report: dict, out, force: bool, stem: str) -> dict:
    if out is None:
        return report
    from edge_inception._core.rollback import rollback_on_failure
    from edge_inception.report.schema import write_report
    from edge_inception.report.views import write_views

    _check_out(out, force, stem)
    out = Path(out)
    path = out / f"{stem}.json"
    with rollback_on_failure(out, protect=[out / f"{stem}{ext}" for ext in (".json", ".md", ".html")]):
        out.mkdir(parents=True, exist_ok=True)
        write_report(report, path)  # validated against the report schema, then written atomically
        report["path"] = str(path)
        views = write_views(report, out, stem=stem)
    report["views"] = {k: str(v) for k, v in views.items()}
    return report


def _classes(session, spec, where) -> int:
    """Run one blank image: the width of the (N, classes) output, or InputError for anything else."""
    y = np.asarray(session.run(spec.model_input(np.zeros((1, *spec.input_shape), np.uint8))))
    if y.ndim != 2:
        raise InputError(where, f"gives output of shape {y.shape}, not class scores (N, classes): a feature map?",
                         fix="evaluate classifiers: the model must end with its classifier")
    return int(y.shape[1])


@scoped
def evaluate(
    artifacts,
    *,
    data: str | Path,
    reference: str | Path | None = None,
    framework: str = "keras",
    limit: int | None = None,
    batch_size: int = 64,
    threads: int = 2,
    preprocessing: str | None = None,
    runtime: str | None = None,
    out: str | Path | None = None,
    force: bool = False,
    device=None,
    accept_new_host_key: bool = False,
    trust_remote_code: bool = False,
) -> dict:
    """Top-1/top-5 of each artifact on labelled ``data``; with ``reference`` (an artifact or a zoo model),
    the change against it with a paired 95% interval, agreement, SQNR and cosine. Unlabelled data needs
    a reference (fidelity only). Data is streamed in batches. ``device`` (a URL or declared name, see
    edge_inception.devices): the artifacts run there, the reference here, and each row gets an output
    check against this machine's run of the same artifact. ``trust_remote_code``: let code inside a
    Keras or .pt2 model file run while it loads (refused by default)."""
    from edge_inception._core.limits import check_ranges
    from edge_inception.data.readers import check_labels, open_source
    from edge_inception.evaluation.accuracy import REFERENCE, stream_scores
    from edge_inception.runtimes import get_runtime

    check_ranges(threads=threads, batch_size=batch_size, limit=limit)
    _check_out(out, force, "eval")
    arts = _open_all(artifacts, preprocessing=preprocessing, runtime=runtime)
    ref = None
    if reference:
        ref = _reference(reference, framework=framework, preprocessing=preprocessing, threads=threads)
    _check_same_input(arts, ref[1] if ref else None)
    src = open_source(data, arts[0].spec, split="test", labelled=False, limit=limit)
    if not src.labelled and ref is None:
        raise InputError(data, "has no labels and no --reference was given",
                         fix="give labelled data (one sub-folder per class) or --reference FLOAT_MODEL for fidelity")
    # Class counts before any work: a reference or labels the artifact cannot match would only show up
    # as a broadcast error, or as a silently wrong top-1. Counted on sessions here, also for a device run.
    local = {a.label: (get_runtime(a.runtime).load(a.path, threads=threads), a.spec) for a in arts}
    classes = {a.label: _classes(local[a.label][0], a.spec, a.path) for a in arts}
    first = arts[0]
    for a in arts[1:] + ([None] if ref else []):
        n = _classes(ref[0], ref[1], reference) if a is None else classes[a.label]
        if n != classes[first.label]:
            raise InputError(reference if a is None else a.path, f"gives {n} classes but {first.label} gives "
                             f"{classes[first.label]}", fix="compare a model with its own float reference")
    check_labels(src, classes[first.label], model=first.label)
    dev_parts = section = None
    if device is not None:
        from edge_inception.devices import resolve_device
        from edge_inception.devices.measure import eval_on_device

        dev = resolve_device(device, accept_new_host_key=accept_new_host_key)
        summaries, fingerprint, dev_parts, section = eval_on_device(dev, arts, src, reference=ref, threads=threads,
                                                                     batch_size=batch_size)
    else:
        summaries, fingerprint = stream_scores(local, src, reference=(ref[0], ref[1]) if ref else None,
                                               batch_size=batch_size, description="evaluating")
    rows = []
    for a in arts:
        row = _base_row(a)
        row.update(dev_parts[a.label] if dev_parts else {"engine": local[a.label][0].facts})
        if ref:
            row["reference"] = ref[2]
            if "size_bytes" in ref[2]:
                row["size_ratio"] = ref[2]["size_bytes"] / row["size_bytes"]
        row["accuracy"] = summaries[a.label]
        rows.append(row)
    report = _header("eval", arts, {"threads": threads, "batch": batch_size, "limit": limit,
                                    **({"device": section["name"]} if section else {})})
    if section:
        report["device"] = section
    report["data"] = {"calibration": None, "evaluation": {"source": src.name, "samples": len(src),
                                                          "labelled": src.labelled, "fingerprint": fingerprint}}
    if ref and REFERENCE in summaries:
        report["reference"] = {**ref[2], "accuracy": summaries[REFERENCE]}
    report["status"] = "ok"
    report["targets"] = rows
    return _write(report, out, force, "eval")


@scoped
def benchmark(
    artifacts,
    *,
    reference: str | Path | None = None,
    framework: str = "keras",
    threads: int = 2,
    batch: int = 1,
    runs: int | None = None,
    min_time: float = 0.0,
    max_time: float = 60.0,
    precision: float = 0.01,
    warmup: int = 5,
    data: str | Path | None = None,
    preprocessing: str | None = None,
    runtime: str | None = None,
    out: str | Path | None = None,
    force: bool = False,
    device=None,
    native: bool = False,
    accept_new_host_key: bool = False,
    trust_remote_code: bool = False,
) -> dict:
    """Latency of each artifact: warm-up, then timed runs until the median is known to ±``precision``
    (or ``runs`` exactly); p50/p90/p99/mean/std, throughput at ``batch``, load + first-inference time,
    memory and file size. With ``reference``, each artifact is interleaved with it (A B A B) and the
    ratio is reported pair by pair. ``device`` (a URL or declared name, see edge_inception.devices):
    timed there by the on-device runner, the statistics computed here alike; ``native`` adds the
    engine's own benchmark tool there as a cross-check."""
    from edge_inception._core.limits import check_ranges
    from edge_inception.evaluation.latency import StopRule

    check_ranges(threads=threads, batch=batch, runs=runs, warmup=warmup, min_time=min_time, max_time=max_time,
                 precision=precision)
    _check_out(out, force, "bench")
    arts = _open_all(artifacts, preprocessing=preprocessing, runtime=runtime)
    rule = StopRule(precision=precision, min_time_s=min_time, max_time_s=max(max_time, min_time))
    ref = section = None
    if reference and device is None:
        ref = _reference(reference, framework=framework, preprocessing=preprocessing, threads=threads)
    _check_same_input(arts, ref[1] if ref else None)
    images = _bench_images(arts[0].spec, batch, data)
    if device is not None:
        from edge_inception.devices.measure import bench_report_parts

        parts, section = bench_report_parts(device, arts, reference=reference, preprocessing=preprocessing,
                                            images=images, threads=threads, runs=runs, rule=rule, warmup=warmup,
                                            native=native, accept_new_host_key=accept_new_host_key)
    rows = []
    for i, a in enumerate(arts):
        row = _base_row(a)
        row.update(parts[i] if section else _load_and_time(a, threads, images, ref, runs, rule, warmup))
        rows.append(row)
    report = _header("bench", arts, {"threads": threads, "batch": batch, "runs": runs, "warmup": warmup,
                                     "stop_rule": None if runs else rule.describe(),
                                     **({"device": section["name"], "native": native} if section else {})})
    if section:
        report["device"] = section
    report["data"] = {"calibration": None, "evaluation": None,
                      "latency_input": str(data) if data else "random uint8 pixels (latency only needs the shape)"}
    report["status"] = "ok"
    report["targets"] = rows
    return _write(report, out, force, "bench")


def _bench_images(spec, batch: int, data) -> np.ndarray:
    if data is None:
        return np.random.default_rng(0).integers(0, 256, (batch, *spec.input_shape), dtype=np.uint8)
    from edge_inception.data.readers import open_source

    src = open_source(data, spec, split="test", labelled=False, limit=None)
    images, _ = next(iter(src.batches(batch)))
    if len(images) < batch:
        images = np.concatenate([images] * (batch // len(images) + 1))[:batch]
    return images


def _load_and_time(art, threads, images, ref, runs, rule, warmup) -> dict:
    import time

    import psutil

    from edge_inception._core.progress import progress
    from edge_inception.evaluation.latency import paired_latency, time_session
    from edge_inception.runtimes import get_runtime

    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    x = art.spec.model_input(images)
    t0 = time.perf_counter()
    session = get_runtime(art.runtime).load(art.path, threads=threads)
    session.run(x)
    load_ms = (time.perf_counter() - t0) * 1e3
    with progress(f"{art.label}: timing"):
        if ref is not None:
            lat = paired_latency(ref[0], session, x, runs=runs, rule=rule, warmup=warmup,
                                 x_reference=ref[1].model_input(images))
            lat["reference_input"] = ref[2]["target"]
        else:
            lat = time_session(session, x, runs=runs, rule=rule, warmup=warmup)
    rss1 = proc.memory_info().rss
    out = {"engine": session.facts, "load_ms": load_ms, "latency": {"threads": threads, **lat},
           "rss_mb": rss1 / 2**20, "rss_delta_mb": (rss1 - rss0) / 2**20,
           # ru_maxrss is the whole process's peak (kB on Linux), loading included.
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if ref is not None:
        out["reference"] = ref[2]
        if "size_bytes" in ref[2]:
            out["size_ratio"] = ref[2]["size_bytes"] / _size(art.path)
    return out
