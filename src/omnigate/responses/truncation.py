"""The Responses `truncation` setting: what to do when the conversation outgrows the context.

`disabled` (OpenAI's default) refuses such a request; `auto` drops the oldest whole turns in the
middle of the conversation, keeping the leading system messages and the last user turn.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from omnigate.responses.items import TranslationError

MODES = ("auto", "disabled")


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A rough prompt size: UTF-8 bytes of the messages' JSON / 4, rounded up. No tokenizer knows
    every catalogue model, and about four bytes a token is the usual rule for English text."""
    return math.ceil(len(orjson.dumps(messages)) / 4)


def fit(messages: list[dict[str, Any]], context_length: int | None, mode: object) -> list[dict[str, Any]]:
    """The messages to send, under `mode`; raises TranslationError when they cannot fit."""
    if mode is None:
        mode = "disabled"
    if mode not in MODES:
        raise TranslationError("truncation: Expected auto or disabled", "truncation")
    if not context_length:
        return messages  # a model without a known window: nothing to check against
    estimate = estimate_tokens(messages)
    if estimate <= context_length:
        return messages
    if mode == "disabled":
        raise TranslationError(
            f"The input is estimated at {estimate} tokens, more than this model's context window of "
            f"{context_length} tokens. Shorten the input, or set truncation to 'auto' to drop the "
            "earliest turns of the conversation.",
            "truncation",
        )
    head, turns, tail = _split(messages)
    while turns:
        turns.pop(0)
        kept = head + [m for turn in turns for m in turn] + tail
        estimate = estimate_tokens(kept)
        if estimate <= context_length:
            return kept
    raise TranslationError(
        f"The input is estimated at {estimate} tokens even with truncation 'auto' keeping only the "
        f"instructions and the last user turn, more than this model's context window of "
        f"{context_length} tokens.",
        "truncation",
    )


def _split(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """(leading system messages, the earlier turns, the last user turn onwards).

    A turn starts at a user message and runs to the next one, so an assistant's tool calls and
    the tool messages answering them always fall in the same turn and are dropped together.
    """
    start = 0
    while start < len(messages) and messages[start].get("role") == "system":
        start += 1
    users = [i for i in range(start, len(messages)) if messages[i].get("role") == "user"]
    # Without a user message, everything after the instructions is the current turn.
    last = users[-1] if users else start
    turns: list[list[dict[str, Any]]] = []
    for message in messages[start:last]:
        if not turns or message.get("role") == "user":
            turns.append([])
        turns[-1].append(message)
    return messages[:start], turns, messages[last:]
