"""PyTorch backend of ``inspect``: the graph of ``torch.export`` (aten operators with their module paths).

    layers, layout = torch_layers(module, input_shape=(3, 224, 224))

Every operator becomes a row named after the nn.Module that runs it ("inception3a.branch2.1.conv");
convolution and linear MACs come from the shapes torch.export records. A model whose forward fails
(typically a torch.cat of branches with different sizes) is run once eagerly with hooks instead, so
the error names the module and its branches' shapes.
"""

from __future__ import annotations

from edge_inception._core.errors import InputError
from edge_inception.inspect import register_backend
from edge_inception.inspect._graph import Conv, Layer, conv_label, conv_macs, hw

# aten operators that only move or relabel data: kept as rows (they carry shapes) but never named first
CONCAT_OPS = {"cat", "concat", "concatenate"}
MERGE_OPS = {"add", "add_", "sub", "mul", "mul_"}


def accepts(model) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


@register_backend("torch", accepts=accepts)
def torch_layers(model, *, input_shape=None) -> tuple[list[Layer], str]:
    import torch

    if input_shape is None:
        raise InputError(None, "a PyTorch model needs its input shape to be inspected",
                         fix="pass input_shape=(C, H, W) (--input-shape 3,224,224)")
    if isinstance(model, torch.jit.ScriptModule):
        raise InputError(None, "a TorchScript model cannot be inspected",
                         fix="inspect the factory ('pkg.module:function') or an ExportedProgram .pt2")
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == 3 and shape[-1] in (1, 3) and shape[0] not in (1, 3):
        shape = (shape[2], shape[0], shape[1])  # H,W,C given: the model is NCHW
    if not hasattr(model, "_in_spec"):  # an ExportedProgram's module is frozen in its mode: eval() raises
        model = model.eval()
    x = torch.zeros(1, *shape)
    try:
        ep = torch.export.export(model, (x,), strict=False)
    except Exception as e:  # noqa: BLE001 - export raises many types; explain from an eager run if we can
        raise InputError(None, _explain_forward_failure(model, x) or f"torch.export failed: {_first(e)}") from None
    return _rows(ep), "NCHW"


def module_name(concat: Layer) -> str:
    return concat.attrs.get("module") or concat.name


torch_layers.module_name = module_name


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__


def _shape(val) -> tuple | None:
    if isinstance(val, list | tuple):
        val = val[0] if val else None
    s = getattr(val, "shape", None)
    return tuple(int(v) for v in s[1:]) if s is not None else None


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return path.replace("L['self'].", "").replace("L__self___", "")


def _rows(ep) -> list[Layer]:
    sig = ep.graph_signature
    params = dict(sig.inputs_to_parameters)
    buffers = dict(sig.inputs_to_buffers)
    state = ep.state_dict
    consts = set(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
    rows: list[Layer] = []
    names: dict[str, str] = {}  # fx node name -> row name
    used: set[str] = set()
    counted: set[str] = set()
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            if node.name in params or node.name in buffers or node.name in consts:
                continue
            rows.append(Layer("input", "input", [], _shape(node.meta.get("val")), kind="input"))
            names[node.name] = "input"
            continue
        if node.op != "call_function":
            continue
        op = getattr(node.target, "_opname", None) or getattr(node.target, "__name__", str(node.target))
        inputs = [names[n.name] for n in node.all_input_nodes if n.name in names]
        path = _module_path(node)
        name = path or node.name
        if name in used:
            name = f"{path}/{op}" if path else node.name
            k = 1
            while name in used:
                k += 1
                name = f"{path or node.name}/{op}_{k}"
        used.add(name)
        names[node.name] = name
        row = Layer(name, op, inputs, _shape(node.meta.get("val")), attrs={"module": path})
        for n in node.all_input_nodes:
            if n.name in params and params[n.name] not in counted:
                counted.add(params[n.name])
                row.params += state[params[n.name]].numel()
        _classify(row, node, params, state)
        rows.append(row)
    return rows


def _ints(v, n=2) -> tuple[int, ...]:
    if v is None:
        return (1,) * n
    if isinstance(v, int):
        return (v,) * n
    v = list(v)
    return tuple(v) if len(v) == n else (v[0],) * n


def _classify(row: Layer, node, params: dict, state: dict) -> None:
    op, args = row.op, node.args
    if op in ("conv2d", "convolution") and len(args) >= 2 and args[1].name in params:
        w = state[params[args[1].name]]
        if w.dim() != 4:
            return
        cout, cin_g, kh, kw = (int(v) for v in w.shape)
        if op == "conv2d":
            stride, padding = _ints(args[3] if len(args) > 3 else 1), args[4] if len(args) > 4 else 0
            groups = args[6] if len(args) > 6 else 1
        else:
            stride, padding, groups = _ints(args[3]), args[4], args[8]
        conv = Conv(kh, kw, stride[0], stride[1], cin_g * groups, cout, groups, str(padding))
        row.kind, row.conv, row.label = "conv", conv, conv_label(conv)
        row.attrs.update(padding=str(padding), strides=list(stride), kernel=[kh, kw])
        if row.shape and len(row.shape) == 3:
            row.macs = conv_macs(conv, row.shape[1], row.shape[2])
    elif op == "linear" and len(args) >= 2 and args[1].name in params:
        w = state[params[args[1].name]]
        out_features, in_features = (int(v) for v in w.shape)
        positions = 1
        for v in (row.shape or (out_features,))[:-1]:
            positions *= v
        row.kind, row.label, row.macs = "dense", f"linear {out_features}", positions * in_features * out_features
    elif op in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
        k = _ints(args[1])
        s = _ints(args[2] if len(args) > 2 and args[2] else k)
        kind = "max" if op.startswith("max") else "avg"
        row.kind, row.label = "pool", f"{k[0]}x{k[1]} {kind}-pool" + (f" /{s[0]}" if s[0] > 1 else "")
        row.attrs.update(strides=list(s), kernel=list(k), padding=str(args[3] if len(args) > 3 else 0))
    elif op in ("adaptive_avg_pool2d", "mean"):
        row.kind, row.label = "pool", "global avg-pool" if op == "mean" else "adaptive avg-pool"
    elif op in CONCAT_OPS:
        dim = args[1] if len(args) > 1 else node.kwargs.get("dim", 0)
        rank = len(row.shape) + 1 if row.shape else 4
        row.kind, row.axis, row.label = "concat", dim % rank - 1, "concat"
    elif op in MERGE_OPS and len(node.all_input_nodes) == 2:
        row.kind = "merge"


def _explain_forward_failure(model, x) -> str | None:
    """Run once eagerly with hooks; name the innermost module whose forward raised and its children's
    output shapes (the branches of a torch.cat that did not fit)."""
    import torch

    names = {m: n for n, m in model.named_modules()}
    open_: list = []
    done: dict = {}

    def pre(m, _inp):
        open_.append(m)

    def post(m, _inp, out):
        open_.remove(m)
        if isinstance(out, torch.Tensor):
            done[m] = tuple(out.shape[1:])

    handles = [m.register_forward_pre_hook(pre) for m in model.modules()]
    handles += [m.register_forward_hook(post) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
        return None
    except Exception as e:  # noqa: BLE001
        if not open_:
            return None
        failing = open_[-1]
        where = names.get(failing) or type(failing).__name__
        kids = [(n, done[c]) for n, c in failing.named_children() if c in done]
        shown = ", ".join(f"{n} {hw(s[1:]) if len(s) == 3 else s}" for n, s in kids)
        return (f"module '{where}' ({type(failing).__name__}) fails in forward: {_first(e)}"
                + (f"; its children's outputs: {shown}" if shown else ""))
    finally:
        for h in handles:
            h.remove()
