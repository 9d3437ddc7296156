"""Calibration recipes: which images calibrate, how many, and how ranges are estimated, in one vocabulary
for the TFLite converter, ONNX Runtime and NNCF. Recipes are TOML files, found like target profiles.

    r = get_recipe("robust")                       # shipped calibration/robust.toml, or ./calibration/robust.toml
    r = resolve_recipe("my-recipe.toml")           # a file of your own (NAME or FILE)
    [r.name for r in list_recipes()]
    calib = build_calibration(r, loaded_model, default_source="sample")   # a CalibrationSet for the quantizers
    check_supported(r, "tflite", where=r.file)     # InputError: tflite cannot do 'percentile'

A target profile names its recipe (``[quantizer] calibration_recipe``, "default" when it does not);
``convert --calibration-recipe`` replaces it for every target, and ``--calibration`` /
``--calibration-samples`` override the recipe's source and count.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_inception._core.errors import InputError, UsageError
from edge_inception._core.files import check_regular_file
from edge_inception._core.shipped import named_tomls, shipped_dir
from edge_inception.calibration_recipes.methods import check_supported  # noqa: F401 - part of the API
from edge_inception.calibration_recipes.schema import RecipeFile, first_problem

SHIPPED_DIR = shipped_dir("calibration")  # the repository's top-level calibration/, inside the wheel when installed


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    source: str | None
    samples: int
    if_fewer: str
    selection: str
    seed: int
    pool: int
    batch_size: int
    method: str
    percentile: float | None
    bias_correction: str
    file: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def load_recipe_file(path: str | Path) -> Recipe:
    """Parse and validate one recipe; every problem is an InputError naming the file and the key."""
    from pydantic import ValidationError

    path = Path(path)
    if path.exists():  # a FIFO would block read_text(); missing files keep the message below
        check_regular_file(path, what="calibration recipe (TOML)", allow_empty=True)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "does not exist", fix="pass a recipe name (see `edge-inception calibration`) "
                         "or the path of a recipe TOML file") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder", fix="pass the path of a recipe TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"is not valid TOML ({e})") from None
    try:
        r = RecipeFile.model_validate(data)
    except ValidationError as e:
        problem, fix = first_problem(e)
        raise InputError(path, problem, fix=fix) from None
    if r.method == "percentile" and r.percentile is None:
        raise InputError(path, "'method' = 'percentile' needs 'percentile'", fix="add e.g. percentile = 99.99")
    if r.method != "percentile" and r.percentile is not None:
        raise InputError(path, f"'percentile' applies to method = 'percentile', not '{r.method}'",
                         fix="remove percentile, or set method = 'percentile'")
    return Recipe(**r.model_dump(), file=str(path))


def _all_recipes() -> dict[str, Recipe]:
    return named_tomls("calibration", load_recipe_file)  # the user's ./calibration/ replaces shipped ones


def list_recipes() -> list[Recipe]:
    return sorted(_all_recipes().values(), key=lambda r: r.name)


def get_recipe(name: str) -> Recipe:
    recipes = _all_recipes()
    if name not in recipes:
        raise UsageError(f"unknown calibration recipe '{name}'", fix=f"known recipes: {', '.join(sorted(recipes))}, "
                         "or pass the path of a recipe TOML file")
    return recipes[name]


def resolve_recipe(ref: str | Path) -> Recipe:
    """A recipe NAME, or a FILE (a path: it ends in .toml or names a folder)."""
    s = str(ref)
    if s.endswith(".toml") or "/" in s or Path(s).is_file():
        return load_recipe_file(s)
    return get_recipe(s)


def build_calibration(recipe: Recipe, lm, *, source=None, samples: int | None = None,
                      default_source: str | None = None):
    """The CalibrationSet ``recipe`` selects for ``lm``: ``source`` and ``samples`` (--calibration,
    --calibration-samples) override the recipe's; ``default_source`` stands where neither names one."""
    from edge_inception.calibration_recipes.selection import select, take
    from edge_inception.data.calibration import CalibrationSet
    from edge_inception.data.readers import open_source

    ref = source if source is not None else (recipe.source if recipe.source is not None else default_source)
    if ref is None:
        raise UsageError("int8 targets need calibration images for your model",
                         fix="pass --calibration path/to/images/ (or a .npz, or fashion-mnist), or name a "
                         "source in the calibration recipe")
    src = open_source(ref, lm.spec, split="train", labelled=False)
    n = samples if samples is not None else recipe.samples
    key = "--calibration-samples" if samples is not None else "'samples'"
    if n > len(src):
        if recipe.if_fewer != "use-all":
            raise InputError(recipe.file, f"{key} = {n} is more than {src.name} holds ({len(src)} images)",
                             fix=f"ask for at most {len(src)}, use a larger source, or set if_fewer = 'use-all'")
        n = len(src)
    if recipe.selection == "stratified" and not src.labelled:
        raise InputError(recipe.file, f"'selection' = 'stratified' needs labels, and {src.name} has none",
                         fix="use a labelled source (one sub-folder per class, a .npz with 'labels', "
                         "fashion-mnist), or selection = 'random' or 'diverse'")
    features = None
    if recipe.selection == "diverse":
        from edge_inception.calibration_recipes.features import penultimate_features

        def features(pool_src):
            return penultimate_features(lm, pool_src)

    idx, facts = select(src, n=n, selection=recipe.selection, seed=recipe.seed, pool=recipe.pool, features=features)
    info = {"recipe": recipe.name, "recipe_file": recipe.file, "selection": recipe.selection, "seed": recipe.seed,
            **({"selection_facts": facts} if facts else {})}
    return CalibrationSet(take(src, idx), lm.spec, samples=len(idx), batch_size=recipe.batch_size,
                          method=recipe.method, percentile=recipe.percentile,
                          bias_correction=recipe.bias_correction, recipe=info)
