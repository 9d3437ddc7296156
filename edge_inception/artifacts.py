"""Artifacts on disk: which runtime runs a file, and the ModelSpec it carries inside.

    art = open_artifact("out/inception-mini.tflite-int8.tflite")
    art.runtime, art.spec                         # 'litert', ModelSpec(...) read from the file's metadata
    embed_tflite_spec(path, spec)                 # TFLite: the spec as a flatbuffer metadata entry

Every artifact edge-inception writes carries its ModelSpec (ONNX metadata_props, OpenVINO rt_info,
TFLite metadata), so `eval` and `bench` preprocess exactly as `convert` did. A file without one (made
elsewhere) needs --preprocessing; its input shape is read from the model itself.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.files import check_regular_file
from edge_inception.models.spec import ModelSpec, Preprocessing

TFLITE_SPEC_KEY = "edge_inception.spec"


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


def spec_from_json(text: str | bytes, path: Path) -> ModelSpec:
    try:
        return ModelSpec.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(path, f"carries an unreadable edge-inception spec ({e})",
                         fix="re-create it with `edge-inception convert`") from None


def embed_tflite_spec(path: str | Path, spec: ModelSpec) -> None:
    """Add (or replace) the spec as a TFLite metadata entry, rewriting the file atomically."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from edge_inception._core.atomic import atomic_path

    path = Path(path)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(path.read_bytes(), 0))
    if any(getattr(b, "offset", 0) for b in model.buffers or []):
        # Weights stored after the flatbuffer (ai-edge-quantizer's layout) do not survive a rebuild
        # through the object API: leave such a file as it is (eval/bench then infer its spec).
        return
    data = json.dumps(spec.to_dict()).encode()
    buf = schema.BufferT()
    buf.data = list(data)
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = TFLITE_SPEC_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (TFLITE_SPEC_KEY, TFLITE_SPEC_KEY.encode())]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(builder.Output())


# Formats whose exporters cannot carry the spec themselves get it written afterwards (ONNX and OpenVINO
# exporters embed it as they write; ORT and NNCF quantization keep it).
SPEC_WRITERS = {"tflite": embed_tflite_spec}


def embed_spec(path: str | Path, fmt: str, spec: ModelSpec) -> None:
    writer = SPEC_WRITERS.get(fmt)
    if writer is not None:
        writer(path, spec)


def read_tflite_spec(path: str | Path) -> ModelSpec | None:
    from ai_edge_litert import schema_py_generated as schema

    path = Path(path)
    raw = path.read_bytes()
    if raw[4:8] != b"TFL3":  # not a TFLite flatbuffer: the runtime's own load gives the clear error
        return None
    try:
        model = schema.Model.GetRootAs(raw, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() in (TFLITE_SPEC_KEY.encode(), TFLITE_SPEC_KEY):
                return spec_from_json(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes(), path)
    except (IndexError, AttributeError, ValueError, TypeError, struct.error):
        return None  # a damaged flatbuffer: the runtime's own load gives the clear error
    return None


def require_image_shape(shape, path: Path, layout: str) -> tuple[int, int, int]:
    """(N, H, W, C) or (N, C, H, W) of an artifact's input -> H, W, C, or an InputError."""
    dims = list(shape)
    if len(dims) != 4:
        raise InputError(path, f"takes input of shape {tuple(dims)}, not an image batch")
    h, w, c = (dims[1], dims[2], dims[3]) if layout == "NHWC" else (dims[2], dims[3], dims[1])
    if any(not isinstance(d, int) or d <= 0 for d in (h, w, c)):
        raise InputError(path, f"has a dynamic image size {tuple(dims)}", fix="pass --input-shape")
    return h, w, c


def guess_layout(shape) -> str:
    """Channels-last unless the second dimension looks like channels and the last does not."""
    dims = list(shape)
    if len(dims) == 4 and dims[1] in (1, 3) and dims[3] not in (1, 3):
        return "NCHW"
    return "NHWC"


def inferred_spec(path: Path, shape, framework: str) -> ModelSpec:
    if not shape:
        raise UsageError(f"{path}: its input shape is unknown", fix="pass a model with a static image input")
    layout = guess_layout(shape)
    return ModelSpec(name=path.stem, framework=framework, input_shape=require_image_shape(shape, path, layout),
                     layout=layout, preprocessing=Preprocessing.preset("unit"))
