"""Human views of a report.json, written beside it: report.md (CI step summary) and report.html.

    paths = write_views(report, out)        # {"markdown": out/report.md, "html": out/report.html}
    write_views(report, out, stem="eval")   # eval.md and eval.html beside eval.json
    python -m edge_inception.report.views out/report.json     # re-render report.md/.html of a saved report

JSON stays the source of truth; both views are rendered from it alone (the gate thresholds too: each
row records its own since schema 1.2), so re-rendering a saved report gives the same files anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge_inception._core.atomic import atomic_write_text

SUFFIXES = {"markdown": ".md", "html": ".html"}


def write_views(report: dict, folder: str | Path, *, stem: str = "report") -> dict[str, Path]:
    """Write ``stem``.md and ``stem``.html into ``folder`` atomically; return their paths by view name."""
    from edge_inception.report.html import render_html
    from edge_inception.report.markdown import render_markdown

    folder = Path(folder)
    texts = {"markdown": render_markdown(report), "html": render_html(report)}  # render both before writing
    paths = {}
    for view, text in texts.items():
        paths[view] = folder / f"{stem}{SUFFIXES[view]}"
        atomic_write_text(paths[view], text)
    return paths


def load_report(path: str | Path) -> dict:
    """A saved report.json, validated against the schema (any 1.x): InputError naming the file and the key."""
    from edge_inception.report.schema import read_report

    return read_report(path)[0]


def main(argv: list[str] | None = None) -> int:
    from edge_inception._core.errors import EdgeInceptionError

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m edge_inception.report.views path/to/report.json", file=sys.stderr)
        return 2
    try:
        report = load_report(args[0])
        path = Path(args[0])
        paths = write_views(report, path.parent, stem=path.stem)
    except EdgeInceptionError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    for p in paths.values():
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
