"""`edge-inception convert`: convert, verify and measure a model for one or more targets."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception convert --target tflite-int8
  edge-inception convert model.keras --target tflite-int8 --calibration calib/ --eval-data labelled/
  edge-inception convert model.h5 --target tflite-int8 --calibration calib.npz --eval-data fashion-mnist
"""


@click.command("convert", epilog=EPILOG)
@click.argument("model", required=False)
@click.option("--target", "targets", default="tflite-int8", show_default=True,
              help="Comma-separated target profiles (see `edge-inception targets`).")
@click.option("--target-file", "target_files", multiple=True, type=click.Path(dir_okay=False),
              help="A target profile TOML of your own (repeatable).")
@click.option("--calibration", help="Calibration images: a folder of JPEG/PNG, a .npz, or 'fashion-mnist' "
              "(training split). Default for zoo models: the shipped sample.")
@click.option("--calibration-samples", type=click.IntRange(min=1), help="How many calibration images to use.")
@click.option("--eval-data", help="Labelled evaluation images: a folder with one sub-folder per class, a .npz "
              "with labels, or 'fashion-mnist' (the 10,000-image test split). Default for zoo models: the "
              "shipped sample.")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Evaluate a seeded random subset of this size.")
@click.option("--preprocessing", type=click.Choice(["unit", "inception", "imagenet", "raw"]),
              help="Pixel scaling your model expects: unit [0,1] (default), inception [-1,1], imagenet "
              "mean/std, raw 0-255.")
@click.option("--latency-runs", type=click.IntRange(min=1), default=50, show_default=True,
              help="Timed runs per artifact (interleaved with its float reference).")
@_options.framework
@_options.threads
@_options.out
@_options.force
@_options.json_out
def command(model, targets, target_files, calibration, calibration_samples, eval_data, eval_limit, preprocessing,
            latency_runs, framework, threads, out, force, as_json):
    """Convert MODEL (default: the shipped inception-mini) to each --target, check every artifact
    against its profile, and compare it with its float reference on the same runtime."""
    from edge_inception.api import convert
    from edge_inception.report.table import print_convert_table

    report = convert(model, targets=targets, target_files=list(target_files), framework=framework,
                     calibration=calibration, calibration_samples=calibration_samples, eval_data=eval_data,
                     eval_limit=eval_limit, preprocessing=preprocessing, out=out, force=force, threads=threads,
                     latency_runs=latency_runs)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_convert_table(report)
    if report["status"] != "ok":
        raise SystemExit(1)
