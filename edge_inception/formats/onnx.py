"""ONNX models (.onnx, weights possibly in a .onnx.data file beside it): ONNX Runtime runs them; the spec
is a metadata_props entry, written by the exporter and kept by ONNX Runtime's quantization."""

from __future__ import annotations

from pathlib import Path

from edge_inception.formats import Format, register_format, spec_from_json

SPEC_KEY = "edge_inception.spec"  # metadata_props key: the ModelSpec travels inside the artifact


def _read_spec(path: Path):
    import onnx


    try:  # the graph only: external weight data is not needed to read metadata
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - not a protobuf: the runtime's load names the problem
        return None
    text = next((p.value for p in proto.metadata_props if p.key == SPEC_KEY), None)
    return None if text is None else spec_from_json(text, Path(path))


def _inspect(path: Path):
    from edge_inception.formats._inspect_onnx import describe_onnx

    return describe_onnx(path)


ONNX = register_format(Format(
    name="onnx", suffix=".onnx", runtime="onnxruntime", precisions=("float32", "int8"),
    libraries=("onnxruntime",), read_spec=_read_spec, inspect=_inspect,
    companions=lambda path: [path.with_name(path.name + ".data")],
))
