"""`edge-inception gate`: fail a CI job when a report (or its change against a baseline) regresses."""

from __future__ import annotations

import click

EPILOG = """\b
Examples:
  edge-inception gate out/report.json
  edge-inception gate out/report.json --baseline ci/baseline.json --junit gate.xml
  edge-inception gate out/ --baseline ci/baseline.json --update-baseline
  edge-inception gate out/report.json --config ci/gate.toml --strict --json

\b
Exit codes: 0 pass (warnings allowed), 1 a regression or a failed target, 2 bad input (unreadable
report, a schema it cannot read, a baseline of another model or data, an unknown config key).
Thresholds: [gate] in ./edge-inception.toml or [tool.edge-inception.gate] in ./pyproject.toml.
"""


@click.command("gate", epilog=EPILOG)
@click.argument("report", type=click.Path())
@click.option("--baseline", type=click.Path(dir_okay=False),
              help="A stored report of the same model and data to compare with (top-1 paired per image).")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Thresholds file (default: ./edge-inception.toml [gate], else ./pyproject.toml "
              "[tool.edge-inception.gate]).")
@click.option("--strict", is_flag=True, help="Let point estimates decide: a change beyond a threshold fails even "
              "when its 95% interval reaches back inside it.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML: one test case per target and check.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the result as JSON to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the table.")
@click.option("--update-baseline", is_flag=True, help="Write REPORT as the new --baseline (atomically) when the "
              "gate passes; a missing baseline file is created.")
@click.option("--force", is_flag=True, help="Overwrite an existing --junit or --out file; with --update-baseline, "
              "write it even when the gate fails, or when the old baseline is of another model or data. Never "
              "writes onto the report, baseline or config being read.")
def command(report, baseline, config, strict, junit, out, as_json, update_baseline, force):
    """Check REPORT (a report.json, or the folder holding it) against the thresholds and, with --baseline,
    against a stored report. A regression counts only when the 95% interval of the change lies beyond
    the threshold; a point estimate beyond it inside a straddling interval is a warning."""
    import sys

    from edge_inception.gating import run_gate

    result = run_gate(report, baseline=baseline, config=config, strict=strict, junit=junit, out=out,
                      as_json=as_json, update=update_baseline, force=force)
    if result["exit_code"]:
        sys.exit(result["exit_code"])
