"""`edge-inception calibration [NAME|FILE]`: list the calibration recipes or show one in full.

    edge-inception calibration                       # every recipe: samples, selection, method, bias correction
    edge-inception calibration robust                # one in full, with what each library is told
    edge-inception calibration my-recipe.toml        # check a recipe of your own and show it
    edge-inception calibration --json
"""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options


def _method(r) -> str:
    return f"percentile {r.percentile:g}" if r.method == "percentile" else r.method


def _libraries(r) -> dict[str, str]:
    """library -> what it is told for this recipe, or why it refuses it."""
    from edge_inception.calibration_recipes.methods import RANGE_METHODS, supported, told

    out = {}
    for lib in RANGE_METHODS:
        methods, biases = supported(lib)
        if r.method not in methods or r.bias_correction not in biases:
            bad = r.method if r.method not in methods else f"bias_correction {r.bias_correction}"
            out[lib] = f"refused ({bad}; supports {', '.join(methods)} / bias {', '.join(biases)})"
        else:
            args = told(lib, method=r.method, percentile=r.percentile, bias_correction=r.bias_correction)
            out[lib] = ", ".join(f"{k}={v}" for k, v in args.items()) or "nothing set (the library's defaults)"
    return out


def _show(r) -> None:
    click.echo(f"{r.name}: {r.description}")
    click.echo(f"  file:            {r.file}")
    for key in ("source", "samples", "if_fewer", "selection", "seed", "pool", "batch_size", "method", "percentile",
                "bias_correction"):
        value = getattr(r, key)
        if key == "pool" and r.selection != "diverse" or key == "percentile" and value is None:
            continue
        shown = "the model's default (the shipped sample for zoo models, --calibration for yours)" \
            if key == "source" and value is None else value
        click.echo(f"  {key + ':':<16} {shown}")
    click.echo("  each library is told:")
    for lib, text in _libraries(r).items():
        click.echo(f"    {lib:<13} {text}")


@click.command("calibration")
@click.argument("name", required=False)
@_options.json_out
def command(name, as_json):
    """List calibration recipes (shipped and ./calibration/*.toml), or show NAME (or a recipe FILE) in full.

    A recipe says which images calibrate (source, count, random / stratified / diverse selection), how
    ranges are estimated (minmax, mean_minmax, percentile, entropy, mse, or each library's own) and the
    bias correction; a target whose library cannot do it refuses the recipe before any work. Use one with
    `edge-inception convert --calibration-recipe NAME|FILE`.
    """
    from rich.console import Console
    from rich.table import Table

    from edge_inception.calibration_recipes import list_recipes, resolve_recipe

    if name:
        r = resolve_recipe(name)
        if as_json:
            click.echo(json.dumps({**r.to_dict(), "libraries": _libraries(r)}, indent=2))
        else:
            _show(r)
        return
    rs = list_recipes()
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rs], indent=2))
        return
    table = Table(title="calibration recipes")
    for h in ("name", "samples", "selection", "method", "bias correction", "refused by", "description"):
        table.add_column(h, no_wrap=h in ("name", "method"))
    for r in rs:
        refused = [lib for lib, text in _libraries(r).items() if text.startswith("refused")]
        table.add_row(r.name, str(r.samples), r.selection, _method(r), r.bias_correction,
                      ", ".join(refused) or "—", r.description)
    console = Console()
    if not console.is_terminal:  # piped: Rich would assume 80 columns and cut the names
        console = Console(width=160)
    console.print(table)
