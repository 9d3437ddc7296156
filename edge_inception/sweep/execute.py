"""Running cells: on Ray when it is installed (a local instance sized to this machine, or the cluster
at ``address`` / RAY_ADDRESS), else one after another in this process.

    for record in run_jobs(jobs, cache, run=sweep.run, address=None):
        ...                                   # each finished cell, already committed to the cache

Each Ray task declares the CPUs and memory of one cell (the sweep file's [run]), so Ray never starts
more conversions than fit. A worker exits after ``cells_per_worker`` cells, handing TensorFlow's and
the converters' memory back. Artifacts reach the cache by shared storage where the worker sees the
cache folder (it renames its finished folder into place), else through Ray's object store: the worker
streams its files in 8 MiB chunks to a collector actor on the driver's node, each chunk written to
the driver's staging folder and acknowledged before the next, and returns only a small reply; the
driver checks every file against the digest in the cell's record and renames the folder into place.
Nothing the driver needs is an object left in a worker's node after the task ends (returning the
files as the task's value did that, and lost them: docs/sweep.md). The driver's PYTHONPATH travels to
the workers (runtime_env), so a cluster started from a development checkout runs that checkout.
"""

from __future__ import annotations

import contextlib
import json
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


def _remote_cell(job: dict, staging_root: str, probe: tuple[str, str], transfer: str, collector=None) -> dict:
    """A Ray task: the cell in a staging folder of the shared cache (renamed into place here), or in a
    local folder whose files are streamed to the collector on the driver's node before this returns."""
    import shutil
    import tempfile

    import ray

    from edge_inception.sweep.cell import run_cell

    mismatch = host_mismatch(job)
    if mismatch:  # before any work: this node would build another artifact than the key says
        return {"id": job["id"], "key": job["key"], "status": "failed", "node": ray.get_runtime_context().get_node_id(),
                "row": {"target": job["target"], "status": "failed", "message": mismatch}, "files": {}}
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
        elif record["status"] == "ok" and collector is not None:
            record["transfer"] = "object_store"
            staged = _stream_files(collector, stage, job["key"], record)
            # Only this small reply travels back as the task's return value (inline, not in the object
            # store); the full record is the cell.json the driver now has in its staging folder.
            return {k: record[k] for k in ("id", "key", "status", "node", "transfer", "pid")} | {"staged": staged}
        elif record["status"] == "ok":  # Ray Client: no collector on the user's machine; files as return value
            import numpy as np

            record["transfer"] = "object_store"
            record["blobs"] = {rel: np.fromfile(stage / rel, dtype=np.uint8) for rel in record["files"]}
        return record
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not shared:
            shutil.rmtree(root, ignore_errors=True)


def host_mismatch(job: dict) -> str | None:
    """The cell's key names the architecture and int8-relevant ISA flags of the machine that keyed it
    (the driver); convert's int8 choices follow the ISA of the machine that converts (ONNX Runtime's
    U8S8 on VNNI x86, U8U8 elsewhere). A worker of another ISA would cache its artifact under a key
    that says otherwise, so it refuses the cell, in one line that says which flags differ."""
    from edge_inception.sweep.cache import host_identity

    keyed, here = (job.get("inputs") or {}).get("host"), host_identity()
    if keyed is None or keyed == here:
        return None
    flags = sorted(k for k in set(keyed["isa"]) | set(here["isa"]) if keyed["isa"].get(k) != here["isa"].get(k))
    what = ", ".join(f"{k} {'yes' if here['isa'].get(k) else 'no'} here, {'yes' if keyed['isa'].get(k) else 'no'}"
                     " in the key" for k in flags) or f"machine {here['machine']} here, {keyed['machine']} in the key"
    return (f"this Ray node's CPU differs from the one the cell is keyed for ({what}): its int8 settings would "
            "differ (start the sweep on a node of the workers' CPU, or give the sweep a cluster of one CPU kind)")


CHUNK = 8 << 20  # bytes per transfer call: what the object store holds at once per cell stays bounded
TRANSFER_TRIES = 3


def _stream_files(collector, stage: Path, key: str, record: dict) -> str:
    """Every file of the finished cell, in chunks, to the collector; each chunk is acknowledged (written
    to the driver's disk) before the next is sent, so nothing the driver needs outlives this worker. A
    chunk whose transfer fails is sent again (written at its offset: a repeat is harmless)."""
    from edge_inception.sweep.cache import RECORD

    (stage / RECORD).write_text(json.dumps(record, indent=2) + "\n")  # now naming its node and transfer
    name = _ack(lambda: collector.open.remote(key))
    for rel in sorted(record["files"]):
        with open(stage / rel, "rb") as f:
            offset = 0
            while True:
                chunk = f.read(CHUNK)
                _ack(lambda c=chunk, o=offset, r=rel: collector.write.remote(name, r, o, c))
                offset += len(chunk)
                if len(chunk) < CHUNK:
                    break
    return name


def _ack(submit):
    import ray

    for attempt in range(TRANSFER_TRIES):
        try:
            return ray.get(submit(), timeout=300)
        except (ray.exceptions.RayError, TimeoutError):
            if attempt == TRANSFER_TRIES - 1:
                raise


class _Collector:
    """A Ray actor on the driver's node that writes the files workers stream to it into the cache's
    staging folder; the driver checks each file's digest against the cell's record and commits it."""

    def __init__(self, staging_root: str):
        self.root = Path(staging_root)

    def open(self, key: str) -> str:
        name = f"{key}.{uuid.uuid4().hex[:8]}"
        (self.root / name).mkdir(parents=True)
        return name

    def write(self, name: str, rel: str, offset: int, data: bytes) -> int:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"refused path {rel!r}")
        dest = self.root / name / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb" if offset == 0 else "r+b") as f:  # chunks come in order, each acknowledged
            f.seek(offset)
            f.write(data)
        return len(data)


def _start_collector(staging_root: Path):
    """The collector, pinned to the driver's node (it writes to the driver's disk) and needing no CPU;
    None under Ray Client, where the driver's node is not this machine."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if ray.util.client.ray.is_connected():
        return None
    here = ray.get_runtime_context().get_node_id()
    actor = ray.remote(num_cpus=0, max_concurrency=8, max_restarts=2)(_Collector)
    return actor.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(
        str(staging_root))


def _write_blobs(record: dict, cache: CellCache) -> None:
    """Files returned as the task's value (Ray Client only): written into a staging folder, then renamed
    into the cache."""
    blobs = record.pop("blobs")
    with cache.staging(record["key"]) as stage:
        for rel, arr in blobs.items():
            dest = stage / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            arr.tofile(dest)
        cache.commit(stage, record["key"])


def _commit_staged(reply: dict, job: dict, cache: CellCache) -> dict:
    """A cell streamed to the collector: its files checked against the digests of its record, then the
    folder renamed into the cache. A mismatch fails the cell (nothing is cached)."""
    import shutil

    from edge_inception.sweep.cache import content_sha256

    stage = cache.staging_root / reply["staged"]
    try:
        record = json.loads((stage / RECORD).read_text())
        bad = [rel for rel, digest in record["files"].items()
               if digest is not None and (not (stage / rel).is_file() or content_sha256(stage / rel) != digest)]
    except (OSError, ValueError) as e:
        bad, record = [f"{RECORD} ({e})"], reply
    if bad:
        shutil.rmtree(stage, ignore_errors=True)
        return {**reply, "status": "failed", "row": {"target": job["target"], "status": "failed",
                                                    "message": f"transfer: {bad[0]} arrived damaged"}}
    cache.commit(stage, reply["key"])
    for p in cache.staging_root.glob(f"{reply['key']}.*"):  # what a killed attempt left
        shutil.rmtree(p, ignore_errors=True)
    return record


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
        # One node is the driver's own (it is attached to it), which sees the cache: no collector needed there.
        several = len([n for n in ray.nodes() if n.get("Alive")]) > 1
        wanted = run.transfer == "object_store" or (run.transfer == "auto" and several)
        collector = _start_collector(cache.staging_root) if wanted else None
        try:
            refs = {task.remote(job, str(cache.staging_root), (str(probe), token), run.transfer, collector): job
                    for job in jobs}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                job = refs.pop(done[0])
                yield _collect(done[0], job, cache)
        finally:
            probe.unlink(missing_ok=True)
            if collector is not None:
                ray.kill(collector)
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
    if record.get("staged") is not None:
        return _commit_staged(record, job, cache)
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
