"""Transports: how a command reaches a device. One interface, one file per transport, registered there.

    t = open_transport(device)                       # the registered class for device.transport
    work = t.make_work_dir({"runner.py": path, "m.tflite": artifact})   # a fresh folder there, files in it
    res = t.run(["uname", "-a"], timeout=10)         # stdout, stderr, rc; InputError naming the device
    proc = t.open(["python3", "runner.py"], cwd=work, stderr=f)   # a long-lived process, pipes to it
    t.remove_work_dir(work)                          # always, also after an error or Ctrl-C

Every failure a user can fix (unreachable host, refused key or login, missing program, full disk,
non-executable binary, a command that hangs) becomes one InputError line: "device NAME: what (fix)".
Each transport adds its own diagnosis (ssh: host keys and logins; adb: unauthorized phones) in
``diagnose`` and falls back to the shell-level one here.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.registry import import_submodules

COMMON_KEYS = frozenset({"python", "work_dir", "threads", "cpu_mask", "run_timeout"})
KILL_GRACE_S = 5  # after a run timeout, how long a remote command gets to die before SIGKILL


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


class Transport:
    """The shared part: run commands through ``process_argv`` with timeouts, and the shell-level diagnosis."""

    name = ""
    keys: frozenset[str] = COMMON_KEYS
    default_python = "python3"
    default_work_dir = "/tmp"
    runs_python = True  # False: the device runs native benchmark binaries only (adb)

    def __init__(self, device):
        self.device = device

    # -- what subclasses define --------------------------------------------------------------------
    def process_argv(self, argv: list[str], *, cwd: str | None = None) -> list[str]:
        raise NotImplementedError

    def make_work_dir(self, files: dict[str, Path]) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def diagnose(self, rc: int, stderr: str, what: str) -> InputError | None:
        return None

    # -- shared ------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"device {self.device.name}"

    @property
    def python_argv(self) -> list[str]:
        return shlex.split(self.device.python) if self.device.python else [self.default_python]

    @property
    def work_root(self) -> str:
        return self.device.work_dir or self.default_work_dir

    def pinned(self, argv: list[str]) -> list[str]:
        """``argv`` under taskset when the device declares a CPU mask."""
        return ["taskset", "-c", self.device.cpu_mask, *argv] if self.device.cpu_mask else argv

    def remote_timeout(self, argv: list[str], timeout: float) -> list[str]:
        """Wrap a command so the device itself ends it after ``timeout``, even if the connection drops."""
        return ["timeout", "-k", str(KILL_GRACE_S), str(int(max(1, round(timeout)))), *argv]

    def run(self, argv: list[str], *, timeout: float | None = None, stdin: bytes | None = None,
            what: str | None = None, check: bool = True, kill_remote: bool = False,
            cwd: str | None = None) -> Result:
        """Run one command there. ``kill_remote``: have the device end it at the timeout too (a benchmark
        binary that hangs must not keep running after we gave up)."""
        timeout = timeout or self.device.run_timeout
        what = what or shlex.join(argv)
        cmd = self.remote_timeout(argv, timeout) if kill_remote else argv
        try:
            proc = subprocess.run(self.process_argv(cmd, cwd=cwd), input=stdin, capture_output=True,
                                  timeout=timeout + (2 * KILL_GRACE_S if kill_remote else 0), start_new_session=True)
        except subprocess.TimeoutExpired:
            raise self.timed_out(what, timeout) from None
        except FileNotFoundError as e:
            raise self.missing_client(e) from None
        res = Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
        if kill_remote and res.rc in (124, 137):  # timeout(1)'s exit codes: the device ended it
            raise self.timed_out(what, timeout)
        if check and res.rc != 0:
            raise self.failure(res.rc, res.stderr or res.stdout, what)
        return res

    def open(self, argv: list[str], *, cwd: str | None = None, stderr=None) -> subprocess.Popen:
        try:
            # Its own session: a Ctrl-C reaches only us, and we close the device side in order.
            return subprocess.Popen(self.process_argv(argv, cwd=cwd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr, start_new_session=True)
        except FileNotFoundError as e:
            raise self.missing_client(e) from None

    def remove_work_dir(self, path: str) -> None:
        self.run(["rm", "-rf", path], timeout=min(60.0, self.device.run_timeout), what=f"removing {path}")

    def missing_client(self, e: FileNotFoundError) -> InputError:
        return InputError(self.label, f"'{e.filename}' is not installed here",
                          fix=f"install the {self.name} client on this machine")

    def timed_out(self, what: str, timeout: float) -> InputError:
        return InputError(self.label, f"`{what}` gave no answer within {timeout:g} s and was stopped",
                          fix=f"raise run_timeout in the device's declaration, or check the device ({self.describe()})")

    def failure(self, rc: int, stderr: str, what: str) -> InputError:
        """The transport's diagnosis first, then what any shell says."""
        found = self.diagnose(rc, stderr, what)
        if found is not None:
            return found
        low = stderr.lower()
        tail = last_line(stderr)
        # GNU tar reports a short write ("Wrote only 6656 of 10240 bytes") rather than ENOSPC itself.
        if "no space left on device" in low or "disk quota exceeded" in low or "wrote only" in low:
            return InputError(self.label, f"its disk is full under {self.work_root} ({tail})",
                              fix="free some space there, or set work_dir to a folder on a bigger disk")
        if rc == 126 or "permission denied" in low or "exec format error" in low or "can't execute" in low:
            return InputError(self.label, f"`{what}` cannot be executed there ({tail})",
                              fix="give the device a binary built for its CPU and OS, and a folder that allows "
                              "executing (not noexec)")
        if rc == 127 or "command not found" in low or ": not found" in low:
            return InputError(self.label, f"`{what}`: a program it needs is not installed there ({tail})",
                              fix="install it on the device, or point the device's declaration at it")
        return InputError(self.label, f"`{what}` failed with exit code {rc}" + (f" ({tail})" if tail else ""))


_TRANSPORTS: dict[str, type[Transport]] = {}


def register_transport(cls: type[Transport]) -> type[Transport]:
    """Class decorator: register under ``cls.name``; duplicates are refused."""
    if cls.name in _TRANSPORTS:
        raise ValueError(f"transport {cls.name!r} is registered twice")
    _TRANSPORTS[cls.name] = cls
    return cls


def get_transport_class(name: str, *, where: str = "device") -> type[Transport]:
    import_submodules(__name__)
    if name not in _TRANSPORTS:
        raise UsageError(f"{where}: unknown transport '{name}'", fix=f"known: {', '.join(sorted(_TRANSPORTS))}")
    return _TRANSPORTS[name]


def open_transport(device) -> Transport:
    return get_transport_class(device.transport, where=f"device {device.name}")(device)


def list_transports() -> list[str]:
    import_submodules(__name__)
    return sorted(_TRANSPORTS)
