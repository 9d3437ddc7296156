"""Each target of a large model converted and measured in a worker process of its own, which hands back
only its report row (the artifacts are already in --out): what TensorFlow, tf2onnx and the quantizers
allocate for one target is returned to the system before the next starts.

    rows = run_targets(model, opts, lm, ctx, resolved)        # api.run_convert: in place or in workers

The worker loads the model again from the same reference and options, so nothing large is pickled.
Measured on Keras Inception v3 (docs/benchmarks.md#full-size-conversion-within-4-gib): one process
for three int8 targets peaked at 6.63 GiB; a worker per target keeps each process under 4 GiB.

``EDGE_INCEPTION_TARGET_WORKERS`` = auto (default) | always | never. auto uses workers for a model of at
least ``WORKER_WEIGHT_BYTES`` of float weights converted to more than one target, with no QAT and no
fallback plan (those share trained or diagnosed state across targets in this process). A sweep cell is
one target, already in a worker of its own (edge_inception/sweep/cell.py), so it converts in place.

``convert --jobs N`` runs up to N workers at once (any model size) and times the artifacts afterwards,
one at a time in this process, so no timed run shares the CPU with a conversion. Memory then adds up
across the workers running together: docs/benchmarks.md gives the figures.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from edge_inception._core.errors import EdgeInceptionError, InputError, TargetFailed, UsageError
from edge_inception.models.loader import weight_bytes

ENV = "EDGE_INCEPTION_TARGET_WORKERS"
# Full-size GoogLeNet (26 MB of float weights) peaks well under 4 GiB in one process and is converted in
# CI, where a worker per target would add a framework import and a model build per target; Inception
# v3 (95 MB) and Inception-ResNet v2 (223 MB) are where one process grows past 4 GiB.
WORKER_WEIGHT_BYTES = 64 << 20
_ERRORS = {cls.__name__: cls for cls in (EdgeInceptionError, InputError, UsageError, TargetFailed)}


def use_workers(lm, targets, opts) -> bool:
    setting = os.environ.get(ENV, "auto")
    if setting not in ("auto", "always", "never"):
        raise UsageError(f"{ENV}={setting!r} is not auto, always or never", fix=f"unset {ENV} or set one of those")
    if opts.jobs > 1:  # ConvertOptions refused --jobs with QAT or a fallback plan
        if setting == "never":
            raise UsageError(f"--jobs {opts.jobs} converts targets in worker processes, and {ENV}=never forbids them",
                             fix=f"drop --jobs or unset {ENV}")
        return len(targets) > 1
    if setting == "never" or opts.qat.method == "qat" or opts.fallback.asked:
        return False
    return setting == "always" or (len(targets) > 1 and weight_bytes(lm) >= WORKER_WEIGHT_BYTES)


def run_targets(ref, opts, lm, ctx, targets) -> list[dict]:
    """Each target's report row, from ``ctx.run_target`` here or in a worker per target."""
    if not use_workers(lm, targets, opts):
        return [ctx.run_target(t) for t in targets]
    m = opts.model
    load = {"ref": ref, "keywords": {"framework": m.framework, "preprocessing": m.preprocessing, "weights": m.weights,
                                     "input_shape": m.input_shape, "trust_remote_code": m.trust_remote_code}}
    state = {"out": str(ctx.out), "planned": ctx.planned, "measure": opts.measure, "calib": ctx.calib,
             "eval_src": ctx.eval_src, "plan": ctx.calibration_plan, "fallback": ctx.fallback}
    if opts.jobs > 1:
        results = _run_side_by_side(load, {**state, "time_it": False}, targets, opts.jobs)
    else:
        results = [run_in_worker(load, state, target) for target in targets]
    rows = []
    for target, (row, fingerprint) in zip(targets, results, strict=True):
        if opts.jobs > 1 and row["status"] == "ok":  # timed one at a time, nothing converting beside it
            try:
                ctx.time_row(row, target)
            except TargetFailed as e:
                row.update(status="failed", message=e.message)
        rows.append(row)
        if fingerprint is not None:  # what _report records of the evaluation data
            ctx.eval_fingerprint = fingerprint
    return rows


def _run_side_by_side(load: dict, state: dict, targets, jobs: int) -> list[tuple[dict, str | None]]:
    """run_in_worker's results for ``targets`` (in their order), up to ``jobs`` workers at a time. A worker's
    error (bad input found there), Ctrl-C or any failure here stops every running worker and is raised."""
    from multiprocessing.connection import wait

    waiting, running, done = list(targets), {}, {}
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                target = waiting.pop(0)
                running[target.name] = (target, *_start(load, state, target))
            wait([receive for _, _, receive in running.values()] + [p.sentinel for _, p, _ in running.values()],
                 timeout=1.0)
            for name, (target, proc, receive) in list(running.items()):
                if receive.poll() or not proc.is_alive():
                    del running[name]
                    done[name] = _finish(target, proc, receive)
    except BaseException:
        for _, proc, receive in running.values():
            proc.terminate()
            proc.join(10)
            receive.close()
        raise
    return [done[t.name] for t in targets]


def run_in_worker(load: dict, state: dict, target) -> tuple[dict, str | None]:
    """(row, evaluation fingerprint) of ``target``, converted and measured by a fresh spawned process.

    ``load`` is load_model's (ref, keywords); ``state`` the per-run _Context arguments (all picklable).
    Ctrl-C stops the worker with the run; a worker killed from outside (out of memory) fails its target."""
    proc, receive = _start(load, state, target)
    try:
        _wait(receive, proc)
    except BaseException:
        proc.terminate()
        proc.join(10)
        receive.close()
        raise
    return _finish(target, proc, receive)


def _start(load: dict, state: dict, target):
    """A spawned worker converting ``target``, and the end of the pipe its one message comes back on."""
    import multiprocessing

    mp = multiprocessing.get_context("spawn")  # a fork would copy this process's TensorFlow state
    receive, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_worker_main, args=(send, load, state, target), name=f"edge-inception {target.name}")
    proc.start()
    send.close()
    return proc, receive


def _finish(target, proc, receive) -> tuple[dict, str | None]:
    """The worker's (row, fingerprint) once it has sent its message or died; its error raised here."""
    try:
        message = receive.recv() if receive.poll() else None
    except EOFError:  # it closed its end without a message
        message = None
    finally:
        receive.close()
    proc.join()
    if message is None:
        code = proc.exitcode
        why = " (killed: out of memory?)" if code is not None and code < 0 else ""
        return {"target": target.name, "format": target.format, "precision": target.precision,
                "runtime": target.runtime, "status": "failed",
                "message": f"{target.name}: its conversion worker exited with code {code}{why} before reporting"}, None
    if "error" in message:
        kind, text = message["error"]
        err = _ERRORS[kind].__new__(_ERRORS[kind])
        EdgeInceptionError.__init__(err, text)
        raise err
    return message["row"], message["fingerprint"]


def _wait(receive, proc) -> bool:
    """True once the worker has sent its message; False if it died without one."""
    while not receive.poll(0.2):
        if not proc.is_alive():
            return receive.poll()
    return True


def _worker_main(send, load: dict, state: dict, target) -> None:
    from edge_inception.api import _Context
    from edge_inception.models.loader import load_model

    t0, started = time.perf_counter(), time.time()
    try:
        lm = load_model(load["ref"], **load["keywords"])
        ctx = _Context(lm, Path(state["out"]), state["planned"], state["measure"], state["calib"], state["eval_src"],
                       calibration_plan=state["plan"])
        ctx.fallback = state["fallback"]
        row = ctx.run_target(target, time_it=state.get("time_it", True))
        if isinstance(row.get("conversion"), dict):  # an open dict in the report schema: where it ran, its peak
            row["conversion"]["worker"] = {
                "pid": os.getpid(), "started": round(started, 3), "wall_s": round(time.perf_counter() - t0, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "largest_subprocess_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}
        message = {"row": row, "fingerprint": getattr(ctx, "eval_fingerprint", None)}
    except EdgeInceptionError as e:  # the parent raises it again, as the in-process run would
        message = {"error": (type(e).__name__ if type(e).__name__ in _ERRORS else "EdgeInceptionError", e.message)}
    send.send(message)
    send.close()
