"""JUnit XML of a gate result, for CI test-report viewers (GitHub, GitLab, Jenkins).

    write_junit(result, "gate.xml")

One <testsuite>, one <testcase> per target and check: <failure> for a regression, <skipped> for a check
without data or threshold. The shape follows the Jenkins/Ant JUnit schema (junit-10.xsd): properties
only on the suite, testcase children in the order skipped, failure, system-out. Each check's value,
interval, threshold and basis go in its <system-out>, since that schema has no per-testcase properties.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import xml.etree.ElementTree as ET

SUITE = "edge-inception gate"


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def to_junit(result: dict) -> ET.ElementTree:
    from edge_inception.gating.render import threshold_text, value_text

    checks = result["checks"]
    counts = {"tests": len(checks), "failures": sum(c["verdict"] == "fail" for c in checks), "errors": 0,
              "skipped": sum(c["verdict"] == "skipped" for c in checks)}
    attrs = {k: str(v) for k, v in counts.items()}
    # junit-10.xsd has no 'skipped' on <testsuites>, only on <testsuite>
    root = ET.Element("testsuites", {"name": SUITE, **{k: v for k, v in attrs.items() if k != "skipped"}, "time": "0"})
    created = _dt.datetime.fromisoformat(result["created"]) if result.get("created") else _dt.datetime.now(_dt.UTC)
    suite = ET.SubElement(root, "testsuite", {
        "name": f"{SUITE} ({result.get('model') or 'model'})", **attrs, "time": "0",
        "timestamp": created.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": platform.node() or "localhost",
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("report", result.get("report")),
                        ("report_schema_version", result.get("report_schema_version")),
                        ("baseline", result.get("baseline")), ("strict", result.get("strict")),
                        ("config", (result.get("config") or {}).get("source")), ("verdict", result.get("verdict")),
                        ("model", result.get("model"))):
        if value is not None:
            ET.SubElement(props, "property", {"name": name, "value": _fmt(value)})
    for c in checks:
        case = ET.SubElement(suite, "testcase", {"classname": f"edge-inception.gate.{c['target']}",
                                                 "name": f"{c['check']} vs {c['against']}", "time": "0"})
        if c["verdict"] == "skipped":
            ET.SubElement(case, "skipped", {"message": c["message"]})
        elif c["verdict"] == "fail":
            failure = ET.SubElement(case, "failure", {"message": c["message"], "type": "regression"})
            failure.text = c["message"]
        details = [f"verdict: {c['verdict']}", f"value: {value_text(c)}", f"threshold: {threshold_text(c)}"]
        if c.get("threshold_source"):
            details.append(f"threshold from: {c['threshold_source']}")
        if c.get("basis"):
            details.append(f"decided by: {c['basis']}")
        if c["verdict"] in ("warn", "improved", "pass"):
            details.append(c["message"])
        ET.SubElement(case, "system-out").text = "\n".join(details)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: dict, path: str | os.PathLike) -> None:
    from edge_inception._core.atomic import atomic_path

    with atomic_path(path, suffix=".xml") as tmp:
        to_junit(result).write(tmp, encoding="utf-8", xml_declaration=True)
