"""A fallback plan: source layers kept float, in groups that must stay float together, written once in
source-layer names and compiled to each backend (compile.py).

    graph = SourceGraph.of(lm)
    layers = resolve_keep_float(["mix_concat", "inception_4*"], graph)   # UsageError if a pattern matches nothing
    groups = fallback_groups(graph)                                       # [Group(name, layers), ...]
    refuse_fallback(target)                                               # UsageError on full-integer NPU profiles

Groups: a concatenation shares one int8 scale across its inputs, and the op that reads it quantizes it
again, so a concatenation is kept float with the first multiply-accumulate layers that read it (through
pools); its inputs then keep their own int8 scales. A scaled residual add goes with its scale layer and
its readers; any other conv/dense layer with the BatchNorm and activation folded into it.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass

from edge_inception._core.errors import UsageError

_MAC = ("conv", "dense")
_PASS = ("pool", "other")  # read through: max/avg pools, Dropout, Flatten, Activation


@dataclass(frozen=True)
class Group:
    name: str            # the layer that names the group (a concatenation, an add, a conv)
    kind: str            # concat | residual | layer
    layers: tuple[str, ...]


def _consumers(graph) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lay in graph.order:
        for i in lay.inputs:
            out.setdefault(i, []).append(lay.name)
    return out


def _chain_down(name: str, graph, cons) -> list[str]:
    """``name`` and the BatchNorm/activation layers folded into it (single consumer, kind 'other')."""
    chain = [name]
    while len(cons.get(chain[-1], [])) == 1:
        nxt = graph.layers[cons[chain[-1]][0]]
        if nxt.kind != "other" or nxt.op in ("Dropout", "Flatten", "Reshape", "dropout", "flatten", "view",
                                              "reshape"):
            break
        chain.append(nxt.name)
    return chain


def _chain_up(name: str, graph) -> list[str]:
    """The MAC layer whose folded chain ends at ``name``, and that chain."""
    chain = [name]
    lay = graph.layers[name]
    while lay.kind == "other" and len(lay.inputs) == 1:
        lay = graph.layers[lay.inputs[0]]
        chain.append(lay.name)
        if lay.kind in _MAC:
            break
    return chain if lay.kind in _MAC else [name]


def fallback_groups(graph) -> list[Group]:
    cons = _consumers(graph)
    groups, covered = [], set()
    for lay in graph.order:
        if lay.kind == "concat" or (lay.op in ("Add", "add", "add_") and any(
                graph.layers[i].op in ("Lambda", "CustomScaleLayer", "Rescaling", "Multiply", "mul")
                for i in lay.inputs)):
            # Its inputs may stay int8: a float concatenation dequantizes each at its own scale, which is the
            # point. What must go float with it is what reads it, up to the first layers that quantize again.
            members = {lay.name}
            if lay.kind != "concat":
                for i in lay.inputs:
                    members.update(_chain_up(i, graph))
            frontier = list(cons.get(lay.name, []))
            while frontier:  # through pools and the like to the next layers that quantize what they read
                n = frontier.pop()
                m = graph.layers[n]
                if m.kind in _MAC:
                    members.update(_chain_down(n, graph, cons))
                elif m.kind in _PASS:
                    members.add(n)
                    frontier += cons.get(n, [])
            kind = "concat" if lay.kind == "concat" else "residual"
            groups.append(Group(lay.name, kind, tuple(sorted(members, key=lambda n: graph.layers[n].index))))
            covered |= members
    for lay in graph.order:
        if lay.kind in _MAC and lay.name not in covered:
            groups.append(Group(lay.name, "layer", tuple(_chain_down(lay.name, graph, cons))))
    return groups


def resolve_keep_float(patterns, graph) -> list[str]:
    """Source layers matched by ``patterns`` (exact names, shell globs or /regex/), in source order. A
    pattern that matches nothing is an error naming it and the closest layer names."""
    names = [lay.name for lay in graph.order if lay.kind != "input"]
    chosen: set[str] = set()
    for pat in patterns:
        if pat.startswith("/") and pat.endswith("/") and len(pat) > 2:
            try:
                rx = re.compile(pat[1:-1])
            except re.error as e:
                raise UsageError(f"--keep-float {pat}: not a regular expression ({e})") from None
            hit = [n for n in names if rx.search(n)]
        else:
            hit = [n for n in names if fnmatch.fnmatchcase(n, pat)]
        if not hit:
            close = difflib.get_close_matches(pat.strip("/*"), names, n=3, cutoff=0.4) or names[:3]
            raise UsageError(f"--keep-float {pat} matches no layer of the model",
                             fix="closest layer names: " + ", ".join(close))
        chosen.update(hit)
    return [n for n in names if n in chosen]


def expand_groups(layers, graph) -> list[str]:
    """Each chosen layer with the rest of its group: a concat's inputs and readers, a conv's BatchNorm."""
    chosen = set(layers)
    for g in fallback_groups(graph):
        if g.name in chosen or (g.kind == "layer" and chosen & set(g.layers)):
            chosen |= set(g.layers)
    return [lay.name for lay in graph.order if lay.name in chosen]


def refuse_fallback(target) -> None:
    """A profile for a device that runs integer operators only cannot keep a layer float."""
    if target.device != "cpu":
        instead = target.constraints.get("fallback_instead") or (
            "16-bit activations (int16x8) where the converter and the device support them, per-channel weights "
            "if the device takes them, QAT (--method qat), or better calibration data")
        raise UsageError(f"{target.name} runs on {target.device_description}, which executes integer operators "
                         f"only: no layer can stay float there", fix=f"what this profile allows instead: {instead}")
