"""The ``diagnose`` part of a convert report.json (schema 1.4): what ``convert --diagnose`` found, enough
for report.html's heat maps and depth plots and report.md's ranked table to render from the JSON alone.

    report["diagnose"]["runtimes"][0]["layers"][0]   # the worst quantized tensor of the first int8 target

The full diagnosis (every statistic of every tensor) is diagnose.json beside the report; these rows keep
what the views read. Used by schema.py's Report.
"""

from __future__ import annotations

from pydantic import Field

from edge_inception.report.values import Count, Number, Open, Text
from edge_inception.report.values import OpenModel as _Open
from edge_inception.report.values import doc as _doc


class DiagnosedLayer(_Open):
    rank: Count = _doc("1 = the worst (lowest local SQNR, or worst branch slice of a concatenation)")
    source_layer: Text = _doc("the source model's layer (Keras layer name or PyTorch module path); null: none")
    module: Text = _doc("its Inception module (the concatenation that closes it)")
    branch: Text = _doc("branch1, branch2, ... of that module; null outside a branch")
    artifact_tensor: Text = _doc("the artifact's own tensor (or quantizer node) name")
    name_map: Text = _doc("how the tensor was mapped: by name, by value (cosine), or why not")
    depth: Count = _doc("position in execution order")
    score_db: Number = _doc("what the ranking sorts by (dB)")
    local: Open = _doc("the layer fed the float reference: sqnr_db, cosine, rmse_per_step, clipped")
    accumulated: Open = _doc("the int8 model up to there: the same statistics")


class DiagnosedRuntime(_Open):
    target: Text = _doc("the int8 target the artifact came from")
    runtime: Text = _doc("litert, onnxruntime or openvino")
    artifact: Text = None
    reference: Text = _doc("what it was compared with: the source model, or a float artifact")
    quantized_tensors: Count = None
    mapped: Count = _doc("quantized tensors mapped to a source layer")
    output: Open = _doc("the final output against float: sqnr_db, cosine, top1_agreement")
    wall_s: Number = None
    layers: list[DiagnosedLayer] = Field(default_factory=list, description="worst first")
    findings: list[Open] = Field(default_factory=list, description="Inception findings: kind, module, branch, text")
    notes: list[str] = Field(default_factory=list, description="statistics that could not be computed, and why")


class Diagnosis(_Open):
    path: Text = _doc("diagnose.json: the full diagnosis")
    samples: Count = None
    data: Open = _doc("source, samples")
    modules: list[Open] = Field(default_factory=list, description="the Inception modules: name, branches")
    runtimes: list[DiagnosedRuntime] = Field(default_factory=list)
    worst: Open = _doc("runtime -> its worst source layer")
