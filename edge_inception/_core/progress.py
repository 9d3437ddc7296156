"""Progress for long work: a rich bar on a terminal, plain start/finish lines in CI logs.

    with progress("calibrating", total=500) as advance:
        for batch in batches:
            ...
            advance(len(batch))
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextlib.contextmanager
def progress(description: str, *, total: int | None = None) -> Iterator[Callable[[int], None]]:
    if os.environ.get("EDGE_INCEPTION_QUIET"):
        yield lambda n=1: None
        return
    if _interactive():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)
        return
    t0 = time.perf_counter()
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n

    print(f"{description} ...", file=sys.stderr, flush=True)
    yield advance
    count = f" {done}/{total}" if total else ""
    print(f"{description}{count} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
