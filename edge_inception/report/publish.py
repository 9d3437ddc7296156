"""The JSON Schemas in docs/schema/, generated from the pydantic models that define them.

    python -m edge_inception.report.schema --write docs/schema    # publish (report.schema's entry point)
    python -m edge_inception.report.schema --check docs/schema    # exit 1 if they drifted
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# file name -> "module:Model" of every published schema (imported when written: a stage that defines a
# schema registers it here by name, and this module imports nothing above report/ until then)
PUBLISHED = {
    "report.schema.json": "edge_inception.report.schema:Report",
    "gate-config.schema.json": "edge_inception.gating.config:GateFile",
    "target.schema.json": "edge_inception.targets.schema:Profile",
    "recipe.schema.json": "edge_inception.calibration_recipes.schema:RecipeFile",
}


def json_schemas() -> dict[str, str]:
    """file name -> the JSON Schema text the models generate now."""
    import importlib

    out = {}
    for name, ref in PUBLISHED.items():
        module, attr = ref.split(":")
        model = getattr(importlib.import_module(module), attr)
        out[name] = json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    from edge_inception._core.atomic import atomic_write_text

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("--write", "--check"):
        print("usage: python -m edge_inception.report.schema (--write | --check) docs/schema", file=sys.stderr)
        return 2
    folder = Path(args[1])
    stale = []
    for name, text in json_schemas().items():
        path = folder / name
        if args[0] == "--write":
            atomic_write_text(path, text)
            print(path)
        elif not path.is_file() or path.read_text() != text:
            stale.append(str(path))
    if stale:
        print(f"out of date: {', '.join(stale)} (run python -m edge_inception.report.schema --write {folder})",
              file=sys.stderr)
        return 1
    return 0
