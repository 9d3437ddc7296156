"""Input files checked before a library opens them: a FIFO would block the run forever, an empty or
renamed file would come back from the library as a misleading error ("File not found").

    check_regular_file(path, what="model file")      # InputError: missing, a FIFO/device, a folder, empty
    check_regular_file(path, allow_dir=True)          # a SavedModel folder is fine too
    sniff(path)                                       # 'zip', 'hdf5', 'png', 'jpeg', 'gzip', 'flatbuffer' or None
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edge_inception._core.errors import InputError

_MAGIC = (
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"), (b"\x1f\x8b", "gzip"), (b"\x93NUMPY", "npy"), (b"GIF8", "gif"),
)
NAMES = {"zip": "a zip archive", "hdf5": "an HDF5 file", "png": "a PNG image", "jpeg": "a JPEG image",
         "gzip": "a gzip file", "npy": "a NumPy array", "gif": "a GIF image", "flatbuffer": "a TFLite flatbuffer"}


def check_regular_file(path: str | os.PathLike, *, what: str = "file", allow_dir: bool = False,
                       allow_empty: bool = False) -> Path:
    """``path`` if it is a regular file (or, with ``allow_dir``, a folder) with something in it."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(path, "does not exist", fix=f"check the path of the {what}") from None
    except OSError as e:
        raise InputError(path, f"cannot be read ({e.strerror})", fix=f"check the path of the {what}") from None
    if stat.S_ISDIR(st.st_mode):
        if allow_dir:
            return path
        raise InputError(path, f"is a folder, not a {what}", fix=f"pass the {what} itself")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device")
        raise InputError(path, f"is not a regular file but {kind}; reading it could block forever",
                         fix=f"pass a {what} saved on disk")
    if st.st_size == 0 and not allow_empty:
        raise InputError(path, f"is empty (0 bytes), not a {what}", fix="copy or save the file again")
    if not os.access(path, os.R_OK):
        raise InputError(path, "cannot be read (permission denied)", fix="check the file's permissions")
    return path


def sniff(path: str | os.PathLike) -> str | None:
    """What the first bytes of a regular file say it is, or None when they say nothing known."""
    with open(path, "rb") as f:
        head = f.read(16)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"TFL3":
        return "flatbuffer"
    return None
