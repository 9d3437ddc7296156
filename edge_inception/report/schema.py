"""The report.json schema, defined once: every writer validates against it and every reader (views,
gate) reads through it.

    check_report(report, where="out/report.json")   # InputError naming the file and the key
    report, text = read_report("out/report.json")   # parsed and validated (any 1.x)
    write_report(report, "out/report.json")         # validated, then written atomically
    python -m edge_inception.report.schema --write docs/schema    # publish the JSON Schemas (report/publish.py)
    python -m edge_inception.report.schema --check docs/schema    # exit 1 if they drifted

Readers accept any 1.x (a newer minor only adds keys: every object allows keys it does not know) and
refuse another major. The documented keys are typed; values are checked as they are, never coerced,
and ``null`` is allowed wherever a value may be unmeasured. Format-specific dicts (``conversion``,
``engine``, ``settings.qat``) are open.

Schema history: 1.0 the first; 1.1 added ``kind``, the intervals, per-image outcomes, the data
fingerprint and the latency statistics; 1.2 adds ``targets[].gate``, the thresholds of the target's
profile at convert time, so views and the gate read them from the report alone; 1.3 adds
``targets[].calibration``: the recipe, the fingerprint of the images it selected and what the library
was told; 1.4 adds ``diagnose`` (convert --diagnose: the per-layer diagnosis the views draw, see
schema_diagnosis.py) and documents ``targets[].fallback``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationError

from edge_inception._core.errors import EdgeInceptionError, InputError, UsageError
from edge_inception.report.schema_diagnosis import Diagnosis
from edge_inception.report.values import (
    Count,
    Counts,
    Flag,
    Int,
    Interval,
    Name,
    Number,
    Numbers,
    Open,
    Strings,
    Text,
    Thresholds,
)
from edge_inception.report.values import OpenModel as _Open
from edge_inception.report.values import doc as _doc

SCHEMA_VERSION = "1.4"
READABLE_MAJOR = 1
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


# ---- the report -------------------------------------------------------------------------------------------

class Tool(_Open):
    name: Text = _doc("'edge-inception'")
    version: Text = _doc("the tool's version")


class ModelInfo(_Open):
    name: Text = _doc("the model's name (ModelSpec)")
    source: Text = _doc("a zoo name ('zoo:inception-mini'), a path or 'pkg.mod:factory'")
    kind: Text = _doc("keras, tf_keras, saved_model, torch")
    framework: Text = None
    random_weights: Flag = _doc("true: the weights are random, so accuracy says nothing")
    input_shape: Counts = _doc("H, W, C")
    layout: Text = _doc("NHWC or NCHW")
    preprocessing: Open = _doc("resize, scale, mean, std")
    labels: Strings = None
    spec_source: Text = _doc("eval/bench: where the artifact's ModelSpec came from")


class Host(_Open):
    cpu: Text = _doc("CPU model name")
    machine: Text = None
    cores: Count = None
    isa: Annotated[dict[str, Flag] | None, Field(description="ISA flags: avx2, avx512f, avx512_vnni, avx_vnni, amx, "
                                                 "vnni, neon, dotprod, ...")] = None
    os: Text = None
    python: Text = None


class Calibration(_Open):
    source: Text = None
    samples: Count = None


class Evaluation(_Open):
    source: Text = None
    samples: Count = None
    fingerprint: Text = _doc("sha256 of the images and labels, in order")
    labelled: Flag = None


class Data(_Open):
    calibration: Calibration | None = None
    evaluation: Evaluation | None = None
    latency_input: Text = _doc("bench: what was timed")


class Settings(_Open):
    threads: Count = None
    latency_runs: Count = None
    batch: Count = None
    runs: Count = None
    warmup: Count = None
    limit: Count = None
    stop_rule: Text = None
    method: Text = _doc("ptq or qat")
    qat: Open = _doc("what QAT training did")


class PerSample(_Open):
    encoding: Literal["packbits-base64"]
    n: Int = Field(description="images, i.e. bits in each string")
    candidate_correct: Text = _doc("per image: the candidate's top-1 is right (base64 of packed bits)")
    reference_correct: Text = _doc("per image: the reference's top-1 is right")
    agree: Text = _doc("per image: candidate and reference agree on top-1")


class Accuracy(_Open):
    n: Count = _doc("images evaluated")
    float_top1: Number = _doc("the reference's top-1 (0..1)")
    top1: Number = None
    float_top5: Number = None
    top5: Number = None
    top1_ci95: Interval = None
    delta_points: Number = _doc("top-1 minus the reference's, in percentage points")
    delta_ci95: Interval = _doc("95% interval of delta_points (paired bootstrap)")
    mcnemar_p: Number = None
    fixed: Count = None
    broken: Count = None
    ci_method: Text = None
    agreement: Number = _doc("share of images whose top-1 equals the reference's")
    agreement_ci95: Interval = _doc("Wilson interval of agreement")
    sqnr_db: Number = _doc("null: outputs identical")
    cosine: Number = None
    per_sample: PerSample | None = None


class LatencyStats(_Open):
    runs: Count = None
    p50_ms: Number = None
    p90_ms: Number = None
    p99_ms: Number = None
    mean_ms: Number = None
    std_ms: Number = None
    min_ms: Number = None
    p50_ci95: Interval = None
    throughput_ips: Number = None
    samples_ms: Numbers = _doc("every timed run")


class Latency(LatencyStats):
    threads: Count = None
    batch: Count = None
    stop_reason: Text = None
    stop_rule: Text = None
    reference: LatencyStats | None = None
    candidate: LatencyStats | None = None
    reference_p50_ms: Number = None
    ratio: Number = _doc("median of per-pair target/reference ratios")
    ratio_ci95: Interval = None
    paired_ratio: Number = _doc("= ratio (kept for 1.0 readers)")
    ratio_of_medians: Number = None
    reference_input: Text = None


class RowReference(_Open):
    target: Text = _doc("the float target (or the source model) it is compared with")
    artifact: Text = None
    size_bytes: Count = None
    accuracy: Accuracy | None = _doc("eval: the reference's own accuracy")


class Verification(_Open):
    ok: Flag = None
    violations: Strings = None


class Ptq(_Open):
    status: Literal["ok", "failed", None] = None
    message: Text = None
    artifact: Text = None
    size_bytes: Count = None
    conversion: Open = None
    accuracy: Accuracy | None = None


class RowCalibration(_Open):
    source: Text = None
    samples: Count = _doc("images actually used")
    recipe: Text = _doc("the calibration recipe's name (calibration/NAME.toml)")
    recipe_file: Text = None
    selection: Text = _doc("random, stratified or diverse")
    seed: Count = None
    batch_size: Count = None
    method: Text = _doc("the recipe's range method (library: the library's own default)")
    percentile: Number = None
    bias_correction: Text = None
    fingerprint: Text = _doc("sha256 of the selected images' raw pixels, in order")
    told: Open = _doc("the arguments the library was given for ranges and bias correction")


class Row(_Open):
    target: Name = Field(description="the target profile (eval/bench: the artifact's label)")
    status: Literal["ok", "failed"]
    message: Text = _doc("why it failed")
    format: Text = None
    precision: Text = None
    runtime: Text = None
    method: Text = _doc("ptq, qat or float")
    device: Text = None
    device_run: Flag = _doc("false: the profile's device is not here; checked statically")
    measured_on: Text = None
    artifact: Text = None
    size_bytes: Count = None
    size_ratio: Number = _doc("reference size / this size")
    conversion: Open = _doc("library, settings, ISA choices (format-specific)")
    verification: Verification | None = None
    reference: RowReference | None = None
    engine: Open = _doc("runtime, version, threads, host")
    accuracy: Accuracy | None = None
    latency: Latency | None = None
    notes: Strings = None
    ptq: Ptq | None = _doc("QAT with --compare-ptq: the post-training twin")
    calibration: RowCalibration | None = _doc("1.3: int8 targets: the recipe, the selected images' fingerprint "
                                              "and what the library was told")
    gate: Thresholds = _doc("1.2: the effective gate thresholds of the target's profile at convert time "
                            "(max_top1_drop, min_agreement, max_latency_ratio, max_size_mb; see gate-config)")
    fallback: Open = _doc("1.4: --max-drop/--min-agreement: the budget, the plain int8 measure, the groups kept "
                          "float and what they cost")
    load_ms: Number = _doc("bench: load + first inference")
    rss_mb: Number = None
    rss_delta_mb: Number = None
    peak_rss_mb: Number = None


class Report(_Open):
    """An edge-inception report.json (convert, eval or bench)."""

    model_config = ConfigDict(extra="allow", title="edge-inception report.json")
    schema_version: Annotated[str, Field(pattern=r"^1\.\d+$", description=f"'1.x'; this version writes "
                                         f"{SCHEMA_VERSION}")]
    kind: Text = _doc("convert, eval or bench (1.0: absent, convert)")
    tool: Tool | None = None
    created: Text = _doc("UTC time, ISO 8601")
    model: ModelInfo | None = None
    host: Host | None = None
    data: Data | None = None
    settings: Settings | None = None
    reference: RowReference | None = None
    status: Literal["ok", "failed", None] = None
    targets: list[Row] = Field(description="one row per target (per artifact for eval/bench)")
    diagnose: Diagnosis | None = _doc("1.4: convert --diagnose: every int8 artifact layer by layer")


# ---- checking ---------------------------------------------------------------------------------------------

def _key(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def explain(err: dict, report: dict) -> str:
    """One pydantic error as a sentence naming the key: "tflite-int8: 'accuracy.delta_ci95' must be ..."."""
    loc = tuple(err["loc"])
    if loc[:1] == ("targets",) and len(loc) == 1:
        return "has no 'targets' list of rows"
    prefix = ""
    if loc[:1] == ("targets",) and len(loc) > 2 and isinstance(loc[1], int):
        row = report["targets"][loc[1]]
        name = row.get("target") if isinstance(row, dict) else None
        if not isinstance(name, str):
            return f"targets[{loc[1]}] has no 'target' name"
        prefix, loc = f"{name}: ", loc[2:]
    key = _key(loc)
    got = f", got {err['input']!r}" if "input" in err and err["type"] != "missing" else ""
    if err["type"] == "missing":
        return f"{prefix}'{key}' is missing"
    if err["type"] == "literal_error":
        return f"{prefix}'{key}' must be {err['ctx']['expected']}{got}"
    if err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{prefix}'{key}' must be an object{got}"
    if err["type"] == "value":
        return f"{prefix}'{key}' {err['msg']}{got}"
    return f"{prefix}'{key}': {err['msg']}{got}"


def _fail(where, problem: str, fix: str | None = None):
    if where is None:  # an in-memory report: "report has no ...", "report: tflite-int8: 'status' ..."
        raise UsageError(f"report{' ' if problem.startswith(('has ', 'is ')) else ': '}{problem}", fix=fix)
    raise InputError(where, problem, fix=fix)


def check_version(report, where=None, *, reader: str = "edge-inception") -> str:
    """The report's schema_version, if this reader can read it; else InputError (UsageError without ``where``)."""
    if not isinstance(report, dict):
        _fail(where, "is not a report: expected a JSON object")
    version = report.get("schema_version")
    if version is None:
        _fail(where, "has no 'schema_version': not an edge-inception report")
    if not isinstance(version, str):
        _fail(where, f"'schema_version' must be a string like '{SCHEMA_VERSION}', got {version!r}")
    m = _VERSION.match(version)
    if not m or int(m.group(1)) != READABLE_MAJOR:
        _fail(where, f"has schema_version {version!r}, which this {reader} cannot read (it reads {READABLE_MAJOR}.x)",
              fix="use the edge-inception version that wrote it, or upgrade edge-inception")
    return version


def check_report(report, where=None, *, reader: str = "edge-inception") -> dict:
    """Validate ``report`` (a parsed report.json) against the schema; returns it unchanged. ``where``
    (its path) names it in the error: InputError, or UsageError for an in-memory report."""
    check_version(report, where, reader=reader)
    try:
        Report.model_validate(report)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        _fail(where, explain(errors[0], report) + more)
    return report


def read_report(path: str | Path, *, role: str = "report", reader: str = "edge-inception") -> tuple[dict, str]:
    """(report, raw text) of a report.json, validated. A missing or unreadable file, bad JSON or a bad key
    is an InputError naming the file."""
    from edge_inception._core.files import check_regular_file

    path = Path(path)
    fix = "pass the report.json that edge-inception convert, eval or bench wrote"
    if path.exists():  # a FIFO would block read_text() forever
        check_regular_file(path, what=f"{role} (report.json)", allow_empty=True)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(path, f"{role} does not exist", fix=fix) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"{role} cannot be read ({e})") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"{role} is not valid JSON ({e})", fix=fix) from None
    return check_report(report, path, reader=reader), text


def write_report(report: dict, path: str | Path) -> Path:
    """Validate ``report`` and write it as JSON, atomically. A report that does not match the schema is a
    bug in the writer: nothing is written and the error names the key."""
    from edge_inception._core.atomic import atomic_write_text

    path = Path(path)
    text = json.dumps(report, indent=2) + "\n"
    try:  # what is checked is what lands on disk: tuples become lists, as a reader will see them
        check_report(json.loads(text), path)
    except InputError as e:
        raise EdgeInceptionError(f"internal error: the report is not schema {SCHEMA_VERSION}: {e.message}") from None
    atomic_write_text(path, text)
    return path


if __name__ == "__main__":  # the documented entry point; the publishing lives in report/publish.py
    from edge_inception.report.publish import main

    raise SystemExit(main())
