"""`edge-inception devices`: the devices declared in the project, and `devices check` to connect to one."""

from __future__ import annotations

import json

import click

from edge_inception.cli import _options

EPILOG = """\b
Examples:
  edge-inception devices
  edge-inception devices check pi
  edge-inception devices check ssh://root@10.0.0.7:2222 --accept-new-host-key
  edge-inception devices check adb:R58M123ABC

\b
Declare a device in edge-inception.toml (or [tool.edge-inception.devices.NAME] in pyproject.toml):
  [devices.pi]
  transport = "ssh"
  host = "raspberrypi.local"
  user = "pi"
  python = "/home/pi/venv/bin/python"
  threads = 4
  cpu_mask = "0-3"
"""


@click.group("devices", invoke_without_command=True, epilog=EPILOG)
@_options.json_out
@click.pass_context
def command(ctx, as_json):
    """List the devices declared in ./edge-inception.toml or ./pyproject.toml. `devices check NAME|URL`
    connects to one and says what it has."""
    if ctx.invoked_subcommand is not None:
        return
    from dataclasses import asdict

    from edge_inception.devices import list_devices

    devices = list_devices()
    if as_json:
        click.echo(json.dumps([asdict(d) for d in devices], indent=2))
        return
    if not devices:
        click.echo("no devices declared here (add [devices.NAME] to edge-inception.toml; see --help); "
                   "URLs work without one: ssh://user@host[:port], adb[:SERIAL], local")
        return
    from rich.table import Table

    from edge_inception.report.table import _console

    table = Table(title="declared devices")
    for col in ("name", "transport", "where", "python", "threads", "cpu mask", "declared in"):
        table.add_column(col)
    for d in devices:
        where = (f"{d.user + '@' if d.user else ''}{d.host}{':' + str(d.port) if d.port else ''}" if d.host
                 else d.serial or "—")
        table.add_row(d.name, d.transport, where, d.python or "—", str(d.threads or "—"), d.cpu_mask or "—", d.source)
    _console().print(table)


@command.command("check", epilog=EPILOG)
@click.argument("device")
@_options.accept_new_host_key
@_options.json_out
def check(device, accept_new_host_key, as_json):
    """Connect to DEVICE (a declared name or a URL) and print its OS, CPU model, cores, ISA (or ARM
    features), Python, the runtimes installed there with their versions, and the command that installs
    what is missing. Nothing is left on the device."""
    from edge_inception.devices import check_device

    section = check_device(device, accept_new_host_key=accept_new_host_key)
    if as_json:
        click.echo(json.dumps(section, indent=2))
        return
    for line in check_lines(section):
        click.echo(line)


def check_lines(section: dict) -> list[str]:
    f = section["facts"]
    isa = f.get("isa") or {}
    x86 = [k for k in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx") if isa.get(k)]
    arm = [k for k in ("neon", "dotprod", "i8mm", "fp16", "sve") if isa.get(k)]
    lines = [f"device {section['name']} ({section['address']})",
             f"  os        {f.get('os')}",
             f"  cpu       {f.get('cpu')}" + (f" (parts {', '.join(f['cpu_parts'])})" if f.get("cpu_parts") else ""),
             f"  cores     {f.get('cores')}" + (f", this process may use {_cpus(f['affinity'])}"
                                                 if f.get("affinity") else ""),
             f"  isa       {' '.join(x86 + arm) or 'none of avx2/avx512/vnni/neon/dotprod/i8mm/fp16'}"
             + ("; int8 dot-product: yes" if isa.get("vnni") or isa.get("dotprod") else "; int8 dot-product: no")]
    if f.get("python"):
        lines.append(f"  python    {f['python']} ({f.get('python_executable')}), numpy {f.get('numpy') or 'MISSING'}")
    for name, version in (f.get("runtimes") or {}).items():
        lines.append(f"  {name:<16}{version or 'not installed'}")
    cond = f.get("conditions") or {}
    governors = sorted(set((cond.get("governor") or {}).values()))
    temps = cond.get("temperature_c") or {}
    lines.append(f"  governor  {', '.join(governors) or 'not exposed'}; temperature "
                 f"{max(temps.values()):.1f} °C" if temps else f"  governor  {', '.join(governors) or 'not exposed'}; "
                 "temperature not exposed")
    lines.append(f"  install   {f['install']}" if f.get("install") else "  install   nothing missing")
    return lines


def _cpus(cpus: list[int]) -> str:
    return ",".join(str(c) for c in cpus) if len(cpus) < 8 else f"{len(cpus)} CPUs ({cpus[0]}-{cpus[-1]})"
