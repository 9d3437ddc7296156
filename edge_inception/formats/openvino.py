"""OpenVINO IR (.xml with its .bin): OpenVINO runs it; the spec is an rt_info entry set at conversion."""

from __future__ import annotations

from pathlib import Path

from edge_inception.formats import Format, register_format

RT_INFO_KEY = ["edge_inception", "model_spec"]


def _read_spec(path: Path):
    from edge_inception.artifacts import spec_from_json
    from edge_inception.exporters.openvino import read_ir

    model = read_ir(path)
    if not model.has_rt_info(RT_INFO_KEY):
        return None
    return spec_from_json(model.get_rt_info(RT_INFO_KEY).astype(str), Path(path))


def _inspect(path: Path):
    from edge_inception.validate.openvino import describe_openvino

    return describe_openvino(path)


OPENVINO = register_format(Format(
    name="openvino", suffix=".xml", runtime="openvino", precisions=("float32", "float16", "int8"),
    libraries=("nncf",), read_spec=_read_spec, inspect=_inspect,
    companions=lambda path: [path.with_suffix(".bin")],
    # The IR inspector sees quantization at multiply-accumulates only (NNCF leaves the rest to the plugin,
    # which computes it in f16/f32 on NPU and CPU alike), so full_integer cannot be checked there.
    full_integer_checkable=False,
))
