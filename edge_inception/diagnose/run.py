"""Diagnose one int8 artifact against its float source model, layer by layer, in bounded memory.

    result = diagnose_artifact(Path("m.tflite"), lm=loaded_model, graph=SourceGraph.of(lm), source=images)
    result["layers"][0]   # the worst layer: source name, module, branch, artifact tensor, local/accumulated stats

Per batch: the source model gives every mapped layer's float output; the artifact is run twice, once as
it is (accumulated error: the int8 model up to that tensor) and once with each quantized op fed the float
reference of its inputs (local error: that op's own quantization). Only ErrorStats sums survive a batch.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

from edge_inception._core.progress import progress
from edge_inception.diagnose.names import SourceGraph, arrange, match_by_value, to_source_layout, unarrange
from edge_inception.diagnose.source import LOGITS, probe_for
from edge_inception.diagnose.stats import ErrorStats, dot
from edge_inception.diagnose.tracers import get_tracer


def batch_size_for(spec) -> int:
    """Images per batch: every mapped activation of a batch is held three times (float, accumulated,
    local), so large inputs take small batches (Inception v3 at 299x299: 4; 28x28: 32)."""
    h, w, _ = spec.input_shape
    return int(max(1, min(32, 400_000 // (h * w))))


def _format_of(path: Path):
    from edge_inception._core.errors import InputError
    from edge_inception.formats import list_formats

    fmt = next((f for f in list_formats() if f.suffix == path.suffix), None)
    if fmt is None:
        raise InputError(path, f"is not an artifact diagnose reads (suffix '{path.suffix}')",
                         fix="pass an int8 .tflite, .onnx or OpenVINO .xml file")
    return fmt


def _name_map(tracer, graph: SourceGraph, lm, first: np.ndarray) -> dict[str, tuple[str | None, str]]:
    """point key -> (source layer or None, how it was found)."""
    inputs = [lay.name for lay in graph.order if lay.kind == "input"]
    found: dict[str, tuple[str | None, str]] = {}
    for p in tracer.points:
        if p.reads_input:
            found[p.key] = (inputs[0] if inputs else None, "model input")
        else:
            name = graph.layer_for(*p.names)
            how = "by name"
            if name is None and p.weights:
                name, how = graph.layer_for(*p.weights), "by its weights' names"
            top = type(lm.model).__name__ if lm.kind == "torch" else None
            if name is None and top and any(n.split(";")[0].split("/")[0] == top for n in p.names):
                how = f"an operator of {top}'s own forward(): no module of its own"  # global pooling, flatten
            found[p.key] = (name, how) if name else (None, how if how.startswith("an op") else
                                                     "no source layer in its names")
    named = sum(1 for p in tracer.points if not p.reads_input and found[p.key][0])
    rest = sum(1 for p in tracer.points if not p.reads_input)
    if rest and named < rest / 2:
        twin = tracer.twin(first)
        if twin is not None:
            probe = probe_for(lm, [lay.name for lay in graph.order if lay.kind != "input"])
            refs = probe.run(first)
            refs.pop(LOGITS)
            for key, (name, cos) in match_by_value(
                    {k: v for k, v in twin.items() if not found[k][0]}, refs, graph).items():
                found[key] = (name, f"by value (cosine {cos:.4f})") if name else (
                    None, f"no match by value (best cosine {cos:.3f})")
    return found


def diagnose_artifact(path: Path, *, lm, graph: SourceGraph, source, samples: int | None = None,
                      threads: int = 2, label: str | None = None) -> dict:
    path = Path(path)
    fmt = _format_of(path)
    t0 = time.perf_counter()
    tracer = get_tracer(fmt.name)(path, threads=threads)
    if not tracer.points:
        from edge_inception._core.errors import InputError

        raise InputError(path, "holds no int8 activations to diagnose (a float artifact?)",
                         fix="pass an int8 artifact, e.g. from `edge-inception convert --target tflite-int8`")
    bs = batch_size_for(lm.spec)
    n_total = min(samples or len(source), len(source))
    batches = _batches(source, lm.spec, bs, n_total)
    first = next(batches, None)
    if first is None:
        return {"artifact": str(path), "format": fmt.name, "runtime": fmt.runtime, "layers": [], "samples": 0}
    mapping = _name_map(tracer, graph, lm, first[: min(4, len(first))])
    mapped = sorted({s for s, _ in mapping.values() if s and graph.layers[s].kind != "input"},
                    key=lambda n: graph.layers[n].index)
    probe = probe_for(lm, mapped)
    perms, gains = _layouts(tracer, mapping, graph, probe, first[: min(4, len(first))])
    fed = {k for k, perm in perms.items() if perm is not None}
    tracer.prepare_local(sorted(fed))
    # An op reading a quantized tensor that is not fed (no source layer to take it from) computes from the
    # int8 model's own values: its "local" error would carry earlier errors in, so none is given.
    separable = {p.key: all(u in fed for u in p.upstream) for p in tracer.points}
    output = _OutputStats(fmt.runtime, path, threads)
    acc: dict[str, ErrorStats] = {}
    loc: dict[str, ErrorStats] = {}
    slices: dict[str, list] = {}
    seen = 0
    # Progress starts once the artifact is known to be diagnosable: a refused file prints one line only.
    with progress(label, total=n_total) if label else contextlib.nullcontext(lambda n=1: None) as tick:
        for x in _chain(first, batches):
            refs = probe.run(x)
            refs |= {s: x for s, _ in mapping.values() if s and graph.layers[s].kind == "input"}
            got_acc = tracer.accumulated(x)
            feeds = {}
            for p in tracer.points:
                s = mapping[p.key][0]
                if s is not None and perms.get(p.key) is not None:
                    feeds[p.key] = unarrange(refs[s] * gains.get(p.key, 1.0), perms[p.key], got_acc[p.key].shape)
            got_loc = tracer.local(x, feeds)
            for p in tracer.points:
                s = mapping[p.key][0]
                if s is None or perms.get(p.key) is None:
                    continue
                ref = refs[s] * gains[p.key] if p.key in gains else refs[s]
                a = arrange(got_acc[p.key], perms[p.key], ref.shape)
                lo = arrange(got_loc[p.key], perms[p.key], ref.shape)
                q = dict(scale=p.scale, zero_point=p.zero_point, qmin=p.qmin, qmax=p.qmax)
                acc.setdefault(p.key, ErrorStats(**q)).add(ref, a)
                if separable[p.key]:
                    loc.setdefault(p.key, ErrorStats(**q)).add(ref, lo)
                cuts = graph.concat_slices(s)
                if cuts:
                    if p.key not in slices:
                        slices[p.key] = [(name, a0, a1, ErrorStats(**q), ErrorStats(**q)) for name, a0, a1 in cuts]
                    axis = graph.concat_axis(s)  # channels last (Keras) or first (PyTorch, NCHW artifacts)
                    for _, a0, a1, sl, sa in slices[p.key]:
                        cut = (slice(None),) * (axis % ref.ndim) + (slice(a0, a1),)
                        if separable[p.key]:
                            sl.add(ref[cut], lo[cut])
                        sa.add(ref[cut], a[cut])
            output.add(x, refs_logits=refs[LOGITS])
            seen += len(x)
            tick(len(x))
    rows = []
    for depth, p in enumerate(tracer.points):
        s, how = mapping[p.key]
        module, branch = graph.place(s)
        row = {"artifact_tensor": p.key, "op": p.op, "source_layer": s, "name_map": how,
               "module": module, "branch": branch, "depth": depth,
               "source_index": graph.layers[s].index if s else None,
               "scale": p.scale, "zero_point": p.zero_point, "qmin": p.qmin, "qmax": p.qmax,
               "consumers": list(p.consumers), "requantized_for": list(p.requantized_for)}
        if p.key in gains:
            row["gain"] = round(gains[p.key], 5)
            row["note"] = (f"the artifact computes this tensor x{gains[p.key]:.4g} (a constant the converter "
                           "folded into it, such as a residual scale): compared in the artifact's units")
        if p.key in acc:
            row["local"] = loc[p.key].summary() if p.key in loc else {}
            row["accumulated"] = acc[p.key].summary()
            if p.key not in loc:
                row["note"] = ("no local error: it reads a quantized tensor without a source layer ("
                               + ", ".join(u for u in p.upstream if u not in fed) + ")")
        elif s is not None:
            row["note"] = "its shape matches no arrangement of the source layer's output"
        if p.key in slices:
            row["branches"] = [{"input": name, "channels": [a0, a1], "local": sl.summary(), "accumulated": sa.summary()}
                               for name, a0, a1, sl, sa in slices[p.key]]
        row["score_db"] = _score(row)
        rows.append(row)
    ranked = sorted(rows, key=lambda r: (r["score_db"] is None, r["score_db"] if r["score_db"] is not None else 0))
    for rank, r in enumerate(ranked, 1):
        r["rank"] = rank
    return {"artifact": str(path), "format": fmt.name, "runtime": fmt.runtime, "samples": seen,
            "batch_size": bs, "quantized_tensors": len(rows),
            "mapped": sum(1 for r in rows if r["source_layer"]), "output": output.summary(),
            "wall_s": round(time.perf_counter() - t0, 2), "layers": ranked}


def _layouts(tracer, mapping, graph, probe, x) -> tuple[dict, dict]:
    """(point key -> how its tensor is arranged against its source layer's, None where no arrangement
    fits; point key -> the constant gain the artifact's tensor carries against the source layer's)."""
    refs = probe.run(x) | {lay.name: x for lay in graph.order if lay.kind == "input"}
    got = tracer.accumulated(x)
    perms, gains = {}, {}
    for p in tracer.points:
        s = mapping[p.key][0]
        perms[p.key] = to_source_layout(got[p.key], refs[s].shape)[1] if s is not None else None
        if perms[p.key] is not None:
            gain = folded_gain(arrange(got[p.key], perms[p.key], refs[s].shape), refs[s])
            if gain is not None:
                gains[p.key] = gain
    return perms, gains


def folded_gain(value: np.ndarray, ref: np.ndarray) -> float | None:
    """The constant c with ``value`` = c * ``ref`` where a converter folded a multiplication into the op
    (OpenVINO folds Inception-ResNet's residual scale into the 1x1 projection before it); None when the
    tensor is the source layer's own. Taken only when scaling explains the difference, not error: the
    scaled fit must be good (>= 15 dB) and 6 dB better than the plain one, so a clipped or badly
    quantized layer, whose least-squares gain also moves off 1, keeps its error."""
    a, r = value.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    rr, aa = dot(r, r), dot(a, a)
    if not rr or not aa:
        return None
    c = dot(a, r) / rr
    if c <= 0 or abs(c - 1) < 0.05:
        return None

    def sqnr(x):
        err = dot(a - x, a - x)
        return float("inf") if not err else 10 * np.log10(aa / err)

    scaled, plain = sqnr(c * r), sqnr(r)
    return c if scaled >= 15 and scaled >= plain + 6 else None


def _score(row: dict) -> float | None:
    """What the ranking sorts by: the layer's local SQNR, or its worst branch's share of a concatenation
    (one wide branch leaves the others few levels while the whole tensor's SQNR looks fine)."""
    vals = [row.get("local", {}).get("sqnr_db")]
    vals += [b["local"].get("sqnr_db") for b in row.get("branches", [])]
    vals = [v for v in vals if v is not None]
    return min(vals) if vals else None


def _chain(first, rest):
    yield first
    yield from rest


def _batches(source, spec, bs: int, n: int):
    left = n
    for images, _ in source.batches(bs):
        if left <= 0:
            return
        images = images[:left]
        left -= len(images)
        yield spec.model_input(images)


class _OutputStats:
    """The artifact's final output against the source's: SQNR of the logits and top-1 agreement."""

    def __init__(self, runtime: str, path: Path, threads: int):
        from edge_inception.runtimes import get_runtime

        self._session = get_runtime(runtime).load(path, threads=threads)
        self._stats = ErrorStats()
        self._agree = self._n = 0

    def add(self, x, *, refs_logits) -> None:
        got = self._session.run(x)
        self._stats.add(refs_logits, got)
        self._agree += int(np.sum(np.argmax(got, -1) == np.argmax(refs_logits, -1)))
        self._n += len(x)

    def summary(self) -> dict:
        s = self._stats.summary()
        return {"sqnr_db": s.get("sqnr_db"), "cosine": s.get("cosine"),
                "top1_agreement": round(self._agree / self._n, 4) if self._n else None}
