"""Measuring on a device, for `bench`, `eval` and `convert`: the artifacts go there, raw samples and logits
come back, and the statistics are computed here by the same code as on the host (evaluation/).

    parts, section = bench_on_device(device, arts, reference=ref_art, images=images, threads=2,
                                     runs=None, rule=StopRule(), warmup=5, native=False)
    summaries, fp, parts, section = eval_on_device(device, arts, source, reference=(session, spec, desc),
                                                   threads=2, batch_size=64)
    sections = measure_rows(rows, devices, threads=2, runs=50)      # convert: row["devices"][name]

Timing runs in chunks: the runner times N calls back to back and returns their raw times; the host's
stopping rule (evaluation/latency.py) decides after each chunk whether to ask for more. A chunk is
sized to about a quarter of a second of work, so the round trip between chunks is rare beside it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError, UsageError
from edge_inception.devices.connection import ENGINES, Connection, artifact_uploads
from edge_inception.devices.facts import android_facts, conditions_summary, describe, refuse_percentiles

CHUNK_TARGET_S = 0.25
MAX_CHUNK = 500
MAX_PREDICT_BYTES = 16 << 20  # one predict request's input; larger batches are split


def device_section(conn: Connection) -> dict:
    """What the report says about the device: where it is, what it has, how it was set up."""
    t = conn.transport
    facts = describe(conn.facts, python=shlex.join(t.python_argv)) if t.runs_python else android_facts(t)
    return {"name": conn.device.name, "transport": t.name, "address": t.describe(), "declared_in": conn.device.source,
            "threads": conn.device.threads, "cpu_mask": conn.device.cpu_mask, "facts": facts}


def measured_on(section: dict) -> str:
    f = section["facts"]
    mask = f", CPUs {section['cpu_mask']}" if section.get("cpu_mask") else ""
    return f"device {section['name']} ({section['address']}: {f.get('cpu')}, {f.get('cores')} cores{mask})"


def _runnable(art, label: str) -> None:
    if art.runtime not in ENGINES:
        raise UsageError(f"{label} runs on {art.runtime}, which the on-device runner does not have",
                         fix="measure a .tflite, .onnx or OpenVINO .xml artifact on a device")


def _chunk(per_call_s: float, check_every: int) -> int:
    k = int(CHUNK_TARGET_S / max(per_call_s, 1e-6)) // check_every * check_every
    return min(max(k, check_every), MAX_CHUNK)


def time_on_device(conn: Connection, sid: str, xid: str, *, batch: int, reference: tuple[str, str] | None,
                   runs: int | None, rule, warmup: int, what: str) -> dict:
    """Warm up, then time on the device with the host's stopping rule; conditions before and after."""
    from edge_inception.evaluation.latency import StopRule, paired_chunks, time_chunks

    rule = rule or StopRule()
    pairs = [[sid, xid]] + ([list(reference)] if reference else [])
    w = conn.request({"op": "warmup", "runs": pairs, "n": max(warmup, 1)}, what=f"{what}: warm-up")
    chunk = _chunk(w["seconds"] / (max(warmup, 1) * len(pairs)), rule.check_every)
    before = conn.conditions()
    if reference is None:
        def sample(k):
            return conn.request({"op": "time", "session": sid, "input": xid, "n": k}, what=f"{what}: timing")["seconds"]

        lat = time_chunks(sample, batch=batch, runs=runs, rule=rule, chunk=chunk)
        samples = lat["samples_ms"]
    else:
        def sample(start, k):
            a = conn.request({"op": "pairs", "reference": reference[0], "reference_input": reference[1],
                              "candidate": sid, "input": xid, "start": start, "n": k}, what=f"{what}: timing")
            return a["reference"], a["candidate"]

        lat = paired_chunks(sample, batch=batch, runs=runs, rule=rule, chunk=chunk)
        samples = lat["candidate"]["samples_ms"]
    lat["conditions"] = conditions_summary(before, conn.conditions(), samples)
    lat["timed_by"] = "the on-device runner (perf_counter around each call); statistics computed on the host"
    return refuse_percentiles(lat)


class _Loaded:
    """Sessions loaded on one connection, once each."""

    def __init__(self, conn: Connection, uploads: dict, threads: int):
        self.conn, self.uploads, self.threads = conn, uploads, threads
        self._sessions: dict[str, tuple[str, dict]] = {}

    def name(self, art) -> str:
        return next(iter(self.uploads[str(art.path)]))

    def session(self, art) -> tuple[str, dict]:
        key = str(art.path)
        if key not in self._sessions:
            self._sessions[key] = self.conn.load(self.name(art), runtime=art.runtime, threads=self.threads,
                                                 what=art.label)
        return self._sessions[key]


def _measure(loaded: _Loaded, section: dict, art, *, reference, images: np.ndarray, runs, rule, warmup: int,
             native: bool, index: int) -> dict:
    conn = loaded.conn
    _runnable(art, art.label)
    sid, ans = loaded.session(art)
    x = art.spec.model_input(images)
    xid = f"x{index}"
    conn.set_input(xid, x)
    first = conn.request({"op": "time", "session": sid, "input": xid, "n": 1}, what=f"{art.label}: first run")
    ref = None
    if reference is not None:
        _runnable(reference, f"the reference {reference.label}")
        rsid, _ = loaded.session(reference)
        conn.set_input(f"r{index}", reference.spec.model_input(images))
        ref = (rsid, f"r{index}")
    lat = time_on_device(conn, sid, xid, batch=len(images), reference=ref, runs=runs, rule=rule, warmup=warmup,
                         what=art.label)
    if reference is not None:
        lat["reference_input"] = reference.label
    part = {"status": "ok", "measured_on": measured_on(section), "device_name": section["name"],
            "engine": {**ans["engine"], "threads": loaded.threads, "input_dtype": ans["input_dtype"]},
            "load_ms": ans["load_ms"] + first["seconds"][0] * 1e3, "latency": {"threads": loaded.threads, **lat}}
    if native:
        from edge_inception.devices.native_run import native_check

        part["native"] = native_check(conn, art, loaded.name(art), shape=list(x.shape), threads=loaded.threads,
                                      runs=max(lat["runs"], 100), runner_p50_ms=lat["p50_ms"])
    return part


def _files(device, paths) -> tuple[dict, dict]:
    uploads = artifact_uploads(paths)
    files = {k: v for d in uploads.values() for k, v in d.items()}
    if device.benchmark_model:
        binary = Path(device.benchmark_model).expanduser()
        if not binary.is_file():
            raise InputError(f"device {device.name}", f"benchmark_model {binary} does not exist here",
                             fix="download LiteRT's benchmark_model for the device's CPU and point "
                             "benchmark_model at it")
        files["bin/benchmark_model"] = binary
    return uploads, files


def bench_on_device(device, arts, *, reference=None, images: np.ndarray, threads: int, runs: int | None, rule,
                    warmup: int, native: bool = False) -> tuple[list[dict], dict]:
    """Each artifact timed on the device (interleaved with ``reference`` when given): a row part per
    artifact, and the device section of the report."""
    paths = [a.path for a in arts] + ([reference.path] if reference is not None else [])
    uploads, files = _files(device, paths)
    with Connection(device, files) as conn:
        section = device_section(conn)
        t = device.threads or threads
        if not conn.transport.runs_python:
            from edge_inception.devices.native_run import bench_with_benchmark_model

            return bench_with_benchmark_model(conn, section, arts, reference, uploads, threads=t, runs=runs,
                                              warmup=warmup), section
        loaded = _Loaded(conn, uploads, t)
        parts = [_measure(loaded, section, a, reference=reference, images=images, runs=runs, rule=rule,
                          warmup=warmup, native=native, index=i) for i, a in enumerate(arts)]
    return parts, section


def bench_report_parts(device, arts, *, reference, preprocessing, images, threads, runs, rule, warmup, native,
                       accept_new_host_key=False) -> tuple[list[dict], dict]:
    """measure.benchmark's device path: the reference must be an artifact file (it runs there too), and
    each part carries what a local row would (reference, size ratio) beside the device's figures."""
    from edge_inception.artifacts import open_artifact
    from edge_inception.devices.config import resolve_device
    from edge_inception.formats import artifact_size

    dev = resolve_device(device, accept_new_host_key=accept_new_host_key)
    ref_art = None
    if reference:
        if not Path(reference).exists():
            raise UsageError(f"the reference '{reference}' must be an artifact file to run on device {dev.name}",
                             fix="pass the float .tflite/.onnx/.xml that convert wrote")
        ref_art = open_artifact(reference, preprocessing=preprocessing)
        if ref_art.spec.input_shape != arts[0].spec.input_shape:
            raise InputError(ref_art.path, f"takes {ref_art.spec.input_shape} images but {arts[0].label} takes "
                             f"{arts[0].spec.input_shape}", fix="compare artifacts of the same model")
    parts, section = bench_on_device(dev, arts, reference=ref_art, images=images, threads=threads, runs=runs,
                                     rule=rule, warmup=warmup, native=native)
    if ref_art is not None:
        desc = {"target": ref_art.label, "artifact": str(ref_art.path), "size_bytes": artifact_size(ref_art.path)}
        for a, part in zip(arts, parts, strict=True):
            part["reference"] = desc
            part["size_ratio"] = desc["size_bytes"] / artifact_size(a.path)
    return parts, section


class _CheckedRemote:
    """A session whose run() computes on the device and, beside it, here with the same artifact: the
    device's logits are what is scored; the comparison catches a device library that is fast but wrong."""

    def __init__(self, conn: Connection, sid: str, host_session, label: str):
        self.conn, self.sid, self.host, self.label = conn, sid, host_session, label
        self.n = self.agree = 0
        self.max_abs = 0.0
        self._abs_sum = 0.0

    def run(self, x: np.ndarray) -> np.ndarray:
        step = max(1, MAX_PREDICT_BYTES // max(1, x[0].nbytes))
        y = np.concatenate([self.conn.predict(self.sid, x[i : i + step], what=f"{self.label}: evaluating")
                            for i in range(0, len(x), step)])
        h = np.asarray(self.host.run(x), np.float32)
        diff = np.abs(y.astype(np.float64) - h)
        self.n += len(y)
        self.agree += int(np.sum(y.argmax(1) == h.argmax(1)))
        self.max_abs = max(self.max_abs, float(diff.max()) if diff.size else 0.0)
        self._abs_sum += float(diff.mean(axis=tuple(range(1, diff.ndim))).sum()) if diff.size else 0.0
        return y

    def summary(self, host_engine: dict) -> dict:
        from edge_inception.evaluation.stats import proportion_ci

        return {"against": "this machine's run of the same artifact", "host_engine": host_engine, "n": self.n,
                "top1_agreement": self.agree / self.n if self.n else None,
                "top1_agreement_ci95": proportion_ci(self.agree, self.n), "max_abs_diff": self.max_abs,
                "mean_abs_diff": self._abs_sum / self.n if self.n else None}


def eval_on_device(device, arts, source, *, reference=None, threads: int, batch_size: int):
    """Evaluate each artifact on the device (the reference, if any, runs here): summaries and data
    fingerprint as stream_scores returns them, a row part per artifact (with the output check), and
    the device section."""
    from edge_inception.evaluation.accuracy import stream_scores
    from edge_inception.runtimes import get_runtime

    for a in arts:
        _runnable(a, a.label)
    uploads, files = _files(device, [a.path for a in arts])
    with Connection(device, files) as conn:
        if not conn.transport.runs_python:
            raise UsageError(f"device {device.name}: eval needs the runner (Python with numpy) on the device; an "
                             f"{conn.transport.name} device runs only benchmark_model, which returns no outputs",
                             fix="evaluate on an SSH device, or here")
        section = device_section(conn)
        t = device.threads or threads
        loaded = _Loaded(conn, uploads, t)
        checked, candidates = {}, {}
        for a in arts:
            sid, ans = loaded.session(a)
            host = get_runtime(a.runtime).load(a.path, threads=threads)
            checked[a.label] = (_CheckedRemote(conn, sid, host, a.label), host.facts, ans)
            candidates[a.label] = (checked[a.label][0], a.spec)
        summaries, fingerprint = stream_scores(candidates, source, reference=reference[:2] if reference else None,
                                               batch_size=batch_size, description=f"evaluating on {device.name}")
    parts = {}
    for label, (remote, host_facts, ans) in checked.items():
        check = remote.summary({k: host_facts.get(k) for k in ("engine", "version", "threads")})
        parts[label] = {"measured_on": measured_on(section), "device_name": device.name,
                        "engine": {**ans["engine"], "threads": t, "input_dtype": ans["input_dtype"]},
                        "output_check": check}
    return summaries, fingerprint, parts, section


def prepare_devices(refs, *, accept_new_host_key: bool = False) -> list:
    """Resolve and reach every device before any work: an unreachable one stops the run (exit 2) before
    minutes of conversion, not after."""
    from edge_inception.devices.config import resolve_device

    devices = [resolve_device(r, accept_new_host_key=accept_new_host_key) for r in refs]
    for d in devices:
        _files(d, [])  # a declared benchmark_model that is not there
        with Connection(d):
            pass
    return devices


def measure_rows(rows: list[dict], devices, *, threads: int, runs: int, warmup: int = 5) -> dict:
    """convert: every target that succeeded here, measured on each device as well (interleaved with its
    float reference where that is an artifact). Writes row["devices"][name]; returns the device sections.
    A target the device cannot run is 'failed' there; a device lost mid-run is 'unreachable'."""
    from edge_inception._core.host import host_facts
    from edge_inception.artifacts import open_artifact

    sections = {}
    ok = [r for r in rows if r["status"] == "ok" and r.get("artifact")]
    for r in ok:  # both places named: the row's own figures are this machine's
        r.setdefault("measured_on", f"this machine ({host_facts()['cpu']}, {host_facts()['cores']} cores)")
    for device in devices:
        arts, refs = {}, {}
        for r in ok:
            arts[r["target"]] = open_artifact(r["artifact"])
            ref_path = (r.get("reference") or {}).get("artifact")
            if ref_path and Path(ref_path).exists():
                ref = open_artifact(ref_path)
                refs[r["target"]] = ref if ref.runtime in ENGINES else None
        from edge_inception.devices.transports import get_transport_class

        runs_python = get_transport_class(device.transport).runs_python
        paths = list(dict.fromkeys(a.path for a in [*arts.values(), *refs.values()]
                                   if a is not None and (runs_python or a.runtime == "litert")))
        images = np.random.default_rng(0).integers(0, 256, (1, *next(iter(arts.values())).spec.input_shape),
                                                   dtype=np.uint8) if arts else None
        done: set[str] = set()
        uploads, files = _files(device, paths)
        try:
            with Connection(device, files) as conn:
                section = sections[device.name] = device_section(conn)
                loaded = _Loaded(conn, uploads, device.threads or threads)
                for i, r in enumerate(ok):
                    art = arts[r["target"]]
                    try:
                        if str(art.path) not in uploads:  # a phone gets only what benchmark_model runs
                            raise UsageError(f"{art.label}: an {device.transport} device runs .tflite artifacts "
                                             "through benchmark_model only")
                        if not conn.transport.runs_python:
                            from edge_inception.devices.native_run import bench_with_benchmark_model

                            _runnable(art, art.label)
                            part = bench_with_benchmark_model(conn, section, [art], refs.get(r["target"]), uploads,
                                                              threads=loaded.threads, runs=runs, warmup=warmup)[0]
                        else:
                            part = _measure(loaded, section, art, reference=refs.get(r["target"]), images=images,
                                            runs=runs, rule=None, warmup=warmup, native=False, index=i)
                    except UsageError as e:
                        part = {"status": "skipped", "message": e.message, "measured_on": measured_on(section)}
                    except InputError as e:
                        if conn.proc is not None and conn.proc.poll() is not None:
                            raise  # the runner or the link died: the rest is unreachable too
                        part = {"status": "failed", "message": e.message, "measured_on": measured_on(section)}
                    r.setdefault("devices", {})[device.name] = part
                    done.add(r["target"])
        except InputError as e:
            for r in ok:
                if r["target"] not in done:
                    r.setdefault("devices", {})[device.name] = {"status": "unreachable", "message": e.message}
    return sections
