"""Value types of the report schema (schema.py): each checks a JSON value as it is — no "1.5" becomes
1.5, no true becomes 1 — allows null unless it is required, and words its own error.

    size_bytes: Count = None          # an integer or null; "must be an integer, got '9'"
    delta_ci95: Interval = None       # [low, high], two numbers, or null
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError


def _value(want: str, check, schema: dict, *, nullable: bool = True):
    def validate(v):
        if (v is None and nullable) or (v is not None and check(v)):
            return v
        raise PydanticCustomError("value", "must be {want}", {"want": want})

    if nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_list(v, item) -> bool:
    return isinstance(v, (list, tuple)) and all(item(x) for x in v)


Number = _value("a number", _is_number, {"type": "number"})
Count = _value("an integer", _is_int, {"type": "integer"})
Text = _value("a string", lambda v: isinstance(v, str), {"type": "string"})
Flag = _value("true or false", lambda v: isinstance(v, bool), {"type": "boolean"})
Interval = _value("[low, high], two numbers", lambda v: _is_list(v, _is_number) and len(v) == 2,
                  {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2})
Numbers = _value("a list of numbers", lambda v: _is_list(v, _is_number), {"type": "array", "items": {"type": "number"}})
Counts = _value("a list of integers", lambda v: _is_list(v, _is_int), {"type": "array", "items": {"type": "integer"}})
Strings = _value("a list of strings", lambda v: _is_list(v, lambda x: isinstance(x, str)),
                 {"type": "array", "items": {"type": "string"}})
Name = _value("a string", lambda v: isinstance(v, str), {"type": "string"}, nullable=False)
Int = _value("an integer", _is_int, {"type": "integer"}, nullable=False)
Thresholds = _value("an object of numbers", lambda v: isinstance(v, dict) and all(
    isinstance(k, str) and (x is None or _is_number(x)) for k, x in v.items()),
    {"type": "object", "additionalProperties": {"type": ["number", "null"]}})
Open = _value("an object", lambda v: isinstance(v, dict), {"type": "object"})


class OpenModel(BaseModel):
    """A report object: its documented keys typed, unknown keys kept (a newer minor only adds keys)."""

    model_config = ConfigDict(extra="allow")


def doc(text: str):
    """A documented key that may be absent or null (unmeasured)."""
    return Field(None, description=text)
