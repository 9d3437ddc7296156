"""`convert --reproduce REPORT.json --target T`: rebuild one sweep cell from its reproducibility manifest.

    result = reproduce("sweep-out/report.json", target="tflite-int8", out="again")
    result["reproduce"]["identical"]      # the rebuilt artifact's bytes equal the cell's
    result["reproduce"]["changed"]        # the manifest inputs that differ here (library versions, data, ...)

REPORT.json is a sweep report (one cell per target must match, else name the cell's own report in the
cache) or a cell's report.json. The manifest's convert keywords are replayed as they are; the inputs
are recomputed here and every one that differs is named, so "not identical" comes with a reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError


def find_manifest(report: dict, path: Path, target: str) -> dict:
    if isinstance(report.get("manifest"), dict):  # a cell's own report.json
        found = [(report["manifest"], report["targets"][0])] if report.get("targets") else []
    else:
        found = [(r["cell"]["manifest"], r) for r in report.get("targets", [])  # device rows: the same artifact
                 if isinstance(r.get("cell"), dict) and r["cell"].get("manifest") and not r["cell"].get("device")]
    found = [(m, r) for m, r in found if m.get("target") == target]
    if not found:
        raise InputError(path, f"has no reproducibility manifest for target '{target}'",
                         fix="pass a sweep report (or a cell's report.json) and one of its cells' targets")
    if len(found) > 1:
        cells = ", ".join(f"{m['cell']} ({r['cell']['folder']}/cell/report.json)" for m, r in found)
        raise UsageError(f"{path} has {len(found)} cells for target '{target}': {cells}",
                         fix="pass that cell's own report.json to --reproduce")
    return found[0][0]


def _changed(manifest: dict) -> list[str]:
    """The manifest inputs that differ when recomputed here."""
    from edge_inception.sweep.cache import host_identity, library_versions

    was = manifest.get("inputs") or {}
    now = {"libraries": library_versions(), "host": host_identity()}
    out = [f"{lib} {v} (was {was['libraries'].get(lib)})" for lib, v in now["libraries"].items()
           if was.get("libraries") and was["libraries"].get(lib) != v]
    if was.get("host") and was["host"] != now["host"]:
        out.append("host ISA/architecture")
    return out


def reproduce(report_path: str | Path, *, target: str, out: str | Path, force: bool = False) -> dict:
    from edge_inception.api import convert
    from edge_inception.report.schema import read_report
    from edge_inception.sweep.manifest import embed_manifest

    report_path = Path(report_path)
    report, _ = read_report(report_path)
    manifest = find_manifest(report, report_path, target)
    kw = {k: v for k, v in manifest["convert"].items() if v is not None}
    if isinstance(kw.get("input_shape"), list):
        kw["input_shape"] = tuple(kw["input_shape"])
    result = convert(manifest["model"], out=out, force=force, **kw)
    row = result["targets"][0]
    info: dict = {"cell": manifest["cell"], "key": manifest["key"], "changed": _changed(manifest), "identical": None}
    original = _cell_artifact(report, manifest, report_path.parent)
    if row["status"] == "ok" and original is not None and original.is_file():
        embed_manifest(Path(row["artifact"]), row["format"], manifest)  # as the cell's artifact carries it
        info["identical"] = _digest(Path(row["artifact"])) == _digest(original)
        info["original"] = str(original)
    result["reproduce"] = info
    return result


def _cell_artifact(report: dict, manifest: dict, folder: Path) -> Path | None:
    """The cell's own artifact; a cell's report.json names it relative to its folder."""
    for r in report.get("targets") or []:
        cell = r.get("cell") or {}
        if (cell.get("key") == manifest["key"] or report.get("manifest") is manifest) and r.get("artifact"):
            path = Path(r["artifact"])
            return path if path.is_absolute() else folder / path
    return None


def _digest(path: Path) -> str:
    from edge_inception.formats import artifact_files

    h = hashlib.sha256()
    for f in artifact_files(path):
        h.update(f.read_bytes())
    return h.hexdigest()


def reproduce_command(report_path, *, model, options: dict, as_json: bool) -> None:
    """The CLI's --reproduce: only --target, --out, --force and --json apply; the rest is the manifest's."""
    import json

    import click

    from edge_inception.report.table import print_convert_table

    if model is not None:
        raise UsageError("--reproduce takes the model from the manifest", fix="leave MODEL out")
    targets = [t.strip() for t in options["targets"].split(",") if t.strip()]
    if len(targets) != 1:
        raise UsageError("--reproduce rebuilds one cell", fix="pass one --target")
    result = reproduce(report_path, target=targets[0], out=options["out"], force=options["force"])
    info = result["reproduce"]
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        print_convert_table(result)
        same = {True: "identical to the cell's", False: "differs from the cell's",
                None: "not compared"}[info["identical"]]
        click.echo(f"reproduced {info['cell']} (key {info['key'][:16]}…): artifact {same}"
                   + (f"; changed here: {', '.join(info['changed'])}" if info["changed"] else ""))
    if result["status"] != "ok":
        raise SystemExit(1)
