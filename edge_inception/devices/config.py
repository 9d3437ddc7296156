"""Which device a `--device` names: a URL, or a device declared in the project.

    resolve_device("ssh://pi@raspberrypi.local:22")   # OpenSSH to that host (its ~/.ssh/config applies)
    resolve_device("adb"), resolve_device("adb:R58M123ABC")   # the one phone on USB, or that serial
    resolve_device("local")                           # this machine, through the same runner
    resolve_device("pi")                              # [devices.pi] in ./edge-inception.toml, or
                                                      # [tool.edge-inception.devices.pi] in ./pyproject.toml
    declared_devices()                                # {name: Device} from those files

A declared device (every key but transport optional; each transport says which keys it takes, and an
unknown key is refused naming the file)::

    [devices.pi]
    transport = "ssh"          # ssh | adb | local
    host = "raspberrypi.local"
    user = "pi"
    port = 22
    python = "/home/pi/venv/bin/python"   # the device's Python with numpy and the runtimes
    work_dir = "/tmp"          # a temporary folder is made (and removed) inside it
    threads = 4                # every runtime's thread count there (default: --threads)
    cpu_mask = "4-7"           # taskset CPU list: pin to the big cores of a big.LITTLE SoC
    ssh_config = "ci/ssh_config"   # passed to ssh -F (default: ~/.ssh/config)

    [devices.phone]
    transport = "adb"
    serial = "R58M123ABC"
    benchmark_model = "tools/android_aarch64_benchmark_model"   # LiteRT's binary, on this machine
    delegate = "xnnpack"       # xnnpack | gpu | nnapi | none
    cpu_mask = "4-7"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError

DELEGATES = ("xnnpack", "gpu", "nnapi", "none")
_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


@dataclass(frozen=True)
class Device:
    """One place to measure. ``name`` is what reports and the gate call it."""

    name: str
    transport: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    serial: str | None = None
    python: str | None = None  # None: "python3" on a remote device, this interpreter for "local"
    work_dir: str | None = None  # None: /tmp (ssh), /data/local/tmp (adb), the system temp dir (local)
    threads: int | None = None
    cpu_mask: str | None = None
    benchmark_model: str | None = None
    delegate: str | None = None
    ssh_config: str | None = None
    accept_new_host_key: bool = False
    connect_timeout: float = 10.0
    run_timeout: float = 600.0
    source: str = "command line"
    options: tuple[str, ...] = field(default=(), compare=False)  # extra ssh -o options, e.g. ("Compression=yes",)

    def with_overrides(self, **kw) -> Device:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_KEY_TYPES = {"host": str, "port": int, "user": str, "serial": str, "python": str, "work_dir": str, "threads": int,
              "cpu_mask": str, "benchmark_model": str, "delegate": str, "ssh_config": str,
              "accept_new_host_key": bool, "connect_timeout": (int, float), "run_timeout": (int, float),
              "options": list}


def parse_url(ref: str) -> Device:
    """ssh://[user@]host[:port], adb, adb:SERIAL or local -> a Device named by the text itself."""
    if ref == "local":
        return Device(name="local", transport="local")
    if ref == "adb" or ref.startswith("adb:"):
        serial = ref[4:] or None
        return Device(name=ref, transport="adb", serial=serial)
    if ref.startswith("ssh://"):
        m = re.match(r"^ssh://(?:([^@/:]+)@)?(\[[^\]]+\]|[^:/@\[\]]+)(?::(\d+))?/?$", ref)
        if not m:
            raise UsageError(f"cannot read the device URL '{ref}'", fix="write ssh://user@host or ssh://user@host:port")
        user, host, port = m.group(1), m.group(2).strip("[]"), m.group(3)
        return Device(name=ref, transport="ssh", host=host, user=user, port=int(port) if port else None)
    raise UsageError(f"'{ref}' is not a device URL")


def is_url(ref: str) -> bool:
    return ref == "local" or ref == "adb" or ref.startswith(("adb:", "ssh://"))


def _devices_table(data: dict) -> tuple[dict | None, str]:
    tool = data.get("tool", {})
    if isinstance(tool, dict) and isinstance(tool.get("edge-inception"), dict) and \
            "devices" in tool["edge-inception"]:
        return tool["edge-inception"]["devices"], "tool.edge-inception.devices"
    if "devices" in data:
        return data["devices"], "devices"
    return None, "devices"


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"is not valid TOML ({e})") from None


def parse_declared(table, *, path: Path, prefix: str = "devices") -> dict[str, Device]:
    """Validate a [devices] table: each entry's transport must be known and every key one it takes."""
    from edge_inception.devices.transports import get_transport_class

    if not isinstance(table, dict):
        raise InputError(path, f"[{prefix}] must be a table of device names")
    out = {}
    for name, entry in table.items():
        where = f"[{prefix}.{name}]"
        if not isinstance(entry, dict):
            raise InputError(path, f"{where} must be a table")
        if is_url(name):
            raise InputError(path, f"{where}: '{name}' reads as a device URL", fix="give the device another name")
        transport = entry.get("transport")
        if transport is None:
            raise InputError(path, f"{where} has no 'transport'", fix="add transport = \"ssh\" (or \"adb\", \"local\")")
        cls = get_transport_class(transport, where=f"{path}: {where}")
        values = {}
        for key, value in entry.items():
            if key == "transport":
                continue
            if key not in cls.keys:
                raise InputError(path, f"{where}: unknown key '{key}' for a {transport} device",
                                 fix=f"{transport} devices take: {', '.join(sorted(cls.keys))}")
            want = _KEY_TYPES[key]
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise InputError(path, f"{where}: '{key}' must be {_type_name(want)}, got {value!r}")
            values[key] = tuple(str(v) for v in value) if key == "options" else value
        dev = Device(name=name, transport=transport, source=f"{path} {where}", **values)
        validate(dev, where=f"{path}: {where}")
        out[name] = dev
    return out


def _type_name(t) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list of strings"}.get(t, "a number")


def validate(dev: Device, *, where: str) -> None:
    """Refuse impossible values before any connection is tried."""
    if dev.threads is not None and dev.threads < 1:
        raise InputError(where, f"threads must be at least 1, got {dev.threads}")
    if dev.port is not None and not 0 < dev.port < 65536:
        raise InputError(where, f"port must be 1-65535, got {dev.port}")
    if dev.cpu_mask is not None and not _CPU_LIST.match(dev.cpu_mask):
        raise InputError(where, f"cpu_mask '{dev.cpu_mask}' is not a CPU list",
                         fix="write it like taskset -c: 4-7 or 0,2")
    if dev.delegate is not None and dev.delegate not in DELEGATES:
        raise InputError(where, f"delegate '{dev.delegate}' is not one of {', '.join(DELEGATES)}")
    if dev.connect_timeout <= 0 or dev.run_timeout <= 0:
        raise InputError(where, "connect_timeout and run_timeout must be positive (seconds)")
    if dev.transport == "ssh" and not dev.host:
        raise InputError(where, "an ssh device needs a host", fix="add host = \"name or address\"")


def declared_devices(cwd: str | Path | None = None) -> dict[str, Device]:
    """Devices declared in ./edge-inception.toml ([devices]) or else ./pyproject.toml
    ([tool.edge-inception.devices]). Relative paths in them (ssh_config, benchmark_model) are taken from
    the file's folder."""
    here = Path(cwd) if cwd is not None else Path.cwd()
    for candidate in (here / "edge-inception.toml", here / "pyproject.toml"):
        if candidate.is_file():
            table, prefix = _devices_table(_read_toml(candidate))
            if table is not None:
                devices = parse_declared(table, path=candidate, prefix=prefix)
                return {n: _relative_to(d, candidate.parent) for n, d in devices.items()}
    return {}


def _relative_to(dev: Device, folder: Path) -> Device:
    kw = {}
    for key in ("ssh_config", "benchmark_model"):
        value = getattr(dev, key)
        if value and not Path(value).expanduser().is_absolute():
            kw[key] = str(folder / value)
    return replace(dev, **kw)


def resolve_device(ref, *, cwd: str | Path | None = None, accept_new_host_key: bool = False) -> Device:
    """A Device from a URL, a declared name, a Device or a dict of Device fields."""
    if isinstance(ref, Device):
        dev = ref
    elif isinstance(ref, dict):
        known = {f.name for f in fields(Device)}
        unknown = sorted(set(ref) - known)
        if unknown:
            raise UsageError(f"unknown device field '{unknown[0]}'", fix=f"known: {', '.join(sorted(known))}")
        values = {**ref, **({"options": tuple(ref["options"])} if "options" in ref else {})}
        dev = Device(**{"name": ref.get("name") or ref.get("host") or ref.get("transport", "device"), **values})
    elif isinstance(ref, str) and is_url(ref):
        dev = parse_url(ref)
    elif isinstance(ref, str):
        declared = declared_devices(cwd)
        if ref not in declared:
            known = ", ".join(sorted(declared)) or "none declared"
            raise UsageError(f"unknown device '{ref}'",
                             fix=f"declared: {known}; or write ssh://user@host[:port], adb[:SERIAL] or local; "
                             "declare one under [devices.NAME] in edge-inception.toml")
        dev = declared[ref]
    else:
        raise UsageError(f"a device is a URL or a declared name, not {ref!r}")
    from edge_inception.devices.transports import get_transport_class

    get_transport_class(dev.transport, where=f"device {dev.name}")
    validate(dev, where=f"device {dev.name}")
    if accept_new_host_key:
        dev = replace(dev, accept_new_host_key=True)
    return dev
