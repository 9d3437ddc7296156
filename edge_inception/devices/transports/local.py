"""The local transport: this machine, through the same runner and statistics as a remote device.

    edge-inception bench model.onnx --device local

Useful as the control of a device comparison (the runner's figures beside `bench`'s in-process ones)
and where the device is the machine edge-inception runs on. The work dir is a temporary folder.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from edge_inception.devices.transports import Transport, register_transport


@register_transport
class LocalTransport(Transport):
    name = "local"
    keys = Transport.keys | {"benchmark_model"}

    @property
    def python_argv(self) -> list[str]:
        # This interpreter unless the declaration names another (a venv with other runtime versions).
        return super().python_argv if self.device.python else [sys.executable]

    @property
    def work_root(self) -> str:
        return self.device.work_dir or tempfile.gettempdir()

    def describe(self) -> str:
        return "this machine"

    def process_argv(self, argv: list[str], *, cwd: str | None = None) -> list[str]:
        return argv if cwd is None else ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd, *argv]

    def make_work_dir(self, files: dict[str, Path]) -> str:
        work = tempfile.mkdtemp(prefix="edge-inception.", dir=self.work_root)
        try:
            for name, src in files.items():
                (Path(work) / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, Path(work) / name)
        except OSError as e:
            shutil.rmtree(work, ignore_errors=True)
            raise self.failure(1, str(e), f"copying into {work}") from None
        return work

    def remove_work_dir(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)
