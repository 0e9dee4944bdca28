"""From list prices (USD) and what a request used to credits. 1 USD = 2,000,000 credits.

A model is priced by the units its family is sold in: tokens (chat, embeddings, some image and
speech models), images, seconds of audio (speech-to-text input, text-to-speech output), characters
of text to speak, pages read, or a flat price per request. `Used` carries every unit; a `Tariff`
charges those it has a price for. The same formula gives the worst case reserved before a call
(on an estimate) and the cost settled after it (on what the answer reports).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omnigate.catalog.loader import Price

CREDITS_PER_USD = 2_000_000


@dataclass(frozen=True, slots=True)
class Used:
    """What one request used (or, before the call, may use at most), in every unit priced."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # part of prompt_tokens, read from a cache
    images: int = 0
    seconds: float = 0.0
    characters: int = 0
    pages: int = 0
    requests: int = 1

    @classmethod
    def from_usage(cls, usage: dict | None) -> Used:
        """The tokens of an OpenAI-shaped usage object (chat, embeddings, images)."""
        if not usage:
            return cls()
        prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        return cls(
            prompt_tokens=prompt,
            completion_tokens=_count(usage.get("completion_tokens", usage.get("output_tokens"))),
            cached_tokens=min(_count(details.get("cached_tokens")), prompt),
        )


@dataclass(frozen=True, slots=True)
class Tariff:
    """Credits per unit for one model; a unit without a price costs nothing."""

    input_token: float = 0.0
    output_token: float = 0.0
    cached_token: float = 0.0
    image: float = 0.0
    second: float = 0.0
    character: float = 0.0
    page: float = 0.0
    request: float = 0.0

    @classmethod
    def from_price(cls, price: Price | None) -> Tariff | None:
        """The tariff of a list (or operator) price; None when the model is free."""
        if price is None:
            return None
        usd = cls(
            input_token=price.input_per_token,
            output_token=price.output_per_token,
            cached_token=(
                price.cached_input_per_token
                if price.cached_input_per_token is not None
                else price.input_per_token
            ),
            # Price maps put an image model's price on either side; a generated image is what is sold.
            image=price.output_per_image or price.input_per_image or 0.0,
            second=price.output_per_second or price.input_per_second or 0.0,
            character=price.input_per_character or 0.0,
            page=price.per_page or 0.0,
            request=price.per_request or 0.0,
        )
        if not any(
            (usd.input_token, usd.output_token, usd.image, usd.second, usd.character, usd.page, usd.request)
        ):
            return None
        return cls(*(value * CREDITS_PER_USD for value in _values(usd)))

    def cost(self, used: Used) -> int:
        """Credits for `used`, rounded up."""
        cached = min(used.cached_tokens, used.prompt_tokens)
        return math.ceil(
            (used.prompt_tokens - cached) * self.input_token
            + cached * self.cached_token
            + used.completion_tokens * self.output_token
            + used.images * self.image
            + used.seconds * self.second
            + used.characters * self.character
            + used.pages * self.page
            + used.requests * self.request
        )


def upstream_credits(answer: dict | None) -> int | None:
    """What an upstream that bills in credits charged, as the service reports it on an answer
    (`meta.usage.tokens_used`, later `credits_used`)."""
    meta = answer.get("meta") if isinstance(answer, dict) else None
    usage = meta.get("usage") if isinstance(meta, dict) else None
    if not isinstance(usage, dict):
        return None
    for name in ("credits_used", "tokens_used"):
        value = usage.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return math.ceil(value)
    return None


def _values(tariff: Tariff) -> tuple[float, ...]:
    return (
        tariff.input_token,
        tariff.output_token,
        tariff.cached_token,
        tariff.image,
        tariff.second,
        tariff.character,
        tariff.page,
        tariff.request,
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
