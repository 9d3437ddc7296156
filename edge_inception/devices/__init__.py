"""Devices: measure artifacts where they will run — a board over SSH, a phone over adb, or here.

    import edge_inception as ei
    ei.check_device("ssh://pi@raspberrypi.local")     # OS, CPU, ISA, python, runtimes, install command
    ei.list_devices()                                  # devices declared in ./edge-inception.toml
    ei.benchmark(["m.tflite"], reference="f.tflite", device="pi")
    ei.evaluate(["m.tflite"], data="sample", device="pi")        # accuracy there + output check vs here
    ei.convert(targets="tflite-int8", device=["pi"])              # every target here and on the device

Layout: config.py (URLs and declared devices), transports/ (local, ssh, adb; one file each, registered
there), _runner.py (the single file copied to the device: numpy + the runtime only), connection.py
(the work folder and the JSON-lines protocol), measure.py (bench/eval/convert on a device), facts.py
(conditions, throttling, percentile rules), native.py + native_run.py (benchmark_model, benchmark_app).
The device returns raw samples and logits; statistics stay on the host, in evaluation/.
"""

from __future__ import annotations

from edge_inception.devices.config import Device, declared_devices, resolve_device

__all__ = ["Device", "resolve_device", "declared_devices", "check_device", "list_devices"]


def list_devices(cwd=None) -> list[Device]:
    """Devices declared in ./edge-inception.toml ([devices.NAME]) or ./pyproject.toml."""
    return list(declared_devices(cwd).values())


def check_device(device, *, accept_new_host_key: bool = False, cwd=None) -> dict:
    """Connect and describe the device: OS, CPU model, cores, ISA (or ARM features), python, installed
    runtimes and versions, the install command for what is missing, and its conditions now. Nothing
    stays on the device. InputError (exit 2) when it cannot be reached or used."""
    from edge_inception.devices.connection import Connection
    from edge_inception.devices.measure import device_section

    dev = resolve_device(device, cwd=cwd, accept_new_host_key=accept_new_host_key)
    with Connection(dev) as conn:
        section = device_section(conn)
    return section
