"""Which images of a source calibrate: random (seeded), stratified (equal per class), diverse.

    idx, info = select(source, n=500, selection="stratified", seed=0, features=None)
    subset = take(source, idx)

``random`` keeps the sorted seeded draw the tool always made (``np.random.default_rng(seed).choice``
without replacement; every image, in order, when ``n`` is the whole source), so the default recipe
gives today's results unchanged.

``diverse`` is greedy farthest-point sampling (k-center, Gonzalez 1985; the core-set selection of Sener &
Savarese 2018) on the float model's penultimate features (calibration_recipes/features.py): each pick
is the image farthest from every image picked so far, so the set covers every mode the model separates,
rare ones included, instead of drawing the common ones over and over. It is deterministic: the first
image is drawn with the seed, the rest follow. Its cost: features of a pool of images (a seeded random
subset, ``pool``) and n passes over them. Trade-off: it seeks out unusual images on purpose, which widens
min/max ranges; a percentile or mse method is its natural partner.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge_inception.data.readers import ArraySource, FolderSource, ImageSource

SELECTORS: dict[str, Callable] = {}


def register_selection(name: str):
    def deco(fn: Callable) -> Callable:
        if name in SELECTORS:
            raise ValueError(f"selection {name!r} is registered twice")
        SELECTORS[name] = fn
        return fn

    return deco


def take(src: ImageSource, idx: np.ndarray) -> ImageSource:
    """The images of ``src`` at ``idx``, in that order."""
    labels = None if src.labels is None else src.labels[idx]
    if isinstance(src, ArraySource):
        return ArraySource(src.name, src.images[idx], labels)
    assert isinstance(src, FolderSource)
    return FolderSource(src.name, [src.files[i] for i in idx], labels, src.spec, src.class_names)


@register_selection("random")
def select_random(src: ImageSource, n: int, *, seed: int, **_) -> tuple[np.ndarray, dict]:
    if n >= len(src):
        return np.arange(len(src)), {}
    return np.sort(np.random.default_rng(seed).choice(len(src), size=n, replace=False)), {}


def class_quotas(counts: dict[int, int], n: int) -> dict[int, int]:
    """Equal shares of ``n`` per class; a class with fewer images gives all it has and the rest is shared
    by the others (water-filling), so the counts differ by at most one wherever images allow."""
    quota = dict.fromkeys(counts, 0)
    left, open_ = n, sorted(counts)
    while left > 0 and open_:
        share, extra = divmod(left, len(open_))
        for i, c in enumerate(open_):
            quota[c] += min(share + (i < extra), counts[c] - quota[c])
        left = n - sum(quota.values())
        open_ = [c for c in open_ if quota[c] < counts[c]]
    return quota


@register_selection("stratified")
def select_stratified(src: ImageSource, n: int, *, seed: int, **_) -> tuple[np.ndarray, dict]:
    labels = np.asarray(src.labels)
    classes, counts = np.unique(labels, return_counts=True)
    quota = class_quotas(dict(zip(classes.tolist(), counts.tolist(), strict=True)), n)
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=q, replace=False) for c, q in quota.items() if q]
    return np.sort(np.concatenate(picked)), {"per_class": {str(c): q for c, q in quota.items()}}


def farthest_points(features: np.ndarray, n: int, *, seed: int) -> np.ndarray:
    """Greedy k-center: ``n`` row indices of ``features``, each the farthest from those picked before."""
    x = np.asarray(features, np.float64)
    first = int(np.random.default_rng(seed).integers(len(x)))
    picked = [first]
    dist = np.sum((x - x[first]) ** 2, axis=1)
    dist[first] = -1.0  # never picked twice, even among identical images (distance 0)
    for _ in range(min(n, len(x)) - 1):
        nxt = int(np.argmax(dist))
        picked.append(nxt)
        np.minimum(dist, np.sum((x - x[nxt]) ** 2, axis=1), out=dist)
        dist[nxt] = -1.0
    return np.asarray(picked)


@register_selection("diverse")
def select_diverse(src: ImageSource, n: int, *, seed: int, pool: int, features: Callable,
                   **_) -> tuple[np.ndarray, dict]:
    pool_idx, _ = select_random(src, max(n, min(pool, len(src))), seed=seed)
    feats, what = features(take(src, pool_idx))
    picked = pool_idx[farthest_points(feats, n, seed=seed)]
    return picked, {"algorithm": "farthest-point (k-center greedy)", "features": what, "pool": int(len(pool_idx))}


def select(src: ImageSource, *, n: int, selection: str, seed: int, pool: int = 10_000,
           features: Callable | None = None) -> tuple[np.ndarray, dict]:
    """(indices into ``src``, facts for the report). ``features(source) -> (array, description)`` is
    needed by 'diverse' only."""
    return SELECTORS[selection](src, n, seed=seed, pool=pool, features=features)
