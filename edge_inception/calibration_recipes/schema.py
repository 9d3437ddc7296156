"""The calibration recipe's schema, defined once with pydantic; docs/schema/recipe.schema.json is
generated from it, and the loader (calibration_recipes/__init__.py) turns the first problem into one
line naming the file, the key and the allowed values.

    RecipeFile.model_validate(tomllib.loads(text))
    python -m edge_inception.report.schema --write docs/schema    # every published JSON Schema
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from edge_inception._core.names import IDENTIFIER_FIX, is_identifier

# The one vocabulary; calibration_recipes/methods.py says, as data, what each library is told for each.
SELECTIONS = ("random", "stratified", "diverse")
RANGE_METHODS = ("library", "minmax", "mean_minmax", "percentile", "entropy", "mse")
BIAS_CORRECTIONS = ("library", "none", "fast", "full")


def _identifier(value: str) -> str:
    if not is_identifier(value):
        raise ValueError("is not a plain identifier (it is recorded in reports and named on the command line)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]


class RecipeFile(BaseModel):
    """A calibration recipe: which images calibrate, how many, and how ranges are estimated from them."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="edge-inception calibration recipe")

    name: Identifier
    description: str = ""
    # None: the model's default, as before recipes (the shipped sample for zoo models, --calibration for yours)
    source: str | None = Field(None, description="'sample', 'fashion-mnist' (training split), a .npz or an image "
                               "folder; omitted: the shipped sample for zoo models, --calibration for yours")
    samples: int = Field(500, ge=1, le=1_000_000, description="images to calibrate with")
    if_fewer: Literal["refuse", "use-all"] = Field(
        "refuse", description="a source holding fewer than 'samples' images: refuse it, or use every image")
    selection: Literal[SELECTIONS] = Field("random", description="random (seeded), stratified (equal per class; "
                                           "needs labels), diverse (farthest-point on the float model's features)")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    pool: int = Field(10_000, ge=1, le=1_000_000,
                      description="diverse: the seeded random pool it picks from (features of each are computed)")
    batch_size: int = Field(8, ge=1, le=4096, description="images per calibration batch (bounds calibrator memory)")
    method: Literal[RANGE_METHODS] = Field(
        "library", description="range estimator: library (each library's own default), minmax, mean_minmax, "
        "percentile (with 'percentile'), entropy, mse")
    percentile: float | None = Field(None, gt=50.0, lt=100.0, description="with method = 'percentile': e.g. 99.99")
    bias_correction: Literal[BIAS_CORRECTIONS] = Field(
        "library", description="library (each library's own default), none, fast, full")


def first_problem(error: ValidationError) -> tuple[str, str | None]:
    """(problem, fix) for the first error, in the recipe's own words: "'method' = 'median' is not allowed"."""
    err = error.errors()[0]
    loc = tuple(p for p in err["loc"] if isinstance(p, str))
    key = loc[-1] if loc else "?"
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'", f"allowed: {', '.join(RecipeFile.model_fields)}"
    if err["type"] == "missing":
        return f"missing required key '{key}'", None
    if err["type"] == "literal_error":
        return f"'{key}' = {value!r} is not allowed", f"allowed: {err['ctx']['expected'].replace(chr(39), '')}"
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("is not a plain identifier"):
        return f"'{key}' = {value!r} {msg}", IDENTIFIER_FIX
    return f"'{key}' = {value!r}: {msg}", None
