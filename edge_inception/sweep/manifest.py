"""The reproducibility manifest inside an artifact's own metadata, per format, registered where defined.

    embed_manifest(path, "tflite", manifest)    # True when the format could carry it
    read_manifest(path, "onnx")                 # the manifest dict, or None

TFLite: a flatbuffer metadata entry; ONNX: a metadata_props entry (external weight data untouched);
OpenVINO IR: an rt_info entry, the IR saved again without fp16 compression. Every rewrite is atomic.
The manifest is also in the cell's report.json and in the sweep report, which `convert --reproduce`
reads; the artifact's copy keeps a file's origin with the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from edge_inception._core.registry import Registry

KEY = "edge_inception.manifest"
_WRITERS: Registry[tuple[Callable, Callable]] = Registry("manifest writer")


def embed_manifest(path: Path, fmt: str, manifest: dict) -> bool:
    if fmt not in _WRITERS:
        return False
    return _WRITERS.get(fmt)[0](Path(path), json.dumps(manifest, sort_keys=True)) is not False


def read_manifest(path: Path, fmt: str) -> dict | None:
    text = _WRITERS.get(fmt)[1](Path(path))
    return None if text is None else json.loads(text)


def _tflite_write(path: Path, text: str) -> bool:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from edge_inception._core.atomic import atomic_path

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(path.read_bytes(), 0))
    if any(getattr(b, "offset", 0) for b in model.buffers or []):
        return False  # weights after the flatbuffer do not survive the object API (formats/tflite.py)
    buf = schema.BufferT()
    buf.data = list(text.encode())
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (KEY, KEY.encode())] + [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(builder.Output())
    return True


def _tflite_read(path: Path) -> str | None:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() in (KEY.encode(), KEY):
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode()
    return None


def _onnx_write(path: Path, text: str) -> bool:
    import onnx

    from edge_inception._core.atomic import atomic_path

    proto = onnx.load(str(path), load_external_data=False)  # the weights file beside it stays as it is
    props = [p for p in proto.metadata_props if p.key != KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(props)
    entry = proto.metadata_props.add()
    entry.key, entry.value = KEY, text
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(proto.SerializeToString())
    return True


def _onnx_read(path: Path) -> str | None:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in proto.metadata_props if p.key == KEY), None)


_RT_KEY = ["edge_inception", "manifest"]


def _openvino_write(path: Path, text: str) -> bool:
    import os
    import tempfile

    import openvino as ov

    from edge_inception._core.interrupt import commit

    model = ov.Core().read_model(str(path))
    model.set_rt_info(text, _RT_KEY)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".manifest.") as tmp:
        xml = Path(tmp) / path.name
        ov.save_model(model, str(xml), compress_to_fp16=False)  # the default would halve float weights
        with commit():  # .bin first: the .xml that names it appears last
            os.replace(xml.with_suffix(".bin"), path.with_suffix(".bin"))
            os.replace(xml, path)
    return True


def _openvino_read(path: Path) -> str | None:
    import openvino as ov

    model = ov.Core().read_model(str(path))
    return model.get_rt_info(_RT_KEY).astype(str) if model.has_rt_info(_RT_KEY) else None


_WRITERS.add("tflite", (_tflite_write, _tflite_read))
_WRITERS.add("onnx", (_onnx_write, _onnx_read))
_WRITERS.add("openvino", (_openvino_write, _openvino_read))
