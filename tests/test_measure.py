"""`eval` and `bench` on every artifact `convert` makes, from the CLI and the Python API, and their bad input."""

import json

import numpy as np
import pytest

import edge_inception as ei
from edge_inception._core.errors import InputError, UsageError


def _artifacts(job):
    code, out, rows = job
    arts = sorted(p for p in out.iterdir()
                  if p.suffix in (".tflite", ".onnx", ".xml") and p.name.startswith("inception-mini."))
    assert len(arts) >= 8, [p.name for p in arts]
    return out, arts, rows


def test_eval_every_artifact_against_its_float_reference(every_target_job, run_cli, tmp_path):
    out, arts, rows = _artifacts(every_target_job)
    code, stdout, err = run_cli("eval", *map(str, arts), "--data", "sample", "--limit", "400",
                                "--reference", "inception-mini", "--out", str(tmp_path / "eval"), "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["schema_version"].startswith("1.") and report["kind"] == "eval"
    assert report["data"]["evaluation"]["samples"] == 400 and len(report["data"]["evaluation"]["fingerprint"]) == 64
    for row in report["targets"]:
        acc = row["accuracy"]
        assert row["status"] == "ok"
        # Every artifact of the trained model answers like the Keras source on real images.
        assert acc["agreement"] >= 0.95, (row["target"], acc)
        assert acc["top1"] > 0.85 and acc["top5"] >= acc["top1"]
        lo, hi = acc["delta_ci95"]
        assert lo <= acc["delta_points"] <= hi
        assert acc["delta_points"] == pytest.approx((acc["top1"] - acc["float_top1"]) * 100, abs=1e-6)
        assert 0 <= acc["mcnemar_p"] <= 1 and acc["cosine"] > 0.99
    assert (tmp_path / "eval" / "eval.json").is_file()


def test_eval_agrees_with_convert_on_the_same_data(every_target_job):
    """The same artifact, reference and data give convert's numbers again (same fingerprint too)."""
    out, _, rows = _artifacts(every_target_job)
    row = rows["onnx-int8"]
    report = ei.evaluate([row["artifact"]], data="sample", reference=row["reference"]["artifact"])
    acc = report["targets"][0]["accuracy"]
    assert acc["top1"] == pytest.approx(row["accuracy"]["top1"])
    assert acc["agreement"] == pytest.approx(row["accuracy"]["agreement"])
    assert acc["delta_ci95"] == row["accuracy"]["delta_ci95"]
    convert_report = json.loads((out / "report.json").read_text())
    assert report["data"]["evaluation"]["fingerprint"] == convert_report["data"]["evaluation"]["fingerprint"]


def test_eval_without_labels_measures_fidelity(every_target_job, image_folders):
    out, _, rows = _artifacts(every_target_job)
    report = ei.evaluate([rows["tflite-int8"]["artifact"]], data=image_folders["calibration"],
                         reference=rows["tflite-int8"]["reference"]["artifact"])
    acc = report["targets"][0]["accuracy"]
    assert "top1" not in acc and acc["agreement"] > 0.95 and acc["sqnr_db"] > 15
    with pytest.raises(InputError, match="no labels and no --reference"):
        ei.evaluate([rows["tflite-int8"]["artifact"]], data=image_folders["calibration"])


def test_bench_every_artifact(every_target_job, run_cli, tmp_path):
    out, arts, _ = _artifacts(every_target_job)
    code, stdout, err = run_cli("bench", *map(str, arts), "--runs", "20", "--json", "--out", str(tmp_path / "bench"))
    assert code == 0, err
    report = json.loads(stdout)
    assert report["kind"] == "bench" and len(report["targets"]) == len(arts)
    for row in report["targets"]:
        lat = row["latency"]
        assert lat["runs"] == 20 and len(lat["samples_ms"]) == 20
        assert 0 < lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"]
        assert lat["throughput_ips"] == pytest.approx(1000 / lat["p50_ms"])
        assert row["load_ms"] > 0 and row["peak_rss_mb"] > 50 and row["size_bytes"] > 100_000
        assert row["engine"]["threads"] == 2
    assert (tmp_path / "bench" / "bench.json").is_file()


def test_bench_interleaves_with_a_reference_and_stops_on_precision(every_target_job):
    _, _, rows = _artifacts(every_target_job)
    row = rows["openvino-int8"]
    report = ei.benchmark([row["artifact"]], reference=row["reference"]["artifact"], batch=4,
                          precision=0.05, max_time=20)
    lat = report["targets"][0]["latency"]
    assert lat["batch"] == 4 and lat["reference"]["runs"] == lat["candidate"]["runs"] == lat["runs"]
    lo, hi = lat["ratio_ci95"]
    assert lo <= lat["ratio"] <= hi
    assert lat["stop_reason"] and lat["stop_rule"].startswith("stop when")
    assert report["targets"][0]["size_ratio"] > 2  # int8 weights


def test_eval_and_bench_on_source_models(tmp_path, sample_arrays):
    """Keras and PyTorch source files run through the same contract (the keras and torch runtimes)."""
    import torch

    from edge_inception.models.loader import load_model

    load_model("inception-mini").model.save(tmp_path / "m.keras")
    tm = load_model("inception-mini", framework="torch").model
    ep = torch.export.export(tm, (torch.zeros(2, 1, 28, 28),), dynamic_shapes=({0: torch.export.Dim("b")},))
    torch.export.save(ep, tmp_path / "m.pt2")
    images, labels = sample_arrays["evaluation"]
    np.savez(tmp_path / "d.npz", images=images[:200], labels=labels[:200])
    report = ei.evaluate([tmp_path / "m.pt2"], data=tmp_path / "d.npz", reference=tmp_path / "m.keras",
                         preprocessing="unit")
    acc = report["targets"][0]["accuracy"]
    assert acc["agreement"] == 1.0 and acc["delta_points"] == 0.0 and acc["sqnr_db"] > 60
    lat = ei.benchmark([tmp_path / "m.pt2"], reference=tmp_path / "m.keras", runs=10)["targets"][0]["latency"]
    assert lat["runs"] == 10 and lat["reference_p50_ms"] > 0


def test_bad_input_is_one_line_and_exit_2(every_target_job, tmp_path, run_cli):
    _, _, rows = _artifacts(every_target_job)
    tfl = rows["tflite-int8"]["artifact"]
    not_a_model = tmp_path / "model.tflite"
    not_a_model.write_bytes(b"GIF89a not a model")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["eval", str(not_a_model), "--data", "sample"], "not a TFLite model"),
        (["bench", str(tmp_path / "notes.txt")], "does not exist"),
        (["bench", tfl, "--runtime", "openvino"], "not a model the openvino runtime runs"),
        (["eval", tfl, "--data", str(empty)], "holds no JPEG or PNG images"),
        (["eval", tfl, "--data", "sample", "--out", str(tmp_path / "f.txt")], "is a file"),
    ]
    (tmp_path / "f.txt").write_text("x")
    for argv, needle in cases:
        code, out, err = run_cli(*argv)
        assert code == 2, (argv, out, err)
        line = err.strip()
        assert line.startswith("edge-inception: error:") and "\n" not in line and "Traceback" not in line
        if needle:
            assert needle in line, line
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    code, _, err = run_cli("bench", str(txt))
    assert code == 2 and "is not a model file edge-inception can run" in err


def test_existing_report_needs_force(every_target_job, tmp_path):
    _, _, rows = _artifacts(every_target_job)
    art = rows["tflite-int8"]["artifact"]
    ei.benchmark([art], runs=3, out=tmp_path)
    with pytest.raises(InputError, match="already exists"):
        ei.benchmark([art], runs=3, out=tmp_path)
    ei.benchmark([art], runs=3, out=tmp_path, force=True)
    with pytest.raises(UsageError):
        ei.benchmark([art], precision=2.0)


def test_eval_streams_50000_images_without_holding_them(every_target_job, sample_arrays):
    """50,000 real images (the 2,000-image sample, 25 times over) stream through eval: the peak of Python
    allocations stays far below the 39 MB of pixels (157 MB as float32) it would take to hold them."""
    import tracemalloc

    from edge_inception.artifacts import open_artifact
    from edge_inception.data.readers import ImageSource
    from edge_inception.evaluation.accuracy import stream_scores
    from edge_inception.runtimes import get_runtime

    images, y = sample_arrays["evaluation"]

    class Repeated(ImageSource):
        name, labels = "sample x25", y  # labelled

        def __len__(self):
            return 25 * len(images)

        def batches(self, batch_size):
            for _ in range(25):
                for i in range(0, len(images), batch_size):
                    yield images[i : i + batch_size, :, :, None], y[i : i + batch_size]

    _, _, rows = _artifacts(every_target_job)
    art = open_artifact(rows["tflite-int8"]["artifact"])
    ref = open_artifact(rows["tflite-int8"]["reference"]["artifact"])
    cand = (get_runtime("litert").load(art.path, threads=2), art.spec)
    reference = (get_runtime("litert").load(ref.path, threads=2), ref.spec)
    tracemalloc.start()
    summaries, _ = stream_scores({"int8": cand}, Repeated(), reference=reference, batch_size=256)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    acc = summaries["int8"]
    assert acc["n"] == 50_000 and acc["top1"] > 0.85 and acc["agreement"] > 0.97
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MB"
