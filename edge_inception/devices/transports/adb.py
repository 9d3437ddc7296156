"""Android over adb: push the artifact and the user's LiteRT `benchmark_model` binary to /data/local/tmp,
run it there, parse what it prints (devices/native.py). Phones have no Python, so no runner: the figures
are benchmark_model's mean/std/min/max, not per-run samples or percentiles.

    edge-inception bench m.tflite --device adb:R58M123ABC      # with [devices.*] benchmark_model set, or
    edge-inception bench m.tflite --device phone               # a declared adb device

Only the `adb` client on PATH is used (`adb [-s SERIAL] shell|push`). Tested here with a stand-in `adb`
that records its arguments and replays recorded output — no phone was attached.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
from pathlib import Path

from edge_inception._core.errors import InputError
from edge_inception.devices.transports import COMMON_KEYS, Transport, last_line, register_transport

_DEVICE_STATE = {
    "unauthorized": "accept the 'Allow USB debugging' prompt on the phone",
    "offline": "reconnect the USB cable or run `adb kill-server`",
    "no devices/emulators found": "connect the phone with USB debugging on (Settings > Developer options)",
    "more than one device": "name one: --device adb:SERIAL (see `adb devices`)",
    "not found": "check the serial with `adb devices`",
}


def cpu_list_to_mask(cpus: str) -> str:
    """taskset -c style '4-7' or '0,2' -> the hex mask Android's toybox taskset takes ('f0', '5')."""
    bits = 0
    for part in cpus.split(","):
        lo, _, hi = part.partition("-")
        for c in range(int(lo), int(hi or lo) + 1):
            bits |= 1 << c
    return format(bits, "x")


@register_transport
class AdbTransport(Transport):
    name = "adb"
    keys = (COMMON_KEYS - {"python"}) | {"serial", "benchmark_model", "delegate"}
    default_work_dir = "/data/local/tmp"
    runs_python = False

    def describe(self) -> str:
        return f"adb {self.device.serial}" if self.device.serial else "adb (the only device attached)"

    def adb_argv(self) -> list[str]:
        return ["adb", *(["-s", self.device.serial] if self.device.serial else [])]

    def pinned(self, argv: list[str]) -> list[str]:
        return ["taskset", cpu_list_to_mask(self.device.cpu_mask), *argv] if self.device.cpu_mask else argv

    def process_argv(self, argv: list[str], *, cwd: str | None = None) -> list[str]:
        command = shlex.join(argv)
        if cwd is not None:
            command = f"cd {shlex.quote(cwd)} && {command}"
        return [*self.adb_argv(), "shell", command]

    def push(self, src: Path, dest: str) -> None:
        try:
            proc = subprocess.run([*self.adb_argv(), "push", str(src), dest], capture_output=True,
                                  timeout=self.device.run_timeout)
        except subprocess.TimeoutExpired:
            raise self.timed_out(f"adb push {src.name}", self.device.run_timeout) from None
        except FileNotFoundError as e:
            raise self.missing_client(e) from None
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).decode(errors="replace")
            raise self.failure(proc.returncode, err, f"adb push {src.name}")

    def make_work_dir(self, files: dict[str, Path]) -> str:
        # Named here: toybox has mktemp, but a name we chose is one we can always remove.
        work = f"{self.work_root.rstrip('/')}/edge-inception.{secrets.token_hex(4)}"
        folders = sorted({f"{work}/{name}".rsplit("/", 1)[0] for name in files})
        self.run(["mkdir", "-p", work, *folders], timeout=60, what=f"mkdir {work}")
        try:
            for name, src in files.items():
                self.push(Path(src), f"{work}/{name}")
        except BaseException:
            self.remove_work_dir(work)
            raise
        return work

    def missing_client(self, e: FileNotFoundError) -> InputError:
        return InputError(self.label, "the `adb` client is not installed here",
                          fix="install Android platform-tools (apt-get install adb) and put adb on PATH")

    def diagnose(self, rc: int, stderr: str, what: str) -> InputError | None:
        low = stderr.lower()
        if "error:" not in low and "adb:" not in low:
            return None
        for state, fix in _DEVICE_STATE.items():
            if state in low:
                return InputError(self.label, f"adb cannot reach the phone ({last_line(stderr)})", fix=fix)
        return None
