"""`edge-inception models`: list the zoo."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options


@click.command("models")
@_options.json_out
def command(as_json):
    """List the zoo's models, their frameworks, inputs and whether trained weights ship."""
    import sys

    from rich.console import Console
    from rich.table import Table

    from edge_inception.models.zoo import list_models

    entries = list_models()
    rows = [{"name": e.name, "framework": e.framework, "input": "x".join(map(str, e.spec.input_shape)),
             "trained_weights": bool(e.weights_path and e.weights_path.is_file()), "description": e.description}
            for e in entries]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="zoo")
    for h in rows[0] if rows else ():
        table.add_column(h.replace("_", " "), no_wrap=h != "description")
    for r in rows:
        table.add_row(*("yes" if v is True else "no" if v is False else str(v) for v in r.values()))
    # Not a terminal (CI logs, pipes): a fixed wide layout rather than rich's 80-column default.
    (Console() if sys.stdout.isatty() else Console(width=160)).print(table)
