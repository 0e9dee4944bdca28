"""Request parsing shared by the endpoint families: JSON bodies and model resolution; and the
database calls of handlers that need one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from omnigate.catalog.loader import Catalog, Model
from omnigate.catalog.rules import RuleViolation
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request, not_found


async def read_json(request: web.Request) -> tuple[dict, bytes]:
    """The request's JSON object and its raw bytes; 413 past the size limit, 400 when not JSON."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(
            413,
            f"Request body too large: the limit is {request.client_max_size} bytes.",
            code="body_too_large",
        ) from exc
    if not raw:
        raise bad_request(f"{BODY_VALIDATION} The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"{BODY_VALIDATION} The request body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise bad_request(f"{BODY_VALIDATION} The request body must be a JSON object.")
    return body, raw


def resolve_model(catalog: Catalog, body: dict, *, accepted: tuple[str, ...], endpoint: str) -> Model:
    """The catalogue model a body names, or the error the caller should see."""
    name = body.get("model")
    if name is None:
        raise bad_request(f"{BODY_VALIDATION} model: Required", param="model")
    if not isinstance(name, str) or not name:
        raise bad_request(f"{BODY_VALIDATION} model: Expected string, received {_kind(name)}", param="model")
    model = catalog.lookup(name)
    if model is None:
        retired = catalog.retired(name)
        if retired is not None:
            instead = (
                f"Use {retired.replacement!r} instead."
                if retired.replacement
                else "Choose a current model from GET /models."
            )
            raise not_found(
                f"The model {name!r} ({retired.name}) is deprecated and no longer available. {instead}",
                code="model_deprecated",
                param="model",
            )
        suggestion = catalog.suggest(name)
        hint = f"Did you mean {suggestion!r}? " if suggestion else ""
        raise not_found(
            f"The model {name!r} does not exist. {hint}GET /models lists the available models.",
            code="model_not_found",
            param="model",
        )
    if model.type not in accepted:
        where = " and ".join(model.endpoints) or "its own endpoint"
        raise bad_request(
            f"The model {model.id!r} is a {model.type} model and cannot be used with {endpoint}; "
            f"it is served by {where}.",
            param="model",
            code="model_type_mismatch",
        )
    return model


def validate(model: Model, body: dict) -> None:
    try:
        model.validate(body)
    except RuleViolation as exc:
        raise bad_request(exc.message, param=exc.param, code="body_validation") from exc


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


async def in_db(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A database call off the event loop; a database that does not answer is a 503."""
    try:
        return await asyncio.to_thread(method, *args, **kwargs)
    except SQLAlchemyError as exc:
        raise ApiError(
            503, "Service unavailable: the database did not answer; try again.", code="database_unavailable"
        ) from exc
