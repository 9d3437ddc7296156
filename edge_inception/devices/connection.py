"""A connection to a device for one command: a fresh work folder there holding the runner and the
artifacts, the runner process, and the JSON-lines protocol to it (devices/_runner.py). The work folder
is removed when the block ends — normally, on an error, or on Ctrl-C.

    with Connection(device, {"a0/m.tflite": path}) as conn:
        conn.facts                                    # the runner's hello: OS, CPU, python, packages
        sid = conn.load("a0/m.tflite", runtime="litert", threads=2, what=path.name)
        conn.set_input("x", x)
        conn.request({"op": "time", "session": sid, "input": "x", "n": 10})["seconds"]
        conn.predict(sid, batch)                      # logits computed on the device

Every failure is an InputError naming the device and the fix: no Python there, a missing package
(with the pip command), an artifact its runtime refuses, a runner that died or did not answer in time.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_inception._core.errors import InputError
from edge_inception.devices.transports import last_line, open_transport

RUNNER = Path(__file__).with_name("_runner.py")
INSTALL = {"numpy": "numpy", "ai-edge-litert": "ai-edge-litert", "onnxruntime": "onnxruntime", "openvino": "openvino"}
ENGINES = ("litert", "onnxruntime", "openvino")  # runtimes the runner has; the rest (keras, torch) stay here


class Connection:
    def __init__(self, device, files: dict[str, Path] | None = None):
        self.device = device
        self.transport = open_transport(device)
        self.files = dict(files or {})
        self.work: str | None = None
        self.proc: subprocess.Popen | None = None
        self.facts: dict = {}
        self._buf = bytearray()
        self._err = None
        self._ids = 0
        self._killed = False

    @property
    def label(self) -> str:
        return self.transport.label

    def __enter__(self) -> Connection:
        files = {"runner.py": RUNNER, **self.files} if self.transport.runs_python else self.files
        self.work = self.transport.make_work_dir(files)
        try:
            if self.transport.runs_python:
                self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def remote(self, name: str) -> str:
        return f"{self.work}/{name}"

    # -- the runner process ------------------------------------------------------------------------
    def _start(self) -> None:
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close(), with the connection
        # The runner's full path is in its command line: a hung one can be found and ended there (close()).
        argv = self.transport.pinned([*self.transport.python_argv, self.remote("runner.py")])
        self.proc = self.transport.open(argv, cwd=self.work, stderr=self._err)
        hello_timeout = min(self.device.run_timeout, self.device.connect_timeout + 60)
        self.facts = self.request({"op": "hello"}, timeout=hello_timeout, what="starting the runner")["facts"]

    def request(self, req: dict, *, timeout: float | None = None, what: str | None = None) -> dict:
        """Send one request, wait for its answer; InputError on any failure."""
        timeout = timeout or self.device.run_timeout
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._dead(what or req["op"]) from None
        line = self._readline(timeout, what or req["op"])
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(self.label, f"the runner answered something that is not JSON: {line[:120]!r}",
                             fix="check that nothing in the device's shell start-up prints to stdout") from None
        if not answer.get("ok"):
            raise self._refused(answer, what or req["op"])
        return answer

    def _readline(self, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        searched = 0  # logits of a big batch come as one long line: search only what is new
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while (end := self._buf.find(b"\n", searched)) < 0:
                searched = len(self._buf)
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self._kill()
                    raise self.transport.timed_out(what, timeout)
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise self._dead(what)
                self._buf += chunk
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        return line.decode(errors="replace")

    def _stderr(self) -> str:
        if self._err is None:
            return ""
        self._err.seek(0)
        return self._err.read().decode(errors="replace")

    def _dead(self, what: str) -> InputError:
        """The runner (or the connection to it) ended: say why from its exit status and stderr."""
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
            rc = -9
        err = self._stderr()
        python = shlex.join(self.transport.python_argv)
        low = err.lower()
        # A Python that is not there: the shell's 127 (or a missing file); or one that cannot run the runner.
        if rc in (126, 127) and ("python" in low or "not found" in low or "no such file" in low):
            return InputError(self.label, f"no Python at '{python}' there ({last_line(err)})",
                              fix=f"install Python 3 with numpy on the device, or set python = \"/path/to/python3\" "
                              f"in [devices.{self.device.name}]")
        if "syntaxerror" in low:
            return InputError(self.label, f"'{python}' there is too old for the runner ({last_line(err)})",
                              fix="point python at Python 3.8 or newer")
        found = self.transport.diagnose(rc, err, what)
        if found is not None:
            return found
        return InputError(self.label, f"the runner stopped during {what} (exit code {rc}"
                          + (f": {last_line(err)}" if last_line(err) else "") + ")",
                          fix="run `edge-inception devices check` on it; a crash in a native runtime shows in its "
                          "stderr above")

    def _refused(self, answer: dict, what: str) -> InputError:
        kind, msg = answer.get("error"), answer.get("message", "")
        python = shlex.join(self.transport.python_argv)
        if kind == "missing_module":
            dist = INSTALL.get(answer.get("module"), answer.get("module"))
            return InputError(self.label, f"{answer.get('module')} is not installed for {python} there",
                              fix=f"run `{python} -m pip install {dist}` on the device")
        if kind == "load_failed":
            return InputError(self.label, f"{what}: the device's runtime cannot load it ({msg})",
                              fix="install the runtime version edge-inception used here on the device "
                              "(`edge-inception devices check` shows both), or convert for that version")
        return InputError(self.label, f"the runner failed during {what} ({msg})")

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._killed = True

    def close(self) -> None:
        """Stop the runner, then remove the work folder; the folder goes even when stopping fails."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                try:
                    self.proc.stdin.close()  # the runner exits at the end of its input
                    self.proc.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    self._kill()
        finally:
            if self.work is not None:
                work, self.work = self.work, None
                if self._killed and self.transport.name != "local":
                    # Killing our client does not end a runner stuck in native code over there.
                    self.transport.run(["pkill", "-KILL", "-f", f"{work}/runner.py"], timeout=30, check=False,
                                       what="ending the runner")
                self.transport.remove_work_dir(work)
            if self._err is not None:
                self._err.close()
                self._err = None

    # -- requests ----------------------------------------------------------------------------------
    def load(self, name: str, *, runtime: str, threads: int, what: str) -> tuple[str, dict]:
        """Load an uploaded artifact; returns its session id and the runner's answer (engine, load_ms)."""
        self._ids += 1
        sid = f"s{self._ids}"
        answer = self.request({"op": "load", "id": sid, "path": self.remote(name), "engine": runtime,
                               "threads": threads}, what=what)
        return sid, answer

    def set_input(self, xid: str, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x, np.float32)
        self.request({"op": "input", "id": xid, "shape": list(x.shape),
                      "data": base64.b64encode(x.tobytes()).decode("ascii")})

    def predict(self, sid: str, x: np.ndarray, *, what: str = "predict") -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        answer = self.request({"op": "predict", "session": sid, "shape": list(x.shape),
                               "data": base64.b64encode(x.tobytes()).decode("ascii")}, what=what)
        return np.frombuffer(base64.b64decode(answer["data"]), np.float32).reshape(answer["shape"])

    def conditions(self) -> dict:
        return self.request({"op": "conditions"})["conditions"]


def upload_name(index: int, path: Path) -> str:
    """Each artifact in its own sub-folder under its own name: an ONNX file's external data and an IR's
    .bin are found by name beside it."""
    return f"a{index}/{Path(path).name}"


def artifact_uploads(paths) -> dict[str, dict[str, Path]]:
    """{artifact path: {upload name: local file}} for every file of each artifact (companions included)."""
    from edge_inception.formats import artifact_files

    out = {}
    for i, p in enumerate(paths):
        out[str(p)] = {upload_name(i, f): Path(f) for f in artifact_files(p)}
    return out
