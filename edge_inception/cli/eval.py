"""`edge-inception eval`: accuracy and fidelity of existing artifacts on labelled or unlabelled data."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception eval out/inception-mini.tflite-int8.tflite --data fashion-mnist \\
      --reference out/inception-mini.tflite-fp32.tflite
  edge-inception eval out/*.onnx out/*.xml --data labelled_images/
  edge-inception eval model.int8.onnx --data unlabelled_images/ --reference model.keras
  edge-inception eval out/inception-mini.onnx-int8.onnx --data sample --reference inception-mini
  edge-inception eval out/inception-mini.tflite-int8.tflite --data sample --device ssh://pi@raspberrypi.local
"""


@click.command("eval", epilog=EPILOG)
@click.argument("artifacts", nargs=-1, required=True)
@click.option("--data", required=True, help="Images: a folder (class sub-folders give labels), a .npz, "
              "'fashion-mnist' (test split) or 'sample' (the shipped 2,000-image evaluation sample).")
@click.option("--reference", help="Float reference: an artifact or source model file, or a zoo model name. "
              "Gives the change with its 95%% interval, agreement, SQNR and cosine; required for unlabelled data.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate a seeded random subset of this size.")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per batch (data is streamed; memory does not grow with the data set).")
@_options.device
@_options.accept_new_host_key
@_options.preprocessing
@_options.runtime
@_options.framework
@_options.threads
@click.option("--out", type=click.Path(file_okay=False), help="Write eval.json, eval.md and eval.html here.")
@_options.force
@_options.trust_remote_code
@_options.json_out
def command(artifacts, data, reference, limit, batch_size, device, accept_new_host_key, preprocessing, runtime,
            framework, threads, out, force, trust_remote_code, as_json):
    """Top-1 and top-5 of each ARTIFACT on --data; against --reference, the top-1 change with a paired
    bootstrap 95% interval and an exact McNemar p-value, top-1 agreement, SQNR and cosine similarity.

    With --device the artifacts run on that device (the reference here), and each row adds an output
    check against this machine's run of the same artifact: top-1 agreement and max abs difference."""
    from edge_inception.measure import evaluate
    from edge_inception.report.table import print_eval_table

    report = evaluate(list(artifacts), data=data, reference=reference, framework=framework, limit=limit,
                      batch_size=batch_size, threads=threads, preprocessing=preprocessing, runtime=runtime,
                      out=out, force=force, device=device, accept_new_host_key=accept_new_host_key,
                      trust_remote_code=trust_remote_code)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_eval_table(report)
