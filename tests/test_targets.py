"""Target profiles are data: validated when loaded, with errors that name the key and the fix."""

import pytest

from edge_inception._core.errors import InputError
from edge_inception.targets import get_target, list_targets, load_target_file, resolve_targets


def test_shipped_profiles_load():
    names = {t.name for t in list_targets()}
    assert {"tflite-int8", "tflite-fp32"} <= names
    t = get_target("tflite-int8")
    assert (t.format, t.precision, t.runtime) == ("tflite", "int8", "litert")
    assert t.quantizer["per_channel"] is True and t.constraints["full_integer"] is True
    assert get_target(t.float_reference).precision == "float32"


def _write(tmp_path, body: str):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\nformat = "tflite"\nprecision = "int8"\nruntime = "litert"\n'
                 'float_reference = "tflite-fp32"\n' + body)
    return p


def test_unknown_key_names_key_and_allowed(tmp_path):
    with pytest.raises(InputError) as e:
        load_target_file(_write(tmp_path, '[quantizer]\nlibrary = "tflite"\nper_chanel = true\n'))
    assert "mine.toml" in e.value.message and "'per_chanel'" in e.value.message and "per_channel" in e.value.message


def test_bad_value_names_allowed_values(tmp_path):
    with pytest.raises(InputError) as e:
        load_target_file(_write(tmp_path, '[quantizer]\nlibrary = "tflite"\nio_dtype = "int4"\n'))
    assert "io_dtype" in e.value.message and "uint8" in e.value.message


def test_int8_target_without_quantizer_is_refused(tmp_path):
    with pytest.raises(InputError, match="needs \\[quantizer\\] library"):
        load_target_file(_write(tmp_path, ""))


def test_users_profile_dir_is_searched(tmp_path, monkeypatch):
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "tflite-int8-pt.toml").write_text(
        'name = "tflite-int8-pt"\nformat = "tflite"\nprecision = "int8"\nruntime = "litert"\n'
        'float_reference = "tflite-fp32"\n[quantizer]\nlibrary = "tflite"\nper_channel = false\n')
    monkeypatch.chdir(tmp_path)
    t = get_target("tflite-int8-pt")
    assert t.quantizer["per_channel"] is False
    assert [x.name for x in resolve_targets("tflite-int8,tflite-int8-pt")] == ["tflite-int8", "tflite-int8-pt"]


def test_impossible_combinations_are_refused_on_load(tmp_path):
    base = 'name = "mine"\nformat = "onnx"\nruntime = "onnxruntime"\n'
    p = tmp_path / "mine.toml"
    p.write_text(base + 'precision = "float16"\n')
    with pytest.raises(InputError, match="cannot be float16"):
        load_target_file(p)
    p.write_text('name = "mine"\nformat = "onnx"\nruntime = "litert"\nprecision = "float32"\n')
    with pytest.raises(InputError, match="does not run onnx"):
        load_target_file(p)
    p.write_text(base + 'precision = "int8"\nfloat_reference = "onnx-fp32"\n[quantizer]\nlibrary = "tflite"\n')
    with pytest.raises(InputError, match="does not produce onnx"):
        load_target_file(p)


@pytest.mark.parametrize("body, named", [
    ('[quantizer]\nlibrary = "tflite"\ncalibration_recipe = "../x"\n', "calibration_recipe"),
    ('[gate]\nmin_agreement = 7.0\n', "min_agreement"),
    ('[gate]\nmax_top1_drop = -1\n', "max_top1_drop"),
    ('[quantizer]\nlibrary = "tflite"\nper_channel = "yes"\n', "per_channel"),
])
def test_values_out_of_range_or_of_the_wrong_type_are_refused(tmp_path, body, named):
    with pytest.raises(InputError) as e:
        load_target_file(_write(tmp_path, body))
    assert "mine.toml" in e.value.message and named in e.value.message


def test_a_profile_name_is_an_identifier_not_a_path(tmp_path):
    p = tmp_path / "escaped.toml"
    p.write_text('name = "../../../tmp/x/escaped"\nformat = "tflite"\nprecision = "float32"\nruntime = "litert"\n')
    with pytest.raises(InputError, match="is not a plain identifier"):
        load_target_file(p)
