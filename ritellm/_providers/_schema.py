"""JSON Schema -> the subset Anthropic's structured outputs accept (``output_config.format``).

Pure: standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["strict_schema"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# Structured outputs take a subset of JSON Schema (Anthropic's structured-outputs docs, "JSON
# Schema limitations"). strict_schema changes only this, and sends everything else as given
# (so that the API's own error explains anything else it refuses):
# - an object schema without "additionalProperties" gets "additionalProperties": false (the
#   API requires closed objects); an explicit value is kept;
# - "oneOf" becomes "anyOf" (only anyOf/allOf are supported; for the disjoint variants of a
#   tagged union, as Pydantic generates them, the two accept the same values);
# - numeric bounds, string lengths, array sizes other than minItems 0/1 and string formats
#   outside the supported list are refused: they move into the description as text, so the
#   model still sees them.
_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
# fmt: off
_MOVED = frozenset({
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
    "maxLength", "maxItems", "uniqueItems",
})
# fmt: on
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems", "items"})
_SUBSCHEMAS = frozenset({"items", "additionalProperties", "not", "contains"})


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` in the form Anthropic's structured outputs accept.

    Args:
        schema: a JSON schema (from ``response_format`` or a Pydantic model).

    Returns:
        A new dict (``schema`` is not modified), changed only as the comment above says.
    """
    out: dict[str, Any] = {}
    moved: list[str] = []
    for key, value in schema.items():
        if key in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _subschema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            name = "anyOf" if key == "oneOf" and "anyOf" not in schema else key
            out[name] = [_subschema(sub) for sub in value]
        elif key in _SUBSCHEMAS and isinstance(value, Mapping):
            out[key] = strict_schema(value)
        elif (
            key in _MOVED
            or (key == "minItems" and value not in (0, 1))
            or (key == "format" and isinstance(value, str) and value not in _FORMATS)
        ):
            moved.append(f"{key}={_dumps(value)}")
        else:
            out[key] = value
    kind = schema.get("type")
    closed = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if (closed or "properties" in schema) and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    if moved:
        note = "Constraints: " + ", ".join(moved)
        description = out.get("description")
        has = isinstance(description, str) and description
        out["description"] = f"{description}\n\n{note}" if has else note
    return out


def _subschema(value: Any) -> Any:
    return strict_schema(value) if isinstance(value, Mapping) else value
