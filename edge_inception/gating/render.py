"""Views of a gate result, all rendered from the result dict: terminal table, Markdown, and the outputs
a CI job asks for.

    print_gate(result)                                  # one-screen table + the messages that matter
    to_markdown(result)                                 # for $GITHUB_STEP_SUMMARY or a PR comment
    emit(result, junit="gate.xml", out="gate.json", as_json=False, step_summary=True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge_inception.gating.checks import _FMT, _interval
from edge_inception.report.numbers import DASH

MARK = {"fail": "✗", "warn": "!", "improved": "↑", "pass": "✓", "skipped": "—"}
STYLE = {"fail": "red", "warn": "yellow", "improved": "green", "pass": "", "skipped": "dim"}
COLUMNS = (("top1", "top-1 change"), ("agreement", "agreement"), ("latency", "latency ratio"), ("size", "size"),
           ("latency_ms", "latency"))  # latency_ms: checked on devices only


def value_text(c: dict) -> str:
    if c["value"] is None or c["unit"] is None:
        return DASH if c["value"] is None else str(c["value"])
    return f"{_FMT[c['unit']](c['value'])}{_interval(c['ci95'], c['unit'])}"


def threshold_text(c: dict) -> str:
    if c["threshold"] is None or c["unit"] is None:
        return DASH if c["threshold"] is None else str(c["threshold"])
    return _FMT[c["unit"]](c["threshold"])


def _grid(result: dict) -> list[tuple[str, str, dict[str, dict], str]]:
    """(target, against, {column: check}, status text) rows: one per target vs float, one vs baseline."""
    rows: dict[tuple[str, str], dict] = {}
    status: dict[str, str] = {}
    for c in result["checks"]:
        if c["check"] == "status":
            status[c["target"]] = c["verdict"]
            rows.setdefault((c["target"], "float"), {})
            continue
        col = c["check"].removeprefix("baseline.")
        rows.setdefault((c["target"], c["against"]), {})[col] = c
    out = []
    for (target, against), cells in rows.items():
        st = status.get(target, "")
        out.append((target, against, cells, "failed" if st == "fail" else ("ok" if st else "")))
    return out


def _summary_line(result: dict) -> str:
    n = result["counts"]
    parts = [f"{n['fail']} regression{'s' * (n['fail'] != 1)}", f"{n['warn']} warning{'s' * (n['warn'] != 1)}"]
    if n["improved"]:
        parts.append(f"{n['improved']} improved")
    parts.append(f"{n['pass']} passed")
    if n["skipped"]:
        parts.append(f"{n['skipped']} skipped")
    mode = ("strict: point estimates decide" if result["strict"]
            else "a regression counts when its 95% interval is beyond the threshold")
    return f"gate {result['verdict'].upper()}: {', '.join(parts)} ({mode})"


def print_gate(result: dict, *, file=None) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    stream = file or sys.stdout
    console = Console(file=stream) if stream.isatty() else Console(file=stream, width=160)
    title = f"gate · {result.get('model') or 'model'} · {result.get('report') or 'report'}"
    if result.get("baseline"):
        title += f" vs baseline {result['baseline']}"
    table = Table(title=title)
    for h in ("target", "against", "status", *(label for _, label in COLUMNS)):
        table.add_column(h, justify="left" if h in ("target", "against", "status") else "right")
    for target, against, cells, st in _grid(result):
        row = [target, against, st if against == "float" else ""]
        for col, _ in COLUMNS:
            c = cells.get(col)
            if c is None or c["verdict"] == "skipped":
                row.append(f"[dim]{DASH}[/dim]")
                continue
            text = f"{value_text(c)} {MARK[c['verdict']]}"
            style = STYLE[c["verdict"]]
            row.append(f"[{style}]{text}[/{style}]" if style else text)
        table.add_row(*row, style="red" if st == "failed" else None)
    console.print(table)
    for c in result["checks"]:
        if c["verdict"] in ("fail", "warn", "improved"):
            label = {"fail": "REGRESSION", "warn": "warning", "improved": "improved"}[c["verdict"]]
            console.print(f"[{STYLE[c['verdict']]}]{label}[/]: {c['message']}", highlight=False)
    for c in result["checks"]:
        if c["verdict"] == "skipped" and c["check"] == "baseline":
            console.print(f"[dim]{c['message']}[/dim]", highlight=False)
    for note in result.get("notes", []):
        console.print(f"note: {note}", highlight=False)
    color = "red" if result["verdict"] == "fail" else "green"
    console.print(f"[bold {color}]{_summary_line(result)}[/]", highlight=False)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(result: dict) -> str:
    icon = "❌" if result["verdict"] == "fail" else "✅"
    lines = [f"### {icon} edge-inception gate: {result['verdict']} — {result.get('model') or 'model'}", "",
             _summary_line(result), ""]
    if result.get("baseline"):
        lines += [f"Baseline: `{result['baseline']}`", ""]
    lines += ["| target | check | against | verdict | value [95% CI] | threshold |", "|---|---|---|---|---:|---:|"]
    for c in result["checks"]:
        if c["verdict"] == "skipped":
            continue
        lines.append(f"| {c['target']} | {c['check']} | {c['against']} | {MARK[c['verdict']]} {c['verdict']} | "
                     f"{_md_escape(value_text(c))} | {_md_escape(threshold_text(c))} |")
    worth = [c for c in result["checks"] if c["verdict"] in ("fail", "warn", "improved")]
    if worth:
        lines.append("")
        lines += [f"- **{c['verdict']}**: {_md_escape(c['message'])}" for c in worth]
    skipped = [c for c in result["checks"] if c["verdict"] == "skipped"]
    if skipped:
        lines += ["", f"<details><summary>{len(skipped)} checks skipped</summary>", ""]
        lines += [f"- {_md_escape(c['message'])}" for c in skipped]
        lines += ["", "</details>"]
    if result.get("notes"):
        lines.append("")
        lines += [f"> {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def append_step_summary(result: dict, path: str | os.PathLike | None = None) -> Path | None:
    """Append the Markdown to $GITHUB_STEP_SUMMARY (GitHub Actions' job summary), if it is set.
    Appending, not an atomic replace: the file belongs to the runner and other steps append too."""
    path = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as f:
        f.write(to_markdown(result) + "\n")
    return Path(path)


def emit(result: dict, *, junit: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
         as_json: bool = False, step_summary: bool = True, file=None) -> None:
    """Every output a command asks for: terminal table (or JSON on stdout), --junit, --out, step summary."""
    import sys

    from edge_inception._core.atomic import atomic_write_text
    from edge_inception.gating.junit import write_junit

    text = json.dumps(result, indent=2) + "\n"
    if junit:
        write_junit(result, junit)
    if out:
        atomic_write_text(out, text)
    if step_summary:
        append_step_summary(result)
    if as_json:
        (file or sys.stdout).write(text)
    else:
        print_gate(result, file=file)
