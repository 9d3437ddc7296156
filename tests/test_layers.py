"""The dependency direction of docs/design.md, checked on the imports themselves (module-level and the
lazy ones inside functions): a package imports only packages below it in LAYERS, or its own."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edge_inception"

# Bottom first. A package may import those in earlier rows, and those in its own row; never a later row.
LAYERS = [
    {"_core"},
    {"models.spec", "options"},
    {"data", "formats"},
    {"models"},
    {"exporters", "runtimes", "validate", "targets", "inspect", "calibration_recipes"},
    {"quantizers", "evaluation", "artifacts"},
    {"qat"},
    {"report", "gating", "devices", "diagnose"},
    {"api", "measure", "venv_worker", "target_worker", "__init__"},
    {"sweep"},  # runs convert (api) per cell
    {"cli"},
]
RANK = {name: i for i, row in enumerate(LAYERS) for name in row}

# Known exceptions, each a debt to pay, not a pattern to copy. models.loader asks inspect.keras to
# explain a Keras file that fails to load (its layer-by-layer reader lives there).
ALLOWED_UPWARD = {("models", "inspect")}


def _package_of(module: str) -> str:
    parts = module.split(".")
    if parts[1:3] == ["models", "spec"]:  # the ModelSpec sits below data and formats; loading above them
        return "models.spec"
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> set[tuple[str, str, str]]:
    found = set()
    for f in PACKAGE.rglob("*.py"):
        rel = f.relative_to(PACKAGE).with_suffix("")
        here = _package_of(".".join(("edge_inception", *rel.parts)))
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edge_inception"):
                names = [node.module] if node.module != "edge_inception" else [f"edge_inception.{a.name}"
                                                                              for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("edge_inception")]
            for name in names:
                there = _package_of(name)
                if there in RANK and there != here:
                    found.add((here, there, str(f.relative_to(PACKAGE.parent))))
    return found


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    missing = (packages | modules) - set(RANK)
    assert not missing, f"add to LAYERS (and docs/design.md): {sorted(missing)}"


def test_dependencies_point_down():
    upward = sorted((here, there, where) for here, there, where in _imports()
                    if RANK[there] > RANK[here] and (here, there) not in ALLOWED_UPWARD)
    assert not upward, "imports against the layer order of docs/design.md:\n" + "\n".join(
        f"  {where}: {here} -> {there}" for here, there, where in upward)
