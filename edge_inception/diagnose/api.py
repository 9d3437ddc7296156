"""``diagnose()``: one or more int8 artifacts against the float source model, written as diagnose.json
(and diagnose.html) when ``out`` is given.

    result = diagnose("out/m.tflite-int8.tflite", reference="inception-mini", data="sample", samples=64)
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError

DIAGNOSE_VERSION = "1.0"
_ARTIFACT_SUFFIXES = (".tflite", ".onnx", ".xml")


def diagnose(artifacts: str | Path | list[str | Path], *, reference: str | Path | None = None,
             data: str | Path | None = None, samples: int = 100, out: str | Path | None = None,
             force: bool = False, threads: int = 2, framework: str = "keras",
             trust_remote_code: bool = False, html: bool = True, weights: str | Path | None = None,
             input_shape: tuple[int, ...] | None = None) -> dict:
    """Compare every quantized tensor of each artifact with the float ``reference``: the source model (a Keras
    model file or zoo name; default: the model the artifact's spec names, for zoo models) or a float artifact
    (.tflite/.onnx/.xml, keyed then by its own tensor names; diagnose/reference.py) on ``samples`` images
    of ``data`` (default: the shipped sample for zoo models). Returns the diagnosis as a dict. ``html``:
    also write diagnose.html beside diagnose.json. ``framework``, ``weights``, ``input_shape`` and
    ``trust_remote_code`` load ``reference`` as ``load_model`` does (a PyTorch factory and its state_dict)."""
    from edge_inception._core.limits import check_ranges
    from edge_inception.data.readers import open_source
    from edge_inception.diagnose.findings import findings
    from edge_inception.diagnose.names import SourceGraph
    from edge_inception.diagnose.run import diagnose_artifact
    from edge_inception.models.loader import load_model

    paths = [Path(a) for a in ([artifacts] if isinstance(artifacts, str | Path) else artifacts)]
    if not paths:
        raise UsageError("diagnose needs at least one artifact", fix="pass an int8 .tflite, .onnx or .xml file")
    for p in paths:
        if not p.is_file():
            raise InputError(p, "does not exist", fix="pass an int8 .tflite, .onnx or OpenVINO .xml file")
    check_ranges(samples=samples, threads=threads)
    written = []
    if out is not None:
        written = [Path(out) / "diagnose.json", *([Path(out) / "diagnose.html"] if html else [])]
        existing = [w for w in written if w.exists()]
        if existing and not force:
            raise InputError(existing[0], "already exists", fix="pass --force to overwrite, or choose another --out")
    from edge_inception.models.loader import LoadedModel

    if isinstance(reference, LoadedModel):  # convert --diagnose: the model already loaded
        lm = reference
    elif reference is not None and Path(str(reference)).suffix in _ARTIFACT_SUFFIXES:
        lm = _float_artifact(Path(reference), threads)
    else:
        lm = load_model(reference if reference is not None else _zoo_reference(paths[0]), framework=framework,
                        trust_remote_code=trust_remote_code, weights=weights, input_shape=input_shape)
    if lm.random_weights:  # a zoo model without shipped weights: this build is not the one converted
        raise UsageError(f"{lm.source.removeprefix('zoo:')} ships no weights: its seeded random build matches the "
                         "artifact only if this very build, with these library versions, made it",
                         fix="save the model you converted (model.save('m.keras')) and pass it as --reference")
    if data is None:
        from edge_inception.models import zoo

        if not lm.source.startswith("zoo:") and not (lm.kind == "float-artifact" and zoo.is_zoo_model(lm.spec.name)):
            raise UsageError("diagnose needs images for your model", fix="pass --data path/to/images/ (or a .npz, "
                             "or fashion-mnist)")
        data = "sample:evaluation"
    source = data if hasattr(data, "batches") else open_source(data, lm.spec, split="test", labelled=False,
                                                                   limit=samples)
    graph = SourceGraph.of(lm)
    runtimes = []
    for p in paths:
        n = min(samples, len(source))
        r = diagnose_artifact(p, lm=lm, graph=graph, source=source, samples=n, threads=threads,
                              label=f"diagnose {p.name}")
        r["findings"] = findings(r, graph)
        r["reference"] = lm.source
        if lm.kind == "float-artifact" and r["mapped"] < r["quantized_tensors"] / 2:
            r["notes"] = [f"only {r['mapped']} of {r['quantized_tensors']} tensors of {p.name} have a name (or value) "
                          f"in the float reference {Path(lm.source).name}: pass the float artifact of the same format "
                          "and exporter (the run's *-fp32 twin), or the source model"]
        runtimes.append(r)
    result = {"kind": "diagnose", "version": DIAGNOSE_VERSION,
              "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
              "model": lm.to_dict(), "data": {"source": source.name, "samples": min(samples, len(source))},
              "modules": [{"name": m["name"], "branches": len(m["branches"])} for m in graph.modules],
              "runtimes": runtimes}
    if out is not None:
        from edge_inception._core.atomic import atomic_write_text
        from edge_inception.diagnose.render import render_html

        atomic_write_text(written[0], json.dumps(result, indent=1))
        if html:  # convert --diagnose draws it inside report.html instead
            atomic_write_text(written[1], render_html(result))
        result["paths"] = [str(w) for w in written]
    return result


def _float_artifact(path: Path, threads: int):
    """--reference a float .tflite/.onnx/.xml: refused when missing or when it holds int8 activations."""
    from edge_inception.diagnose.reference import FloatArtifactReference, quantized_tensors

    if not path.is_file():
        raise InputError(path, "does not exist", fix="pass the float artifact (e.g. the run's *-fp32 file) or the "
                         "source model as --reference")
    if quantized_tensors(path):
        raise UsageError(f"--reference {path} is an int8 artifact; the reference must be float",
                         fix="pass its float twin (the run's *-fp32 artifact) or the source model")
    return FloatArtifactReference(path, threads=threads)


def _zoo_reference(path: Path) -> str:
    """The zoo model an artifact made by edge-inception came from (its embedded spec names it)."""
    from edge_inception.formats import list_formats
    from edge_inception.models import zoo

    fmt = next((f for f in list_formats() if f.suffix == path.suffix), None)
    spec = fmt.read_spec(path) if fmt else None
    if spec is not None and zoo.is_zoo_model(spec.name):
        return spec.name
    raise UsageError(f"{path}: which float model it came from is not known",
                     fix="pass --reference with the Keras model it was converted from")
