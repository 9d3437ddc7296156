"""Running cells: on Ray when it is installed (a local instance sized to this machine, or the cluster
at ``address`` / RAY_ADDRESS), else one after another in this process.

    for record in run_jobs(jobs, cache, run=sweep.run, address=None):
        ...                                   # each finished cell, already committed to the cache

Each Ray task declares the CPUs and memory of one cell (the sweep file's [run]), so Ray never starts
more conversions than fit. A worker exits after ``cells_per_worker`` cells, handing TensorFlow's and
the converters' memory back. Artifacts reach the cache by shared storage where the worker sees the
cache folder (it renames its finished folder into place), else as numpy arrays in Ray's object store,
which the driver writes straight from shared memory to disk. The driver's PYTHONPATH travels to the
workers (runtime_env), so a cluster started from a development checkout runs that checkout's code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from edge_inception.sweep.cache import RECORD, CellCache

NO_RAY = ("Ray is not installed: cells run one after another in this process "
          "(pip install 'ray>=2.9', or pip install -e '.[all]', runs them in parallel, here or on a cluster)")


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _worker_env() -> dict:
    env = {"EDGE_INCEPTION_QUIET": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def run_serial(jobs: list[dict], cache: CellCache) -> Iterator[dict]:
    from edge_inception.sweep.cell import run_cell

    for job in jobs:
        # A converter's prints ("Saved artifact at ...") go to stderr: stdout is the table or the JSON.
        with cache.staging(job["key"]) as stage, contextlib.redirect_stdout(sys.stderr):
            record = run_cell(job, stage)
            if record["status"] == "ok":
                cache.commit(stage, job["key"])
        record["node"] = "local"
        yield record


def _remote_cell(job: dict, staging_root: str, probe: tuple[str, str], transfer: str) -> dict:
    """A Ray task: the cell in a staging folder of the shared cache, or a local one whose files come
    back through the object store."""
    import shutil
    import tempfile

    import numpy as np
    import ray

    from edge_inception.sweep.cell import run_cell

    probe_path = Path(probe[0])
    shared = transfer == "shared" or (transfer == "auto" and probe_path.is_file()
                                      and probe_path.read_text() == probe[1])
    root = Path(staging_root) if shared else Path(tempfile.mkdtemp(prefix="edge-inception-cell-"))
    stage = root / f"{job['key']}.{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True)
    node = ray.get_runtime_context().get_node_id()
    try:
        record = run_cell(job, stage)
        record["node"] = node
        if shared and record["status"] == "ok":
            CellCache(Path(staging_root).parent).commit(stage, job["key"])
            record["transfer"] = "shared"
        elif record["status"] == "ok":
            record["transfer"] = "object_store"
            record["blobs"] = {rel: np.fromfile(stage / rel, dtype=np.uint8) for rel in record["files"]}
        return record
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not shared:
            shutil.rmtree(root, ignore_errors=True)


def _write_blobs(record: dict, cache: CellCache) -> None:
    """Files returned through the object store: written from shared memory into a staging folder, then
    renamed into the cache."""
    blobs = record.pop("blobs")
    with cache.staging(record["key"]) as stage:
        for rel, arr in blobs.items():
            dest = stage / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            arr.tofile(dest)
        cache.commit(stage, record["key"])


def _init_ray(address: str | None):
    import ray

    from edge_inception._core.errors import UsageError

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    kw: dict = {"runtime_env": {"env_vars": _worker_env()}, "log_to_driver": False,
                "include_dashboard": False, "configure_logging": False}
    if address is None and not os.environ.get("RAY_ADDRESS"):
        import psutil

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        avail = psutil.virtual_memory().available
        # A local Ray sized to this machine: its cores, and the memory free now less what the driver
        # and Ray's own processes need; the object store is kept small (it carries only artifacts).
        kw.update(num_cpus=cores, object_store_memory=int(min(2 << 30, max(100 << 20, avail // 8))),
                  _memory=int(avail * 0.75))
    else:
        kw["address"] = address
    try:
        return ray.init(**kw)
    except ConnectionError as e:
        raise UsageError(f"cannot reach the Ray cluster at {address or os.environ.get('RAY_ADDRESS')} ({e})",
                         fix="check --address / RAY_ADDRESS, or leave both unset for a local Ray") from None


def _check_fits(run) -> None:
    """A cell no node can hold would wait forever in Ray's queue: refused now instead."""
    import ray

    from edge_inception._core.errors import UsageError

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    need = {"CPU": run.cpus_per_cell, "memory": run.memory_gb_per_cell * 2**30}
    if not any(all(r.get(k, 0) >= v for k, v in need.items()) for r in nodes):
        best = max(nodes, key=lambda r: r.get("CPU", 0), default={})
        raise UsageError(f"each cell asks for {run.cpus_per_cell:g} CPUs and {run.memory_gb_per_cell:g} GB, more "
                         f"than any Ray node has (largest: {best.get('CPU', 0):g} CPUs, "
                         f"{best.get('memory', 0) / 2**30:.1f} GB)",
                         fix="lower [run] cpus_per_cell / memory_gb_per_cell in the sweep file")


def run_ray(jobs: list[dict], cache: CellCache, *, run, address: str | None) -> Iterator[dict]:
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(address)
    refs: dict = {}
    try:
        _check_fits(run)
        cache.staging_root.mkdir(parents=True, exist_ok=True)
        probe = cache.staging_root / f"probe-{uuid.uuid4().hex[:8]}"
        token = uuid.uuid4().hex
        probe.write_text(token)
        task = ray.remote(num_cpus=run.cpus_per_cell, memory=int(run.memory_gb_per_cell * 2**30),
                          max_retries=run.max_retries, max_calls=run.cells_per_worker,
                          retry_exceptions=False)(_remote_cell)
        try:
            refs = {task.remote(job, str(cache.staging_root), (str(probe), token), run.transfer): job for job in jobs}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                job = refs.pop(done[0])
                yield _collect(done[0], job, cache)
        finally:
            probe.unlink(missing_ok=True)
    except KeyboardInterrupt:
        for ref in refs:  # the cells still running stop now; finished ones are already in the cache
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()


def _collect(ref, job: dict, cache: CellCache) -> dict:
    import ray

    try:
        record = ray.get(ref)
    except ray.exceptions.RayError as e:  # a worker or node died past its retries, or the task was cancelled
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        return {"id": job["id"], "key": job["key"], "status": "failed", "node": None,
                "row": {"target": job["target"], "status": "failed", "message": f"Ray: {type(e).__name__}: {first}"}}
    if record.get("blobs") is not None:
        _write_blobs(record, cache)
    return record


def run_jobs(jobs: list[dict], cache: CellCache, *, run, address: str | None, serial: bool = False) -> Iterator[dict]:
    """Each job's record as it finishes, committed to the cache when it succeeded."""
    if not jobs:  # everything cached: no Ray to start
        return
    if serial or not ray_available():
        if not serial and address:
            from edge_inception._core.errors import UsageError

            raise UsageError(f"--address {address} needs Ray, which is not installed", fix="pip install 'ray>=2.9'")
        yield from run_serial(jobs, cache)
        return
    yield from run_ray(jobs, cache, run=run, address=address)


__all__ = ["run_jobs", "ray_available", "RECORD", "NO_RAY"]
