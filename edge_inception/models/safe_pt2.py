"""Load an ExportedProgram (.pt2) without running anything the file brings with it.

    ep = load_exported_program(Path("model.pt2"))     # InputError naming the file and what it carries

``torch.export.load`` is not safe on a file from someone else (its own docstring says so): it unpickles
the sample inputs with ``weights_only=False`` when the safe unpickler refuses them, unpickles pickled
weights and constants, ``pickle.loads`` opaque objects, loads AOTInductor shared libraries, evaluates
every symbolic-shape string with ``sympy.sympify`` (Python ``eval``), ``exec``s the guards stored in
the program when ``.module()`` is called, imports modules named in pytree specs, and resolves graph
targets to any ``torch.*`` or ``operator.*`` attribute, ``torch.os.system`` included.

So the archive is read once into memory and checked with torch's own archive reader before torch
deserializes those same bytes:

- only the entries ``torch.export.save`` writes for one program: weights and constants as raw tensor
  records (no pickle), no AOTInductor/ExecuTorch payloads, no custom or opaque objects;
- the sample inputs must load with ``torch.load(weights_only=True)``, the first thing torch tries, so
  its ``weights_only=False`` fallback is never reached;
- every symbolic expression and guard in the program JSON is parsed with ``ast`` and may hold only
  names, numbers, arithmetic, comparisons and calls of sympy's and torch's shape functions;
- every graph target is a registered operator (aten, prims, quantized_decomposed), a higher-order
  operator, or one of torch's own symbolic-int operators; pytree specs may not import modules.

After deserialization the graph is checked again, node by node, before anything runs it.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from pathlib import Path

from edge_inception._core.errors import InputError

FIX = "export it again with torch.export.save(torch.export.export(model, args), path)"
TRUST = "or pass --trust-remote-code if you trust its author"
_ENTRY = re.compile(r"archive_format|archive_version|byteorder|\.data/[\w.]+|models/model\.json|extra/[\w./-]+"
                    r"|data/weights/(model_weights_config\.json|weight_\d+)"
                    r"|data/constants/(model_constants_config\.json|tensor_\d+)|data/sample_inputs/model\.pt")
_OP_TARGET = re.compile(r"torch\.ops\.(aten|prims|quantized_decomposed|higher_order)\.[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")
_DENIED_OPS = {"aten.from_file"}  # reads any file into a tensor
_IDENT = re.compile(r"[A-Za-z_]\w{0,99}")
# sympy constructors and torch's shape functions a program's symbolic expressions are written with.
_FUNCTIONS = {
    "Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Mod", "Max", "Min", "Abs", "Eq", "Ne", "Lt",
    "Le", "Gt", "Ge", "And", "Or", "Not", "floor", "ceiling", "sqrt", "Piecewise", "ITE", "FloorDiv",
    "ModularIndexing", "Where", "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "LShift", "RShift",
    "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat",
    "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity", "cast_symbool_to_symint_guardless",
}
_GUARD_METHODS = {"size", "stride", "storage_offset", "dim", "numel"}
_MODULE_FUNCTIONS = {"torch": {"sym_max", "sym_min", "sym_not", "sym_float", "sym_int", "sym_ite", "_sym_sqrt"},
                     "math": {"floor", "ceil", "trunc", "sqrt"}}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Constant, ast.Name, ast.Load,
          ast.Call, ast.keyword, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def load_exported_program(path: Path):
    """The ExportedProgram in ``path``, or an InputError saying what in the file is refused."""
    import torch  # noqa: F401 - the archive reader lives in torch
    from torch.export.pt2_archive import _package as pkg

    data = Path(path).read_bytes()
    try:
        reader = pkg.PT2ArchiveReader(io.BytesIO(data))
        names = reader.get_file_names()
    except Exception as e:  # noqa: BLE001 - the C++ reader raises RuntimeError and AssertionError
        raise InputError(path, f"is not a .pt2 archive written by torch.export.save ({_short(e)})", fix=FIX) from None
    _check_entries(path, names)
    _check_payload_config(path, reader, "data/weights/model_weights_config.json", "weight_")
    _check_payload_config(path, reader, "data/constants/model_constants_config.json", "tensor_")
    _check_sample_inputs(path, reader.read_bytes("data/sample_inputs/model.pt"))
    try:
        program = json.loads(reader.read_bytes("models/model.json"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(path, f"holds a program that is not valid JSON ({_short(e)})", fix=FIX) from None
    _check_program_json(path, program)
    try:
        ep = pkg.load_pt2(io.BytesIO(data)).exported_programs["model"]
    except Exception as e:  # noqa: BLE001 - deserialization raises many types
        raise InputError(path, f"is not a loadable ExportedProgram ({_short(e)})", fix=FIX) from None
    check_graph(path, ep)
    return ep


def _refuse(path, problem: str):
    raise InputError(path, f"{problem}; edge-inception runs no code from a .pt2 file", fix=f"{FIX}, {TRUST}")


def _check_entries(path, names: list[str]) -> None:
    required = {"archive_format", "models/model.json", "data/sample_inputs/model.pt",
                "data/weights/model_weights_config.json", "data/constants/model_constants_config.json"}
    for name in names:
        if not _ENTRY.fullmatch(name) or ".." in name.split("/"):
            _refuse(path, f"holds '{name}', which is not part of one plain exported program "
                          "(AOTInductor libraries, pickled objects and extra programs are refused)")
    missing = sorted(required - set(names))
    if missing:
        raise InputError(path, f"is not a complete .pt2 archive (no '{missing[0]}')", fix=FIX)


def _check_payload_config(path, reader, name: str, prefix: str) -> None:
    try:
        config = json.loads(reader.read_bytes(name)).get("config", {})
    except (ValueError, UnicodeDecodeError, AttributeError) as e:
        raise InputError(path, f"holds an unreadable {name} ({_short(e)})", fix=FIX) from None
    for fqn, meta in (config.items() if isinstance(config, dict) else ()):
        if not isinstance(meta, dict) or meta.get("use_pickle") is not False:
            _refuse(path, f"stores '{fqn}' as a pickled object")
        if not str(meta.get("path_name", "")).startswith(prefix):
            _refuse(path, f"stores '{fqn}' as {meta.get('path_name')!r}, not a tensor record")


def _check_sample_inputs(path, raw: bytes) -> None:
    import pickle

    import torch

    if not raw:
        return
    try:
        inputs = torch.load(io.BytesIO(raw), weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, TypeError, AttributeError) as e:
        _refuse(path, f"has sample inputs that are not plain tensors ({_short(e)})")
    if not isinstance(inputs, tuple | dict):
        _refuse(path, f"has sample inputs of type {type(inputs).__name__}")


def _check_program_json(path, program) -> None:
    for key, value in _items(program):
        if key in ("__enum__", "default_factory_module"):
            _refuse(path, f"has a pytree spec naming a Python module to import ('{key}')")
        if key == "expr_str":
            _check_expression(path, value, guard=False)
        elif key in ("target", "as_operator"):
            if not isinstance(value, str) or not (_OP_TARGET.fullmatch(value) or value in _sym_targets()):
                _refuse(path, f"calls {value!r}, which is not a torch operator")
        elif key == "guards_code":
            for guard in value if isinstance(value, list) else [value]:
                _check_expression(path, guard, guard=True)


def _items(obj):
    """Every (key, value) of every dict in ``obj``, also inside strings that are JSON themselves
    (pytree specs are stored as JSON text inside the program's JSON)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                yield k, v
                stack.append(v)
        elif isinstance(o, list):
            stack += o
        elif isinstance(o, str) and o[:1] in "[{" and len(o) > 1:
            with contextlib.suppress(ValueError):
                stack.append(json.loads(o))


def _sym_targets() -> set[str]:
    from torch._export.serde.serialize import _SYM_OPS

    return {f"{f.__module__}.{f.__name__}" for f in _SYM_OPS} | {"_operator.getitem"}


def _check_expression(path, text, *, guard: bool) -> None:
    """A symbolic-shape expression (sympy syntax) or a guard (Python): only shape arithmetic."""
    what = "guard" if guard else "shape expression"
    if not isinstance(text, str) or len(text) > 20_000:
        _refuse(path, f"has a {what} that is not a short string")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        _refuse(path, f"has a {what} that does not parse: {text[:80]!r}")
    allowed = _NODES + ((ast.Subscript, ast.Attribute) if guard else ())
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            _refuse(path, f"has a {what} with {type(node).__name__} in it: {text[:80]!r}")
        bad = (isinstance(node, ast.Constant) and not _plain_constant(node.value, guard)
               or isinstance(node, ast.Name) and not (_IDENT.fullmatch(node.id) and not node.id.startswith("_"))
               or isinstance(node, ast.keyword) and node.arg is None
               or isinstance(node, ast.Call) and not _allowed_call(node.func, guard)
               or isinstance(node, ast.Attribute) and not _allowed_attribute(node))
        if bad:
            _refuse(path, f"has a {what} that is more than shape arithmetic: {text[:80]!r}")


def _plain_constant(value, guard: bool) -> bool:
    if isinstance(value, bool | int | float) or value is None:
        return True
    return isinstance(value, str) and bool(_IDENT.fullmatch(value))


def _allowed_call(func, guard: bool) -> bool:
    if isinstance(func, ast.Name):
        return func.id in _FUNCTIONS
    return guard and isinstance(func, ast.Attribute) and _allowed_attribute(func)


def _allowed_attribute(node: ast.Attribute) -> bool:
    if isinstance(node.value, ast.Name) and node.value.id in _MODULE_FUNCTIONS:
        return node.attr in _MODULE_FUNCTIONS[node.value.id]
    return node.attr in _GUARD_METHODS  # L['x'].size()


def check_graph(path, ep) -> None:
    """Every node of the deserialized program (and its sub-graphs) calls an operator, nothing else."""
    import operator

    import torch
    from torch._export.serde.serialize import _SYM_OPS

    sym = set(_SYM_OPS) | {operator.getitem}
    for module in ep.graph_module.modules():
        if not isinstance(module, torch.fx.GraphModule):
            continue
        for node in module.graph.nodes:
            if node.op in ("placeholder", "output", "get_attr"):
                continue
            t = node.target
            ok = node.op == "call_function" and (
                isinstance(t, torch._ops.HigherOrderOperator) or t in sym
                or isinstance(t, torch._ops.OpOverload) and t.namespace in ("aten", "prims", "quantized_decomposed")
                and f"{t.namespace}.{t._opname}" not in _DENIED_OPS)
            if not ok:
                _refuse(path, f"has a graph node {node.name!r} calling {t!r}, which is not a torch operator")


def _short(e: BaseException) -> str:
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(e)).split())
    refused = re.search(r"Unsupported global: GLOBAL [\w.]+", text)  # the safe unpickler's verdict
    if refused:
        return refused.group(0)
    return f"{type(e).__name__}: {text[:160]}" if text else type(e).__name__
