"""The name map: a source layer (Keras layer name) -> its Inception module and branch -> each artifact's
tensor and op names, kept explicit and checked rather than guessed.

    graph = SourceGraph.of(loaded_model)
    graph.place("inception_3a_b2_3x3_relu")     # ('inception_3a_concat', 'branch2')
    graph.layer_for("model/inception_3a_b2_3x3_relu_1/Relu;model/inception_3a_b2_3x3_bn_1/...")  # by name

Converters fold BatchNorm into the convolution and fuse the activation, and then name the fused op after
all of them ("a/relu/Relu;a/bn/add;a/conv/Conv2D") or after one. Every source layer a name mentions is a
candidate; the op's output is the value of the *latest* of them in the source graph (conv -> bn -> relu:
the ReLU's output), which is what the float model is compared at. A name that mentions no source layer
maps to None, and the report says so. Where a converter drops the names (OpenVINO's transpose sinking
renames Keras ops 'Transpose_1234') the map is made by value instead (``match_by_value``): the artifact
with its activation quantizers bypassed is run on a few images and each tensor is given the source layer
whose float output it equals (cosine >= MIN_VALUE_MATCH), and the map says it was made that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from edge_inception.diagnose.stats import dot

MIN_VALUE_MATCH = 0.98  # cosine of an activation-float twin against float: weights-only quantization keeps >0.99


@dataclass
class SourceLayer:
    name: str
    op: str
    kind: str
    inputs: list[str]
    shape: tuple | None
    index: int
    module: str | None = None
    branch: str | None = None
    concat_axis: int | None = None
    extra: dict = field(default_factory=dict)


class SourceGraph:
    """The source model's layers in topological order with their Inception placement."""

    def __init__(self, layers: list[SourceLayer], layout: str, modules: list[dict], aliases: dict | None = None):
        self.layers = {lay.name: lay for lay in layers}
        self.order = layers
        self.layout = layout
        self.modules = modules
        # Other names of a layer an artifact may use: torch.export's node names ('relu_1'), which the ONNX
        # exporter gives its tensors; an exact layer name always wins.
        self.aliases = {k: v for k, v in (aliases or {}).items() if k not in self.layers}

    @classmethod
    def of(cls, lm) -> SourceGraph:
        from edge_inception.diagnose.reference import KIND
        from edge_inception.inspect import _backend_for
        from edge_inception.inspect._graph import analyse

        if lm.kind == KIND:  # a float artifact as the reference: its own ops are the layers, named exactly
            return ArtifactGraph.build(lm)
        backend = _backend_for(lm.model, lm.kind)
        aliases = {}
        if lm.kind == "torch":  # the rows of the export the probe runs (diagnose/torch_source.py)
            from edge_inception.diagnose.torch_source import torch_rows

            rows, nodes = torch_rows(lm)
            layout, aliases = "NCHW", {node: row for row, node in nodes.items()}
            for node, row in list(aliases.items()):  # in-place ops: the ONNX exporter functionalizes them,
                m = re.fullmatch(r"(.+?)_(?:_(\d+))?", node)  # 'relu_' -> 'relu', 'relu__3' -> 'relu_3'
                if m:
                    aliases.setdefault(m.group(1) + (f"_{m.group(2)}" if m.group(2) else ""), row)
        else:
            rows, layout = backend.layers(lm.model, input_shape=None)
        return cls.from_rows(rows, layout, analyse(rows, layout=layout,
                                                   module_name=getattr(backend.layers, "module_name", None)),
                             aliases=aliases)

    @classmethod
    def from_rows(cls, rows, layout: str, result: dict, aliases: dict | None = None) -> SourceGraph:
        where = {r["name"]: r["module"] for r in result["layers"]}
        layers = []
        for i, row in enumerate(rows):
            module, branch = None, None
            if where.get(row.name):  # 'module/branchN'; an artifact's module name may hold '/' itself
                module, _, branch = where[row.name].rpartition("/")
                if not re.fullmatch(r"branch\d+", branch):
                    module, branch = where[row.name], None
            layers.append(SourceLayer(row.name, row.op, row.kind, list(row.inputs), row.shape, i, module,
                                      branch or None, row.axis))
        return cls(layers, layout, result["modules"], aliases)

    def place(self, name: str | None) -> tuple[str | None, str | None]:
        lay = self.layers.get(name) if name else None
        return (lay.module, lay.branch) if lay else (None, None)

    def mentioned(self, text: str) -> set[str]:
        """Source layers named in an artifact's tensor or op name. Each ';'-part is a scope path
        'model/layer/op'; its last element is the framework op ('Relu', 'add_1'), never a layer, so a
        layer called 'add' is not found in 'bn/batchnorm/add_1'. Keras suffixes a re-traced scope with
        '_N' ('stem_relu_1'), which is stripped when the name itself is not a layer."""
        found = set()
        whole = text.split(":")[0] if "::" not in text else text
        if whole in self.aliases:
            found.add(self.aliases[whole])
        for part in re.split(r"[;,]", text):
            tokens = part.split(":")[0].split("/") if "::" not in part else part.split("/")
            for tok in tokens[:-1] if len(tokens) > 1 else tokens:
                tok = tok.removeprefix("__module.")  # OpenVINO's PyTorch frontend: '__module.b2.conv/aten::...'
                if not tok:
                    continue
                if tok in self.layers:
                    found.add(tok)
                else:
                    base = re.sub(r"_\d+$", "", tok)
                    if base in self.layers:
                        found.add(base)
        return found

    def latest(self, names: set[str]) -> str | None:
        return max(names, key=lambda n: self.layers[n].index) if names else None

    def layer_for(self, *texts: str) -> str | None:
        found: set[str] = set()
        for t in texts:
            found |= self.mentioned(t)
        return self.latest(found)

    def concat_axis(self, name: str) -> int:
        """The axis of a concatenation's output (with the batch) that its slices are cut along."""
        axis = self.layers[name].concat_axis
        return -1 if axis is None else axis + 1

    def concat_slices(self, name: str) -> list[tuple[str, int, int]] | None:
        """(input layer, start, stop) channel slices of a concatenation's output, in the source layout."""
        lay = self.layers.get(name)
        if lay is None or lay.kind != "concat":
            return None
        start, out = 0, []
        for src in lay.inputs:
            shape = self.layers[src].shape
            if not shape:
                return None
            width = shape[lay.concat_axis if lay.concat_axis is not None else -1]
            out.append((src, start, start + width))
            start += width
        return out


class ArtifactGraph(SourceGraph):
    """A float artifact's ops as the layers: an int8 tensor is the float tensor of the same name (its
    exporter named both), so names are matched whole, never split into scopes."""

    @classmethod
    def build(cls, ref) -> ArtifactGraph:
        from edge_inception.inspect._graph import analyse

        layout = "NCHW" if ref.spec.layout == "NCHW" or ref.format.name != "tflite" else "NHWC"
        return cls.from_rows(ref.rows, layout, analyse(ref.rows, layout=layout))

    def mentioned(self, text: str) -> set[str]:
        for t in (text, text.split(":")[0]):
            if t in self.layers:
                return {t}
        return set()


def to_source_layout(value: np.ndarray, ref_shape: tuple) -> tuple[np.ndarray, tuple | None]:
    """``value`` (an artifact's tensor) arranged like the source's: NCHW artifacts of an NHWC model and the
    reverse. Returns (value, permutation used) or (value, None) where no permutation fits."""
    if value.shape == tuple(ref_shape):
        return value, tuple(range(value.ndim))
    if value.ndim == 4 and len(ref_shape) == 4:
        for perm in ((0, 2, 3, 1), (0, 3, 1, 2)):
            if tuple(value.shape[p] for p in perm) == tuple(ref_shape):
                return np.transpose(value, perm), perm
    squeezed = tuple(d for d in value.shape if d != 1)
    if value.size == int(np.prod(ref_shape)) and squeezed == tuple(d for d in ref_shape if d != 1):
        return value.reshape(ref_shape), "reshape"  # (N, C, 1, 1) from a pooling that kept its dimensions
    return value, None


def arrange(value: np.ndarray, perm, ref_shape: tuple) -> np.ndarray:
    """An artifact tensor in the source layout, with the permutation ``to_source_layout`` found."""
    return value.reshape(ref_shape) if perm == "reshape" else np.transpose(value, perm).reshape(ref_shape)


def unarrange(ref: np.ndarray, perm, shape: tuple) -> np.ndarray:
    """A source tensor in the artifact's layout: what is fed to a cut artifact."""
    return ref.reshape(shape) if perm == "reshape" else np.transpose(ref, np.argsort(perm)).reshape(shape)


def match_by_value(twin: dict[str, np.ndarray], refs: dict[str, np.ndarray], graph: SourceGraph
                   ) -> dict[str, tuple[str | None, float]]:
    """Each artifact tensor of ``twin`` (activation-float values) -> (source layer, cosine), or (None, best
    cosine) where nothing matches. Among equally good layers (a Dropout passes its input on) the earliest
    is taken, the layer that computed the value."""
    out = {}
    for key, value in twin.items():
        best, best_cos = None, -1.0
        for name in sorted(refs, key=lambda n: graph.layers[n].index):
            ref = refs[name]
            if ref.size != value.size:
                continue
            arranged, perm = to_source_layout(value, ref.shape)
            if perm is None and arranged.shape != ref.shape:
                continue
            a, b = arranged.ravel().astype(np.float64), ref.ravel().astype(np.float64)
            denom = np.sqrt(dot(a, a) * dot(b, b))
            cos = dot(a, b) / denom if denom else (1.0 if not a.any() and not b.any() else 0.0)
            if cos > best_cos + 1e-6:
                best, best_cos = name, cos
        out[key] = (best if best_cos >= MIN_VALUE_MATCH else None, round(best_cos, 6))
    return out
