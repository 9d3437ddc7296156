"""Where a command writes, checked before any work: an --out that cannot be written is found in a
second, not after two conversions.

    check_output_dir(out)                                          # InputError: under a file, /proc, read-only
    check_output_file(junit, force=False, inputs=[report], flag="--junit")   # never overwrites, never an input

Nothing is created by the checks (a probe file is made and removed at once), so a refused run leaves
the disk as it found it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from edge_inception._core.errors import InputError

# Kernel file systems: a path there is never a folder for artifacts (writes fail or mean something else).
PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise InputError(path, "cannot be resolved (a symlink loop?)", fix="choose another path") from None


def check_output_dir(out: str | os.PathLike, *, flag: str = "--out") -> Path:
    """``out`` is, or can be created as, a folder this process can write files into."""
    out = Path(out)
    real = _resolved(out)
    for root in PSEUDO_ROOTS:
        if real == Path(root) or Path(root) in real.parents:
            raise InputError(out, f"is inside {root}, a kernel file system, not a place for files",
                             fix=f"choose another {flag}")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", fix=f"choose another {flag}")
    probe = real
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(probe, f"is a file, so {flag} {out} cannot be created inside it", fix=f"choose another {flag}")
    if not _can_create_in(probe):
        where = "" if probe == real else f" (the nearest existing folder of {out})"
        raise InputError(probe, f"is not writable{where}", fix=f"choose another {flag}, or make that folder writable")
    return out


def _can_create_in(folder: Path) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:  # the real test: permission bits say nothing of read-only mounts, and root ignores them
        fd, name = tempfile.mkstemp(prefix=".edge-inception-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


def check_output_file(path: str | os.PathLike, *, force: bool = False, inputs: Iterable = (),
                      flag: str = "--out") -> Path:
    """A file the command will write: never one of its ``inputs`` (not even with --force), not an
    existing file without ``force``, and in a folder that can be written."""
    path = Path(path)
    real = _resolved(path)
    for src in inputs:
        if src is None or isinstance(src, dict):
            continue
        src = Path(src)
        src_file = src / "report.json" if src.is_dir() else src
        if src_file.exists() and _resolved(src_file) == real:
            raise InputError(path, f"is {src_file.name}, which this command reads; {flag} would replace it",
                             fix=f"give {flag} another file name")
    if path.is_dir():
        raise InputError(path, "is a folder", fix=f"give {flag} a file name")
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError(path, "already exists", fix=f"pass --force to overwrite it, or give {flag} another file name")
    check_output_dir(path.parent, flag=flag)
    return path
