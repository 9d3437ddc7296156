"""The content-addressed cell cache: a cell's key is the sha256 of everything its result depends on.

    inputs = cell_inputs(cell, sweep)            # model bytes, profile, recipe, method, data, versions, host
    key = cell_key(inputs)                       # 64 hex digits
    cache = CellCache(out / "cache")
    cache.lookup(key)                            # the finished cell's record, or None
    with cache.staging(key) as stage: ...        # written there, renamed into place only when complete

What goes into a key: the model's bytes (a zoo model: its architecture module, its shipped weights and
its ModelSpec; a file or SavedModel: its bytes), the target profile and its float reference's profile
(their settings, not the path they were read from), the recipe (settings, recipe file bytes,
calibration data fingerprint), the method's settings (QAT: with the training data's fingerprint), the
evaluation data's fingerprint, the measurement settings, the versions of the libraries
that convert and run, and the host's architecture and int8-relevant ISA flags (ONNX Runtime's int8
types follow them). Names (a recipe's, the sweep file's path, --out) are not inputs: renaming
changes no result. A data fingerprint hashes the files' bytes, not decoded images, so it is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

# What converts and runs a cell; a new version of any of them may change an artifact or a figure.
LIBRARIES = ("edge-inception", "numpy", "tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert",
             "onnx", "onnxruntime", "tf2onnx", "onnxscript", "openvino", "nncf", "torch", "pillow")
RECORD = "cell.json"


def _sha256_file(path: Path, h=None) -> str:
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_tree(path: Path) -> str:
    """Files in sorted relative-path order, each name then its bytes: a folder's content identity."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0")
        _sha256_file(f, h)
    return h.hexdigest()


def content_sha256(path: str | os.PathLike) -> str:
    path = Path(path)
    return _sha256_tree(path) if path.is_dir() else _sha256_file(path)


def data_fingerprint(ref: str | None, *, split: str, limit: int | None = None) -> dict | None:
    """What a data reference ('sample', 'fashion-mnist', a .npz, a folder) holds, by file bytes, plus
    the subset drawn from it (``limit``, seeded 0 as open_source draws it)."""
    from edge_inception.data.readers import FASHION_MNIST_DIR, SAMPLE_FILE

    if ref is None:
        return None
    ref = str(ref)
    if ref.split(":")[0] == "sample":
        part = ref.split(":")[1] if ":" in ref else ("calibration" if split == "train" else "evaluation")
        content = {"sample": part, "sha256": _sha256_file(SAMPLE_FILE)}
    elif ref.split(":")[0] == "fashion-mnist":
        part = ref.split(":")[1] if ":" in ref else split
        prefix = {"train": "train", "test": "t10k"}[part]
        files = sorted(FASHION_MNIST_DIR.glob(f"{prefix}-*-idx?-ubyte.gz"))
        content = {"fashion-mnist": part, "sha256": [_sha256_file(f) for f in files]}
    else:
        path = Path(ref)
        content = {"sha256": content_sha256(path)} if path.exists() else {"missing": ref}
    return {**content, "limit": limit, "seed": 0}


def model_identity(model) -> dict:
    """The model's bytes as a digest (a ``ModelEntry`` of the sweep file)."""
    import inspect

    from edge_inception.models import zoo

    ident = {"framework": model.framework, "preprocessing": model.preprocessing,
             "input_shape": model.input_shape}
    if zoo.is_zoo_model(model.model) and not Path(model.model).exists():
        entry = zoo.get_entry(model.model, model.framework)
        ident["zoo"] = model.model
        ident["architecture_sha256"] = _sha256_file(Path(inspect.getsourcefile(entry.builder)))
        wp = entry.weights_path
        ident["weights_sha256"] = _sha256_file(wp) if wp is not None and wp.is_file() else None
        ident["spec"] = entry.spec.to_dict()
    else:
        ref, _, _fn = model.model.partition(":") if ":" in model.model and not Path(model.model).exists() \
            else (model.model, "", "")
        path = Path(ref)
        if not path.exists() and ref and not ref.endswith(".py"):  # 'pkg.module:function'
            import importlib.util

            found = importlib.util.find_spec(ref)
            path = Path(found.origin) if found and found.origin else path
        ident["ref"] = model.model
        ident["sha256"] = content_sha256(path) if path.exists() else None
        ident["weights_sha256"] = content_sha256(model.weights) if model.weights else None
    return ident


def library_versions() -> dict[str, str | None]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def host_identity() -> dict:
    from edge_inception._core.host import host_facts

    facts = host_facts()
    isa = facts["isa"]
    return {"machine": facts["machine"], "isa": {k: isa[k] for k in sorted(isa)}}


def _profile_recipe(source: str) -> dict | None:
    """The calibration recipe a profile names (``calibration_recipe = "NAME"``), by its file's bytes:
    editing that recipe changes what the profile's int8 cells calibrate with."""
    import tomllib

    from edge_inception.sweep.recipes import recipe_file

    try:
        data = tomllib.loads(Path(source).read_text())
    except (OSError, ValueError):
        return None
    quantizer = data.get("quantizer") if isinstance(data.get("quantizer"), dict) else {}
    name = data.get("calibration_recipe", quantizer.get("calibration_recipe"))  # top level or [quantizer]
    if not isinstance(name, str):
        return None
    try:
        return {"name": name, "sha256": _sha256_file(recipe_file(name))}
    except Exception:  # noqa: BLE001 - a recipe the profile names but this tree lacks: convert refuses it
        return {"name": name, "sha256": None}


def profile_identity(name: str) -> dict:
    from edge_inception.targets import get_target

    t = get_target(name).to_dict()
    source = t.pop("source", None)  # where the profile was read from is not what it says...
    if source and (recipe := _profile_recipe(source)) is not None:
        t["calibration_recipe"] = recipe  # ...but the recipe it names is
    if t.get("float_reference"):
        ref = get_target(t["float_reference"]).to_dict()
        ref.pop("source", None)
        t["float_reference_profile"] = ref
    return t


def method_identity(method) -> dict | None:
    if method is None:
        return None
    ident = method.model_dump(exclude={"name", "train_data"})
    if method.method == "qat":
        ident["train_data"] = data_fingerprint(method.train_data, split="train", limit=method.train_limit)
    else:  # PTQ has no training settings: defaults left in the dump would only make keys differ needlessly
        ident = {"method": "ptq"}
    return ident


def cell_inputs(cell, sweep, *, evaluation: dict | None, versions: dict | None = None,
                host: dict | None = None) -> dict:
    """Everything ``cell``'s result depends on, as plain JSON (the reproducibility manifest's inputs)."""
    from edge_inception.sweep.recipes import recipe_identity

    return {
        "model": model_identity(cell.model),
        "profile": profile_identity(cell.target),
        "recipe": recipe_identity(cell.recipe),
        "method": method_identity(cell.method),
        "evaluation": evaluation,
        "measure": sweep.measure.model_dump(),
        "libraries": versions if versions is not None else library_versions(),
        "host": host if host is not None else host_identity(),
    }


def cell_key(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class CellCache:
    """Finished cells, one folder each under ``root/KEY[:2]/KEY``; a folder exists only when complete."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def lookup(self, key: str) -> dict | None:
        record = self.path(key) / RECORD
        if not record.is_file():
            return None
        try:
            data = json.loads(record.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # unreadable: treated as not there, recomputed and replaced
        if data.get("status") != "ok" or not all((self.path(key) / f).is_file() for f in data.get("files", {})):
            return None
        return data

    @property
    def staging_root(self) -> Path:
        return self.root / ".staging"

    @contextlib.contextmanager
    def staging(self, key: str) -> Iterator[Path]:
        """A fresh folder beside the cache; removed if the block fails, else left for ``commit``."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        stage = self.staging_root / f"{key}.{uuid.uuid4().hex[:8]}"
        stage.mkdir()
        try:
            yield stage
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise

    def clear_staging(self, keys) -> None:
        """Staging folders of cells about to run are what a killed worker or Ctrl-C left: removed."""
        if self.staging_root.is_dir():
            for p in self.staging_root.iterdir():
                if p.is_dir() and p.name.split(".")[0] in keys:
                    shutil.rmtree(p, ignore_errors=True)

    def commit(self, stage: Path, key: str) -> Path:
        """Rename the complete ``stage`` folder into place (replacing a cell forced by --rerun)."""
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if dest.exists():
            old = self.staging_root / f"{key}.old.{uuid.uuid4().hex[:8]}"
            os.replace(dest, old)
        os.replace(stage, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return dest
