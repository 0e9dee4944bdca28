"""The `truncation` setting: refuse (disabled) or drop the earliest whole turns (auto)."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from omnigate.responses.items import TranslationError
from omnigate.responses.truncation import estimate_tokens, fit

SYSTEM = {"role": "system", "content": "Be brief."}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def call(call_id: str) -> dict[str, Any]:
    function = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def output(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "sunny " * 20}


CONVERSATION = [
    SYSTEM,
    user("first " * 30),
    assistant("answer one " * 10),
    user("second " * 30),
    call("call_1"),
    output("call_1"),
    assistant("it is sunny"),
    user("third " * 30),
    assistant("answer three"),
    user("last question"),
]


def test_estimate_is_utf8_json_bytes_over_four_rounded_up() -> None:
    messages = [user("héllo")]
    assert estimate_tokens(messages) == math.ceil(len(orjson.dumps(messages)) / 4)
    assert len(orjson.dumps(messages)) > len(orjson.dumps(messages).decode())  # é is two bytes


@pytest.mark.parametrize("mode", ["auto", "disabled", None])
def test_messages_that_fit_are_untouched(mode: str | None) -> None:
    assert fit(CONVERSATION, estimate_tokens(CONVERSATION), mode) == CONVERSATION


@pytest.mark.parametrize("mode", ["auto", "disabled"])
def test_unknown_context_length_skips_the_check(mode: str) -> None:
    assert fit(CONVERSATION, None, mode) == CONVERSATION


def test_disabled_refuses_with_the_numbers() -> None:
    limit = estimate_tokens(CONVERSATION) - 1
    with pytest.raises(TranslationError) as caught:
        fit(CONVERSATION, limit, "disabled")
    assert caught.value.param == "truncation"
    message = str(caught.value)
    assert "truncation" in message and str(limit) in message
    assert str(estimate_tokens(CONVERSATION)) in message


def test_disabled_is_the_default() -> None:
    with pytest.raises(TranslationError):
        fit(CONVERSATION, 10, None)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(TranslationError, match="truncation"):
        fit(CONVERSATION, 10_000, "sometimes")


def test_auto_drops_the_oldest_turn_first() -> None:
    kept = fit(CONVERSATION, estimate_tokens(CONVERSATION) - 1, "auto")
    assert kept == [SYSTEM, *CONVERSATION[3:]]


def test_auto_keeps_a_tool_call_with_its_output() -> None:
    for limit in range(estimate_tokens([SYSTEM, *CONVERSATION[-2:]]), estimate_tokens(CONVERSATION)):
        kept = fit(CONVERSATION, limit, "auto")
        assert estimate_tokens(kept) <= limit
        assert kept[0] == SYSTEM and kept[-1] == CONVERSATION[-1]
        assert (call("call_1") in kept) == (output("call_1") in kept)


def test_auto_can_drop_every_earlier_turn() -> None:
    tight = estimate_tokens([SYSTEM, user("last question")])
    assert fit(CONVERSATION, tight, "auto") == [SYSTEM, user("last question")]


def test_auto_keeps_the_current_turn_with_its_tool_outputs() -> None:
    # This turn answers a tool call: the call, its output and the asking user message stay.
    messages = [SYSTEM, user("old " * 50), assistant("ok"), user("weather?"), call("c"), output("c")]
    kept = fit(messages, estimate_tokens(messages) - 1, "auto")
    assert kept == [SYSTEM, user("weather?"), call("c"), output("c")]


def test_auto_refuses_when_even_the_last_turn_is_too_big() -> None:
    with pytest.raises(TranslationError, match="context window of 5 tokens"):
        fit(CONVERSATION, 5, "auto")
