"""OpenVINO IR (.xml with its .bin): OpenVINO runs it; the spec is an rt_info entry set at conversion."""

from __future__ import annotations

from pathlib import Path

from edge_inception._core.errors import InputError
from edge_inception._core.native import quiet_native
from edge_inception.formats import Format, register_format, spec_from_json

RT_INFO_KEY = ["edge_inception", "model_spec"]


def read_ir(path: Path):
    """Read an IR with OpenVINO; anything that is not an .xml IR with its .bin is an InputError."""
    import openvino as ov

    path = Path(path)
    fix = "pass the .xml of an OpenVINO IR, with its .bin beside it"
    if path.suffix != ".xml":
        raise InputError(path, "is not an OpenVINO IR (.xml)", fix=fix)
    if not path.is_file():
        raise InputError(path, "does not exist", fix=fix)
    try:
        with quiet_native():
            return ov.Core().read_model(str(path))
    except RuntimeError as e:
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise InputError(path, f"is not an OpenVINO IR that OpenVINO can read ({first[:200]})", fix=fix) from None


def _read_spec(path: Path):
    model = read_ir(path)
    if not model.has_rt_info(RT_INFO_KEY):
        return None
    return spec_from_json(model.get_rt_info(RT_INFO_KEY).astype(str), Path(path))


def _inspect(path: Path):
    from edge_inception.formats._inspect_openvino import describe_openvino

    return describe_openvino(path)


OPENVINO = register_format(Format(
    name="openvino", suffix=".xml", runtime="openvino", precisions=("float32", "float16", "int8"),
    libraries=("nncf",), read_spec=_read_spec, inspect=_inspect,
    companions=lambda path: [path.with_suffix(".bin")],
    # The IR inspector sees quantization at multiply-accumulates only (NNCF leaves the rest to the plugin,
    # which computes it in f16/f32 on NPU and CPU alike), so full_integer cannot be checked there.
    full_integer_checkable=False,
))
