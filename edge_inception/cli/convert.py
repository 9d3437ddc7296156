"""`edge-inception convert`: convert, verify and measure a model for one or more targets."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception convert --target tflite-int8
  edge-inception convert model.keras --target tflite-int8 --calibration calib/ --eval-data labelled/
  edge-inception convert model.h5 --target tflite-int8 --calibration calib.npz --eval-data fashion-mnist
  edge-inception convert inception-mini --framework torch --target onnx-int8
  edge-inception convert nets.py:make_net --weights net.pt --input-shape 3,224,224 --calibration calib/
  edge-inception convert --method qat --train-data fashion-mnist --target tflite-int8,onnx-int8 --compare-ptq
  edge-inception convert --target onnx-int8,openvino-int8 --calibration-recipe robust
  edge-inception convert --target tflite-int8,onnx-int8,openvino-int8 --gate --baseline ci/baseline.json
  edge-inception convert inception-v3 --target tflite-int8,onnx-int8,openvino-int8 --jobs 2
  edge-inception convert --target tflite-int8,onnx-int8 --device pi --device ssh://root@10.0.0.7
  edge-inception convert --reproduce sweep-out/report.json --target onnx-int8 --out again
  edge-inception convert model.keras --calibration c.npz --eval-data e.npz --max-drop 0.5 --diagnose
  edge-inception convert model.keras --calibration c.npz --keep-float 'mixed_5*' --target onnx-int8
"""


@click.command("convert", epilog=EPILOG)
@click.argument("model", required=False)
@click.option("--target", "targets", default="tflite-int8", show_default=True,
              help="Comma-separated target profiles (see `edge-inception targets`).")
@click.option("--target-file", "target_files", multiple=True, type=click.Path(dir_okay=False),
              help="A target profile TOML of your own (repeatable).")
@click.option("--calibration", help="Calibration images: a folder of JPEG/PNG, a .npz, or 'fashion-mnist' "
              "(training split). Default for zoo models: the shipped sample.")
@click.option("--calibration-samples", type=click.IntRange(min=1), help="How many calibration images to use "
              "(overrides the recipe's count).")
@click.option("--calibration-recipe", help="A calibration recipe NAME or FILE for every int8 target: which images, "
              "how many, range method, bias correction (see `edge-inception calibration`). Default: each target "
              "profile's own (default).")
@click.option("--eval-data", help="Labelled evaluation images: a folder with one sub-folder per class, a .npz "
              "with labels, or 'fashion-mnist' (the 10,000-image test split). Default for zoo models: the "
              "shipped sample.")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Evaluate a seeded random subset of this size.")
@click.option("--preprocessing", type=click.Choice(["unit", "inception", "imagenet", "raw"]),
              help="Pixel scaling your model expects: unit [0,1] (default), inception [-1,1], imagenet "
              "mean/std, raw 0-255.")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="PyTorch state_dict for a factory MODEL (loaded with torch.load(weights_only=True)).")
@click.option("--input-shape", callback=_options.parse_shape,
              help="Input shape C,H,W where it cannot be inferred (TorchScript, factories).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Convert up to this many targets at once, each in a worker process, then time them one at a "
              "time. Faster with cores and memory to spare; the workers' memory adds up.")
@click.option("--latency-runs", type=click.IntRange(min=1), default=50, show_default=True,
              help="Timed runs per artifact (interleaved with its float reference).")
@click.option("--method", type=click.Choice(["ptq", "qat"]), default="ptq", show_default=True,
              help="ptq: post-training quantization. qat: fine-tune with fake quantization on --train-data first "
              "(tfmot for Keras; NNCF for PyTorch to ONNX/OpenVINO, torchao PT2E for PyTorch to TFLite), then export "
              "with the ranges learned in training.")
@click.option("--train-data", help="QAT training images with labels: a folder with one sub-folder per class, a .npz "
              "with labels, or 'fashion-mnist' (the 60,000-image training split).")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="QAT epochs.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True),
              help="QAT learning rate (Adam; default 1e-5).")
@click.option("--train-limit", type=click.IntRange(min=1), help="Train on a seeded random subset of this size.")
@click.option("--distill/--no-distill", default=None,
              help="QAT loss: cross-entropy plus KL divergence to the float model's predictions (default), or "
              "cross-entropy on the labels only.")
@click.option("--compare-ptq", is_flag=True, help="With --method qat: also build and evaluate the PTQ artifact of "
              "each int8 target, shown beside QAT.")
@click.option("--gate", "run_gate_after", is_flag=True,
              help="Gate the report right after converting (see `edge-inception gate`); exit 1 on a regression.")
@click.option("--baseline", type=click.Path(dir_okay=False),
              help="With --gate: a baseline report.json to compare with.")
@click.option("--gate-config", type=click.Path(dir_okay=False),
              help="With --gate: thresholds file (default: ./edge-inception.toml or ./pyproject.toml).")
@click.option("--junit", type=click.Path(dir_okay=False), help="With --gate: write JUnit XML here.")
@click.option("--device", "device", multiple=True, help="Also measure every target on this device "
              "(repeatable): ssh://user@host[:port], adb[:SERIAL], local, or a name declared in edge-inception.toml.")
@click.option("--reproduce", type=click.Path(dir_okay=False), help="Rebuild the sweep cell of --target from "
              "the reproducibility manifest in this report.json (a sweep's, or a cell's own); other options are "
              "taken from the manifest.")
@click.option("--diagnose", "diagnose", is_flag=True, help="Also diagnose every int8 artifact layer by layer against "
              "the source model: out/diagnose.json, heat maps and depth plots in report.html "
              "(see `edge-inception diagnose`).")
@click.option("--keep-float", "keep_float", multiple=True, metavar="PATTERN",
              help="Keep the source layers matching PATTERN (a name, a glob, or /regex/) float in every int8 target, "
              "each with the layers that must stay float with it (repeatable). Not for NPU profiles.")
@click.option("--max-drop", type=click.FloatRange(min=0, max=100),
              help="Fallback budget: keep the fewest layer groups float so top-1 is within this many points of float.")
@click.option("--min-agreement", type=click.FloatRange(min=0, max=1),
              help="Fallback budget: share of images whose top-1 must equal float's.")
@_options.accept_new_host_key
@_options.framework
@_options.threads
@_options.out
@_options.force
@_options.trust_remote_code
@_options.json_out
def command(model, run_gate_after, baseline, gate_config, junit, as_json, reproduce, **options):
    """Convert MODEL (default: the shipped inception-mini) to each --target, check every artifact
    against its profile, and compare it with its float reference on the same runtime.

    MODEL is a zoo name, a Keras .keras/.h5/SavedModel, or PyTorch: 'pkg.module:function' or
    'file.py:function' returning an nn.Module, an ExportedProgram .pt2, or a TorchScript .pt."""
    from edge_inception.api import convert
    from edge_inception.report.table import print_convert_table

    if not run_gate_after and (baseline or gate_config or junit):
        raise click.UsageError("--baseline, --gate-config and --junit apply with --gate")
    if reproduce:
        from edge_inception.sweep.reproduce import reproduce_command

        return reproduce_command(reproduce, model=model, options=options, as_json=as_json)
    if junit:  # before the conversion, not after it: an existing file is not overwritten without --force
        from edge_inception._core.outputs import check_output_file

        check_output_file(junit, force=options["force"], inputs=[baseline, gate_config], flag="--junit")
    # The flags are named like convert()'s keywords, so they pass straight through (edge_inception/options.py).
    report = convert(model, **{**options, "target_files": list(options["target_files"]),
                               "device": list(options["device"]), "keep_float": list(options["keep_float"])})
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_convert_table(report)
        from edge_inception.diagnose.render import fallback_lines

        for line in fallback_lines(report):
            click.echo(line)
    if options["device"]:
        from edge_inception._core.errors import InputError
        from edge_inception.report.devices import device_failures

        failed = device_failures(report)  # a device lost or refusing mid-run: exit 2, the report kept
        if failed:
            raise InputError(None, failed[0] + (f" (and {len(failed) - 1} more; see the report)" if failed[1:] else ""))
    if run_gate_after:
        from edge_inception.gating import run_gate

        # A failed target is itself a regression for the gate, so its verdict covers both. With --json the
        # gate's table goes to stderr, keeping stdout one JSON document.
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            result = run_gate(report["path"], baseline=baseline, config=gate_config, junit=junit,
                              force=options["force"])
        raise SystemExit(result["exit_code"])
    if report["status"] != "ok":
        raise SystemExit(1)
