"""Artifact formats, each declared once in a file of its own: the artifact's suffix and companion files,
the precisions it can hold, the quantizer libraries that write it, the runtime that runs it here, how
the ModelSpec is embedded and read back, and the inspector the profile rules read. A new format is one
new file here; no table elsewhere is edited.

    fmt = get_format("openvino")
    fmt.suffix, fmt.runtime, fmt.precisions          # '.xml', 'openvino', ('float32', 'float16', 'int8')
    artifact_files(out / "m.xml")                    # [m.xml, m.bin]
    fmt.read_spec(path)                              # the ModelSpec the file carries, or None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_inception._core.registry import Registry

if TYPE_CHECKING:
    from edge_inception.formats.description import ArtifactDescription
    from edge_inception.models.spec import ModelSpec


def _no_companions(path: Path) -> list[Path]:
    return []


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str                                   # of the file users pass around (an IR's .xml)
    runtime: str                                  # the engine that runs and verifies it here
    precisions: tuple[str, ...]
    libraries: tuple[str, ...]                    # quantizer libraries that write its int8 artifacts
    read_spec: Callable[[Path], ModelSpec | None]
    inspect: Callable[[Path], ArtifactDescription]  # neutral description the profile rules read
    # Other files the artifact consists of (an IR's .bin, ONNX external data), whether or not they exist.
    companions: Callable[[Path], list[Path]] = _no_companions
    # Writes the spec into a finished file; None where the exporters and quantizers embed it themselves.
    embed_spec: Callable[[Path, ModelSpec], None] | None = None
    # Whether the inspector sees every operator's tensors, so a full_integer rule can be checked.
    full_integer_checkable: bool = True


FORMATS: Registry[Format] = Registry("format", package=__name__)


def register_format(fmt: Format) -> Format:
    return FORMATS.add(fmt.name, fmt)


def get_format(name: str) -> Format:
    return FORMATS.get(name)


def list_formats() -> list[Format]:
    return FORMATS.values()


def embed_spec(path: str | Path, fmt: str, spec: ModelSpec) -> None:
    """Formats whose exporters cannot carry the spec themselves get it written afterwards (ONNX and
    OpenVINO exporters embed it as they write; ORT and NNCF quantization keep it)."""
    writer = get_format(fmt).embed_spec
    if writer is not None:
        writer(Path(path), spec)


def spec_from_json(text: str | bytes, path: Path) -> ModelSpec:
    """The ModelSpec an artifact carries (JSON in its metadata), or an InputError naming the file."""
    import json

    from edge_inception._core.errors import InputError
    from edge_inception.models.spec import ModelSpec

    try:
        return ModelSpec.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(path, f"carries an unreadable edge-inception spec ({e})",
                         fix="re-create it with `edge-inception convert`") from None


def artifact_path(folder: Path, stem: str, fmt: str) -> Path:
    return Path(folder) / f"{stem}{get_format(fmt).suffix}"


def artifact_files(path: str | Path) -> list[Path]:
    """Every file an artifact consists of that exists: an IR's .xml and .bin, an ONNX file and its data."""
    path = Path(path)
    fmt = next((f for f in list_formats() if f.suffix == path.suffix), None)
    extra = fmt.companions(path) if fmt is not None else []
    return [path, *(p for p in extra if p.exists())]


def artifact_size(path: str | Path) -> int:
    return sum(p.stat().st_size for p in artifact_files(path))
