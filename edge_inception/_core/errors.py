"""One exception family; the CLI turns each into a one-line message and an exit code.

    raise InputError(path, "holds no JPEG or PNG images", fix="point --calibration at a folder of images")
"""

from __future__ import annotations

from pathlib import Path


class EdgeInceptionError(Exception):
    """Base of every error the tool raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(EdgeInceptionError):
    """Bad input from the user: a path, a file, an option. Exit code 2."""

    exit_code = 2

    def __init__(self, path: str | Path | None, problem: str, *, fix: str | None = None) -> None:
        text = f"{path}: {problem}" if path is not None else problem
        if fix:
            text += f" ({fix})"
        super().__init__(text)
        self.path = path


class UsageError(InputError):
    """An option or combination of options that cannot work."""

    def __init__(self, problem: str, *, fix: str | None = None) -> None:
        super().__init__(None, problem, fix=fix)


class TargetFailed(EdgeInceptionError):
    """A target's conversion or its verification failed; other targets may still succeed."""

    exit_code = 1
