"""`edge-inception setup litert-torch`: install optional converters that need their own environment."""

from __future__ import annotations

import click


@click.command("setup", epilog="\b\nExample:\n  edge-inception setup litert-torch")
@click.argument("component", type=click.Choice(["litert-torch"]))
def command(component):
    """Install COMPONENT. litert-torch (PyTorch -> TFLite) goes into its own virtual environment,
    because its pinned dependencies would break packages installed beside edge-inception."""
    from edge_inception.exporters import _litert_torch

    click.echo(f"installing litert-torch {_litert_torch.LITERT_TORCH_VERSION} into {_litert_torch.VENV} ...")
    path = _litert_torch.setup()
    click.echo(f"ready: {path}")
