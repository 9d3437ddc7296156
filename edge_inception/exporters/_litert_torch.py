"""PyTorch -> TFLite with litert-torch, run in its own virtual environment.

    python_path = litert_torch_python()            # None until `edge-inception setup litert-torch`
    torch_to_tflite(module, spec, dest)                          # float32
    torch_to_tflite(module, spec, dest, calibration=calib)       # int8: PT2E, per-channel weights

litert-torch 0.10 pins xdsl 0.28, which needs typing-extensions < 4.13; installed beside this package
it downgrades typing_extensions and pydantic and breaks other installed packages (`pip check`). So it
lives in a venv that sees this environment's packages (torch, TensorFlow, edge_inception) but keeps
its own typing_extensions, and the conversion runs there as a subprocess on an ExportedProgram file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from edge_inception.errors import TargetFailed
from edge_inception.models.spec import ModelSpec
from edge_inception.report.io import atomic_path

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
    from edge_inception.errors import EdgeInceptionError

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
                    float16: bool = False) -> dict:
    """Convert in the litert-torch venv; ``calibration`` (a CalibrationSet) makes it full-integer int8,
    ``float16`` stores float16 weights (ai-edge-quantizer's float casting)."""
    import numpy as np
    import torch

    python = litert_torch_python()
    if python is None:
        raise TargetFailed(f"PyTorch -> TFLite needs litert-torch: {SETUP_HINT}")
    with tempfile.TemporaryDirectory(prefix="edge-inception-litert-torch-") as tmp:
        tmp = Path(tmp)
        example = torch.zeros(1, spec.channels, spec.height, spec.width)
        try:
            torch.export.save(torch.export.export(model, (example,)), tmp / "model.pt2")
        except Exception as e:  # noqa: BLE001
            raise TargetFailed(f"torch.export failed before TFLite conversion: {' '.join(str(e).split())[:300]}") \
                from None
        cmd = [str(python), "-m", "edge_inception.exporters._litert_torch_worker", str(tmp / "model.pt2"),
               str(tmp / "model.tflite")]
        if calibration is not None:
            np.save(tmp / "calibration.npy", np.concatenate(list(calibration.float_batches())))
            cmd += ["--calibration", str(tmp / "calibration.npy")] + ([] if per_channel else ["--per-tensor"])
        elif float16:
            cmd.append("--float16")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": _package_root()}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            # The exception line, not torch's trailing hints ("Use tlparse to see full graph").
            errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception)\b.*:", ln)]
            why = (errors or lines or [f"exit code {proc.returncode}"])[-1]
            raise TargetFailed(f"litert-torch conversion failed: {why[:300]}")
        with atomic_path(dest) as out:
            out.write_bytes((tmp / "model.tflite").read_bytes())
    return {"converter": f"litert-torch {LITERT_TORCH_VERSION} (own venv {VENV})"
            + (", float16 weights by ai-edge-quantizer float casting" if float16 else ""),
            **({"quantizer": "PT2E (litert-torch PT2EQuantizer, symmetric, "
                             f"{'per-channel' if per_channel else 'per-tensor'} weights)",
                "io_dtype": "int8"} if calibration is not None else {})}


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])
