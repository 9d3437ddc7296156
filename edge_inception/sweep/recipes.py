"""The one seam between sweep recipes and convert's calibration options.

    recipe_keywords(recipe)     # {'calibration': 'sample', 'calibration_samples': 64} for convert()
    recipe_identity(recipe)     # what the cache key hashes: the settings, the recipe file's bytes, the data's

Today convert takes ``calibration`` and ``calibration_samples``, and those are the recipe. Where
convert takes a named calibration recipe (``calibration_recipe``: a NAME in a ``calibration/`` folder
or a FILE), a recipe's ``recipe`` key passes through to it and the key hashes that file's content, so
editing the recipe file invalidates exactly the cells that use it.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

from edge_inception._core.errors import UsageError
from edge_inception.sweep.spec import Recipe


def convert_takes_recipes() -> bool:
    from edge_inception.api import convert

    return "calibration_recipe" in inspect.signature(convert).parameters


def recipe_file(ref: str) -> Path:
    """A recipe NAME (calibration/NAME.toml here or shipped) or FILE -> its path."""
    from edge_inception._core.shipped import shipped_dir

    path = Path(ref)
    if path.suffix == ".toml" or "/" in ref:
        if not path.is_file():
            raise UsageError(f"calibration recipe file {ref} does not exist", fix="check the sweep file's recipes")
        return path
    for folder in (Path.cwd() / "calibration", shipped_dir("calibration")):
        if (folder / f"{ref}.toml").is_file():
            return folder / f"{ref}.toml"
    raise UsageError(f"no calibration recipe named '{ref}'", fix="put NAME.toml in ./calibration/ or pass its path")


def recipe_keywords(recipe: Recipe | None) -> dict:
    """convert() keywords for ``recipe`` (None: a float target, nothing to calibrate)."""
    if recipe is None:
        return {}
    if recipe.recipe is not None:
        if not convert_takes_recipes():
            raise UsageError(f"recipe '{recipe.name}' names a calibration recipe, which this convert does not take",
                             fix="give the recipe's calibration and calibration_samples instead")
        return {"calibration_recipe": str(recipe_file(recipe.recipe))}
    return {k: v for k, v in (("calibration", recipe.calibration),
                              ("calibration_samples", recipe.calibration_samples)) if v is not None}


def recipe_identity(recipe: Recipe | None) -> dict | None:
    """The recipe as the cache key sees it: its settings, the recipe file's sha256, the calibration
    data's fingerprint. The recipe's name is left out: renaming a recipe does not invalidate its cells."""
    from edge_inception.sweep.cache import data_fingerprint

    if recipe is None:
        return None
    ident: dict = {"calibration_samples": recipe.calibration_samples}
    if recipe.recipe is not None:
        ident["recipe_sha256"] = hashlib.sha256(recipe_file(recipe.recipe).read_bytes()).hexdigest()
    ident["calibration"] = data_fingerprint(recipe.calibration or "sample:calibration", split="train")
    return ident
