"""TFLite flatbuffers (.tflite): LiteRT runs them; the spec is a flatbuffer metadata entry."""

from __future__ import annotations

from pathlib import Path

from edge_inception.formats import Format, register_format


def _read_spec(path: Path):
    from edge_inception.artifacts import read_tflite_spec

    return read_tflite_spec(path)


def _embed_spec(path: Path, spec) -> None:
    from edge_inception.artifacts import embed_tflite_spec

    embed_tflite_spec(path, spec)


def _inspect(path: Path):
    from edge_inception.validate.tflite import describe_tflite

    return describe_tflite(path)


TFLITE = register_format(Format(
    name="tflite", suffix=".tflite", runtime="litert", precisions=("float32", "float16", "int8"),
    libraries=("tflite",), read_spec=_read_spec, inspect=_inspect, embed_spec=_embed_spec,
))
