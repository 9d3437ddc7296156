"""`edge-inception inspect`: layers, Inception modules, branch MAC shares and 1x1 bottleneck savings."""

from __future__ import annotations

import json
import sys

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception inspect googlenet
  edge-inception inspect googlenet --framework torch --layers
  edge-inception inspect model.keras --json > model-inspect.json
  edge-inception inspect model.json                  # a Keras model description (model.to_json())
  edge-inception inspect nets.py:make_net --input-shape 3,224,224
"""


@click.command("inspect", epilog=EPILOG)
@click.argument("model", required=False)
@click.option("--layers", "show_layers", is_flag=True, help="Also print every layer (JSON always has them).")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="PyTorch state_dict for a factory MODEL (loaded with torch.load(weights_only=True)).")
@click.option("--input-shape", callback=_options.parse_shape,
              help="Input shape C,H,W where it cannot be inferred (PyTorch factories).")
@_options.framework
@_options.trust_remote_code
@_options.json_out
def command(model, show_layers, weights, input_shape, framework, trust_remote_code, as_json):
    """Show MODEL's Inception modules (found from the graph: a fork whose branches re-join in a
    concatenation), each branch's share of the module's multiply-accumulates, what each 1x1 reduction
    saves, and totals; with --layers every layer's output shape, parameters and MACs.

    MODEL is what `convert` takes (default: the shipped inception-mini), or a Keras model JSON. A
    model whose branches cannot be joined is named branch by branch (exit code 2)."""
    from edge_inception.inspect import inspect_model

    report = inspect_model(model, framework=framework, input_shape=input_shape, weights=weights,
                           trust_remote_code=trust_remote_code)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_report(report, show_layers=show_layers)


def _m(v: int) -> str:
    """MACs or parameters, short: 1.58 G, 120.4 M, 12.3 k."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= size:
            return f"{v / size:.2f} {unit}" if unit == "G" else f"{v / size:.1f} {unit}"
    return str(v)


def _shape(s) -> str:
    return "x".join(map(str, s)) if s else "?"


def print_report(r: dict, *, show_layers: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=160)
    t = r["totals"]
    if show_layers:
        table = Table(title=f"{r['model']}: layers")
        for h, j in (("layer", "left"), ("op", "left"), ("output", "right"), ("params", "right"),
                     ("MACs", "right"), ("module", "left")):
            table.add_column(h, justify=j)
        for row in r["layers"]:
            table.add_row(row["name"], row["op"], _shape(row["output_shape"]), f"{row['params']:,}",
                          f"{row['macs']:,}", row["module"] or "")
        console.print(table)
    if r["modules"]:
        table = Table(title=f"{r['model']}: Inception modules (each branch's share of the module's MACs; "
                      "MACs a 1x1 reduction saves)")
        for h, j in (("module", "left"), ("in -> out", "left"), ("params", "right"), ("MACs", "right"),
                     ("branch", "left"), ("share", "right"), ("without 1x1 -> with", "right")):
            table.add_column(h, justify=j)
        for m in r["modules"]:
            for k, b in enumerate(m["branches"]):
                first = k == 0
                bn = b["bottleneck"]
                saves = (f"{_m(bn['macs_without_reduction'])} -> {_m(bn['macs_with_reduction'])} ({bn['saving']}x)"
                         if bn else "")
                table.add_row(m["name"] if first else "",
                              f"{_shape(m['input_shape'])} -> {_shape(m['output_shape'])}" if first else "",
                              f"{m['params']:,}" if first else "", _m(m["macs"]) if first else "",
                              b["summary"], f"{b['mac_share']:.1%}", saves,
                              end_section=k == len(m["branches"]) - 1)
        console.print(table)
    share = f" ({t['macs_in_modules'] / t['macs']:.0%} of them in the modules)" if t["macs"] and r["modules"] else ""
    console.print(f"{r['model']} ({r['framework']}, {r['layout']}): {t['params']:,} parameters, "
                  f"{t['macs']:,} MACs{share}, {t['layers']} layers, {t['inception_modules']} Inception modules")
