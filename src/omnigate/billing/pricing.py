"""From list prices (USD) and token counts to credits. 1 USD = 2,000,000 credits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from omnigate.catalog.loader import Price

CREDITS_PER_USD = 2_000_000


@dataclass(frozen=True, slots=True)
class TokenRates:
    """Credits per token; a model without rates is free."""

    input: float
    output: float
    cached_input: float

    @classmethod
    def from_price(cls, price: Price | None) -> TokenRates | None:
        if price is None or (price.input_per_token == 0 and price.output_per_token == 0):
            return None
        cached = price.cached_input_per_token
        return cls(
            input=price.input_per_token * CREDITS_PER_USD,
            output=price.output_per_token * CREDITS_PER_USD,
            cached_input=(cached if cached is not None else price.input_per_token) * CREDITS_PER_USD,
        )

    def worst_case(self, prompt_tokens: int, max_output_tokens: int) -> int:
        return math.ceil(prompt_tokens * self.input + max_output_tokens * self.output)

    def cost(self, usage: dict | None) -> int:
        """Credits for an OpenAI-shaped usage object (cached prompt tokens at their own rate)."""
        if not usage:
            return 0
        prompt = _int(usage.get("prompt_tokens"))
        completion = _int(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details") or {}
        cached = min(_int(details.get("cached_tokens")), prompt)
        return math.ceil(
            (prompt - cached) * self.input + cached * self.cached_input + completion * self.output
        )


def _int(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0
