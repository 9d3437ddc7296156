"""Names that become file names, and paths that must stay inside a folder.

    check_identifier(profile_name, what="target name", path=toml_file)   # InputError unless 'tflite-int8'-like
    dest = inside(out, out / f"{stem}.{target}.tflite")                  # InputError if it resolves outside out

A target's (or a calibration recipe's) name is part of every artifact's file name, so a profile from
someone else could otherwise write ``../../x.tflite`` anywhere the user can write. Names are refused
when they are not plain identifiers; every artifact path is also checked after resolving symlinks and
``..``, so nothing a run writes lands outside ``--out``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edge_inception._core.errors import InputError

# Letters, digits, '-', '_' and '.', starting with a letter or digit: no separators, no '..', no spaces.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def is_identifier(name: object) -> bool:
    """At most 64 characters of letters, digits, '-', '_', '.', starting with a letter or digit, no '..'."""
    return isinstance(name, str) and bool(_IDENTIFIER.fullmatch(name)) and ".." not in name


IDENTIFIER_FIX = "use letters, digits, '-', '_' or '.', e.g. name = \"my-npu-int8\", with no '/' or '..'"


def check_identifier(name: object, *, what: str = "name", path: str | os.PathLike | None = None) -> str:
    """``name`` if it is a plain identifier, else an InputError naming ``path`` (the file it came from)."""
    if is_identifier(name):
        return name
    raise InputError(path, f"{what} {name!r} is not a plain identifier (it becomes part of file names)",
                     fix=IDENTIFIER_FIX)


def inside(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path`` if it stays inside ``root`` once both are resolved (symlinks, '..'), else an InputError."""
    root_r = Path(root).resolve()
    path_r = Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise InputError(path, f"resolves to {path_r}, outside the output folder {root_r}",
                         fix="check the target name and any symlinks inside --out")
    return Path(path)
