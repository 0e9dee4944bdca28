"""What the chat-shaped families (chat completions, Responses, Anthropic Messages, embeddings) add
to the pipeline: their worst case in tokens, the calls to a chat deployment, and usage estimates
for the answers that report none."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import cast

from aiohttp import web

from omnigate.api.common import validate
from omnigate.api.pipeline import Call, Estimate, Family, begin
from omnigate.billing.pricing import Used, upstream_credits
from omnigate.catalog.loader import Model
from omnigate.gateway import GATEWAY
from omnigate.providers.base import ChunkStream, EmbeddingBackend
from omnigate.routing.router import Deployment
from omnigate.settings import BillingSettings
from omnigate.store.rows import KeyRow

log = logging.getLogger(__name__)

CHAT = Family("/v1/chat/completions", ("chat-completion",))
MESSAGES = Family("/v1/messages", ("chat-completion",))
RESPONSES = Family("/v1/responses", ("chat-completion", "responses"))
EMBEDDINGS = Family("/v1/embeddings", ("embedding",))


async def begin_tokens(
    request: web.Request,
    key: KeyRow,
    body: dict,
    body_size: int,
    started: float,
    *,
    family: Family,
    check: Callable[[Model, dict], None] | None = None,
    generates: bool = True,
    validate_with: Callable[[Model, dict], None] = validate,
) -> Call:
    """`begin` for a chat-shaped family, whose worst case is counted in tokens."""
    estimate = token_estimate(body_size, request.app[GATEWAY].settings.billing, generates=generates)
    return await begin(
        request,
        key,
        body,
        family=family,
        estimate=estimate,
        started=started,
        body_size=body_size,
        check=check,
        validate_with=validate_with,
    )


def token_estimate(body_size: int, billing: BillingSettings, *, generates: bool = True) -> Estimate:
    """The worst case of a chat-shaped request: every prompt token spans at least one byte of the
    body (so its size bounds the prompt), and the answer is at most its output budget."""

    def estimate(model: Model, body: dict) -> Used:
        name_the_output_budget(model, body)
        output = max_output_tokens(model, body, billing) if generates else 0
        return Used(prompt_tokens=body_size, completion_tokens=output)

    return estimate


def name_the_output_budget(model: Model, body: dict) -> None:
    """`max_tokens` and `max_completion_tokens` mean the same; SDKs send either. When the model's
    rules know only one, the other is renamed, rather than dropped with the unknown fields."""
    names = model.param_names
    if not names:
        return
    for given, known in (("max_completion_tokens", "max_tokens"), ("max_tokens", "max_completion_tokens")):
        if given in body and given not in names and known in names and known not in body:
            body[known] = body.pop(given)


def max_output_tokens(model: Model, body: dict, billing: BillingSettings) -> int:
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(requested, int | float) and requested > 0:
        limit = int(requested)
    else:
        limit = model.max_output_tokens or billing.default_max_output_tokens
    choices = body.get("n")
    return limit * (choices if isinstance(choices, int) and choices > 1 else 1)


async def complete_chat(call: Call) -> dict:
    """The chat completion from the first deployment that answers."""
    return await call.attempt(lambda deployment: complete_chat_at(call, deployment))


async def open_chat_stream(call: Call) -> ChunkStream:
    """The chunk stream of the first deployment that answers."""
    return await call.attempt(lambda deployment: open_chat_stream_at(call, deployment))


async def complete_chat_at(call: Call, deployment: Deployment) -> dict:
    """One deployment's chat completion (for routes that pick the road per deployment)."""
    return await deployment.backend.complete(call.forward_body(deployment), account_id=call.key.account_id)


async def open_chat_stream_at(call: Call, deployment: Deployment) -> ChunkStream:
    """One deployment's chunk stream."""
    body = call.forward_body(deployment)
    body["stream"] = True
    # Always ask for usage: billing needs it, and every stream we send ends with it.
    body["stream_options"] = {**(call.body.get("stream_options") or {}), "include_usage": True}
    return await deployment.backend.open_stream(body, account_id=call.key.account_id)


async def embed_at(call: Call, deployment: Deployment) -> dict:
    """One deployment's embeddings answer (OpenAI's shape)."""
    # Embedding models route only to backends that embed (local engines, OpenAI-style).
    backend = cast(EmbeddingBackend, deployment.backend)
    return await backend.embed(call.forward_body(deployment), account_id=call.key.account_id)


async def settle_tokens(
    call: Call,
    usage: dict,
    answer: dict | None = None,
    *,
    note: str | None = None,
    entry_id: str | None = None,
) -> int:
    """Charge an OpenAI-shaped usage object (as a backend reported it, or estimated); `answer`
    carries what an upstream that bills in credits charged, where it says."""
    used = Used.from_usage(usage)
    return await call.settle(used, upstream_credits=upstream_credits(answer), note=note, entry_id=entry_id)


def estimated_usage(call: Call, completion_tokens: int) -> dict:
    """Usage for an answer that reported none (the backend ignored stream_options, or the client
    left): the prompt at four bytes a token."""
    log.info("request %s: no usage from the backend, billing an estimate", call.request_id)
    prompt = math.ceil(call.body_size / 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
