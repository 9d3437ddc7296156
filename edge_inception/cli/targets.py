"""`edge-inception targets [NAME]`: list the deployment profiles or show one in full.

    edge-inception targets                          # every profile: format, precision, runtime, device, constraints
    edge-inception targets tflite-int8-npu          # one profile in full (its TOML file, validated)
    edge-inception targets --target-file my.toml    # check a profile of your own and show it
    edge-inception targets --json
"""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options


def constraint_summary(t) -> str:
    """The device constraints of a profile in a few words, for the listing."""
    c = t.constraints
    parts = []
    if c["full_integer"]:
        parts.append("full integer")
    if c["io_dtypes"]:
        parts.append("I/O " + "/".join(c["io_dtypes"]))
    if c["static_shapes"]:
        parts.append("static shapes")
    if c["weight_granularity"] != "any":
        parts.append(f"{c['weight_granularity']} weights")
    if c["symmetric_weights"]:
        parts.append("symmetric weights")
    if c["allowed_ops"]:
        parts.append(f"{len(c['allowed_ops'])} allowed ops")
    return ", ".join(parts) or "—"


def _row(t) -> dict:
    return {"name": t.name, "format": t.format, "precision": t.precision, "runtime": t.runtime,
            "device": t.device, "device_here": t.device_here, "constraints": constraint_summary(t),
            "float_reference": t.float_reference, "description": t.description}


def _show(t) -> None:
    click.echo(f"{t.name}: {t.description}")
    click.echo(f"  file:            {t.source}")
    click.echo(f"  format:          {t.format} ({t.precision})")
    click.echo(f"  runtime:         {t.runtime} (verifies it on this machine's CPU)")
    here = "present here: run on it" if t.device_here else "not present here: checked statically, measured on CPU"
    click.echo(f"  device:          {t.device}, {t.device_description} ({here})")
    click.echo(f"  float reference: {t.float_reference or '—'}")
    for section in ("quantizer", "export", "constraints", "gate"):
        values = getattr(t, section)
        if not values:
            continue
        click.echo(f"  [{section}]")
        for k, v in values.items():
            shown = ", ".join(v) if isinstance(v, list) and v else ("any" if v == [] else v)
            click.echo(f"    {k} = {shown}")


@click.command("targets")
@click.argument("name", required=False)
@click.option("--target-file", type=click.Path(dir_okay=False),
              help="A profile TOML of your own: validate it and show it.")
@_options.json_out
def command(name, target_file, as_json):
    """List target profiles (shipped and ./targets/*.toml), or show NAME in full.

    Each profile says the format, precision, the runtime that verifies it here, the device it is for
    and that device's constraints; every artifact is checked against them after conversion.
    """
    from rich.console import Console
    from rich.table import Table

    from edge_inception.targets import get_target, list_targets, load_target_file

    if name or target_file:
        t = load_target_file(target_file) if target_file else get_target(name)
        if as_json:
            click.echo(json.dumps({**t.to_dict(), "device_here": t.device_here}, indent=2))
        else:
            _show(t)
        return
    ts = list_targets()
    if as_json:
        click.echo(json.dumps([{**t.to_dict(), "device_here": t.device_here} for t in ts], indent=2))
        return
    table = Table(title="targets")
    for h in ("name", "format", "precision", "runtime", "device", "constraints", "description"):
        table.add_column(h, no_wrap=h in ("name", "device"))
    for t in ts:
        r = _row(t)
        device = r["device"] + ("" if t.device_here else " (not here)")
        table.add_row(r["name"], r["format"], r["precision"], r["runtime"], device, r["constraints"], r["description"])
    console = Console()
    if not console.is_terminal:  # piped: Rich would assume 80 columns and cut the names
        console = Console(width=160)
    console.print(table)
