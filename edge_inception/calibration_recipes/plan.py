"""One run's calibration: each int8 target's recipe resolved, checked against its library and built,
before any conversion work.

    plan = plan_calibration(targets, lm, recipe="robust", source=None, samples=None, default_source="sample")
    plan.for_target(target)       # the CalibrationSet its quantizer reads (shared by targets of one recipe)
    plan.primary                  # the first int8 target's, for the report's data.calibration and QAT

A recipe that a target's library cannot do (say percentile for the TFLite converter) is refused here,
naming the recipe file, the library and what it supports; so are a recipe asking for more images than
its source holds, and a stratified one on unlabelled images.
"""

from __future__ import annotations

from edge_inception.calibration_recipes import Recipe, build_calibration, get_recipe, resolve_recipe
from edge_inception.calibration_recipes.methods import check_supported, route


class CalibrationPlan:
    def __init__(self, sets: dict, recipes: dict[str, Recipe]):
        self._sets, self.recipes = sets, recipes

    def for_target(self, target):
        return self._sets.get(target.name)

    @property
    def primary(self):
        return next(iter(self._sets.values()), None)


def plan_calibration(targets, lm, *, recipe: str | None = None, source=None, samples: int | None = None,
                     default_source: str | None = None, qat: bool = False) -> CalibrationPlan:
    """``recipe`` (--calibration-recipe, a NAME or FILE) replaces every profile's own; ``source`` and
    ``samples`` override the recipe's."""
    override = resolve_recipe(recipe) if recipe else None
    recipes: dict[str, Recipe] = {}
    for t in targets:
        if not t.is_quantized:
            continue
        r = override or get_recipe(t.quantizer["calibration_recipe"])
        # QAT learns its ranges: the calibration images only start them, so a recipe asked for by name must
        # not promise a method. A profile's own recipe still serves its PTQ twin (--compare-ptq): checked
        # against the PTQ library.
        check_supported(r, route(t.quantizer["library"], lm.kind, qat=qat and override is not None),
                        where=r.file, target=t.name)
        recipes[t.name] = r
    built: dict[str, object] = {}
    sets = {}
    for name, r in recipes.items():
        if r.file not in built:  # targets of one recipe share its images (and one selection pass)
            built[r.file] = build_calibration(r, lm, source=source, samples=samples, default_source=default_source)
        sets[name] = built[r.file]
    return CalibrationPlan(sets, recipes)
