"""USD list prices to credits (1 USD = 2,000,000 credits), in every unit a model is sold by."""

from __future__ import annotations

from omnigate.billing.pricing import Tariff, Used
from omnigate.catalog.loader import Price


def test_token_prices_convert_usd_to_credits() -> None:
    tariff = Tariff.from_price(
        Price(input_per_token=2.5e-6, output_per_token=1e-5, cached_input_per_token=1.25e-6)
    )
    assert tariff is not None
    assert (tariff.input_token, tariff.output_token, tariff.cached_token) == (5.0, 20.0, 2.5)


def test_cost_counts_cached_prompt_tokens_at_their_rate_and_rounds_up() -> None:
    tariff = Tariff(input_token=5.0, output_token=20.0, cached_token=2.5)
    usage = {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}
    assert tariff.cost(Used.from_usage(usage)) == 6 * 5 + 4 * 2.5 + 3 * 20
    assert Tariff(input_token=0.04).cost(Used(prompt_tokens=1)) == 1


def test_media_units_are_charged_by_their_own_prices() -> None:
    tariff = Tariff.from_price(Price(output_per_image=0.04, input_per_character=1.5e-5))
    assert tariff is not None
    assert tariff.cost(Used(images=2)) == 160_000
    assert tariff.cost(Used(characters=100)) == 3_000
    seconds = Tariff.from_price(Price(input_per_second=0.0001))
    assert seconds is not None and seconds.cost(Used(seconds=60)) == 12_000
    flat = Tariff.from_price(Price(per_request=0.01, per_page=0.001))
    assert flat is not None and flat.cost(Used(pages=3)) == 20_000 + 6_000


def test_unpriced_and_zero_priced_models_are_free() -> None:
    assert Tariff.from_price(None) is None
    assert Tariff.from_price(Price()) is None


def test_garbage_usage_counts_nothing() -> None:
    tariff = Tariff(input_token=2.0, output_token=4.0)
    assert tariff.cost(Used.from_usage(None)) == 0
    assert tariff.cost(Used.from_usage({"prompt_tokens": "many", "completion_tokens": -5})) == 0
    # OpenAI's image answers count input_tokens / output_tokens.
    assert tariff.cost(Used.from_usage({"input_tokens": 10, "output_tokens": 1})) == 24
