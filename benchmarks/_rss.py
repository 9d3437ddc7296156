"""Peak memory of a process tree, sampled: the figures benchmarks/ quote as "peak RSS".

    with TreeSampler() as s:                      # samples this process and all its descendants
        with s.stage("tf2onnx export"):
            ...
    s.stages   # [(name, wall_s, peak_tree_gib, peak_largest_process_gib), ...]
    s.peak_tree_gib, s.peak_process_gib
    s.peak_breakdown   # [(pid, what, gib), ...]: each process's RSS at the tree's peak instant

RSS is sampled every 50 ms with psutil: the tree figure is the largest sum of the RSS of this process
and every descendant alive at one instant (what the machine must hold); the process figure is the
largest single process. A spike shorter than the interval can be missed, so the scripts also print
ru_maxrss (the kernel's exact high-water mark per process) where they can.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

GIB = 2**30


class TreeSampler:
    def __init__(self, interval: float = 0.05, pid: int | None = None):
        import psutil

        self._root = psutil.Process(pid)
        self.interval = interval
        self.peak_tree_gib = self.peak_process_gib = 0.0
        self._stage_tree = self._stage_proc = 0.0
        self.peak_breakdown: list[tuple[int, str, float]] = []
        self.stages: list[tuple[str, float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = biggest = 0
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return
        each = []
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            biggest = max(biggest, rss)
            each.append((p, rss))
        tree, proc = total / GIB, biggest / GIB
        if tree > self.peak_tree_gib:
            self.peak_breakdown = [(p.pid, _what(p), rss / GIB) for p, rss in each]
        self.peak_tree_gib = max(self.peak_tree_gib, tree)
        self.peak_process_gib = max(self.peak_process_gib, proc)
        self._stage_tree = max(self._stage_tree, tree)
        self._stage_proc = max(self._stage_proc, proc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @contextlib.contextmanager
    def stage(self, name: str):
        self._sample()
        self._stage_tree = self._stage_proc = 0.0
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sample()
            self.stages.append((name, time.perf_counter() - t0, self._stage_tree, self._stage_proc))


def _what(p) -> str:
    """A short name for a process of the tree: a target worker's title, else its command's module or name."""
    import psutil

    try:
        cmd = p.cmdline()
    except psutil.Error:
        return "?"
    if "-m" in cmd[:-1]:
        return cmd[cmd.index("-m") + 1]
    if any("multiprocessing" in c for c in cmd):
        return "spawned worker"
    return " ".join(Path(c).name for c in cmd[:2])[:40]


def cpu_line() -> str:
    """The CPU model and the ISA flags the figures depend on (from /proc/cpuinfo)."""
    model, flags = "unknown CPU", set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    shown = ", ".join(f"{k} {'yes' if k in flags else 'no'}" for k in ("avx2", "avx512f", "avx512_vnni", "avx_vnni"))
    import os

    return f"{model}, {os.cpu_count()} cores ({shown})"
