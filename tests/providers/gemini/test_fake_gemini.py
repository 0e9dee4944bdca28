"""The fake Gemini upstream speaks the real protocol: the official google-genai SDK talks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google import genai
from google.genai import errors, types

from tests.providers.gemini.fake_gemini import THOUGHT, FakeGeminiUpstream
from tests.providers.gemini.sdk_checks import FidelityError, check_request, check_response

# The SDK subclasses aiohttp.ClientSession, which aiohttp 3.14 warns about; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")


@pytest.fixture
async def sdk_fake() -> AsyncIterator[FakeGeminiUpstream]:
    # The SDK itself sends some snake_case names (thinking_config's), which the real API accepts.
    upstream = FakeGeminiUpstream(camel_only=False)
    await upstream.start()
    yield upstream
    await upstream.stop()
    assert upstream.fidelity_errors == []


def sdk(fake: FakeGeminiUpstream, key: str = "g-fake") -> genai.Client:
    options = types.HttpOptions(base_url=fake.base_url, api_version="v1beta")
    return genai.Client(api_key=key, http_options=options)


async def test_sdk_generate_content(sdk_fake: FakeGeminiUpstream) -> None:
    config = types.GenerateContentConfig(
        system_instruction="be brief",
        temperature=0.2,
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=512),
    )
    result = await sdk(sdk_fake).aio.models.generate_content(
        model="gemini-2.5-flash", contents="hello there", config=config
    )
    assert result.text == "echo: hello there"
    parts = result.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == THOUGHT
    assert result.usage_metadata.prompt_token_count == 4  # "hello there" + "be brief"
    assert sdk_fake.paths == ["/v1beta/models/gemini-2.5-flash:generateContent"]
    assert sdk_fake.headers[0]["x-goog-api-key"] == "g-fake"


async def test_sdk_stream(sdk_fake: FakeGeminiUpstream) -> None:
    stream = await sdk(sdk_fake).aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="stream me"
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.text or "" for c in chunks) == "echo: stream me"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert sdk_fake.paths == ["/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"]


async def test_sdk_function_call(sdk_fake: FakeGeminiUpstream) -> None:
    declaration = types.FunctionDeclaration(
        name="get_weather",
        parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}),
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    result = await sdk(sdk_fake).aio.models.generate_content(
        model="gemini-2.5-flash", contents="weather?", config=config
    )
    call = result.function_calls[0]
    assert call.name == "get_weather" and call.args == {"city": "Paris"}


async def test_sdk_sees_googles_errors(sdk_fake: FakeGeminiUpstream) -> None:
    with pytest.raises(errors.ClientError) as bad_key:
        await sdk(sdk_fake, key="wrong").aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert bad_key.value.code == 400 and "API key not valid" in str(bad_key.value.message)
    with pytest.raises(errors.ClientError) as missing:
        await sdk(sdk_fake).aio.models.generate_content(model="no-such-model", contents="x")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    sdk_fake.fail_next = [503]
    client = genai.Client(
        api_key="g-fake",
        http_options=types.HttpOptions(
            base_url=sdk_fake.base_url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(errors.ServerError) as overloaded:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert overloaded.value.code == 503 and overloaded.value.status == "UNAVAILABLE"


def test_checks_reject_unknown_and_snake_case_fields() -> None:
    good = {"candidates": [{"content": {"parts": [{"text": "x"}], "role": "model"}, "index": 0}]}
    check_response(good)
    with pytest.raises(FidelityError, match="rejects"):
        check_response({**good, "bogus": 1})
    with pytest.raises(FidelityError, match="reads it differently"):
        check_response({"responseId": "a", "model_version": "b"})
    with pytest.raises(FidelityError, match="Unknown name"):
        check_request({"contents": [], "generation_config": {}})
    with pytest.raises(FidelityError, match="reads it differently"):
        check_request({"contents": [], "generationConfig": {"max_output_tokens": 5}})
    schema = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "additionalProperties": False}
    tools = [{"functionDeclarations": [{"name": "f", "parameters": schema}]}]
    with pytest.raises(FidelityError, match="additionalProperties"):
        check_request({"contents": [], "tools": tools})
