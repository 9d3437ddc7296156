"""Sweeps: many independent convert-and-measure cells (models x targets x calibration recipes x methods,
measured on the sweep's devices), run on Ray and cached by content hash, in one report.

    import edge_inception as ei
    report = ei.sweep("sweep.toml", out="sweep-out")                 # local Ray sized to this machine
    report = ei.sweep("sweep.toml", out="sweep-out", address="ray://head:10001", rerun=["*/onnx-int8/*"])
    report["sweep"]["pareto"]                                        # the cells on the Pareto front

    edge-inception sweep sweep.toml --out sweep-out [--address HOST:PORT] [--rerun PATTERN] [--serial]

A finished cell is never recomputed: its folder in the cache (``OUT/cache`` unless the sweep file's
[run] cache says otherwise) is keyed by the sha256 of everything its result depends on (cache.py), so
a sweep interrupted by Ctrl-C, a killed worker or a lost node resumes where it stopped when run again.
Each cell carries a reproducibility manifest (cell.py) that ``convert --reproduce`` replays. The file's
keys are in spec.py; the report (report.json of kind 'sweep', report.md, report.html with the Pareto
view) in report.py.
"""

from __future__ import annotations

import fnmatch
import sys
import time
import types
from pathlib import Path

from edge_inception._core.errors import InputError


def sweep(file: str | Path, *, out: str | Path = "edge-inception-sweep", address: str | None = None,
          rerun: list[str] | tuple[str, ...] = (), force: bool = False, serial: bool = False) -> dict:
    """Run every cell of the sweep ``file`` not already in the cache; write ``out/report.json`` (and
    report.md, report.html) and return the report. ``address``: an existing Ray cluster (else
    RAY_ADDRESS, else a local Ray); ``serial``: in this process, one after another (also what happens
    without Ray). ``rerun``: shell patterns of cell ids (model/target/recipe/method) computed again
    even if cached. A failed cell is a row with status 'failed' and its reason; the others go on."""
    from edge_inception._core.outputs import check_output_dir
    from edge_inception._core.progress import progress
    from edge_inception.sweep.cache import CellCache, cell_inputs, cell_key, host_identity, library_versions
    from edge_inception.sweep.cell import cell_job
    from edge_inception.sweep.devices import DeviceRows, prepare_devices
    from edge_inception.sweep.execute import NO_RAY, ray_available, run_jobs
    from edge_inception.sweep.report import build_report, write_sweep_report
    from edge_inception.sweep.spec import expand, load_sweep

    spec = load_sweep(file)
    cells = expand(spec)  # unknown targets are refused here, before any work
    out = check_output_dir(out)
    report_path = out / "report.json"
    if report_path.exists() and not force:
        raise InputError(report_path, "already exists", fix="pass --force to write the sweep's report again "
                         "(cached cells are reused), or choose another --out")
    devices = prepare_devices(spec, path=Path(file))  # each reached before any work: exit 2 if one cannot be
    cache = CellCache(spec.run.cache or out / "cache")
    versions, host = library_versions(), host_identity()
    evaluation = {m.label: _eval_fingerprint(m, spec) for m in spec.model_entries()}
    keyed = []
    for cell in cells:
        inputs = cell_inputs(cell, spec, evaluation=evaluation[cell.model.label], versions=versions, host=host)
        keyed.append((cell, cell_key(inputs), inputs))
    ids = [c.id for c, _, _ in keyed] + [f"{c.id}@{d.name}" for c, _, _ in keyed for d in devices]
    forced = {i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in rerun)}
    cached = {key: rec for c, key, _ in keyed if c.id not in forced and (rec := cache.lookup(key)) is not None}
    jobs, seen = [], set(cached)
    for cell, key, inputs in keyed:
        if key not in seen:  # two cells with the same inputs are one computation
            seen.add(key)
            jobs.append(cell_job(cell, spec, key=key, inputs=inputs))
    on_devices = DeviceRows(keyed, devices, spec, cache=cache, forced=forced,
                            eval_refs={m.label: _eval_ref(m, spec) for m in spec.model_entries()})
    cache.clear_staging({j["key"] for j in jobs} | on_devices.pending_keys)
    backend = "serial" if serial or not ray_available() else "ray"
    why = f": {NO_RAY}" if backend == "serial" and not serial else ""
    print(f"sweep: {len(cells)} cells, {len(cells) - len(jobs)} cached, {len(jobs)} to run ({backend}{why})"
          + on_devices.summary(), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    fresh: dict[str, dict] = {}
    with progress("sweep: running cells", total=len(jobs)) as advance:
        for record in run_jobs(jobs, cache, run=spec.run, address=address, serial=serial):
            fresh[record["key"]] = record
            status = record["status"] if record["status"] == "ok" else f"failed: {record['row'].get('message', '')}"
            print(f"  {record['id']}: {status}", file=sys.stderr, flush=True)
            advance(1)
            on_devices.conversion_done(record)  # measured on each device now, while Ray converts the rest
    on_devices.finish(cached)  # cached conversions a device has not measured yet
    wall = time.perf_counter() - t0
    report = build_report(keyed, cached=cached, fresh=fresh, cache=cache, spec=spec, file=Path(file),
                          backend=backend, wall_s=wall, devices=on_devices)
    write_sweep_report(report, out)
    return report


def _eval_ref(model, spec) -> str | None:
    """What convert evaluates a cell on: the sweep's data, else the shipped sample for a zoo model."""
    from edge_inception.models import zoo

    ref = spec.evaluation.data
    if ref is None and zoo.is_zoo_model(model.model) and not Path(model.model).exists():
        ref = "sample:evaluation"
    return ref


def _eval_fingerprint(model, spec) -> dict | None:
    from edge_inception.sweep.cache import data_fingerprint

    return data_fingerprint(_eval_ref(model, spec), split="test", limit=spec.evaluation.limit)


class _CallableModule(types.ModuleType):
    """`edge_inception.sweep` is both this package and the public function: once the package is
    imported, Python sets the attribute on edge_inception to the package, so the package calls through."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
