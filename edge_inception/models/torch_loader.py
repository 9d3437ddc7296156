"""Load PyTorch models safely: a factory returning an nn.Module (plus an optional state_dict), an
ExportedProgram (.pt2) or a TorchScript file (.pt).

    model, spec = load_torch("my_pkg.nets:inception_v3", weights="sd.pt", input_shape=(3, 299, 299),
                             preprocessing=Preprocessing.preset("inception"))

State dicts load with ``torch.load(weights_only=True)``: a file of pickled code is refused, not run.
An ExportedProgram is checked before torch deserializes it (models/safe_pt2.py): torch.export.load
alone would unpickle its sample inputs with weights_only=False, among other things. A factory is
code the user names on purpose; its exceptions become one line naming it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.files import check_regular_file
from edge_inception.models.spec import ModelSpec, Preprocessing

TORCH_SUFFIXES = (".pt2", ".pt", ".pth", ".ts")


def is_torch_ref(ref: str) -> bool:
    if Path(ref).suffix in TORCH_SUFFIXES:
        return True
    # 'pkg.mod:fn' or 'path/file.py:fn' (not a Windows drive letter, not an existing path)
    head, sep, fn = ref.rpartition(":")
    return bool(sep and head and fn.isidentifier() and not Path(ref).exists())


def load_torch(ref: str, *, weights=None, input_shape=None, preprocessing: Preprocessing,
               trust_remote_code: bool = False):
    """(module, spec, classes): ``classes`` is the width of the (N, classes) output."""
    import torch

    path = Path(ref)
    if path.suffix == ".pt2":
        model, inferred = _load_exported(path, trust_remote_code=trust_remote_code)
    elif path.suffix in (".pt", ".pth", ".ts") and not (":" in ref and not path.exists()):
        model, inferred = _load_torchscript(path), None
    else:
        model, inferred = _load_factory(ref), None
    if weights is not None:
        if path.suffix in TORCH_SUFFIXES:
            raise UsageError("--weights applies to a factory 'module:function'", fix=f"{ref} carries its weights")
        load_state_dict(model, Path(weights))
    shape = _chw(input_shape or inferred, ref)
    if path.suffix != ".pt2":  # an ExportedProgram's module is frozen in the mode it was exported in
        model.eval()
    name = path.stem if path.suffix in TORCH_SUFFIXES else ref.rpartition(":")[2]
    spec = ModelSpec(name=name, framework="torch", input_shape=(shape[1], shape[2], shape[0]), layout="NCHW",
                     preprocessing=preprocessing)
    with torch.no_grad():
        classes = _check_runs(model, spec, ref)
    return model, spec, classes


def load_state_dict(model, path: Path) -> None:
    import pickle

    import torch

    check_regular_file(path, what="state_dict file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise InputError(path, f"is not a plain state_dict ({_first_line(e)})",
                         fix="save only tensors: torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # the common checkpoint wrapper
    if not isinstance(state, dict):
        raise InputError(path, f"holds a {type(state).__name__}, not a state_dict", fix="save model.state_dict()")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                  if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches (first: {mismatched[0]})")
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        raise InputError(path, "does not fit the architecture: " + "; ".join(parts),
                         fix="pass the weights saved from this architecture")
    model.load_state_dict(state)


def _load_factory(ref: str):
    target, _, fn_name = ref.rpartition(":")
    if target.endswith(".py"):
        file = Path(target)
        if not file.is_file():
            raise InputError(file, "does not exist", fix="pass 'path/to/file.py:function'")
        spec = importlib.util.spec_from_file_location(f"_edge_inception_user_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - user code may raise anything
            raise InputError(file, f"failed to import ({type(e).__name__}: {e})") from None
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise InputError(target, f"cannot be imported ({e})",
                             fix="install the package or use 'file.py:function'") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise InputError(ref, f"'{fn_name}' is not a function of {target}", fix="name a function returning nn.Module")
    import torch

    try:
        model = fn()
    except Exception as e:  # noqa: BLE001 - user code may raise anything
        raise InputError(ref, f"raised {_first_line(e)}", fix="fix the factory; it must return an nn.Module") from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(ref, f"returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_exported(path: Path, *, trust_remote_code: bool = False):
    import torch

    from edge_inception.models.safe_pt2 import load_exported_program

    check_regular_file(path, what=".pt2 file (torch.export.save)")
    with _quiet_torch_logs():
        if not trust_remote_code:
            ep = load_exported_program(path)
        else:
            try:
                ep = torch.export.load(str(path))
            except Exception as e:  # noqa: BLE001
                raise InputError(path, f"is not a loadable ExportedProgram ({type(e).__name__})",
                                 fix="save it with torch.export.save(torch.export.export(model, args), path)") from None
    shape = None
    args = ep.example_inputs[0] if ep.example_inputs else ()
    if len(args) == 1 and hasattr(args[0], "shape"):
        shape = tuple(args[0].shape)
    with _quiet_torch_logs():
        return ep.module(), shape


@contextlib.contextmanager
def _quiet_torch_logs():
    """torch.export logs a traceback at WARNING before raising on a damaged file; the user gets our line."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)

def _load_torchscript(path: Path):
    import torch

    check_regular_file(path, what="TorchScript file (torch.jit.save)")
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # noqa: BLE001
        raise InputError(path, f"is not a TorchScript model ({type(e).__name__})",
                         fix="save it with torch.jit.save(torch.jit.script(model), path), or pass a .pt2 or a "
                             "factory with --weights for a state_dict") from None


def _chw(shape, ref: str) -> tuple[int, int, int]:
    from edge_inception._core.limits import check_input_shape

    if shape is None:
        raise UsageError(f"cannot infer the input shape of {ref}", fix="pass --input-shape C,H,W (e.g. 3,299,299)")
    shape = tuple(int(d) for d in shape)
    check_input_shape(shape)
    return shape[1:] if len(shape) == 4 else shape


def _check_runs(model, spec: ModelSpec, ref: str) -> int:
    """Run a batch of 2 once; the width of the (N, classes) output it gives."""
    import torch

    # Batch 2: evaluation and export need a model that takes any batch size.
    x = torch.zeros(2, spec.channels, spec.height, spec.width)
    try:
        y = model(x)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()
        if "Guard failed" in str(e) and "size()[0]" in str(e):
            raise InputError(ref, "was exported with a fixed batch size",
                             fix="re-export with dynamic_shapes={'x': {0: torch.export.Dim('batch')}} and an "
                                 "example batch of 2 or more") from None
        raise InputError(ref, f"fails on a {tuple(x.shape)} input ({type(e).__name__}: {msg[0][:160] if msg else ''})",
                         fix="check --input-shape") from None
    if not isinstance(y, torch.Tensor) or y.ndim != 2:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise InputError(ref, f"returns {shape}, not class scores: one (N, classes) tensor",
                         fix="return logits from forward()")
    return int(y.shape[1])


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
