"""A real OpenSSH server on 127.0.0.1 for device tests: Debian's sshd (openssh-server, installed by .ci/run)
with a host key and a client key generated into a temporary folder, and a client config passed with -F,
so the user's ~/.ssh is never read or written.

    with Sshd(tmp_path) as server:
        server.port, server.client_config       # Host "eitest" -> root@127.0.0.1:PORT with the test key
        server.declare(tmp_path / "edge-inception.toml", name="loop", python=sys.executable)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
HOST_ALIAS = "eitest"


def available() -> str | None:
    """None when sshd and ssh are installed here, else what is missing."""
    missing = [p for p in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")) if not p or not Path(p).exists()]
    return None if not missing else "openssh-server / openssh-client (apt-get install -y openssh-server)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    path.chmod(0o600)


class Sshd:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.proc = None

    def __enter__(self) -> Sshd:
        r = self.root
        r.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation folder
        self.host_key, self.client_key = r / "host_key", r / "client_key"
        _keygen(self.host_key)
        _keygen(self.client_key)
        auth = r / "authorized_keys"
        auth.write_text(Path(f"{self.client_key}.pub").read_text())
        auth.chmod(0o600)
        self.port = _free_port()
        cfg = r / "sshd_config"
        cfg.write_text("\n".join([
            "ListenAddress 127.0.0.1", f"HostKey {self.host_key}", f"AuthorizedKeysFile {auth}",
            "PermitRootLogin prohibit-password", "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", f"PidFile {r / 'sshd.pid'}",
            "LogLevel ERROR", "MaxStartups 50", ""]))
        self.log = r / "sshd.log"
        self.proc = subprocess.Popen([SSHD, "-D", "-f", str(cfg), "-p", str(self.port), "-E", str(self.log)])
        self.known_hosts = r / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {Path(f'{self.host_key}.pub').read_text()}")
        self.client_config = self.write_client_config(r / "ssh_config", self.known_hosts)
        self._wait()
        return self

    def write_client_config(self, path: Path, known_hosts: Path) -> Path:
        path.write_text("\n".join([
            f"Host {HOST_ALIAS} 127.0.0.1", "  HostName 127.0.0.1", f"  Port {self.port}", "  User root",
            f"  IdentityFile {self.client_key}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {known_hosts}",
            "  GlobalKnownHostsFile /dev/null", "  LogLevel ERROR", ""]))
        return path

    def _wait(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text() if self.log.exists() else ''}")
            ok = subprocess.run(["ssh", "-F", str(self.client_config), "-o", "BatchMode=yes", HOST_ALIAS, "true"],
                                capture_output=True)
            if ok.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"sshd on port {self.port} did not answer: {ok.stderr.decode()}")

    def declare(self, path: Path, *, name: str = "loop", **extra) -> Path:
        """An edge-inception.toml declaring this server as device ``name`` (this machine's python by default)."""
        values = {"transport": "ssh", "host": HOST_ALIAS, "ssh_config": str(self.client_config),
                  "python": sys.executable, **extra}
        lines = [f"[devices.{name}]"]
        for k, v in values.items():
            lines.append(f"{k} = {_toml(v)}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def leftovers(folder: Path) -> list[str]:
    """The edge-inception work folders still in ``folder`` (a test's remote work_dir)."""
    return sorted(p.name for p in Path(folder).glob("edge-inception.*"))


def environ_without_tf() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env
