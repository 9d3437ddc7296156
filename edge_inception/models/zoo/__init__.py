"""The model zoo: a registry of architectures, each with its ModelSpec and shipped weights.

    from edge_inception.models.zoo import create_model, list_models
    model = create_model("inception-mini", framework="keras")   # trained weights loaded
    list_models()  # [ZooEntry(name='inception-mini', framework='keras', ...), ...]

Architectures register themselves where they are defined (@register_model), so adding one never
means editing a dispatch table here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_inception._core.errors import UsageError
from edge_inception._core.registry import import_submodules
from edge_inception.models.spec import ModelSpec

WEIGHTS_DIR = Path(__file__).with_name("weights")


@dataclass(frozen=True)
class ZooEntry:
    name: str
    framework: str
    builder: Callable
    spec: ModelSpec
    weights: str | None  # file name under WEIGHTS_DIR, or None when no trained weights ship
    description: str = ""

    @property
    def weights_path(self) -> Path | None:
        return WEIGHTS_DIR / self.weights if self.weights else None


_REGISTRY: dict[tuple[str, str], ZooEntry] = {}


def register_model(name: str, *, framework: str, spec: ModelSpec, weights: str | None = None, description: str = ""):
    """Register a builder ``fn() -> model`` under (name, framework); duplicates are refused."""

    def deco(fn: Callable) -> Callable:
        key = (name, framework)
        if key in _REGISTRY:
            raise ValueError(f"zoo model {name!r} for {framework} is registered twice")
        _REGISTRY[key] = ZooEntry(name, framework, fn, spec, weights, description)
        return fn

    return deco


def _load_all() -> None:
    import_submodules(__name__)


def list_models() -> list[ZooEntry]:
    _load_all()
    return sorted(_REGISTRY.values(), key=lambda e: (e.name, e.framework))


def get_entry(name: str, framework: str = "keras") -> ZooEntry:
    _load_all()
    try:
        return _REGISTRY[(name, framework)]
    except KeyError:
        known = ", ".join(sorted({f"{n} ({f})" for n, f in _REGISTRY}))
        raise UsageError(f"no zoo model '{name}' for framework '{framework}'", fix=f"known: {known}") from None


def is_zoo_model(name: str) -> bool:
    _load_all()
    return any(n == name for n, _ in _REGISTRY)


def create_model(name: str, *, framework: str = "keras", pretrained: bool = True):
    """Build a zoo model; with ``pretrained`` load its shipped weights (an error if none ship)."""
    entry = get_entry(name, framework)
    model = entry.builder() if pretrained else _seeded(entry.builder, framework)
    if framework == "torch":
        model.eval()  # deployment mode with or without trained weights: no dropout, BN statistics frozen
    if pretrained:
        if entry.weights_path is None or not entry.weights_path.is_file():
            raise UsageError(f"zoo model '{name}' ({framework}) ships no trained weights",
                             fix="pass pretrained=False for random weights")
        _load_weights(model, entry)
    return model


RANDOM_BUILD_SEED = 0


def _seeded(builder, framework: str):
    """A random-weight build that every process makes alike: convert's per-target workers and a sweep's
    cells each build the model again, and their artifacts must come from one network (and one cache key).
    PyTorch's generator is restored afterwards; Keras has no such scope, so its global seed stays set."""
    if framework == "torch":
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_BUILD_SEED)
            return builder()
    import keras

    keras.utils.set_random_seed(RANDOM_BUILD_SEED)
    return builder()


def _load_weights(model, entry: ZooEntry) -> None:
    if entry.framework == "torch":
        import torch

        state = torch.load(entry.weights_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model.eval()
    else:
        model.load_weights(str(entry.weights_path))
