"""SSH through the OpenSSH client binary (`ssh`), so the user's ~/.ssh/config, ProxyJump, agent, keys and
known_hosts apply exactly as in their terminal — a Python SSH library would read none of them alike.

    edge-inception bench m.tflite --device ssh://pi@raspberrypi.local
    edge-inception devices check ssh://root@10.0.0.7:2222 --accept-new-host-key

Every connection runs with BatchMode=yes (no password or passphrase prompt can hang a CI job),
StrictHostKeyChecking=yes (an unknown or changed host key is refused with the command that fixes it;
``accept_new_host_key`` / --accept-new-host-key relaxes that to accept-new, trust on first use, never
to accepting a changed key), ConnectTimeout and keep-alives (a dead link is noticed in ~30 s). Files go
over the same client as a tar stream into a fresh `mktemp -d` folder: one connection, and a failed or
interrupted copy removes its folder on the device itself.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import tarfile
from pathlib import Path

from edge_inception._core.errors import InputError
from edge_inception.devices.transports import COMMON_KEYS, Transport, last_line, register_transport

SSH_ERROR = 255  # what ssh exits with when the connection itself failed
_UNREACHABLE = ("connection refused", "could not resolve hostname", "connection timed out", "no route to host",
                "network is unreachable", "operation timed out", "connection closed by", "connection reset",
                "name or service not known", "temporary failure in name resolution")


@register_transport
class SshTransport(Transport):
    name = "ssh"
    keys = COMMON_KEYS | {"host", "port", "user", "ssh_config", "accept_new_host_key", "connect_timeout", "options",
                          "benchmark_model"}

    @property
    def address(self) -> str:
        d = self.device
        return f"{d.user + '@' if d.user else ''}{d.host}{':' + str(d.port) if d.port else ''}"

    def describe(self) -> str:
        return f"ssh {self.address}"

    def ssh_argv(self) -> list[str]:
        d = self.device
        argv = ["ssh"]
        if d.ssh_config:
            argv += ["-F", str(Path(d.ssh_config).expanduser())]
        argv += ["-T", "-o", "BatchMode=yes",
                 "-o", f"StrictHostKeyChecking={'accept-new' if d.accept_new_host_key else 'yes'}",
                 "-o", f"ConnectTimeout={int(max(1, round(d.connect_timeout)))}",
                 "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"]
        for opt in d.options:
            argv += ["-o", opt]
        if d.port:
            argv += ["-p", str(d.port)]
        if d.user:
            argv += ["-l", d.user]
        return [*argv, d.host]

    def process_argv(self, argv: list[str], *, cwd: str | None = None) -> list[str]:
        command = shlex.join(argv)
        if cwd is not None:
            command = f"cd {shlex.quote(cwd)} && exec {command}"
        return [*self.ssh_argv(), command]

    def make_work_dir(self, files: dict[str, Path]) -> str:
        root = shlex.quote(self.work_root.rstrip("/") or "/")
        # The device removes the folder itself when the copy fails or is cut short.
        script = (f'd=$(mktemp -d {root}/edge-inception.XXXXXX) || exit 3; '
                  'if tar -xf - -C "$d"; then echo "$d"; else s=$?; rm -rf "$d"; exit $s; fi')
        proc = self.open(["sh", "-c", script], stderr=subprocess.PIPE)
        try:
            with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
                for name, src in files.items():
                    tar.add(str(src), arcname=name)
        except BrokenPipeError:
            pass  # the remote side ended first: its exit status and stderr say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.stdin = None  # closed: communicate() must not flush it
        try:
            out, err = proc.communicate(timeout=self.device.run_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise self.timed_out("copying files", self.device.run_timeout) from None
        err_text = err.decode(errors="replace")
        if proc.returncode != 0:
            raise self.failure(proc.returncode, err_text, f"copying files into {self.work_root}")
        work = out.decode(errors="replace").strip().splitlines()
        if not work:
            raise self.failure(1, err_text, f"making a work folder in {self.work_root}")
        return work[-1]

    def diagnose(self, rc: int, stderr: str, what: str) -> InputError | None:
        if rc != SSH_ERROR:
            return None
        low = stderr.lower()
        d = self.device
        plain = f"ssh {'-p ' + str(d.port) + ' ' if d.port else ''}{d.user + '@' if d.user else ''}{d.host}"
        if "remote host identification has changed" in low or "host key for" in low and "has changed" in low:
            m = re.search(r"(ssh-keygen -f \S+ -R \S+)", stderr)
            known = f"[{d.host}]:{d.port}" if d.port and d.port != 22 else d.host
            remove = m.group(1) if m else f"ssh-keygen -R '{known}'"
            return InputError(self.label, "its SSH host key has CHANGED since it was recorded in known_hosts: "
                              "refused (this is what an impersonated host looks like)",
                              fix=f"if the device was reinstalled on purpose, run `{remove}`, then `{plain}` "
                              "once and check the new fingerprint")
        if "host key verification failed" in low or "host key is known" in low:
            return InputError(self.label, f"its SSH host key is not in known_hosts: refused ({self.describe()})",
                              fix=f"run `{plain}` once and confirm the fingerprint, or pass --accept-new-host-key "
                              "to trust it on first use")
        if "permission denied" in low or "too many authentication failures" in low:
            return InputError(self.label, f"the SSH login was refused ({last_line(stderr)})",
                              fix=f"install your key there (`ssh-copy-id {plain[4:]}`) or name it in ~/.ssh/config; "
                              "passwords are not asked for (BatchMode)")
        if any(s in low for s in _UNREACHABLE):
            return InputError(self.label, f"cannot be reached ({last_line(stderr)})",
                              fix=f"check that {d.host} is up, sshd runs there and the port is right "
                              f"({d.port or 22})")
        return InputError(self.label, f"ssh failed ({last_line(stderr) or 'exit code 255'})",
                          fix=f"try `{plain}` by hand")
