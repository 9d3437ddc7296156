"""`edge-inception sweep`: run a sweep file's cells on Ray (or here, one after another), cached by content."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception sweep sweep.toml --out sweep-out
  edge-inception sweep sweep.toml --out sweep-out --address 10.0.0.5:6379
  RAY_ADDRESS=10.0.0.5:6379 edge-inception sweep sweep.toml --out sweep-out
  edge-inception sweep sweep.toml --out sweep-out --force --rerun '*/onnx-int8/*'
  edge-inception sweep sweep.toml --out sweep-out --serial

\b
A sweep file (TOML):
  targets = ["tflite-int8", "onnx-int8", "openvino-int8"]
  models = ["inception-mini"]            # or [[models]] model = "m.keras", name, framework
  devices = ["pi", "local"]              # each measures every cell's artifact: a row per device
  [[recipes]]                            # calibration settings; default: convert's
  name = "c64"
  calibration_samples = 64
  [[methods]]                            # default: ptq
  name = "qat1"
  method = "qat"
  train_data = "fashion-mnist"
  [evaluation]
  limit = 500
  [run]
  cpus_per_cell = 1
  memory_gb_per_cell = 2.0

Cell ids are MODEL/TARGET/RECIPE/METHOD, and MODEL/TARGET/RECIPE/METHOD@DEVICE for a device's row
(--rerun '*@pi' measures on pi again). Finished cells are kept in OUT/cache by the hash of their
inputs and never computed again; an interrupted sweep resumes when run again. Exit 1 if a cell failed.
"""


@click.command("sweep", epilog=EPILOG)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default="edge-inception-sweep", show_default=True,
              help="Folder for report.json, report.md, report.html and (by default) the cell cache.")
@click.option("--address", help="An existing Ray cluster (default: RAY_ADDRESS, else a local Ray sized to this "
              "machine).")
@click.option("--rerun", multiple=True, metavar="PATTERN",
              help="Compute cells whose id matches this shell pattern again, cached or not (repeatable).")
@click.option("--serial", is_flag=True, help="Run the cells one after another in this process, without Ray.")
@_options.force
@_options.json_out
def command(file, out, address, rerun, serial, force, as_json):
    """Run every cell of the sweep FILE (models x targets x recipes x methods, each measured on the
    file's devices) and write one report with every row and the Pareto front of top-1 change, latency
    and size."""
    from edge_inception.sweep import sweep
    from edge_inception.sweep.report import print_sweep_table

    report = sweep(file, out=out, address=address, rerun=list(rerun), force=force, serial=serial)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_sweep_table(report)
    if report["status"] != "ok":
        raise SystemExit(1)
