"""Markdown and HTML views of report.json, rendered from fixtures under tests/data/reports/: reports the
convert, eval and bench commands wrote for inception-mini (samples cut to 50), and hand-made variants
for a failed target, QAT beside PTQ, and Inception v3-sized latencies."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from edge_inception._core.errors import UsageError
from edge_inception.report.html import render_html
from edge_inception.report.markdown import render_markdown
from edge_inception.report.views import load_report, main, write_views

DATA = Path(__file__).parent / "data" / "reports"
FIXTURES = sorted(p.stem for p in DATA.glob("*.json"))
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


class Tree(HTMLParser):
    """Checks nesting (every element closed, in order) and collects elements with their attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict, list[str]]] = []  # (tag, attrs, open ancestors' classes)
        self.classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs, list(self.classes)))
        if tag not in VOID:
            self.stack.append(tag)
            self.classes.append(attrs.get("class") or "")

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), list(self.classes)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        self.classes.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> Tree:
    tree = Tree()
    tree.feed(text)
    tree.close()
    assert not tree.errors, tree.errors[:3]
    assert tree.stack == [], f"unclosed: {tree.stack}"
    return tree


def svgs(text: str, cls: str) -> list[str]:
    return re.findall(rf'<svg class="plot {cls}".*?</svg>', text, flags=re.S)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_renders_well_formed_and_self_contained(name):
    report = load(name)
    page = render_html(report)
    tree = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", page), "the report must not reference anything outside the file"
    assert not any(tag in ("script", "link", "img", "iframe", "object") for tag, _, _ in tree.elements)
    assert not any("src" in attrs or "href" in attrs for _, attrs, _ in tree.elements)
    text = render_markdown(report)
    for row in report["targets"]:
        assert row["target"] in page
        assert f"**{row['target']}**" in text  # each target has its row in the table


def test_markdown_convert_table_has_every_target_with_its_interval():
    report = load("convert_3targets")
    text = render_markdown(report)
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| target"))
    assert lines[header + 1].startswith("| --- |")
    for row in report["targets"]:
        acc = row["accuracy"]
        line = next(line for line in lines if line.startswith(f"| **{row['target']}**"))
        lo, hi = acc["delta_ci95"]
        fmt = lambda v: ("+" if v > 0 else "\u2212" if v < 0 else "") + f"{abs(v):.2f}"  # noqa: E731
        assert f"{fmt(acc['delta_points'])} pt [{fmt(lo)}, {fmt(hi)}]" in line
        assert f"{acc['top1'] * 100:.2f}%" in line and f"{acc['float_top1'] * 100:.2f}%" in line
        assert f"{row['latency']['ratio']:.2f}×" in line
        assert line.count("|") == lines[header].count("|")  # no stray pipe broke the row
    assert "AMD EPYC" in text and "no VNNI" in text and "sample:evaluation" in text
    assert "\u22120.10 pt [\u22120.40, +0.15]" in text  # the real tflite-int8 result, with real minus signs


def test_markdown_failed_target_not_on_device_and_qat():
    text = render_markdown(load("convert_failed"))
    assert text.startswith("### ❌")
    assert "| **onnx-int8** | ❌ failed |" in text
    assert "- ❌ **onnx-int8** failed: Conv 'inception" in text
    assert "not run on device" in text
    qat = render_markdown(load("convert_qat"))
    assert "QAT against post-training quantization" in qat
    ptq_line = [line for line in qat.splitlines() if line.startswith("| **tflite-int8**")][-1]
    assert "+0.10 pt [\u22120.15, +0.35]" in ptq_line and "\u22120.10 pt [\u22120.40, +0.15]" in ptq_line


def test_markdown_eval_and_bench_columns():
    ev = render_markdown(load("eval"))
    assert "| artifact | status | size | images | reference top-1 | top-1 | top-5 |" in ev
    assert "36.3 dB" in ev and "99.55% [99.1, 99.8]" in ev
    bench = load("bench")
    text = render_markdown(bench)
    assert "p99 ms" in text and "img/s" in text and "memory (RSS / peak)" in text
    row = bench["targets"][1]
    assert f"{row['latency']['candidate']['p50_ms']:.3f}" in text  # sub-millisecond p50 keeps 3 decimals


def _medians(svg: str) -> dict[str, tuple[float, float]]:
    """series -> (x of the median line, ms it stands for)."""
    out = {}
    for m in re.finditer(r'<line class="median" data-series="(\w+)" data-ms="([^"]+)" x1="([^"]+)"', svg):
        out[m[1]] = (float(m[3]), float(m[2]))
    return out


@pytest.mark.parametrize("name", ["convert_1target", "convert_3targets", "convert_v3_latency", "bench"])
def test_one_latency_plot_per_target_with_medians_in_order(name):
    report = load(name)
    page = render_html(report)
    plots = svgs(page, "latency")
    ok = [r for r in report["targets"] if r["status"] == "ok" and r.get("latency")]
    assert len(plots) == len(ok) >= 1
    all_x = []
    for row, svg in zip(ok, plots, strict=True):
        assert f'data-target="{row["target"]}"' in svg
        med = _medians(svg)
        lat = row["latency"]
        (x_ref, ms_ref), (x_cand, ms_cand) = med["reference"], med["candidate"]
        assert ms_ref == pytest.approx(lat["reference"]["p50_ms"], rel=1e-4)
        assert ms_cand == pytest.approx(lat["candidate"]["p50_ms"], rel=1e-4)
        # slower is further right, on the shared axis
        assert (x_cand > x_ref) == (lat["candidate"]["p50_ms"] > lat["reference"]["p50_ms"])
        all_x += [(ms_ref, x_ref), (ms_cand, x_cand)]
    # one axis for all targets: x grows with ms across plots too
    all_x.sort()
    assert all(b[1] >= a[1] for a, b in zip(all_x, all_x[1:], strict=False))
    # every timed run is a dot (none beyond the axis here, or counted with a marker)
    first = plots[0]
    samples = len(ok[0]["latency"]["reference"]["samples_ms"]) + len(ok[0]["latency"]["candidate"]["samples_ms"])
    dots = first.count("<circle")
    beyond = sum(int(n) for n in re.findall(r"<title>(\d+) sample\(s\) beyond the axis</title>", first))
    assert dots + beyond == samples


def test_sub_millisecond_and_100ms_latencies_share_one_log_axis():
    small, big = load("convert_1target"), load("convert_v3_latency")
    report = copy.deepcopy(small)
    report["targets"].append(copy.deepcopy(big["targets"][1]))
    page = render_html(report)
    assert "(logarithmic)" in page
    plots = svgs(page, "latency")
    small_x = _medians(plots[0])["candidate"][0]
    big_x = _medians(plots[1])["candidate"][0]
    assert big_x - small_x > 300  # 1.5 ms and 177 ms far apart, neither squashed against the edge
    ticks = re.findall(r'class="tick">([^<]+)</text>', plots[0])
    assert "1" in ticks and "100" in ticks


def test_forest_plot_places_changes_and_gate():
    report = load("convert_3targets")
    page = render_html(report)
    (forest,) = svgs(page, "forest")
    marks = re.findall(r'<rect class="delta" data-points="([^"]+)" x="([^"]+)"', forest)
    assert [float(d) for d, _ in marks] == [r["accuracy"]["delta_points"] for r in report["targets"]]
    xs = {float(d): float(x) for d, x in marks}
    assert xs[-0.1] < xs[0.05] < xs[0.3]
    gates = set(re.findall(r'<line class="gate" data-points="([^"]+)" x1="([^"]+)"', forest))
    assert {g for g, _ in gates} == {"-1"}  # each row's recorded gate (schema 1.2): max_top1_drop = 1.0
    (gate_x,) = {float(x) for _, x in gates}
    assert gate_x < xs[-0.1]  # the gate is left of every change: all within it
    assert "gate \u22121.0 pt" in forest and "\u22120.10 pt [\u22120.40, +0.15]" in forest
    # the row's recorded gate is what is drawn, per row
    report["targets"][0]["gate"] = {"max_top1_drop": 0.05}
    forest = svgs(render_html(report), "forest")[0]
    assert '<line class="gate" data-points="-0.05"' in forest


def test_gate_line_comes_from_the_report_alone(tmp_path, monkeypatch):
    """One report.json renders the same in any folder: a user's profile of the same name in ./targets/ with
    another max_top1_drop changes nothing, and a 1.1 report (no recorded thresholds) draws no gate line
    and says why instead of looking the profile up."""
    from edge_inception.targets import get_target

    report = load("convert_3targets")
    before = render_html(report)
    (tmp_path / "targets").mkdir()
    text = Path(get_target("tflite-int8").source).read_text()
    (tmp_path / "targets" / "tflite-int8.toml").write_text(text.replace("max_top1_drop = 1.0", "max_top1_drop = 0.3"))
    monkeypatch.chdir(tmp_path)
    assert get_target("tflite-int8").gate["max_top1_drop"] == 0.3  # the profile lookup would see it...
    assert render_html(report) == before  # ...the view does not look
    old = load("convert_1target")
    assert old["schema_version"] == "1.1" and "gate" not in old["targets"][0]
    (forest,) = svgs(render_html(old), "forest")
    assert 'class="gate"' not in forest
    assert "No gate line for tflite-int8: the report records no gate thresholds (schema 1.1" in render_html(old)


def test_malicious_strings_are_escaped():
    report = load("convert_1target")
    evil = "<script>alert(1)</script>"
    report["model"]["name"] = evil
    row = report["targets"][0]
    row["target"] = 'x"><img src=x onerror=alert(2)>'
    row["notes"] = ["<b onmouseover=alert(3)>note</b> | pipe"]
    row["artifact"] = "out/</code><script>alert(4)</script>"
    failed = copy.deepcopy(row)
    failed.update(status="failed", message="<iframe src=javascript:alert(5)>")
    report["targets"].append(failed)
    page = render_html(report)
    tree = parse(page)
    assert not any(tag in ("script", "img", "iframe") for tag, _, _ in tree.elements)
    assert not any(k.startswith("on") for _, attrs, _ in tree.elements for k in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    joined = "".join(tree.text)
    assert evil in joined and "<iframe src=javascript:alert(5)>" in joined  # shown, as text
    text = render_markdown(report)
    assert "<script>" not in text and "<img" not in text and "<iframe" not in text and "<b " not in text
    row_lines = [line for line in text.splitlines() if line.startswith("| **")]
    header = next(line for line in text.splitlines() if line.startswith("| target"))
    assert all(line.count(" | ") == header.count(" | ") for line in row_lines)  # "|" in names is escaped


def test_survives_missing_sections():
    report = load("convert_3targets")
    for row in report["targets"]:
        row.pop("accuracy")
        row.pop("latency")
    report["data"]["evaluation"] = None
    report["targets"][1].update(status="failed", message="boom", size_bytes=None)
    page = render_html(report)
    parse(page)
    assert not svgs(page, "latency") and not svgs(page, "forest")
    assert len(svgs(page, "size")) == 1 and "Not shown: onnx-int8 (failed)" in page
    text = render_markdown(report)
    assert "no evaluation data" in text and "boom" in text
    # the bare minimum a report can be
    bare = {"schema_version": "1.1", "kind": "convert", "targets": []}
    parse(render_html(bare))
    assert "No targets" in render_markdown(bare)
    odd = {"schema_version": "1.9", "kind": "bench", "targets": [{"target": "a", "status": "ok",
                                                                  "latency": {"p50_ms": 0.2, "p90_ms": 0.3}}]}
    page = render_html(odd)  # summary statistics only, no samples, no reference
    assert len(svgs(page, "latency")) == 1 and "0.200" in render_markdown(odd)


def test_other_schema_majors_are_refused(tmp_path):
    report = load("convert_1target")
    report["schema_version"] = "2.0"
    with pytest.raises(UsageError, match="schema_version '2.0'"):
        render_html(report)
    with pytest.raises(UsageError):
        render_markdown(report)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert main([str(path)]) == 2


def test_write_views_atomically_and_rerender_cli(tmp_path, capsys):
    report = load("convert_failed")
    paths = write_views(report, tmp_path)
    assert paths == {"markdown": tmp_path / "report.md", "html": tmp_path / "report.html"}
    assert paths["markdown"].read_text() == render_markdown(report)
    assert paths["html"].read_text() == render_html(report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]  # no temp files left
    assert set(write_views(report, tmp_path / "new", stem="eval").values()) == {
        tmp_path / "new" / "eval.md", tmp_path / "new" / "eval.html"}
    (tmp_path / "bench.json").write_text(json.dumps(load("bench")))
    assert main([str(tmp_path / "bench.json")]) == 0
    assert (tmp_path / "bench.html").exists() and "bench.md" in capsys.readouterr().out
    assert load_report(tmp_path / "bench.json")["kind"] == "bench"
    (tmp_path / "bad.json").write_text("{not json")
    assert main([str(tmp_path / "bad.json")]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
