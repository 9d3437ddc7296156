"""Gate thresholds: declared once in the user's project, validated like target profiles.

    cfg = load_config()                          # ./edge-inception.toml [gate], else ./pyproject.toml
    cfg = load_config("ci/gate.toml")            # an explicit file (either layout)
    cfg.for_target("tflite-int8")                # {"max_top1_drop": 1.0, ..., "baseline": {...}}

Layout (``[gate]`` in edge-inception.toml, ``[tool.edge-inception.gate]`` in pyproject.toml)::

    [gate]                              # defaults for every target
    max_latency_ratio = 1.5
    [gate.baseline]                     # largest allowed change against a stored baseline report
    max_top1_drop = 0.5
    [gate.targets.tflite-int8]          # one target
    max_top1_drop = 0.5
    [gate.targets.tflite-int8.baseline]
    max_latency_increase = 0.5

Precedence, per key: the target's table > the defaults table > the target profile's ``[gate]`` >
the built-in defaults below.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edge_inception._core.errors import InputError

_NUMBER = (int, float)

# key -> (meaning, built-in default; None = not checked unless set). Units are part of the name's doc.
AGAINST_FLOAT: dict[str, tuple[str, float | None]] = {
    "max_top1_drop": ("largest top-1 drop against the float reference, in points", 1.0),
    "min_agreement": ("smallest share of inputs whose top-1 equals the float reference's (0..1)", 0.97),
    "max_latency_ratio": ("largest int8/float median-latency ratio on the same runtime", 1.5),
    "max_size_mb": ("largest artifact size in MB (10^6 bytes)", None),
}
AGAINST_BASELINE: dict[str, tuple[str, float | None]] = {
    "max_top1_drop": ("largest top-1 drop against the baseline's top-1 of the same target, in points", 1.0),
    "max_agreement_drop": ("largest drop of agreement with float against the baseline, in points", 1.0),
    "max_latency_increase": ("largest increase of the latency ratio against the baseline's, as a fraction", 0.25),
    "max_size_increase": ("largest increase of the artifact size against the baseline's, as a fraction", 0.05),
}
# Keys a target profile's [gate] section may carry (edge_inception/targets/__init__.py validates them).
PROFILE_KEYS = ("max_top1_drop", "min_agreement", "max_latency_ratio", "max_size_mb")


@dataclass(frozen=True)
class GateConfig:
    """Validated thresholds from the user's file (empty when there is none)."""

    defaults: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)  # name -> {"float keys"..., "baseline": {...}}
    source: str | None = None

    def for_target(self, name: str) -> dict:
        """Effective thresholds for one target, each with where it came from."""
        profile = _profile_gate(name)
        own = self.targets.get(name, {})
        out: dict = {"sources": {}}
        for key, (_, builtin) in AGAINST_FLOAT.items():
            for origin, table in (("config:target", own), ("config", self.defaults), ("profile", profile)):
                if key in table:
                    out[key], out["sources"][key] = table[key], origin
                    break
            else:
                out[key], out["sources"][key] = builtin, "built-in"
        base: dict = {}
        for key, (_, builtin) in AGAINST_BASELINE.items():
            for origin, table in (("config:target", own.get("baseline", {})), ("config", self.baseline)):
                if key in table:
                    base[key], out["sources"][f"baseline.{key}"] = table[key], origin
                    break
            else:
                base[key], out["sources"][f"baseline.{key}"] = builtin, "built-in"
        out["baseline"] = base
        return out

    def to_dict(self) -> dict:
        return {"source": self.source, "defaults": self.defaults, "baseline": self.baseline, "targets": self.targets}


def _profile_gate(name: str) -> dict:
    from edge_inception._core.errors import EdgeInceptionError
    from edge_inception.targets import get_target

    try:
        gate = get_target(name).gate
    except EdgeInceptionError:  # a bench/eval artifact label or a user's profile not on this machine
        return {}
    return {k: v for k, v in gate.items() if k in PROFILE_KEYS and v is not None}


def _check_table(table, allowed: dict, where: str, path: Path, *, subtables: tuple[str, ...] = ()) -> dict:
    if not isinstance(table, dict):
        raise InputError(path, f"[{where}] must be a table")
    out = {}
    for key, value in table.items():
        if key in subtables:
            continue
        if key not in allowed:
            names = [*allowed, *subtables]
            raise InputError(path, f"unknown key [{where}] '{key}'", fix=f"allowed: {', '.join(names)}")
        if not isinstance(value, _NUMBER) or isinstance(value, bool):
            raise InputError(path, f"[{where}] '{key}' must be a number, got {value!r}")
        if value < 0:
            raise InputError(path, f"[{where}] '{key}' must not be negative, got {value!r}")
        if key == "min_agreement" and value > 1:
            raise InputError(path, f"[{where}] 'min_agreement' is a share of inputs (0..1), got {value!r}",
                             fix="write 0.97 for 97%")
        out[key] = float(value)
    return out


def parse_config(table: dict, *, path: str | Path = "<config>", prefix: str = "gate") -> GateConfig:
    """Validate a ``[gate]`` table (already parsed from TOML). Unknown keys are refused, naming the file."""
    path = Path(path)
    defaults = _check_table(table, AGAINST_FLOAT, prefix, path, subtables=("baseline", "targets"))
    baseline = _check_table(table.get("baseline", {}), AGAINST_BASELINE, f"{prefix}.baseline", path)
    targets_table = table.get("targets", {})
    if not isinstance(targets_table, dict):
        raise InputError(path, f"[{prefix}.targets] must be a table of target names")
    targets = {}
    for name, t in targets_table.items():
        where = f"{prefix}.targets.{name}"
        own = _check_table(t, AGAINST_FLOAT, where, path, subtables=("baseline",))
        if "baseline" in t:
            own["baseline"] = _check_table(t["baseline"], AGAINST_BASELINE, f"{where}.baseline", path)
        targets[name] = own
    return GateConfig(defaults=defaults, baseline=baseline, targets=targets, source=str(path))


def _read_toml(path: Path) -> dict:
    from edge_inception._core.files import check_regular_file

    if path.exists():  # a FIFO would block read_text() forever
        check_regular_file(path, what="gate config (TOML)", allow_empty=True)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "does not exist",
                         fix="pass the path of an edge-inception.toml or pyproject.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"is not valid TOML ({e})") from None


def _gate_table(data: dict, path: Path) -> tuple[dict | None, str]:
    """The gate table of a parsed file: [tool.edge-inception.gate] (pyproject layout) or [gate]."""
    tool = data.get("tool", {})
    if isinstance(tool, dict) and isinstance(tool.get("edge-inception"), dict):
        section = tool["edge-inception"]
        if "gate" in section:
            return section["gate"], "tool.edge-inception.gate"
    if "gate" in data:
        return data["gate"], "gate"
    return None, "gate"


def load_config(path: str | Path | dict | GateConfig | None = None, *, cwd: str | Path | None = None) -> GateConfig:
    """Thresholds from ``path`` (a file, a parsed ``[gate]`` dict or a GateConfig), or searched in ``cwd``:
    ./edge-inception.toml first, then ./pyproject.toml. No file: built-in and profile defaults only."""
    if isinstance(path, GateConfig):
        return path
    if isinstance(path, dict):
        return parse_config(path)
    if path is not None:
        path = Path(path)
        table, prefix = _gate_table(_read_toml(path), path)
        if table is None:
            raise InputError(path, "has no [gate] or [tool.edge-inception.gate] table",
                             fix="add one, e.g. [gate] max_top1_drop = 1.0")
        return parse_config(table, path=path, prefix=prefix)
    here = Path(cwd) if cwd is not None else Path.cwd()
    for candidate in (here / "edge-inception.toml", here / "pyproject.toml"):
        if candidate.is_file():
            table, prefix = _gate_table(_read_toml(candidate), candidate)
            if table is not None:
                return parse_config(table, path=candidate, prefix=prefix)
    return GateConfig()
