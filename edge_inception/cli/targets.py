"""`edge-inception targets [NAME]`: list the deployment profiles or show one in full."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options


@click.command("targets")
@click.argument("name", required=False)
@_options.json_out
def command(name, as_json):
    """List target profiles (shipped and ./targets/*.toml), or show NAME in full."""
    from rich.console import Console
    from rich.table import Table

    from edge_inception.targets import get_target, list_targets

    if name:
        t = get_target(name)
        click.echo(json.dumps(t.to_dict(), indent=2))
        return
    ts = list_targets()
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in ts], indent=2))
        return
    table = Table(title="targets")
    for h in ("name", "format", "precision", "runtime", "float reference", "description"):
        table.add_column(h)
    for t in ts:
        table.add_row(t.name, t.format, t.precision, t.runtime, t.float_reference or "—", t.description)
    Console().print(table)
