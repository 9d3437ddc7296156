"""Gate thresholds, defined once as pydantic models: the built-in defaults, the user's ``[gate]`` table,
a target profile's ``[gate]`` section and the thresholds a 1.2 report records per row.

    cfg = load_config()                          # ./edge-inception.toml [gate], else ./pyproject.toml
    cfg = load_config("ci/gate.toml")            # an explicit file (either layout)
    cfg.for_target("tflite-int8", recorded=row.get("gate"))   # {"max_top1_drop": 1.0, ..., "baseline": {...}}
    FloatThresholds()                            # the built-in defaults against float
    parse_thresholds(profile["gate"], path=toml_path)          # a profile's [gate], errors naming file and key

Layout (``[gate]`` in edge-inception.toml, ``[tool.edge-inception.gate]`` in pyproject.toml)::

    [gate]                              # defaults for every target
    max_latency_ratio = 1.5
    [gate.baseline]                     # largest allowed change against a stored baseline report
    max_top1_drop = 0.5
    [gate.targets.tflite-int8]          # one target
    max_top1_drop = 0.5
    [gate.targets.tflite-int8.baseline]
    max_latency_increase = 0.5
    [gate.devices.pi]                   # figures measured on device "pi" (bench/eval/convert --device pi)
    max_latency_ms = 25
    [gate.devices.pi.targets.tflite-int8]
    max_latency_ms = 12
    max_latency_ratio = 0.8

A device named in [gate.devices] must have figures in the report: a run where it could not be reached
is an InputError (exit 2), never a silent pass.

Precedence, per key: the target's table > the defaults table > the target profile's ``[gate]`` as the
report recorded it at convert time (``targets[].gate``, schema 1.2) > the built-in defaults below.
A new threshold is one field on FloatThresholds or BaselineThresholds: parsing, precedence, the
published JSON Schema and the report's record all follow from it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_inception._core.errors import InputError
from edge_inception.targets.thresholds import BaselineThresholds, FloatThresholds, _limit, _Table


class DeviceThresholds(_Table):
    """``[gate.devices.NAME]`` and ``[gate.devices.NAME.targets.TARGET]``: figures measured on a device."""

    max_latency_ms: float | None = _limit(None, "largest median latency measured on the device, in ms (mean "
                                          "where the tool gives no median); unset: not checked")
    max_latency_ratio: float | None = _limit(None, "largest int8/float median-latency ratio measured on the "
                                             "device (interleaved there); unset: not checked")


class DeviceTable(DeviceThresholds):
    targets: dict[str, DeviceThresholds] = Field(default_factory=dict, description="target name -> its thresholds")


class TargetTable(FloatThresholds):
    """``[gate.targets.NAME]``: one target's thresholds."""

    baseline: BaselineThresholds = Field(default_factory=BaselineThresholds)


class GateTable(FloatThresholds):
    """``[gate]`` (edge-inception.toml) or ``[tool.edge-inception.gate]`` (pyproject.toml)."""

    baseline: BaselineThresholds = Field(default_factory=BaselineThresholds)
    targets: dict[str, TargetTable] = Field(default_factory=dict, description="target name -> its thresholds")
    devices: dict[str, DeviceTable] = Field(default_factory=dict, description="device name -> its thresholds")


class GateFile(BaseModel):
    """An edge-inception.toml: the schema editors complete a user's ``[gate]`` table from (in pyproject.toml
    the same table is ``[tool.edge-inception.gate]``)."""

    model_config = ConfigDict(extra="allow", title="edge-inception.toml gate configuration")
    gate: GateTable = Field(default_factory=GateTable)


def _set(model: BaseModel, fields) -> dict:
    """The keys of ``fields`` the user wrote in this table (defaults do not count: they would shadow a
    less specific table that sets the key)."""
    return {k: getattr(model, k) for k in fields if k in model.model_fields_set}


def _first(key: str, layers: list[tuple[str, dict]], default) -> tuple:
    """(value, origin) from the most specific layer that sets ``key``, else the built-in default."""
    return next(((table[key], origin) for origin, table in layers if key in table), (default, "built-in"))


class GateConfig(BaseModel):
    """Validated thresholds from the user's file (empty when there is none) and where they came from."""

    model_config = ConfigDict(frozen=True)
    table: GateTable = Field(default_factory=GateTable)
    source: str | None = None

    @property
    def devices(self) -> dict[str, DeviceTable]:
        return self.table.devices

    def for_device(self, device: str, target: str) -> dict:
        """Thresholds for one target on one device: the target's table, else the device's defaults."""
        dev = self.table.devices.get(device)
        own = dev.targets.get(target) if dev else None
        layers = [("config:device-target", _set(own, DeviceThresholds.model_fields) if own else {}),
                  ("config:device", _set(dev, DeviceThresholds.model_fields) if dev else {})]
        out: dict = {"sources": {}}
        for key, info in DeviceThresholds.model_fields.items():
            out[key], out["sources"][key] = _first(key, layers, info.default)
        return out

    def for_target(self, name: str, *, recorded: dict | None = None) -> dict:
        """Effective thresholds for one target, each with where it came from. ``recorded``: the report row's
        thresholds (its profile's, at convert time)."""
        own = self.table.targets.get(name)
        layers = [("config:target", _set(own, FloatThresholds.model_fields) if own else {}),
                  ("config", _set(self.table, FloatThresholds.model_fields)),
                  ("profile", {k: v for k, v in (recorded or {}).items() if v is not None})]
        out: dict = {"sources": {}}
        for key, info in FloatThresholds.model_fields.items():
            out[key], out["sources"][key] = _first(key, layers, info.default)
        base_layers = [("config:target", _set(own.baseline, BaselineThresholds.model_fields) if own else {}),
                       ("config", _set(self.table.baseline, BaselineThresholds.model_fields))]
        out["baseline"] = {}
        for key, info in BaselineThresholds.model_fields.items():
            out["baseline"][key], out["sources"][f"baseline.{key}"] = _first(key, base_layers, info.default)
        return out

    def to_dict(self) -> dict:
        t = self.table
        return {"source": self.source, "defaults": _set(t, FloatThresholds.model_fields),
                "baseline": _set(t.baseline, BaselineThresholds.model_fields),
                "targets": {name: {**_set(own, FloatThresholds.model_fields),
                                   **({"baseline": _set(own.baseline, BaselineThresholds.model_fields)}
                                      if "baseline" in own.model_fields_set else {})}
                            for name, own in t.targets.items()},
                "devices": {name: {"defaults": _set(dev, DeviceThresholds.model_fields),
                                   "targets": {t_name: _set(own, DeviceThresholds.model_fields)
                                               for t_name, own in dev.targets.items()}}
                            for name, dev in t.devices.items()}}


# ---- errors: one line naming the file, the table and the key ------------------------------------------------

def _table_model(root: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The model of the table at ``loc`` below ``root`` (a gate table or a profile's [gate])."""
    model = root
    i = 0
    while i < len(loc):
        if loc[i] == "baseline":
            model = BaselineThresholds
        elif loc[i] == "devices" and i + 1 < len(loc):
            model, i = DeviceTable, i + 1  # the next part is a device's name
        elif loc[i] == "targets" and i + 1 < len(loc):
            model, i = (DeviceThresholds if model is DeviceTable else TargetTable), i + 1
        i += 1
    return model


def explain(err: dict, *, key_text, root: type[BaseModel] = GateTable) -> tuple[str, str | None]:
    """(problem, fix) for one pydantic error; ``key_text(loc)`` words where the key sits."""
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    got = f", got {err['input']!r}" if "input" in err else ""
    where = key_text(loc)
    if kind == "extra_forbidden":
        names = list(_table_model(root, loc[:-1]).model_fields)
        return f"unknown key {where}", f"allowed: {', '.join(names)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{where} must be a number{got}", None
    if kind == "greater_than_equal":
        return f"{where} must not be negative{got}", None
    if kind == "less_than_equal" and ctx.get("le") == 1:
        return f"{where} is a share of inputs (0..1){got}", "write 0.97 for 97%"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where} must be a table{' of target names' if loc[-1:] == ('targets',) else ''}", None
    return f"{where}: {err['msg']}{got}", None


def _toml_key(prefix: str):
    def text(loc: tuple) -> str:
        parts = [prefix, *(str(p) for p in loc)]
        if (loc and loc[-1] in ("baseline", "targets", "devices")) or (
                len(loc) >= 2 and loc[-2] in ("targets", "devices")):
            return f"[{'.'.join(parts)}]"  # the value of a table itself
        return f"[{'.'.join(parts[:-1])}] '{parts[-1]}'"

    return text


def _validate(model: type[BaseModel], table, *, path, prefix: str):
    if not isinstance(table, dict):
        raise InputError(path, f"[{prefix}] must be a table")
    try:
        return model.model_validate(table)
    except ValidationError as e:
        problem, fix = explain(e.errors(include_url=False)[0], key_text=_toml_key(prefix), root=model)
        raise InputError(path, problem, fix=fix) from None


def parse_config(table: dict, *, path: str | Path = "<config>", prefix: str = "gate") -> GateConfig:
    """Validate a ``[gate]`` table (already parsed from TOML). Unknown keys are refused, naming the file."""
    return GateConfig(table=_validate(GateTable, table, path=Path(path), prefix=prefix), source=str(path))


def parse_thresholds(table: dict, *, path: str | Path, prefix: str = "gate") -> FloatThresholds:
    """A target profile's ``[gate]`` section: the same keys, ranges and messages as the user's table."""
    return _validate(FloatThresholds, table, path=Path(path), prefix=prefix)


def recorded_thresholds(row: dict, where) -> dict | None:
    """A report row's recorded thresholds (``targets[].gate``), range-checked; None for a row without them.
    Keys this version does not know (a newer minor's) are ignored."""
    recorded = row.get("gate")
    if recorded is None:
        return None
    known = {k: v for k, v in recorded.items() if k in FloatThresholds.model_fields and v is not None}
    try:
        return _set(FloatThresholds.model_validate(known), known)
    except ValidationError as e:
        problem, fix = explain(e.errors(include_url=False)[0],
                               key_text=lambda loc: f"{row['target']}: 'gate.{loc[-1]}'")
        raise InputError(where, problem, fix=fix) from None


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


def _gate_table(data: dict) -> tuple[dict | None, str]:
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
    ./edge-inception.toml first, then ./pyproject.toml. No file: the report's and built-in defaults only."""
    if isinstance(path, GateConfig):
        return path
    if isinstance(path, dict):
        return parse_config(path)
    if path is not None:
        path = Path(path)
        table, prefix = _gate_table(_read_toml(path))
        if table is None:
            raise InputError(path, "has no [gate] or [tool.edge-inception.gate] table",
                             fix="add one, e.g. [gate] max_top1_drop = 1.0")
        return parse_config(table, path=path, prefix=prefix)
    here = Path(cwd) if cwd is not None else Path.cwd()
    for candidate in (here / "edge-inception.toml", here / "pyproject.toml"):
        if candidate.is_file():
            table, prefix = _gate_table(_read_toml(candidate))
            if table is not None:
                return parse_config(table, path=candidate, prefix=prefix)
    return GateConfig()
