"""Artifacts on disk: which runtime runs a file, and the ModelSpec it carries inside.

    art = open_artifact("out/inception-mini.tflite-int8.tflite")
    art.runtime, art.spec                         # 'litert', ModelSpec(...) read from the file's metadata

Every artifact edge-inception writes carries its ModelSpec (ONNX metadata_props, OpenVINO rt_info,
TFLite metadata), so `eval` and `bench` preprocess exactly as `convert` did. A file without one (made
elsewhere) needs --preprocessing; its input shape is read from the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edge_inception._core.errors import InputError
from edge_inception._core.files import check_regular_file
from edge_inception.models.spec import ModelSpec, Preprocessing


@dataclass(frozen=True)
class Artifact:
    path: Path
    runtime: str
    spec: ModelSpec
    spec_source: str  # "metadata" (carried by the file) or "inferred" (shape from the model, --preprocessing)

    @property
    def label(self) -> str:
        return self.path.name


def open_artifact(path: str | Path, *, runtime: str | None = None, preprocessing: str | None = None) -> Artifact:
    """Find the runtime for ``path`` (by what the file is) and its ModelSpec; InputError when nothing
    here runs it, or when ``runtime`` was asked for and does not run this kind of file."""
    from edge_inception.runtimes import get_runtime, list_runtimes

    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist", fix="pass a model file made by `edge-inception convert`")
    check_regular_file(path, what="model file", allow_dir=True)  # a FIFO would block; an empty file misleads
    matches = [rt for rt in list_runtimes() if rt.accepts(path)]
    if runtime is not None:
        rt = get_runtime(runtime)
        if rt not in matches:
            kinds = ", ".join(f"{r.name} ({'/'.join(r.suffixes)})" for r in list_runtimes())
            raise InputError(path, f"is not a model the {runtime} runtime runs",
                             fix=f"runtimes and their files: {kinds}")
    elif not matches:
        kinds = ", ".join(s for r in list_runtimes() for s in r.suffixes)
        raise InputError(path, "is not a model file edge-inception can run", fix=f"pass one of: {kinds}")
    else:
        rt = matches[0]
    spec = rt.read_spec(path)
    source = "metadata"
    if spec is None:
        spec, source = rt.infer_spec(path), "inferred"
    if preprocessing is not None:
        spec = replace(spec, preprocessing=Preprocessing.preset(preprocessing))
    elif source == "inferred":
        source = "inferred (no edge-inception metadata: preprocessing 'unit' assumed, pass --preprocessing)"
    return Artifact(path=path, runtime=rt.name, spec=spec, spec_source=source)


