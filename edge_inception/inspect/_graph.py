"""Framework-free analysis of a layer graph: Inception modules, branch shares, 1x1 bottleneck savings.

    layers = [Layer("x", "input", [], (28, 28, 192)), Layer("r", "Conv2D", ["x"], (28, 28, 16), kind="conv",
              conv=Conv(1, 1, 1, 1, 192, 16)), ...]
    result = analyse(layers, layout="NHWC")      # {"totals": ..., "modules": [...], "layers": [...]}

Backends (keras.py, torch.py) turn a model into ``Layer`` rows in topological order; everything below
works on those rows alone. A module is found from the graph, not from names: a concatenation whose
inputs all descend from one nearest common ancestor (the fork) is an Inception module, and each input's
ancestors below the fork are its branch. Concatenations nested inside a branch of a larger module
(Inception v3's expanded 1x3/3x1 pairs) belong to that module.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class ShapeProblem(Exception):
    """Branches that cannot be joined; ``str()`` is the one-line explanation naming the branch."""


@dataclass(frozen=True)
class Conv:
    """A convolution's geometry: kernel, stride, input/output channels, groups."""

    kh: int
    kw: int
    sh: int
    sw: int
    cin: int
    cout: int
    groups: int = 1
    padding: str = ""  # "same"/"valid" (Keras) or "(1, 1)" (PyTorch); for messages only


@dataclass
class Layer:
    name: str
    op: str  # the framework's own layer class or operator name
    inputs: list[str]
    shape: tuple | None  # output shape without the batch dimension, in the model's layout; None: unknown
    params: int = 0
    macs: int = 0
    kind: str = "other"  # conv | dense | pool | concat | merge | input | other
    conv: Conv | None = None
    label: str = ""  # short human description ("3x3 conv 128", "3x3 max-pool /2")
    axis: int | None = None  # concat axis, counted without the batch dimension
    attrs: dict = field(default_factory=dict)


def conv_macs(conv: Conv, out_h: int, out_w: int) -> int:
    """Multiply-accumulates of one convolution: every output value takes kh*kw*cin/groups products."""
    return out_h * out_w * conv.cout * conv.kh * conv.kw * (conv.cin // conv.groups)


def conv_label(conv: Conv) -> str:
    stride = f" /{conv.sh}" if conv.sh == conv.sw and conv.sh > 1 else (
        f" /{conv.sh}x{conv.sw}" if (conv.sh, conv.sw) != (1, 1) else "")
    dw = " depthwise" if conv.groups > 1 and conv.groups == conv.cin else ""
    return f"{conv.kh}x{conv.kw}{dw} conv {conv.cout}{stride}"


def spatial(shape: tuple | None, layout: str) -> tuple | None:
    if shape is None or len(shape) != 3:
        return None
    return tuple(shape[:2]) if layout == "NHWC" else tuple(shape[1:])


def channels(shape: tuple | None, layout: str) -> int | None:
    if shape is None or len(shape) != 3:
        return None
    return shape[-1] if layout == "NHWC" else shape[0]


def hw(s: tuple | None) -> str:
    return "x".join(str(v) for v in s) if s else "?"


# --------------------------------------------------------------------------------------------- modules


class _Dag:
    """Ancestor sets as integer bitsets (one bit per layer), so a 800-layer model analyses in milliseconds."""

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = layers
        self.index = {lay.name: i for i, lay in enumerate(layers)}
        self.anc: list[int] = []
        for lay in layers:
            bits = 0
            for name in lay.inputs:
                j = self.index[name]
                bits |= self.anc[j] | (1 << j)
            self.anc.append(bits)

    def upto(self, i: int) -> int:
        """Layer i and all its ancestors."""
        return self.anc[i] | (1 << i)

    def members(self, bits: int) -> list[int]:
        return [i for i in range(bits.bit_length()) if bits >> i & 1]


def find_modules(layers: list[Layer]) -> list[dict]:
    """Every concatenation with a fork: {concat, fork, branches: [branch layer indices], nodes: bitset}."""
    dag = _Dag(layers)
    found = []
    for i, lay in enumerate(layers):
        if lay.kind != "concat" or len(lay.inputs) < 2:
            continue
        ins = [dag.index[n] for n in lay.inputs]
        common = dag.upto(ins[0])
        for j in ins[1:]:
            common &= dag.upto(j)
        if not common:
            continue  # branches from different model inputs: no fork, no module
        fork = common.bit_length() - 1  # the nearest common ancestor: the latest one in topological order
        below = ~dag.upto(fork)
        branches = [dag.upto(j) & below for j in ins]
        nodes = 0
        for b in branches:
            nodes |= b
        found.append({"concat": i, "fork": fork, "branches": branches, "nodes": nodes | (1 << i), "dag": dag})
    # A concatenation inside a branch of a larger module is part of that module, not a module of its own.
    return [m for m in found
            if not any(o is not m and m["nodes"] & o["nodes"] == m["nodes"] and o["nodes"] != m["nodes"]
                       for o in found)]


def _branch_summary(layers: list[Layer], idx: list[int]) -> str:
    parts = [layers[i].label for i in idx if layers[i].label and layers[i].kind in ("conv", "pool", "dense", "concat")]
    return " -> ".join(parts) if parts else "identity"


def _bottleneck(layers: list[Layer], dag: _Dag, fork: int, idx: list[int], module_cin: int | None) -> dict | None:
    """A branch that opens with a stride-1 1x1 convolution feeding kxk convolutions: its MACs as built and
    as they would be with the kxk convolutions applied straight to the module input (cin channels)."""
    convs = [i for i in idx if layers[i].kind == "conv"]
    if not convs or module_cin is None:
        return None
    first = convs[0]
    c = layers[first].conv
    if (c.kh, c.kw, c.sh, c.sw, c.groups) != (1, 1, 1, 1, 1) or c.cin != module_cin:
        return None
    # The convolutions that read the reduction (through BN/activations only): each conv whose nearest conv
    # ancestor in the branch is the reduction.
    readers = []
    for i in convs[1:]:
        conv_anc = [j for j in convs if j != i and dag.upto(i) >> j & 1]
        if conv_anc and max(conv_anc) == first and layers[i].conv.kh * layers[i].conv.kw > 1:
            readers.append(i)
    if not readers:
        return None
    with_ = sum(layers[i].macs for i in idx)
    # Each reader's MACs scale with its input channels: reduced (c.cout) as built, module_cin without.
    without = with_ - layers[first].macs + sum(layers[i].macs * module_cin // c.cout - layers[i].macs
                                               for i in readers)
    return {"reduction": layers[first].name, "reduced_channels": c.cout, "input_channels": module_cin,
            "convolutions": [layers[i].name for i in readers], "macs_with_reduction": with_,
            "macs_without_reduction": without, "saving": round(without / with_, 2) if with_ else None}


def describe_module(layers: list[Layer], m: dict, *, layout: str, name: str) -> dict:
    dag: _Dag = m["dag"]
    fork = layers[m["fork"]]
    cin = channels(fork.shape, layout)
    out = layers[m["concat"]]
    branches = []
    for b in m["branches"]:
        idx = dag.members(b)
        branches.append({"layers": [layers[i].name for i in idx], "summary": _branch_summary(layers, idx),
                         "output_shape": list(layers[idx[-1]].shape or ()) if idx else list(fork.shape or ()),
                         "params": sum(layers[i].params for i in idx), "macs": sum(layers[i].macs for i in idx),
                         "bottleneck": _bottleneck(layers, dag, m["fork"], idx, cin)})
    total = sum(b["macs"] for b in branches)
    for b in branches:
        b["mac_share"] = round(b["macs"] / total, 4) if total else 0.0
    nodes = dag.members(m["nodes"])
    return {"name": name, "concat": out.name, "input": fork.name, "input_shape": list(fork.shape or ()),
            "output_shape": list(out.shape or ()), "params": sum(layers[i].params for i in nodes),
            "macs": sum(layers[i].macs for i in nodes), "branches": branches}


def analyse(layers: list[Layer], *, layout: str, module_name=None) -> dict:
    """Per-layer rows, Inception modules with their branches, and totals. ``module_name(concat_layer)``
    may name a module (PyTorch: the nn.Module that holds the torch.cat); else the concat layer's name."""
    modules = []
    where: dict[str, str] = {}
    for m in find_modules(layers):
        concat = layers[m["concat"]]
        name = module_name(concat) if module_name else concat.name
        d = describe_module(layers, m, layout=layout, name=name)
        modules.append(d)
        for bi, b in enumerate(d["branches"], 1):
            for n in b["layers"]:
                where.setdefault(n, f"{name}/branch{bi}")
        where.setdefault(concat.name, name)
    rows = [{"name": lay.name, "op": lay.op, "output_shape": list(lay.shape) if lay.shape is not None else None,
             "params": lay.params, "macs": lay.macs, "module": where.get(lay.name)} for lay in layers]
    return {"layout": layout,
            "totals": {"params": sum(lay.params for lay in layers), "macs": sum(lay.macs for lay in layers),
                       "layers": len(layers), "inception_modules": len(modules),
                       "macs_in_modules": sum(m["macs"] for m in modules)},
            "modules": modules, "layers": rows}


# ------------------------------------------------------------------------------------- shape problems


def explain_merge_mismatch(layers: list[Layer], merge: Layer, shapes: list[tuple], *, layout: str) -> str:
    """One line naming the branch whose spatial size breaks a concatenation (or an add), and why."""
    probe = Layer(merge.name, merge.op, merge.inputs, None, kind="concat")
    dag_layers = [lay for lay in layers if lay.name != merge.name] + [probe]
    mods = [m for m in find_modules(dag_layers) if dag_layers[m["concat"]] is probe]
    sizes = [spatial(s, layout) for s in shapes]
    verb = "concatenate" if merge.kind == "concat" else "add"
    if not mods or any(s is None for s in sizes):
        listed = ", ".join(f"'{n}' {hw(spatial(s, layout)) if spatial(s, layout) else s}"
                           for n, s in zip(merge.inputs, shapes, strict=True))
        return f"layer '{merge.name}' cannot {verb} its inputs: {listed}"
    m = mods[0]
    dag: _Dag = m["dag"]
    fork = dag_layers[m["fork"]]
    fork_hw = spatial(fork.shape, layout)
    counts = Counter(sizes)
    expected = max(counts, key=lambda s: (counts[s], s == fork_hw))
    bad = [j for j, s in enumerate(sizes) if s != expected]
    j = bad[0]
    idx = dag.members(m["branches"][j])
    summary = _branch_summary(dag_layers, idx)
    text = (f"Inception module '{merge.name}' cannot {verb} its branches: branch {j + 1} of {len(sizes)} "
            f"({summary}, ending in '{merge.inputs[j]}') gives {hw(sizes[j])} where the other branches give "
            f"{hw(expected)}")
    prev = fork_hw
    for i in idx:
        lay = dag_layers[i]
        now = spatial(lay.shape, layout)
        if now is not None and prev is not None and now != prev:
            how = f"padding='{lay.attrs['padding']}'" if lay.attrs.get("padding") else "its padding"
            strides = lay.attrs.get("strides")
            if strides and any(s > 1 for s in strides):
                how += f", strides={tuple(strides)}"
            text += (f": its layer '{lay.name}' ({lay.label or lay.op}, {how}) turns {hw(prev)} into {hw(now)}")
            if lay.attrs.get("padding") == "valid":
                text += f"; use padding='same' so every branch keeps the {hw(expected)} grid"
            break
        prev = now if now is not None else prev
    if len(bad) > 1:
        text += f" (and {len(bad) - 1} more branch{'es' if len(bad) > 2 else ''})"
    return text
