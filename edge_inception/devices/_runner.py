"""The on-device runner: one self-contained file copied to a device, needing only Python 3.8+, numpy and
the artifact's runtime (ai-edge-litert or tflite-runtime, onnxruntime, openvino) — never edge-inception,
TensorFlow or torch, which a Raspberry Pi or a lab box need not have.

    python3 runner.py            # then one JSON request per line on stdin, one JSON answer per line on stdout
    {"op": "hello"}                                              -> device facts, installed runtimes
    {"op": "load", "id": "a", "path": "m.tflite", "engine": "litert", "threads": 2}
    {"op": "input", "id": "x", "shape": [1, 28, 28, 1], "data": "<base64 float32>"}
    {"op": "warmup", "runs": [["a", "x"]], "n": 5}
    {"op": "time", "session": "a", "input": "x", "n": 10}      -> {"seconds": [...]}  raw per-call times
    {"op": "pairs", "reference": "r", "reference_input": "x", "candidate": "a", "input": "x", "start": 0, "n": 10}
    {"op": "predict", "session": "a", "shape": [...], "data": "..."} -> logits, base64 float32
    {"op": "conditions"}                                         -> governor, frequency, temperature, load
    {"op": "quit"}

It only times and runs: the host asks for chunks of samples and applies the same stopping rule and
statistics as a local `bench` (edge_inception/evaluation/latency.py), so nothing statistical lives here.
Every answer has "ok"; a failure is {"ok": false, "error": KIND, "message": ...} with KIND one of
missing_module, load_failed, bad_request, failed. The sessions mirror edge_inception/runtimes/ (same
thread and precision settings, same per-call work), so a figure here measures what `bench` measures there.
The runner exits when its stdin closes, so a dropped connection does not leave it running.
"""

import base64
import json
import os
import platform
import sys
import time

PACKAGES = ("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime", "openvino")


class Missing(Exception):
    """A module the request needs is not installed on the device."""


class LoadFailed(Exception):
    """The device's runtime refused the artifact."""


def _np():
    try:
        import numpy
    except ImportError:
        raise Missing("numpy") from None
    return numpy


class LiteRT:
    """LiteRT's interpreter (ai-edge-litert, else tflite-runtime), as edge_inception/runtimes/litert.py
    drives it: quantized input fed with its own scale and zero point, quantized output dequantized."""

    def __init__(self, path, threads):
        np = _np()
        try:
            from ai_edge_litert import interpreter as lite

            self.dist = "ai-edge-litert"
        except ImportError:
            try:
                import tflite_runtime.interpreter as lite

                self.dist = "tflite-runtime"
            except ImportError:
                raise Missing("ai-edge-litert") from None
        try:
            self._interp = lite.Interpreter(model_path=path, num_threads=threads)
        except (ValueError, RuntimeError) as e:
            raise LoadFailed(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) from None
        self._np = np
        self._inp = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        sig = self._inp.get("shape_signature")
        self._fixed = int(sig[0]) if sig is not None and len(sig) and sig[0] != -1 else None
        self._batch = None
        self.input_dtype = np.dtype(self._inp["dtype"]).name

    def _ensure_batch(self, n):
        if self._batch != n:
            if self._fixed is None:
                shape = list(self._inp["shape"])
                shape[0] = n
                self._interp.resize_tensor_input(self._inp["index"], shape)
            self._interp.allocate_tensors()
            self._inp = self._interp.get_input_details()[0]
            self._out = self._interp.get_output_details()[0]
            self._batch = n

    def run(self, batch):
        np = self._np
        if self._fixed is not None and len(batch) != self._fixed:
            step = self._fixed
            return np.concatenate([self.run(batch[i : i + step]) for i in range(0, len(batch), step)])
        self._ensure_batch(len(batch))
        x = batch
        dtype = np.dtype(self._inp["dtype"])
        if dtype != np.float32:
            scale, zp = self._inp["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(batch / scale) + zp, info.min, info.max)
        self._interp.set_tensor(self._inp["index"], x.astype(dtype, copy=False))
        self._interp.invoke()
        y = self._interp.get_tensor(self._out["index"])
        if y.dtype != np.float32:
            scale, zp = self._out["quantization"]
            y = (y.astype(np.float32) - zp) * scale
        return y

    def facts(self):
        return {"engine": self.dist, "version": _version(self.dist)}


class OnnxRuntime:
    """ONNX Runtime's CPU provider with edge_inception/runtimes/onnxruntime.py's settings."""

    def __init__(self, path, threads):
        np = _np()
        try:
            import onnxruntime as ort
        except ImportError:
            raise Missing("onnxruntime") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        try:
            self._sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own Exception subclasses
            raise LoadFailed((str(e).strip().splitlines() or [type(e).__name__])[0][:300]) from None
        inputs = self._sess.get_inputs()
        if len(inputs) != 1:
            raise LoadFailed(f"has {len(inputs)} inputs; edge-inception runs models with one image input")
        self._np, self._ort = np, ort
        self._input = inputs[0].name
        dims = inputs[0].shape
        self._fixed = dims[0] if dims and isinstance(dims[0], int) else None
        inner = inputs[0].type[len("tensor("):-1] if inputs[0].type.startswith("tensor(") else inputs[0].type
        self.input_dtype = {"float": "float32", "double": "float64"}.get(inner, inner)

    def run(self, batch):
        np = self._np
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if self._fixed is not None and len(x) != self._fixed:
            f = self._fixed
            return np.concatenate([self.run(x[i : i + f]) for i in range(0, len(x), f)])
        return np.asarray(self._sess.run(None, {self._input: x})[0], dtype=np.float32)

    def facts(self):
        return {"engine": "onnxruntime", "version": self._ort.__version__,
                "providers": self._sess.get_providers()}


class OpenVINO:
    """OpenVINO's CPU plugin with edge_inception/runtimes/openvino.py's settings: latency hint, one stream,
    exactly ``threads`` threads, f32 inference precision (not bf16 on AMX or f16 on ARM)."""

    def __init__(self, path, threads):
        np = _np()
        try:
            import openvino as ov
        except ImportError:
            raise Missing("openvino") from None
        core = ov.Core()
        try:
            model = core.read_model(path)
            config = {
                ov.properties.inference_num_threads: threads,
                ov.properties.hint.performance_mode: ov.properties.hint.PerformanceMode.LATENCY,
                ov.properties.num_streams: 1,
                ov.properties.hint.inference_precision: ov.Type.f32,
            }
            self._compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as e:
            first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
            raise LoadFailed(first[:300]) from None
        self._np, self._ov, self._core = np, ov, core
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.output(0)
        shape = self._compiled.input(0).get_partial_shape()
        self._fixed = shape[0].get_length() if shape[0].is_static else None
        self.input_dtype = "float32"

    def run(self, batch):
        np = self._np
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if self._fixed is not None and len(x) != self._fixed:
            f = self._fixed
            return np.concatenate([self.run(x[i : i + f]) for i in range(0, len(x), f)])
        self._request.infer({0: x})
        return np.array(self._request.get_tensor(self._output).data, dtype=np.float32, copy=True)

    def facts(self):
        return {"engine": "openvino", "version": self._ov.get_version(), "device": "CPU",
                "device_name": self._core.get_property("CPU", "FULL_DEVICE_NAME"), "inference_precision": "f32"}


ENGINES = {"litert": LiteRT, "onnxruntime": OnnxRuntime, "openvino": OpenVINO}


def _version(dist):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python < 3.8
        return None
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cpuinfo():
    cpu, flags, parts = None, [], set()
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key in ("model name", "Hardware", "Model") and not cpu:
            cpu = val
        elif key in ("flags", "Features") and not flags:
            flags = val.split()
        elif key == "CPU part":
            parts.add(val)
    return cpu or platform.processor() or platform.machine(), flags, sorted(parts)


def _affinity():
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def conditions():
    """What decides the speed besides the code: governor and clock of the CPUs this process may run on,
    temperatures, load. None where the device does not expose it (containers, macOS)."""
    cpus = _affinity()
    gov, freq = {}, {}
    for c in cpus:
        base = f"/sys/devices/system/cpu/cpu{c}/cpufreq/"
        g, f = _read(base + "scaling_governor"), _read(base + "scaling_cur_freq")
        if g:
            gov[str(c)] = g
        if f and f.isdigit():
            freq[str(c)] = int(f) / 1000
    temps = {}
    zones = "/sys/class/thermal"
    if os.path.isdir(zones):
        for name in sorted(os.listdir(zones)):
            if name.startswith("thermal_zone"):
                t = _read(f"{zones}/{name}/temp")
                if t and t.lstrip("-").isdigit():
                    temps[f"{name} ({_read(f'{zones}/{name}/type') or '?'})"] = int(t) / 1000
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"time": time.time(), "affinity": cpus, "governor": gov or None, "freq_mhz": freq or None,
            "temperature_c": temps or None, "loadavg": list(load) if load else None}


def hello():
    cpu, flags, parts = _cpuinfo()
    return {"os": platform.platform(), "system": platform.system(), "machine": platform.machine(), "cpu": cpu,
            "cpu_parts": parts, "cores": os.cpu_count(), "affinity": _affinity(), "flags": flags,
            "python": platform.python_version(), "python_executable": sys.executable,
            "packages": {p: _version(p) for p in PACKAGES}, "conditions": conditions()}


class Runner:
    def __init__(self):
        self.sessions, self.inputs = {}, {}

    def _array(self, req):
        np = _np()
        shape = tuple(int(d) for d in req["shape"])
        return np.frombuffer(base64.b64decode(req["data"]), dtype=np.float32).reshape(shape).copy()

    def handle(self, req):
        op = req.get("op")
        if op == "hello":
            return {"facts": hello()}
        if op == "conditions":
            return {"conditions": conditions()}
        if op == "load":
            engine = ENGINES.get(req.get("engine"))
            if engine is None:
                raise ValueError(f"unknown engine {req.get('engine')!r}; this runner has {sorted(ENGINES)}")
            if not os.path.exists(req["path"]):
                raise LoadFailed(f"{req['path']} is not on the device")
            t0 = time.perf_counter()
            session = engine(req["path"], int(req["threads"]))
            self.sessions[req["id"]] = session
            return {"load_ms": (time.perf_counter() - t0) * 1e3, "engine": session.facts(),
                    "input_dtype": session.input_dtype}
        if op == "input":
            self.inputs[req["id"]] = self._array(req)
            return {}
        if op == "warmup":
            t0 = time.perf_counter()
            for _ in range(int(req["n"])):
                for sid, xid in req["runs"]:
                    self.sessions[sid].run(self.inputs[xid])
            return {"seconds": time.perf_counter() - t0}
        if op == "time":
            s, x = self.sessions[req["session"]], self.inputs[req["input"]]
            clock, times = time.perf_counter, []
            for _ in range(int(req["n"])):
                t0 = clock()
                s.run(x)
                times.append(clock() - t0)
            return {"seconds": times}
        if op == "pairs":
            return self._pairs(req)
        if op == "predict":
            y = self.sessions[req["session"]].run(self._array(req))
            y = _np().ascontiguousarray(y, dtype="float32")
            return {"shape": list(y.shape), "data": base64.b64encode(y.tobytes()).decode("ascii")}
        raise ValueError(f"unknown op {op!r}")

    def _pairs(self, req):
        """Reference and candidate back to back, alternating which goes first (pair i: the reference
        first when i is even), as edge_inception/evaluation/latency.py's paired_latency does."""
        ref, cand = self.sessions[req["reference"]], self.sessions[req["candidate"]]
        xr, x = self.inputs[req["reference_input"]], self.inputs[req["input"]]
        clock, ref_t, cand_t = time.perf_counter, [], []
        start = int(req["start"])
        for i in range(start, start + int(req["n"])):
            (first, x1), (second, x2) = ((ref, xr), (cand, x)) if i % 2 == 0 else ((cand, x), (ref, xr))
            t0 = clock()
            first.run(x1)
            t1 = clock()
            second.run(x2)
            t2 = clock()
            a, b = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
            ref_t.append(a)
            cand_t.append(b)
        return {"reference": ref_t, "candidate": cand_t}


def main():
    # Answers go to a private copy of stdout; anything a native library prints to fd 1 goes to stderr,
    # so it can never corrupt the protocol.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    runner = Runner()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if req.get("op") == "quit":
                out.write(json.dumps({"ok": True}) + "\n")
                break
            answer = {"ok": True, **runner.handle(req)}
        except Missing as e:
            answer = {"ok": False, "error": "missing_module", "module": str(e),
                      "message": f"{e} is not installed for {sys.executable}"}
        except LoadFailed as e:
            answer = {"ok": False, "error": "load_failed", "message": str(e)}
        except (KeyError, ValueError, TypeError) as e:
            answer = {"ok": False, "error": "bad_request", "message": f"{type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001 - any other failure is answered, not a dead runner
            answer = {"ok": False, "error": "failed", "message": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
