"""TFLite flatbuffers (.tflite): LiteRT runs them; the spec is a flatbuffer metadata entry."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from edge_inception.formats import Format, register_format, spec_from_json
from edge_inception.models.spec import ModelSpec

TFLITE_SPEC_KEY = "edge_inception.spec"


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




def _inspect(path: Path):
    from edge_inception.formats._inspect_tflite import describe_tflite

    return describe_tflite(path)


TFLITE = register_format(Format(
    name="tflite", suffix=".tflite", runtime="litert", precisions=("float32", "float16", "int8"),
    libraries=("tflite",), read_spec=read_tflite_spec, inspect=_inspect, embed_spec=embed_tflite_spec,
))
