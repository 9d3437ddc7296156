"""Leave an output folder as it was when a run fails or is interrupted.

    with rollback_on_failure(out, protect=files_it_may_overwrite):
        ...write artifacts and reports into out...

What the folder held before is noted (its top-level entries: artifacts and reports are written
there). If the block raises anything -- bad input found mid-run, Ctrl-C, a crash -- every entry the
run added is removed, every protected file it replaced (with --force) is put back from a hard link
taken at the start, and a folder the run created is removed with its parents that it created.
On success the hard links are dropped. A SIGKILL can still leave the hidden backup folder behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from edge_inception._core import interrupt

BACKUP_PREFIX = ".edge-inception-rollback-"


def _identity(path: Path):
    try:
        st = path.lstat()
    except OSError:
        return None
    return st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size


@contextlib.contextmanager
def rollback_on_failure(folder: str | os.PathLike, *, protect: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    folder = Path(folder)
    missing = []  # the folder and the parents this run will create, outermost last
    probe = folder.absolute()
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    before = {p.name: _identity(p) for p in folder.iterdir()} if folder.is_dir() else {}
    backup = _back_up(folder, protect) if folder.is_dir() else None
    try:
        yield folder
    except BaseException:
        with _no_sigint(), interrupt.exclusive():
            _restore(folder, before, backup, missing)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _back_up(folder: Path, protect: Iterable) -> Path | None:
    files = [Path(p) for p in protect if Path(p).is_file() and Path(p).parent.resolve() == folder.resolve()]
    if not files:
        return None
    backup = folder / f"{BACKUP_PREFIX}{os.getpid()}"
    backup.mkdir(exist_ok=True)
    try:
        for f in files:
            try:
                os.link(f, backup / f.name)  # same inode: costs nothing, survives the artifact's os.replace
            except OSError:
                shutil.copy2(f, backup / f.name)
    except BaseException:  # Ctrl-C before the run even started: leave no backup folder
        shutil.rmtree(backup, ignore_errors=True)
        raise
    return backup


def _restore(folder: Path, before: dict, backup: Path | None, missing: list[Path]) -> None:
    if missing:  # the run created the folder (and maybe parents): remove what it created
        shutil.rmtree(missing[-1], ignore_errors=True)
        return
    if not folder.is_dir():
        return
    saved = {p.name for p in backup.iterdir()} if backup is not None else set()
    for entry in list(folder.iterdir()):
        if backup is not None and entry == backup:
            continue
        if entry.name not in before:
            _remove(entry)
        elif entry.name in saved and _identity(entry) != before[entry.name]:
            os.replace(backup / entry.name, entry)
    for name in saved:  # protected files the run deleted
        if not (folder / name).exists() and (backup / name).exists():
            os.replace(backup / name, folder / name)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def _no_sigint() -> Iterator[None]:
    """A second Ctrl-C must not cut the clean-up short (main thread only: signals live there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
