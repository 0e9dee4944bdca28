"""Per-model request validation against the compact JSON schemas of the catalogue.

A schema is compiled once into nested closures, so validating a request costs a handful of
dict lookups and type checks per field (no schema walking at request time). The first
violation raises `RuleViolation` with a zod-style message, as the reference service does.

Semantics (a JSON-Schema subset plus OpenAPI 3.0 `nullable`):
- unknown fields are ignored at every level: the service strips them, and the reference
  schemas' `additionalProperties: false` marks are not reliable enough to reject requests on;
- `integer` accepts ints and integral floats (2.0): JSON has one number type, the reference
  service validates with JavaScript where 2.0 *is* 2, and Python's json turns "2.0" into a float;
- `number` accepts ints and floats, never booleans (`True` is an int in Python, not in JSON);
- `anyOf` and `oneOf` both mean "at least one branch matches"; exclusivity is not enforced
  because the reference unions overlap (e.g. several message shapes share a role).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], None]

__all__ = ["RuleViolation", "compile_rules"]


class RuleViolation(Exception):
    """A request body broke a model's parameter rules (HTTP 400)."""

    def __init__(self, param: str, detail: str, message: str | None = None) -> None:
        self.param = param
        self.detail = detail
        self.message = message or f"Body validation error! {param}: {detail}"
        super().__init__(self.message)


class _Invalid(Exception):
    """Internal failure; `path` collects the location innermost-first while unwinding."""

    def __init__(self, detail: str, role: str | None = None, path: list[str | int] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.role = role  # set when a chat message uses a role the model does not accept
        self.path: list[str | int] = path or []


def _is_number(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: type(v) is str,
    "number": _is_number,
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "boolean": lambda v: type(v) is bool,
    "array": lambda v: type(v) is list,
    "object": lambda v: type(v) is dict,
    "null": lambda v: v is None,
}
_KINDS = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _kind(v: Any) -> str:
    return "null" if v is None else _KINDS.get(type(v), type(v).__name__)


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, bool) or v is None:
        return "null" if v is None else str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v) if isinstance(v, int | float) else _kind(v)


def _param(path: list[str | int]) -> str:
    out = ""
    for part in reversed(path):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "body"


def _violation(err: _Invalid) -> RuleViolation:
    param = _param(err.path)
    if err.role is not None:
        detail = f"does not support '{err.role}' with this model"
        return RuleViolation(param, detail, f"Unsupported value: '{param}' {detail}.")
    return RuleViolation(param, err.detail)


# --- building blocks --------------------------------------------------------------------


def _type_check(names: list[str]) -> Check:
    tests = [_TYPES[n] for n in names if n in _TYPES]
    expected = " | ".join(names)

    def check(v: Any) -> None:
        for test in tests:
            if test(v):
                return
        got = "float" if names == ["integer"] and type(v) is float else _kind(v)
        raise _Invalid(f"Expected {expected}, received {got}")

    return check


def _enum_check(values: list[Any], role: bool) -> Check:
    # Key on (is-bool, value) so that True never matches 1 and 1 never matches True.
    allowed = {(type(x) is bool, x) for x in values if not isinstance(x, list | dict)}
    expected = " | ".join(_fmt(x) for x in values)

    def check(v: Any) -> None:
        try:
            if (type(v) is bool, v) in allowed:
                return
        except TypeError:  # unhashable value (list/dict): cannot be an enum member
            pass
        if role and type(v) is str:
            raise _Invalid("role", role=v)
        raise _Invalid(f"Invalid enum value. Expected {expected}, received {_fmt(v)}")

    return check


def _number_check(schema: dict[str, Any]) -> Check | None:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    lo_x, hi_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    # OpenAPI 3.0 writes `exclusiveMinimum: true` next to `minimum`; 3.1 gives the bound itself.
    lo_strict = lo_x is True or (_is_number(lo_x) and (lo is None or lo_x >= lo))
    hi_strict = hi_x is True or (_is_number(hi_x) and (hi is None or hi_x <= hi))
    lo = lo_x if _is_number(lo_x) and lo_strict else lo
    hi = hi_x if _is_number(hi_x) and hi_strict else hi
    if lo is None and hi is None:
        return None
    lo_text = f"greater than {'' if lo_strict else 'or equal to '}{_fmt(lo)}"
    hi_text = f"less than {'' if hi_strict else 'or equal to '}{_fmt(hi)}"

    def check(v: Any) -> None:
        if not _is_number(v):
            return
        if lo is not None and (v < lo or (lo_strict and v == lo)):
            raise _Invalid(f"Number must be {lo_text}, received {_fmt(v)}")
        if hi is not None and (v > hi or (hi_strict and v == hi)):
            raise _Invalid(f"Number must be {hi_text}, received {_fmt(v)}")

    return check


def _size_check(lo: int | None, hi: int | None, of_type: type, noun: str, unit: str) -> Check | None:
    if lo is None and hi is None:
        return None

    def check(v: Any) -> None:
        if type(v) is not of_type:
            return
        n = len(v)
        if lo is not None and n < lo:
            raise _Invalid(f"{noun} must contain at least {lo} {unit}")
        if hi is not None and n > hi:
            raise _Invalid(f"{noun} must contain at most {hi} {unit}")

    return check


def _object_check(schema: dict[str, Any], top: bool, messages_items: bool) -> Check | None:
    props: dict[str, Check] = {}
    for name, sub in (schema.get("properties") or {}).items():
        if top and name == "messages":
            compiled = _compile(sub, messages=True)
        else:
            compiled = _compile(sub, role=messages_items and name == "role")
        if compiled is not None:
            props[name] = compiled
    required = tuple(schema.get("required") or ())
    if not props and not required:
        return None

    def check(v: Any) -> None:
        if type(v) is not dict:
            return
        # Fields that are present come first: a wrong `type` tag says more than a missing field.
        for name, value in v.items():
            sub = props.get(name)
            # Clients (LangChain, hand-written JSON) send `"stop": null` to mean "not set";
            # at the top level an optional null is treated as absent.
            if top and value is None and name not in required:
                continue
            if sub is not None:
                try:
                    sub(value)
                except _Invalid as err:
                    err.path.append(name)
                    raise
        for name in required:
            if name not in v:
                raise _Invalid("Required", path=[name])

    return check


def _array_check(schema: dict[str, Any], messages: bool) -> Check | None:
    items = schema.get("items")
    item = _compile(items, messages_items=messages) if isinstance(items, dict) else None
    if item is None:
        return None

    def check(v: Any) -> None:
        if type(v) is not list:
            return
        for i, x in enumerate(v):
            try:
                item(x)
            except _Invalid as err:
                err.path.append(i)
                raise

    return check


def _branch_types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return list(declared)
    return ["object"] if "properties" in schema else ["array"] if "items" in schema else []


def _discriminator(branches: list[dict[str, Any]]) -> str | None:
    """A property every branch pins to literal values (`role`, `type`, ...), if any."""
    if not branches or not all("properties" in b for b in branches):
        return None
    names = [n for n in branches[0]["properties"] if all(n in b["properties"] for b in branches)]
    names.sort(key=lambda n: (n != "role", n != "type"))
    for name in names:
        if all(isinstance(b["properties"][name].get("enum"), list) for b in branches):
            return name
    return None


def _union_check(branches: list[dict[str, Any]], messages_items: bool) -> Check:
    checks = [_compile(b, messages_items=messages_items) for b in branches]
    if any(c is None for c in checks):
        return lambda v: None  # one branch accepts anything
    types = [_branch_types(b) for b in branches]
    known = [t for ts in types for t in ts]
    expected = " | ".join(dict.fromkeys(known)) or "a valid value"
    disc = _discriminator(branches)
    by_tag: dict[Any, list[Check]] = {}
    if disc is not None:
        for branch, check in zip(branches, checks, strict=True):
            for tag in branch["properties"][disc]["enum"]:
                if isinstance(tag, str | int | float | bool):
                    by_tag.setdefault(tag, []).append(check)
    tags = " | ".join(_fmt(t) for t in by_tag)
    plain = [(c, [_TYPES[t] for t in ts if t in _TYPES]) for c, ts in zip(checks, types, strict=True)]

    def check(v: Any) -> None:
        if disc is not None and type(v) is dict and disc in v:
            tag = v[disc]
            chosen = by_tag.get(tag) if isinstance(tag, str | int | float) else None
            if not chosen:
                if messages_items and disc == "role" and type(tag) is str:
                    raise _Invalid("role", role=tag, path=["role"])
                raise _Invalid(
                    f"Invalid discriminator value. Expected {tags}, received {_fmt(tag)}",
                    path=[disc],
                )
            first: _Invalid | None = None
            for sub in chosen:
                try:
                    sub(v)
                    return
                except _Invalid as err:
                    first = first or err
            assert first is not None
            raise first
        fits: list[_Invalid] = []
        for sub, tests in plain:
            try:
                sub(v)
                return
            except _Invalid as err:
                if not tests or any(t(v) for t in tests):
                    fits.append(err)
        if fits:  # the deepest failure among branches of the right type is the most telling
            raise max(fits, key=lambda e: len(e.path))
        raise _Invalid(f"Invalid input: expected one of {expected}, received {_kind(v)}")

    return check


def _compile(
    schema: Any,
    *,
    top: bool = False,
    messages: bool = False,
    messages_items: bool = False,
    role: bool = False,
) -> Check | None:
    """A checker for `schema`, or None when the schema accepts anything."""
    if not isinstance(schema, dict) or not schema:
        return None
    checks: list[Check] = []
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else list(declared or [])
    nullable = schema.get("nullable") is True or "null" in names
    if names:
        checks.append(_type_check(names))
    if isinstance(schema.get("enum"), list):
        nullable = nullable or None in schema["enum"]
        checks.append(_enum_check(schema["enum"], role))
    if "const" in schema:
        const = schema["const"]

        def const_check(v: Any) -> None:
            if v != const or (type(v) is bool) != (type(const) is bool):
                raise _Invalid(f"Invalid literal value, expected {_fmt(const)}")

        checks.append(const_check)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            checks.append(_union_check(schema[key], messages_items))
    for sub in schema.get("allOf") or ():
        part = _compile(sub, top=top, messages_items=messages_items)
        if part is not None:
            checks.append(part)
    optional = (
        _number_check(schema),
        _size_check(schema.get("minLength"), schema.get("maxLength"), str, "String", "character(s)"),
        _size_check(schema.get("minItems"), schema.get("maxItems"), list, "Array", "element(s)"),
        _object_check(schema, top, messages_items),
        _array_check(schema, messages),
    )
    checks += [c for c in optional if c is not None]
    if not checks:
        return None
    if len(checks) == 1 and not nullable:
        return checks[0]
    run = tuple(checks)

    def check(v: Any) -> None:
        if v is None and nullable:
            return
        for c in run:
            c(v)

    return check


def _model_only(body: Any) -> None:
    if type(body) is not dict:
        raise RuleViolation("body", f"Expected object, received {_kind(body)}")
    if "model" not in body:
        raise RuleViolation("model", "Required")
    if type(body["model"]) is not str:
        raise RuleViolation("model", f"Expected string, received {_kind(body['model'])}")


_CACHE: dict[int, tuple[dict[str, Any], Check]] = {}


def compile_rules(schema: dict[str, Any] | None) -> Callable[[dict], None]:
    """A validator for a catalogue rule set; it raises RuleViolation on the first violation.

    With no rule set only `model` is checked (present, a string). Compiled validators are
    cached by the identity of the schema dict, which the catalogue shares between models.
    """
    if schema is None:
        return _model_only
    cached = _CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    body_check = _compile(schema, top=True)

    def validate(body: dict) -> None:
        _model_only(body)
        if body_check is not None:
            try:
                body_check(body)
            except _Invalid as err:
                raise _violation(err) from None

    _CACHE[id(schema)] = (schema, validate)
    return validate
