"""A Hypothesis strategy for the JSON schemas clients send (structured output, tool parameters).

Schemathesis rarely puts a schema where a grammar is built: the field is optional, three levels
down. This strategy makes schemas that are nearly right, with the keywords llama-cpp-python's
converter reads, values of the wrong kind, references that lead nowhere and bounds past what the
engine allows, so both the refusals and the grammars that do get built are exercised.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
)
_json = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
    max_leaves=6,
)
# Small bounds mostly, and some past the engine's limit of 1000.
_bounds = st.integers(min_value=-2, max_value=8) | st.integers(min_value=-5, max_value=200_000) | _scalars
_patterns = st.sampled_from(["^a+$", "^[0-9]{2,4}$", "^(ab|c)*$", "[a-z]", "^a{0,99999}$", "^\\x00$"])
_refs = st.sampled_from(["#/$defs/a", "#/$defs/missing", "#", "#/properties/a", "https://example.com/s"])
_names = st.sampled_from(["a", "b", "", "\u0000", "maxLength"]) | st.text(max_size=4)

_LEAF = {
    "type": st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), max_size=2) | _scalars,
    "enum": st.lists(_json, max_size=3),
    "const": _json,
    "pattern": _patterns | st.text(max_size=6),
    "format": st.sampled_from(["date", "date-time", "time", "uuid", "email"]) | st.text(max_size=3),
    "minLength": _bounds,
    "maxLength": _bounds,
    "minItems": _bounds,
    "maxItems": _bounds,
    "minimum": _bounds,
    "maximum": _bounds,
    "$ref": _refs | st.text(max_size=5),
}


def _nested(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            **_LEAF,
            "properties": st.dictionaries(_names, kids, max_size=3) | _scalars,
            "required": st.lists(_names, max_size=3) | _scalars,
            "additionalProperties": st.booleans() | kids,
            "items": kids | st.lists(kids, max_size=2),
            "anyOf": st.lists(kids, max_size=3),
            "oneOf": st.lists(kids, max_size=2),
            "allOf": st.lists(kids, max_size=2),
            "$defs": st.dictionaries(st.sampled_from(["a", "b"]), kids, max_size=2),
        },
    )


json_schemas: st.SearchStrategy[dict[str, Any]] = st.recursive(
    st.fixed_dictionaries({}, optional=_LEAF), _nested, max_leaves=8
)
