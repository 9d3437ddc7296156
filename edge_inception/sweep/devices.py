"""Devices as a sweep axis: every conversion cell measured on each of the sweep's devices, one row each.

    devices = prepare_devices(spec)                     # each reached and described before any work (exit 2)
    key = device_key(conversion_key, devices[0], spec)  # the conversion's key + the device's identity
    record = measure_on_device(job, conversion_row, devices[0])   # {'status', 'row', 'wall_s', ...}

A sweep with ``devices = ["pi", "ssh://board", "local"]`` converts each model x target x recipe x
method once (its key does not name any device) and then measures the artifact on every device: the
latency (interleaved with the cell's float reference where that is an artifact, as `bench --device`)
and, where the device runs the on-device runner, the accuracy on the sweep's evaluation images as
`eval --device` scores it (with its output check against this machine). Each such measurement is its
own row (id ``CELL@DEVICE``) and its own cache entry, keyed by the conversion's key and the device's
identity: its address and settings and what it reported about itself (CPU, ISA, Python, runtime
versions), not its name. A new device, or a device whose runtime was upgraded, is measured again; the
conversions are not.

The measurements run in the sweep's own process, one at a time, while Ray converts the other cells:
the devices are declared where the sweep is started (edge-inception.toml there), and two timings at
once on one device would disturb each other.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

# What a device says about itself that changes a measurement; its load and temperatures do not.
_FACTS = ("os", "machine", "cpu", "cpu_parts", "cores", "affinity", "isa", "python", "numpy", "runtimes")
# The device's settings that change where or how it runs; timeouts, work_dir and the ssh_config path do not.
_SETTINGS = ("transport", "host", "port", "user", "serial", "python", "threads", "cpu_mask", "delegate")


@dataclass(frozen=True)
class SweepDevice:
    name: str            # what the rows and the gate call it: the sweep file's entry
    device: object       # edge_inception.devices.Device, resolved where the sweep runs
    identity: dict       # what the cache key hashes


def prepare_devices(spec, *, path: Path) -> list[SweepDevice]:
    """Resolve and reach every device of the sweep file before any work: an unknown or unreachable one
    is exit 2 now, not after the conversions."""
    from edge_inception._core.errors import InputError
    from edge_inception.devices import check_device, resolve_device

    seen, out = set(), []
    for ref in spec.devices:
        dev = resolve_device(ref)
        if dev.name in seen:
            raise InputError(path, f"device '{dev.name}' appears twice", fix="list each device once")
        seen.add(dev.name)
        section = check_device(dev)
        identity = {"settings": {k: getattr(dev, k) for k in _SETTINGS},
                    "facts": {k: (section.get("facts") or {}).get(k) for k in _FACTS}}
        if dev.benchmark_model:  # the binary that measures on a phone: by content
            from edge_inception.sweep.cache import content_sha256

            identity["benchmark_model_sha256"] = content_sha256(Path(dev.benchmark_model).expanduser())
        out.append(SweepDevice(dev.name, dev, json.loads(json.dumps(identity))))
    return out


def device_key(conversion_key: str, device: SweepDevice, spec) -> str:
    inputs = {"conversion": conversion_key, "device": device.identity, "measure": spec.measure.model_dump()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def device_cell_id(cell_id: str, device_name: str) -> str:
    return f"{cell_id}@{device_name}"


class DeviceRows:
    """The sweep's device rows: which are cached, which wait for their conversion, and the fresh ones.

    rows = DeviceRows(keyed, devices, spec, cache=cache, forced=forced_ids, eval_refs=refs)
    rows.conversion_done(record)      # a conversion just finished: measured on each device now
    rows.finish(cached_records)       # conversions from the cache, measured where a device lacks them
    rows.for_cell(cell_id)            # [(device name, key, record, cached)] in the file's device order
    """

    def __init__(self, keyed, devices: list[SweepDevice], spec, *, cache, forced: set[str], eval_refs: dict):
        self.devices, self.spec, self.cache, self.eval_refs = devices, spec, cache, eval_refs
        self.keys: dict[str, list[tuple[str, str]]] = {}       # cell id -> [(device name, device key)]
        self.cached: dict[str, dict] = {}
        self.fresh: dict[str, dict] = {}
        self.pending: dict[str, list[tuple[SweepDevice, dict]]] = {}  # conversion key -> what to measure
        seen = set()
        for cell, key, _ in keyed:
            self.keys[cell.id] = []
            for d in devices:
                dkey = device_key(key, d, spec)
                cid = device_cell_id(cell.id, d.name)
                self.keys[cell.id].append((d.name, dkey))
                # A conversion computed again (--rerun) is measured again: its artifact may differ.
                if cell.id not in forced and cid not in forced and (rec := cache.lookup(dkey)) is not None:
                    self.cached[dkey] = rec
                elif dkey not in seen:
                    seen.add(dkey)
                    job = {"id": cell.id, "key": key, "device_keys": {d.name: dkey}, "model": cell.model.label}
                    self.pending.setdefault(key, []).append((d, job))

    @property
    def pending_keys(self) -> set[str]:
        return {job["device_keys"][d.name] for todo in self.pending.values() for d, job in todo}

    def summary(self) -> str:
        if not self.devices:
            return ""
        return f"; on {len(self.devices)} devices: {len(self.cached)} cached, {len(self.pending_keys)} to measure"

    def conversion_done(self, record: dict) -> None:
        todo = self.pending.pop(record["key"], [])
        if record.get("status") != "ok":
            return  # no artifact to measure: its device rows say why (report.py)
        import sys

        from edge_inception.sweep.cache import RECORD

        folder = self.cache.path(record["key"])
        row = _absolute(json.loads(json.dumps(record["row"])), folder)
        for d, job in todo:
            result = measure_on_device({**job, "folder": str(folder)}, row, d,
                                       eval_data=self.eval_refs.get(job["model"]), spec=self.spec)
            dkey = result["key"]
            if result["status"] == "ok":
                with self.cache.staging(dkey) as stage:
                    (stage / RECORD).write_text(json.dumps(result, indent=2) + "\n")
                    self.cache.commit(stage, dkey)
            self.fresh[dkey] = result
            status = "ok" if result["status"] == "ok" else f"failed: {result['row'].get('message', '')}"
            print(f"  {result['id']}: {status}", file=sys.stderr, flush=True)

    def finish(self, cached_conversions: dict) -> None:
        for key in list(self.pending):
            if key in cached_conversions:
                self.conversion_done(cached_conversions[key])

    def for_cell(self, cell_id: str) -> list[tuple[str, str, dict | None, bool]]:
        out = []
        for name, dkey in self.keys.get(cell_id, []):
            if dkey in self.fresh:
                out.append((name, dkey, self.fresh[dkey], False))
            else:
                out.append((name, dkey, self.cached.get(dkey), dkey in self.cached))
        return out


def _absolute(row: dict, folder: Path) -> dict:
    for holder in (row, row.get("reference") or {}):
        if holder.get("artifact") and not Path(holder["artifact"]).is_absolute() and ":" not in holder["artifact"]:
            holder["artifact"] = str(folder / holder["artifact"])
    return row


def _artifact(holder: dict | None) -> Path | None:
    path = (holder or {}).get("artifact")
    return Path(path) if path and ":" not in path and Path(path).exists() else None


def measure_on_device(job: dict, row: dict, device: SweepDevice, *, eval_data: str | None, spec) -> dict:
    """The conversion ``row`` (its artifacts at absolute paths) measured on ``device``: the device row
    (the conversion's size and verification, the device's latency, and its accuracy where it can run
    the evaluation) as a record like a conversion's. Nothing here raises but Ctrl-C."""
    from edge_inception._core.errors import EdgeInceptionError
    from edge_inception.measure import benchmark, evaluate

    t0 = time.perf_counter()
    record: dict = {"id": device_cell_id(job["id"], device.name), "key": job["device_keys"][device.name],
                    "conversion_key": job["key"], "device": device.name, "node": "driver", "files": {}}
    art, ref = _artifact(row), _artifact(row.get("reference"))
    threads, runs = spec.measure.threads, spec.measure.latency_runs
    try:
        bench = benchmark([str(art)], reference=str(ref) if ref else None, device=device.device, threads=threads,
                          runs=runs)
        part = bench["targets"][0]
        accuracy_on = None
        if row.get("accuracy") and eval_data and device.device.transport != "adb":  # adb returns no outputs
            ev = evaluate([str(art)], data=eval_data, reference=str(ref) if ref else None, limit=spec.evaluation.limit,
                          threads=threads, device=device.device)
            accuracy_on = ev["targets"][0]
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - a device row fails alone, with its one line
        reason = e.message if isinstance(e, EdgeInceptionError) else f"internal error: {type(e).__name__}: " \
            + (str(e).strip().splitlines() or [""])[0][:300]
        record.update(status="failed", row={"target": row["target"], "status": "failed",
                                            "message": f"device {device.name}: {reason}"},
                      wall_s=time.perf_counter() - t0)
        return record
    # The conversion's own figures of where it ran (its latency, memory, and the notes about them) stay on
    # its row; this row keeps what belongs to the artifact (size, verification, calibration, gate).
    out = {k: v for k, v in row.items() if k not in ("latency", "engine", "load_ms", "devices", "measured_on",
                                                      "rss_mb", "rss_delta_mb", "peak_rss_mb", "notes")}
    out["notes"] = [f"the artifact of {job['id']}, measured on device {device.name}"]
    out.update(latency=part["latency"], measured_on=part["measured_on"], engine=part.get("engine"),
               load_ms=part.get("load_ms"), device_name=device.name, device_section=bench.get("device"))
    if accuracy_on is not None:
        out["accuracy"] = accuracy_on["accuracy"]
        out["output_check"] = accuracy_on.get("output_check")
        out["accuracy_measured_on"] = accuracy_on.get("measured_on", part["measured_on"])
    elif row.get("accuracy"):  # kept from this machine, and said so
        out["accuracy_measured_on"] = row.get("measured_on") or "this machine"
    record.update(status="ok", row=_relative_copy(out, job), wall_s=time.perf_counter() - t0)
    return record


def _relative_copy(row: dict, job: dict) -> dict:
    """The device row as the cache keeps it: artifact paths relative to the conversion's folder, as a
    conversion record has them (the report makes them absolute again)."""
    row = json.loads(json.dumps(row))
    folder = Path(job["folder"])
    for holder in (row, row.get("reference") or {}):
        p = holder.get("artifact")
        if p and Path(p).is_absolute() and folder in Path(p).parents:
            holder["artifact"] = str(Path(p).relative_to(folder))
    return row
