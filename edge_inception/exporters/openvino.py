"""OpenVINO IR export with ``openvino.convert_model`` (PyTorch sources through _torch.py).

    info = export_openvino(loaded_model, out / "model.xml", target=get_target("openvino-fp32"))  # + model.bin
    ov_model = to_openvino_model(loaded_model)        # in memory, e.g. for NNCF
    save_ir(ov_model, out / "model.xml", compress_to_fp16=False)

Keras 3 and tf_keras model objects go to ``convert_model`` directly; a SavedModel folder goes by its
path. The input is fixed to the ModelSpec's H, W, C with a dynamic batch, so evaluation can batch.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from edge_inception._core.errors import TargetFailed
from edge_inception._core.native import quiet_native
from edge_inception._core.registry import Registry
from edge_inception.exporters import SOURCE_KINDS, TF_KINDS, register_exporter
from edge_inception.formats.openvino import RT_INFO_KEY
from edge_inception.models.loader import LoadedModel

# Source kind -> fn(lm) -> float openvino.Model with a dynamic batch
OV_MODELS: Registry = Registry("OpenVINO model builder")


def to_openvino_model(lm: LoadedModel):
    """An in-memory ``openvino.Model`` of the source, float32, in the source's layout with a dynamic batch;
    the ModelSpec travels inside it, so the IR alone says how to preprocess its input."""
    ov_model = OV_MODELS.get(lm.kind)(lm)
    ov_model.set_rt_info(json.dumps(lm.spec.to_dict()), RT_INFO_KEY)
    return ov_model


@OV_MODELS.register("torch")
def _from_torch(lm: LoadedModel):
    from edge_inception.exporters._torch import torch_to_openvino

    return torch_to_openvino(lm.model, lm.spec)


@OV_MODELS.register(*TF_KINDS)
def _from_tensorflow(lm: LoadedModel):
    import openvino as ov

    # convert_model takes tf.keras.Model objects, and Keras 3 models through the same TensorFlow
    # frontend (it traces them to a tf.function); a SavedModel is read from its folder.
    source = str(lm.model) if lm.kind == "saved_model" else lm.model
    shape = ov.PartialShape([-1, *lm.spec.input_shape])
    # Keras 3 warns that a positional input does not match its named input structure: harmless.
    with quiet_native() as captured, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ov_model = ov.convert_model(source, input=[shape])
        except Exception as e:  # noqa: BLE001 - the frontends raise OpConversionFailure and plain exceptions
            msg = " ".join(str(e).split()) or " ".join(captured().split()[-40:])
            raise TargetFailed(f"OpenVINO conversion failed: {msg[:300] or type(e).__name__}") from None
    if len(ov_model.inputs) != 1:
        raise TargetFailed(f"OpenVINO conversion gave {len(ov_model.inputs)} inputs; one image input expected")
    return ov_model


def save_ir(ov_model, dest: Path, *, compress_to_fp16: bool) -> None:
    """Write ``dest`` (.xml) and its .bin atomically: both go to a temporary folder beside ``dest`` and
    are renamed into place, .bin first, so the .xml that readers open never names a half-written .bin;
    on failure nothing is left behind."""
    import openvino as ov

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        # The IR names no .bin file: readers take the .xml path with its suffix swapped.
        xml = tmp / "model.xml"
        ov.save_model(ov_model, str(xml), compress_to_fp16=compress_to_fp16)
        os.replace(xml.with_suffix(".bin"), dest.with_suffix(".bin"))
        os.replace(xml, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@register_exporter("openvino", *SOURCE_KINDS)
def export_openvino(lm: LoadedModel, dest: Path, *, target) -> dict:
    import openvino as ov

    precision = target.precision
    if precision not in ("float32", "float16"):
        raise TargetFailed(f"the OpenVINO exporter writes float32 or float16 IR, not {precision}")
    # save_model stores weights as fp16 by default; an fp32 IR has to ask for fp32.
    save_ir(to_openvino_model(lm), dest, compress_to_fp16=precision == "float16")
    return {"converter": f"openvino {ov.__version__} convert_model", "precision": precision,
            "weights": "f16" if precision == "float16" else "f32", "files": [dest.name, dest.with_suffix(".bin").name]}
