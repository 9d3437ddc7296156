"""PyTorch -> TFLite with litert-torch, run in its own virtual environment.

    python_path = litert_torch_python()            # None until `edge-inception setup litert-torch`
    torch_to_tflite(module, spec, dest)                          # float32
    torch_to_tflite(module, spec, dest, calibration=calib)       # int8: PT2E, per-channel weights

The program is exported strictly where Dynamo can (PT2E's add/mul patterns need its metadata) and
the artifact's tensors are renamed after the user's module paths (exporters/_module_paths.py).

litert-torch 0.10 pins xdsl 0.28, which needs typing-extensions < 4.13; installed beside this package
it downgrades typing_extensions and pydantic and breaks other installed packages (`pip check`). So it
lives in a venv that sees this environment's packages (torch, TensorFlow, edge_inception) but keeps
its own typing_extensions, and the conversion runs there as a subprocess on an ExportedProgram file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from edge_inception._core.atomic import atomic_path
from edge_inception._core.errors import TargetFailed
from edge_inception.exporters._module_paths import (
    export_for_quantization,
    naming_the_layer,
    output_modules,
    with_module_paths,
)
from edge_inception.models.spec import ModelSpec

LITERT_TORCH_VERSION = "0.10.0"
VENV = Path(os.environ.get("EDGE_INCEPTION_LITERT_TORCH_VENV",
                           Path.home() / ".cache" / "edge-inception" / f"litert-torch-{LITERT_TORCH_VERSION}"))
SETUP_HINT = "run `edge-inception setup litert-torch` once to install it in its own environment"


def litert_torch_python() -> Path | None:
    python = VENV / "bin" / "python"
    return python if (python.exists() and (VENV / ".edge-inception-ready").exists()) else None


def setup() -> Path:
    """Create the venv (seeing this environment's packages) and install litert-torch into it.

    pip's resolver warns there about packages of the outer environment whose pins the venv's own
    typing_extensions/pydantic do not meet; they are not used there, so its output is shown only on
    failure."""
    from edge_inception._core.errors import EdgeInceptionError

    if litert_torch_python():
        return VENV
    VENV.parent.mkdir(parents=True, exist_ok=True)
    for cmd in ([sys.executable, "-m", "venv", "--system-site-packages", "--clear", str(VENV)],
                [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"litert-torch=={LITERT_TORCH_VERSION}"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()
            raise EdgeInceptionError(f"setting up litert-torch failed: {tail[-1] if tail else proc.returncode}")
    (VENV / ".edge-inception-ready").write_text(LITERT_TORCH_VERSION + "\n")
    return VENV


def torch_to_tflite(model, spec: ModelSpec, dest: Path, *, calibration=None, per_channel: bool = True,
                    float16: bool = False, io_dtype: str = "int8", keep_float_modules: tuple[str, ...] = ()) -> dict:
    """Convert in the litert-torch venv; ``calibration`` (a CalibrationSet) makes it full-integer int8,
    ``float16`` stores float16 weights (ai-edge-quantizer's float casting). litert-torch's int8 model
    takes and gives int8; ``io_dtype`` 'float32' or 'uint8' adds the converter's own edge operators.
    ``keep_float_modules``: module paths whose own operators PT2E leaves unannotated (float)."""
    import numpy as np
    import torch

    if litert_torch_python() is None:  # before torch.export's work
        raise TargetFailed(f"PyTorch -> TFLite needs litert-torch: {SETUP_HINT}")
    with tempfile.TemporaryDirectory(prefix="edge-inception-litert-torch-") as tmp:
        tmp = Path(tmp)
        example = torch.zeros(1, spec.channels, spec.height, spec.width)
        try:
            program = export_for_quantization(model, (example,))
            torch.export.save(program, tmp / "model.pt2")
        except Exception as e:  # noqa: BLE001
            raise TargetFailed(f"torch.export failed before TFLite conversion: {' '.join(str(e).split())[:300]}") \
                from None
        job = {"program": str(tmp / "model.pt2"), "out": str(tmp / "model.tflite"), "per_channel": per_channel,
               "float16": float16 and calibration is None, "keep_float": list(keep_float_modules)}
        if calibration is not None:
            np.save(tmp / "calibration.npy", np.concatenate(list(calibration.float_batches())))
            job["calibration"] = str(tmp / "calibration.npy")
        try:
            run_in_venv("convert", job, tmp, failure="litert-torch conversion failed")
        except TargetFailed as e:
            raise TargetFailed(naming_the_layer(e.message, program)) from None
        flatbuffer = (tmp / "model.tflite").read_bytes()
        if calibration is not None and io_dtype != "int8":
            flatbuffer = with_io_dtype(flatbuffer, io_dtype)
        flatbuffer = with_module_paths(flatbuffer, model, outputs=output_modules(program))
        with atomic_path(dest) as out:
            out.write_bytes(flatbuffer)
    return {"converter": f"litert-torch {LITERT_TORCH_VERSION} (own venv {VENV})"
            + (", float16 weights by ai-edge-quantizer float casting" if float16 else ""),
            **({"quantizer": "PT2E (litert-torch PT2EQuantizer, symmetric, "
                             f"{'per-channel' if per_channel else 'per-tensor'} weights)",
                "io_dtype": io_dtype, "batch": 1,
                **({"io_edges": f"{io_dtype} input and output added around litert-torch's int8 I/O "
                                "(QUANTIZE/DEQUANTIZE with the model's own scales)"} if io_dtype != "int8" else {})}
               if calibration is not None else {})}


def with_io_dtype(flatbuffer: bytes, io_dtype: str) -> bytes:
    """The int8-I/O model with ``io_dtype`` ('float32' or 'uint8') input and output: a QUANTIZE in front
    of each input and a DEQUANTIZE (uint8: a requantizing QUANTIZE) behind each output, with the int8
    tensor's own scale (uint8: zero point + 128), as the TFLite converter writes for that io type."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    sg = model.subgraphs[0]
    new_type = {"float32": schema.TensorType.FLOAT32, "uint8": schema.TensorType.UINT8}[io_dtype]

    def opcode(builtin: int) -> int:
        for i, oc in enumerate(model.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == builtin:
                return i
        oc = schema.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = builtin, min(builtin, 127), 2
        model.operatorCodes.append(oc)
        return len(model.operatorCodes) - 1

    def edge_tensor(old_index: int) -> int:
        old = sg.tensors[old_index]
        if old.type != schema.TensorType.INT8:
            raise TargetFailed(f"litert-torch gave a {old.type} I/O tensor '{old.name!r}'; int8 was expected")
        t = schema.TensorT()
        t.name, old.name = old.name, (old.name or b"") + b"_int8"
        t.shape, t.shapeSignature, t.type = old.shape, old.shapeSignature, new_type
        if io_dtype == "uint8":
            q = schema.QuantizationParametersT()
            q.scale, q.zeroPoint = list(old.quantization.scale), [z + 128 for z in old.quantization.zeroPoint]
            t.quantization = q
        model.buffers.append(schema.BufferT())
        t.buffer = len(model.buffers) - 1
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def op(builtin: int, src: int, dst: int):
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = opcode(builtin), [src], [dst]
        return o

    remap = {}
    sg.inputs, sg.outputs = [int(i) for i in sg.inputs], [int(i) for i in sg.outputs]  # numpy arrays, read-only
    def already(i: int) -> bool:  # a layer kept float (a fallback plan) at the model's edge reads/writes float
        return io_dtype == "float32" and sg.tensors[i].type == schema.TensorType.FLOAT32

    for k, i in enumerate(sg.inputs):
        if already(i):
            continue
        remap[i] = sg.inputs[k] = edge_tensor(i)
        sg.operators.insert(0, op(schema.BuiltinOperator.QUANTIZE, remap[i], i))
    out_op = schema.BuiltinOperator.DEQUANTIZE if io_dtype == "float32" else schema.BuiltinOperator.QUANTIZE
    for k, i in enumerate(sg.outputs):
        if already(i):
            continue
        remap[i] = sg.outputs[k] = edge_tensor(i)
        sg.operators.append(op(out_op, i, remap[i]))
    for sig in model.signatureDefs or []:
        for m in [*(sig.inputs or []), *(sig.outputs or [])]:
            m.tensorIndex = remap.get(m.tensorIndex, m.tensorIndex)
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run_in_venv(task: str, job: dict, tmp: Path, *, failure: str, on_progress=None) -> dict:
    """Run one task of the venv worker (edge_inception/venv_worker.py: job.json in, result JSON out) and
    return its result. ``on_progress(n)`` receives the worker's ``progress N`` lines; an interrupt here
    kills the worker, so no orphan keeps converting or training."""
    python = litert_torch_python()
    if python is None:
        raise TargetFailed(f"PyTorch -> TFLite needs litert-torch: {SETUP_HINT}")
    job = {**job, "task": task, "result": str(tmp / f"{task}.result.json")}
    (tmp / f"{task}.job.json").write_text(json.dumps(job))
    with open(tmp / f"{task}.stderr.txt", "w+") as err:
        proc = subprocess.Popen([str(python), "-m", "edge_inception.venv_worker",
                                 str(tmp / f"{task}.job.json")],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=worker_env())
        try:
            for line in proc.stdout:
                if line.startswith("progress ") and on_progress is not None:
                    on_progress(int(line.split()[1]))
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            err.seek(0)
            raise TargetFailed(f"{failure}: {worker_error(err.read(), code)}")
    return json.loads(Path(job["result"]).read_text())


def worker_error(output: str, code: int) -> str:
    """The exception line of a failed venv worker, not torch's trailing hints ("Use tlparse to see full
    graph")."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception)\b.*:", ln)]
    return (errors or lines or [f"exit code {code}"])[-1][:300]


def worker_env() -> dict:
    """The venv worker's environment: this package importable, TensorFlow's C++ logging quiet."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": _package_root()}


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])
