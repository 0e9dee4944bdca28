"""USD list prices to credits (1 USD = 2,000,000 credits)."""

from __future__ import annotations

from omnigate.billing.pricing import TokenRates
from omnigate.catalog.loader import Price


def test_rates_convert_usd_to_credits() -> None:
    rates = TokenRates.from_price(
        Price(input_per_token=2.5e-6, output_per_token=1e-5, cached_input_per_token=1.25e-6)
    )
    assert rates is not None
    assert (rates.input, rates.output, rates.cached_input) == (5.0, 20.0, 2.5)


def test_cost_counts_cached_prompt_tokens_at_their_rate_and_rounds_up() -> None:
    rates = TokenRates(input=5.0, output=20.0, cached_input=2.5)
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    assert rates.cost(usage) == 6 * 5 + 4 * 2.5 + 3 * 20
    assert TokenRates(input=0.04, output=0.0, cached_input=0.04).cost({"prompt_tokens": 1}) == 1


def test_unpriced_and_zero_priced_models_are_free() -> None:
    assert TokenRates.from_price(None) is None
    assert TokenRates.from_price(Price()) is None


def test_worst_case_and_garbage_usage() -> None:
    rates = TokenRates(input=2.0, output=4.0, cached_input=2.0)
    assert rates.worst_case(100, 10) == 240
    assert rates.cost(None) == 0
    assert rates.cost({"prompt_tokens": "many", "completion_tokens": -5}) == 0
