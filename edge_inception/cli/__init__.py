"""The edge-inception command line: wires one module per command; errors become one line + exit code."""

from __future__ import annotations

import os
import sys

import click

from edge_inception import __version__
from edge_inception._core.errors import EdgeInceptionError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edge-inception")
def cli() -> None:
    """Quantize Inception-family CNNs to int8, export, verify and benchmark them."""


def _wire() -> None:
    # Every non-underscore module of this package is a command exposing ``command``: a new command is a
    # new file, never an edit here.
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            cli.add_command(importlib.import_module(f"{__name__}.{info.name}").command)


_wire()


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="edge-inception", standalone_mode=False)
    except EdgeInceptionError as e:
        click.echo(f"edge-inception: error: {e.message}", err=True)
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("edge-inception: interrupted", err=True)
        return 130
    except click.UsageError as e:  # a bad option or argument: one line too, with where to find help
        where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"edge-inception: error: {e.format_message()}{where}", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except SystemExit as e:  # a command's own exit status (1: a target failed)
        return e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:
        click.echo("edge-inception: interrupted; no partial artifact was kept", err=True)
        return 130
    return 0


def entry() -> None:
    code = main()
    from edge_inception._core.interrupt import workers_running

    if workers_running():  # a converter thread abandoned by Ctrl-C: exit now, do not wait for it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
