"""The README and docs/ hold together: links resolve, quoted commands and install extras exist.

    pytest tests/test_docs.py -q

Every relative link in README.md and docs/*.md must name a file of the repository, and an ``#anchor``
a heading of that file under GitHub's slug rules. Every ``edge-inception SUBCOMMAND`` in the README's
quick start — and in any shell line of README.md and docs/*.md — must be a command of the CLI's click
group, with options that command has; every extra named in ``pip install -e ".[...]"`` must be declared
in pyproject.toml. Text parsing and the click group in-process only: nothing is converted.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_SHELL_INFO = {"bash", "sh", "shell", "console", "zsh"}


def _blocks(text: str):
    """Split Markdown into ('prose', lines) and ('code', info, lines) pieces, fences removed."""
    out, prose, code, fence, info = [], [], [], None, ""
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None and m:
            out.append(("prose", prose))
            prose, code, fence, info = [], [], m.group(2), m.group(3).strip().split(" ")[0].lower()
        elif fence is not None and m and m.group(2).startswith(fence[0]) and len(m.group(2)) >= len(fence) \
                and not m.group(3).strip():
            out.append(("code", info, code))
            fence = None
        elif fence is None:
            prose.append(line)
        else:
            code.append(line)
    out.append(("prose", prose))
    if fence is not None:
        out.append(("code", info, code))
    return out


def _prose(text: str) -> list[str]:
    """Lines outside fenced code, with inline code spans blanked (a link inside backticks is not a link)."""
    lines = [ln for piece in _blocks(text) if piece[0] == "prose" for ln in piece[1]]
    return [re.sub(r"(`+)(?:(?!\1).)+?\1", "", ln) for ln in lines]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lower-cased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w is Unicode-aware: letters, digits and _ stay, like GitHub
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 suffixes for repeated headings."""
    result, counts = set(), {}
    for line in _heading_lines(path):
        m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$", line)
        if m:
            base = github_slug(m.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
    return result


def _heading_lines(path: Path) -> list[str]:
    # Headings are read with code spans intact (their text counts); only fenced code is skipped.
    return [ln for piece in _blocks(path.read_text(encoding="utf-8")) if piece[0] == "prose" for ln in piece[1]]


def relative_links(path: Path) -> list[str]:
    """Link targets of a Markdown file that point inside the repository (no scheme, not protocol-relative)."""
    found = []
    for line in _prose(path.read_text(encoding="utf-8")):
        found += _LINK.findall(line)
        m = _REFDEF.match(line)
        if m:
            found.append(m.group(1))
    return [t for t in found if not _SCHEME.match(t) and not t.startswith("//")]


def broken_links(path: Path) -> list[str]:
    """One message per relative link of ``path`` whose file or #anchor does not exist."""
    problems = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{path.name}: link '{target}': no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor.lower() not in anchors(dest):
            problems.append(f"{path.name}: link '{target}': no heading '#{anchor}' in {dest.name} "
                            f"(has: {', '.join(sorted(anchors(dest)))})")
    return problems


def shell_commands(text: str) -> list[list[str]]:
    """Simple commands (token lists) from shell code blocks and '$ ' lines of any block; '&&', '|', ';' split."""
    commands = []
    for piece in _blocks(text):
        if piece[0] != "code":
            continue
        _, info, lines = piece
        # A transcript: its '$ ' lines are commands (a trailing '\' continues one), the rest is output.
        if any(ln.strip().startswith("$ ") for ln in lines):
            body, keep = [], False
            for ln in lines:
                s = ln.strip()
                if s.startswith("$ ") or keep:
                    body.append(s[2:] if s.startswith("$ ") else s)
                    keep = s.endswith("\\")
        elif info in _SHELL_INFO:
            body = lines
        else:
            continue
        joined = "\n".join(body).replace("\\\n", " ")
        for line in joined.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split, lexer.commenters = True, "#"
            try:
                tokens = list(lexer)
            except ValueError as e:
                raise AssertionError(f"cannot parse shell line {line!r}: {e}") from None
            current: list[str] = []
            for tok in [*tokens, ";"]:
                if tok and set(tok) <= set(";&|"):
                    if current:
                        commands.append(current)
                    current = []
                else:
                    current.append(tok)
    return commands


def command_problems(text: str, where: str) -> list[str]:
    """Each `edge-inception SUB --opt` whose subcommand or option the click group does not have."""
    from edge_inception.cli import cli

    group_ctx = click.Context(cli, info_name="edge-inception", **cli.context_settings)
    problems = []
    for cmd in shell_commands(text):
        if Path(cmd[0]).name != "edge-inception" or len(cmd) < 2:
            continue
        sub = cmd[1]
        if sub.startswith("-"):  # a group option: --version, --help
            if sub not in {o for p in cli.get_params(group_ctx) for o in (*p.opts, *p.secondary_opts)}:
                problems.append(f"{where}: edge-inception has no option {sub}")
            continue
        command = cli.commands.get(sub)
        if command is None:
            have = ", ".join(sorted(cli.commands))
            problems.append(f"{where}: 'edge-inception {sub}' is not a command (have: {have})")
            continue
        ctx = click.Context(command, info_name=sub, parent=group_ctx)
        allowed = {o for p in command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
        for tok in cmd[2:]:
            opt = tok.split("=", 1)[0]
            if re.match(r"^--?[a-zA-Z]", opt) and opt not in allowed:
                problems.append(f"{where}: 'edge-inception {sub}' has no option {opt}")
    return problems


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"README.md has no '## {title}' section"
    return m.group(1)


def _extras(text: str) -> list[str]:
    found = []
    for cmd in shell_commands(text):
        if "pip" in cmd and "install" in cmd:
            for tok in cmd:
                m = re.fullmatch(r"(?:\.|[A-Za-z0-9_.-]+)\[([A-Za-z0-9_,\s-]+)\]", tok)
                if m:
                    found += [e.strip() for e in m.group(1).split(",")]
    return found


# --- the checks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert relative_links(page) or page != README, "README.md links to no docs page"
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_quick_start_commands_exist():
    quick = _section(README.read_text(encoding="utf-8"), "Quick start")
    subs = [c[1] for c in shell_commands(quick) if c[0] == "edge-inception" and len(c) > 1]
    assert subs, "the quick start runs no edge-inception command"
    assert command_problems(quick, "README.md quick start") == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_quoted_command_and_option_exists(page):
    assert command_problems(page.read_text(encoding="utf-8"), page.name) == []


def test_quick_start_extras_are_declared():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    quick = _extras(_section(README.read_text(encoding="utf-8"), "Quick start"))
    assert quick, 'the quick start has no pip install -e ".[...]"'
    everywhere = [e for page in PAGES for e in _extras(page.read_text(encoding="utf-8"))]
    assert sorted({e for e in quick + everywhere if e not in declared}) == []


# --- the checker itself: it must see what it is meant to catch ------------------------------------------

def test_slugs_follow_github():
    assert github_slug("Gate regressions in CI: `edge-inception gate`") == "gate-regressions-in-ci-edge-inception-gate"
    assert github_slug("Reports: `report.json`, `report.md`, `report.html`") == "reports-reportjson-reportmd-reporthtml"
    assert github_slug("The README's example outputs") == "the-readmes-example-outputs"
    assert github_slug("Cross-entropy only (now `--no-distill`)") == "cross-entropy-only-now---no-distill"
    assert github_slug("PyTorch → TFLite — litert_torch") == "pytorch--tflite--litert_torch"


def test_checker_reports_a_broken_file_anchor_and_command(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#same-1) [ok](#here) [web](https://example.com/x.md) `[code](nowhere.md)`\n"
        "[gone](missing.md) [bad anchor](other.md#nope)\n\n## Here\n\n"
        "```bash\nedge-inception convert --target tflite-int8 && edge-inception frobnicate\n"
        "edge-inception bench model.onnx \\\n    --no-such-flag\n```\n"
        "```\n$ edge-inception targets --json\nedge-inception output line, not a command\n```\n",
        encoding="utf-8")
    problems = broken_links(page)
    assert len(problems) == 2
    assert "missing.md" in problems[0] and "#nope" in problems[1]
    cmd_problems = command_problems(page.read_text(encoding="utf-8"), "page.md")
    assert len(cmd_problems) == 2
    assert "frobnicate" in cmd_problems[0] and "--no-such-flag" in cmd_problems[1]
