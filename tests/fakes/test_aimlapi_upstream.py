"""The fake AI/ML API service: its routes, shapes, rule checks, key check and failures."""

from __future__ import annotations

import asyncio
import base64
import io
import struct
import wave
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest
import pytest_asyncio

from omnigate.catalog.loader import Catalog
from tests.catalog.minimal_requests import minimal_request, route_for, upload_fields

from .aimlapi_upstream import (
    AUDIO_SECONDS,
    CREDITS_PER_AUDIO_SECOND,
    CREDITS_PER_CHARACTER,
    CREDITS_PER_FEATURE,
    CREDITS_PER_IMAGE,
    CREDITS_PER_MESH,
    CREDITS_PER_PAGE,
    CREDITS_PER_TOKEN,
    CREDITS_PER_TRACK,
    CREDITS_PER_VIDEO_SECOND,
    EMBEDDING_DIM,
    FAIL_MARK,
    GLB,
    MP3,
    MP4,
    PNG,
    TRANSCRIPT,
    VIDEO_SECONDS,
    WAV,
    FakeAimlapiUpstream,
    UploadedFile,
    tokens_used,
)

pytestmark = pytest.mark.asyncio

KEY = "aiml-fake"
CATALOG = Catalog.load()


@pytest_asyncio.fixture
async def service() -> AsyncIterator[FakeAimlapiUpstream]:
    async with FakeAimlapiUpstream(api_key=KEY) as fake:
        fake.hang_seconds = 5.0
        yield fake


@pytest_asyncio.fixture
async def http(service: FakeAimlapiUpstream) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {KEY}"}
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(service.base_url, headers=headers, timeout=timeout) as session:
        yield session


async def _post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def _fetch(http: aiohttp.ClientSession, url: str) -> tuple[str, bytes]:
    async with http.get(url, headers={"Authorization": ""}) as response:  # files need no key
        assert response.status == 200
        return response.content_type, await response.read()


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnframes() / audio.getframerate()


# ---------------------------------------------------------------------- chat and Responses


async def test_chat_completion(service: FakeAimlapiUpstream, http: aiohttp.ClientSession) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}

    status, answer = await _post(http, "/v1/chat/completions", body)

    assert status == 200
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "gpt-4o"
    assert answer["choices"][0]["message"] == {
        "role": "assistant",
        "content": "echo: hello there",
        "refusal": None,
    }
    usage = answer["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (2, 5)  # "echo: hello there": 17 chars
    assert answer["meta"] == {"usage": {"tokens_used": CREDITS_PER_TOKEN * 7}}
    assert tokens_used("/v1/chat/completions", body) == CREDITS_PER_TOKEN * 7
    recorded = service.requests[0]
    assert (recorded.path, recorded.body, recorded.files) == ("/v1/chat/completions", body, [])
    assert recorded.headers["authorization"] == f"Bearer {KEY}"


async def test_chat_stream_ends_with_usage_and_meta(http: aiohttp.ClientSession) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}

    async with http.post("/chat/completions", json=body) as response:  # without /v1 too
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        raw = (await response.read()).decode()

    events = [e.removeprefix("data: ") for e in raw.strip().split("\n\n")]
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "echo: hi"
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"]["total_tokens"] == 1 + 2
    assert last["meta"] == {"usage": {"tokens_used": CREDITS_PER_TOKEN * 3}}


async def test_openai_sdk_reads_chat_and_embeddings(service: FakeAimlapiUpstream) -> None:
    async with openai.AsyncOpenAI(base_url=service.base_url + "/v1", api_key=KEY, max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello there"}]
        )
        stream = await sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello there"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        vectors = await sdk.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])

    assert completion.choices[0].message.content == text == "echo: hello there"
    assert [len(d.embedding) for d in vectors.data] == [EMBEDDING_DIM, EMBEDDING_DIM]
    assert vectors.usage.total_tokens == 3


async def test_responses_for_a_responses_model_and_a_chat_model(service: FakeAimlapiUpstream) -> None:
    async with openai.AsyncOpenAI(base_url=service.base_url + "/v1", api_key=KEY, max_retries=0) as sdk:
        codex = await sdk.responses.create(model="openai/gpt-5-1-codex", input="hello there")
        chat_model = await sdk.responses.create(
            model="gpt-4o", input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
        )
        async with sdk.responses.stream(model="gpt-4o", input="hello there") as stream:
            streamed = await stream.get_final_response()

    assert codex.output_text == streamed.output_text == "echo: hello there"
    assert chat_model.output_text == "echo: hi"
    assert codex.usage is not None and codex.usage.total_tokens == 2 + 5
    assert (codex.model_extra or {})["meta"] == {"usage": {"tokens_used": CREDITS_PER_TOKEN * 7}}
    assert service.fidelity_errors == []


# ---------------------------------------------------------------------- embeddings


async def test_embeddings_are_deterministic_and_sized(http: aiohttp.ClientSession) -> None:
    body = {"model": "text-embedding-3-large", "input": ["one two", "one two"], "dimensions": 4}

    status, answer = await _post(http, "/v1/embeddings", body)
    _, encoded = await _post(http, "/v1/embeddings", {**body, "encoding_format": "base64"})

    assert status == 200
    assert answer["object"] == "list"
    first, second = (d["embedding"] for d in answer["data"])
    assert first == second and len(first) == 4
    assert [d["index"] for d in answer["data"]] == [0, 1]
    assert answer["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert answer["meta"]["usage"]["tokens_used"] == CREDITS_PER_TOKEN * 4
    packed = base64.b64decode(encoded["data"][0]["embedding"])
    assert list(struct.unpack("<4f", packed)) == pytest.approx(first)


# ---------------------------------------------------------------------- images and 3D


async def test_fal_image_answers_both_shapes_with_real_files(http: aiohttp.ClientSession) -> None:
    body = {"model": "flux/schnell", "prompt": "a red cube", "num_images": 2, "seed": 7}

    status, answer = await _post(http, "/v1/images/generations", body)

    assert status == 200
    assert [d["b64_json"] for d in answer["data"]] == [None, None]
    assert [i["url"] for i in answer["images"]] == [d["url"] for d in answer["data"]]
    assert (answer["seed"], answer["has_nsfw_concepts"]) == (7, [False, False])
    assert "inference" in answer["timings"]
    assert answer["meta"] == {"usage": {"tokens_used": 2 * CREDITS_PER_IMAGE}}
    assert await _fetch(http, answer["data"][0]["url"]) == ("image/png", PNG)


async def test_b64_json_fills_the_image_inline(http: aiohttp.ClientSession) -> None:
    status, answer = await _post(
        http,
        "/v1/images/generations",
        {"model": "dall-e-3", "prompt": "a cat", "response_format": "b64_json"},
    )

    assert status == 200
    assert "images" not in answer  # not a fal model
    [image] = answer["data"]
    assert image["url"] is None
    assert base64.b64decode(image["b64_json"]) == PNG
    assert answer["meta"]["usage"]["tokens_used"] == CREDITS_PER_IMAGE


@pytest.mark.parametrize(("output_format", "magic"), [(None, b"glTF"), ("obj", b"v 0 0 0")])
async def test_triposr_answers_a_mesh(
    http: aiohttp.ClientSession, output_format: str | None, magic: bytes
) -> None:
    body: dict[str, Any] = {"model": "triposr", "image_url": "https://example.com/cat.png"}
    if output_format:
        body["output_format"] = output_format

    status, answer = await _post(http, "/v1/images/generations", body)

    assert status == 200
    assert "data" not in answer
    mesh = answer["model_mesh"]
    _, data = await _fetch(http, mesh["url"])
    assert data.startswith(magic)
    assert mesh["file_size"] == len(data)
    assert mesh["file_name"] == f"model.{output_format or 'glb'}"
    assert answer["meta"] == {"usage": {"tokens_used": CREDITS_PER_MESH}}
    if output_format is None:
        assert data == GLB and int.from_bytes(data[8:12], "little") == len(data)


async def test_image_edit_is_multipart(service: FakeAimlapiUpstream, http: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "openai/gpt-image-1")
    form.add_field("prompt", "make it blue")
    form.add_field("n", "1")
    form.add_field("image[]", PNG, filename="a.png", content_type="image/png")
    form.add_field("image[]", PNG, filename="b.png", content_type="image/png")
    form.add_field("mask", PNG, filename="mask.png", content_type="image/png")

    async with http.post("/v1/images/edits", data=form) as response:
        assert response.status == 200
        answer = await response.json()

    assert len(answer["data"]) == 1 and answer["data"][0]["url"].endswith(".png")
    assert answer["meta"]["usage"]["tokens_used"] == CREDITS_PER_IMAGE
    recorded = service.requests[0]
    assert recorded.body == {"model": "openai/gpt-image-1", "prompt": "make it blue", "n": "1"}
    assert recorded.files == [
        UploadedFile("image", "a.png", "image/png", len(PNG)),
        UploadedFile("image", "b.png", "image/png", len(PNG)),
        UploadedFile("mask", "mask.png", "image/png", len(PNG)),
    ]
    assert service.fidelity_errors == []


async def test_image_edit_form_fields_are_checked_as_typed(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "openai/gpt-image-1")
    form.add_field("prompt", "make it blue")
    form.add_field("n", "2")  # a number to the rules: gpt-image-1 makes one image only
    form.add_field("image", PNG, filename="a.png", content_type="image/png")

    async with http.post("/v1/images/edits", data=form) as response:
        assert response.status == 400
        answer = await response.json()

    assert answer["message"] == "Body validation error! n: Invalid enum value. Expected 1, received 2"
    assert service.fidelity_errors == [f"/v1/images/edits: {answer['message']}"]


async def test_image_edit_needs_a_multipart_image(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "openai/gpt-image-1")
    form.add_field("prompt", "make it blue")
    form.add_field("mask", PNG, filename="mask.png", content_type="image/png")

    async with http.post("/v1/images/edits", data=form) as response:
        no_image = (response.status, (await response.json())["message"])
    as_json = await _post(http, "/v1/images/edits", {"model": "openai/gpt-image-1", "prompt": "x"})

    assert no_image == (400, "Body validation error! image: Required (a file)")
    assert (
        as_json[0] == 400
        and as_json[1]["message"] == "Body validation error! body: Expected a multipart form"
    )
    assert len(service.fidelity_errors) == 2


# ---------------------------------------------------------------------- speech


async def test_tts_answers_a_url_by_default(http: aiohttp.ClientSession) -> None:
    body = {"model": "openai/tts-1", "text": "Hello world", "voice": "alloy"}

    status, answer = await _post(http, "/v1/tts", body)

    assert status == 200
    assert answer["meta"] == {"usage": {"tokens_used": CREDITS_PER_CHARACTER * len("Hello world")}}
    content_type, audio = await _fetch(http, answer["audio"]["url"])
    assert (content_type, audio) == ("audio/wav", WAV)
    assert _wav_seconds(audio) > 0


async def test_qwen_tts_reports_characters(http: aiohttp.ClientSession) -> None:
    status, answer = await _post(
        http, "/tts", {"model": "alibaba/qwen3-tts-flash", "text": "Hi", "voice": "Cherry"}
    )

    assert status == 200
    assert answer["usage"] == {"characters": 2}
    assert answer["audio"]["url"].endswith(".wav")


@pytest.mark.parametrize(
    "body",
    [
        {"model": "#g1_aura-2-helena-en", "text": "Hi"},
        {"model": "elevenlabs/eleven_multilingual_v2", "text": "Hi", "voice": "Rachel"},
        {"model": "minimax/speech-2.6-hd", "text": "Hi"},
        {"model": "microsoft/vibevoice-7b", "script": "Speaker 1: Hi"},
        {"model": "openai/tts-1", "text": "Hi", "voice": "alloy", "stream": True},
    ],
    ids=lambda body: body["model"] + (" stream" if "stream" in body else ""),
)
async def test_tts_answers_audio_bytes(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    async with http.post("/v1/tts", json=body) as response:
        assert response.status == 200
        assert response.content_type == "audio/wav"
        audio = await response.read()

    assert audio == WAV
    assert service.fidelity_errors == []


async def test_stt_deepgram_from_a_url(http: aiohttp.ClientSession) -> None:
    body = {"model": "#g1_whisper-large", "url": "https://example.com/a.wav", "punctuate": True}

    status, answer = await _post(http, "/v1/stt", body)

    assert status == 200
    assert answer["metadata"]["duration"] == AUDIO_SECONDS
    assert answer["results"]["channels"][0]["alternatives"][0]["transcript"] == TRANSCRIPT
    assert answer["meta"] == {"usage": {"tokens_used": CREDITS_PER_AUDIO_SECOND * AUDIO_SECONDS}}


async def test_stt_assemblyai_takes_an_uploaded_file(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "aai/slam-1")
    form.add_field("speaker_labels", "true")  # a boolean to the rules
    form.add_field("audio", WAV, filename="speech.wav", content_type="audio/wav")

    async with http.post("/v1/stt", data=form) as response:
        assert response.status == 200
        answer = await response.json()

    assert (answer["text"], answer["audio_duration"], answer["status"]) == (
        TRANSCRIPT,
        AUDIO_SECONDS,
        "completed",
    )
    assert answer["meta"]["usage"]["tokens_used"] == CREDITS_PER_AUDIO_SECOND * AUDIO_SECONDS
    assert service.requests[0].files == [UploadedFile("audio", "speech.wav", "audio/wav", len(WAV))]
    assert service.fidelity_errors == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # AssemblyAI's rules want the file itself (a multer record), not a URL.
        (
            {"model": "aai/universal", "url": "https://example.com/a.wav"},
            "Body validation error! audio: Required",
        ),
        ({"model": "#g1_nova-2-general"}, "Body validation error! url: Required (or a file in `audio`)"),
    ],
)
async def test_stt_needs_audio(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession, body: dict[str, Any], message: str
) -> None:
    status, answer = await _post(http, "/v1/stt", body)

    assert (status, answer["message"]) == (400, message)
    assert service.fidelity_errors == [f"/v1/stt: {message}"]


# ---------------------------------------------------------------------- OCR and vision


async def test_mistral_ocr(http: aiohttp.ClientSession) -> None:
    document = {"type": "document_url", "document_url": "https://example.com/a.pdf"}
    body = {"model": "mistral/mistral-ocr-latest", "document": document, "pages": [0, 2]}

    status, answer = await _post(http, "/v1/ocr", body)

    assert status == 200
    assert [p["index"] for p in answer["pages"]] == [0, 1]
    assert all(p["markdown"] and p["images"] == [] and p["dimensions"]["dpi"] for p in answer["pages"])
    assert answer["usage_info"]["pages_processed"] == 2
    assert answer["usage_info"]["doc_size_bytes"] > 0
    assert answer["meta"] == {"usage": {"tokens_used": 2 * CREDITS_PER_PAGE}}


async def test_google_ocr(http: aiohttp.ClientSession) -> None:
    body = {
        "model": "google/gc-document-ai",
        "document": "https://example.com/a.pdf",
        "pages": {"type": "range", "start": 2, "end": 4},
    }

    status, answer = await _post(http, "/v1/ocr", body)

    assert status == 200
    assert [p["pageNumber"] for p in answer["document"]["pages"]] == [1, 2, 3]
    assert answer["document"]["text"]
    assert answer["meta"] == {"usage": {"tokens_used": 3 * CREDITS_PER_PAGE}}


async def test_vision_annotates_each_feature(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    body = {
        "image": {"source": {"imageUri": "https://example.com/cat.png"}},
        "features": [{"type": "LABEL_DETECTION", "maxResults": 3}, {"type": "SAFE_SEARCH_DETECTION"}],
    }

    status, answer = await _post(http, "/vision", body)
    v1_status, _ = await _post(http, "/v1/vision", body)  # documented without /v1 only
    bad_status, bad = await _post(http, "/vision", {**body, "features": [{"type": "NOPE"}]})

    assert status == 200
    [found] = answer["responses"]
    assert found["labelAnnotations"][0]["description"] == "cube"
    assert found["safeSearchAnnotation"]["adult"] == "VERY_UNLIKELY"
    assert answer["meta"] == {"usage": {"tokens_used": 2 * CREDITS_PER_FEATURE}}
    assert v1_status == 404
    assert bad_status == 400 and bad["message"].startswith("Body validation error! features[0].type:")
    assert len(service.fidelity_errors) == 1


# ---------------------------------------------------------------------- refusals


async def test_rule_violation_answers_the_service_error(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    status, answer = await _post(
        http, "/v1/images/generations", {"model": "flux/schnell", "prompt": "x", "num_images": 9}
    )

    assert status == 400
    assert (
        answer["message"]
        == "Body validation error! num_images: Number must be less than or equal to 4, received 9"
    )
    assert answer["statusCode"] == 400
    assert answer["path"] == "/v1/images/generations"
    assert set(answer) == {"message", "path", "requestId", "statusCode", "timestamp"}
    assert answer["timestamp"].endswith("Z")
    assert service.fidelity_errors == [f"/v1/images/generations: {answer['message']}"]


async def test_a_model_on_another_types_route_is_refused(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    status, answer = await _post(http, "/v1/chat/completions", {"model": "flux/schnell", "messages": []})

    assert status == 400
    assert "'flux/schnell' is a image model" in answer["message"]
    assert len(service.fidelity_errors) == 1


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no/such-model", "Model 'no/such-model' not found."),
        (
            "mistralai/Mistral-7B-Instruct-v0.1",
            "The model 'mistralai/Mistral-7B-Instruct-v0.1' is no longer available.",
        ),
    ],
)
async def test_unknown_and_retired_models_are_404(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession, model: str, message: str
) -> None:
    status, answer = await _post(http, "/v1/chat/completions", {"model": model, "messages": []})

    assert (status, answer["message"]) == (404, message)
    assert service.fidelity_errors == []  # a model name is the operator's choice, not a body error


async def test_unknown_route(http: aiohttp.ClientSession) -> None:
    status, answer = await _post(http, "/v1/nope", {})

    assert (status, answer["message"], answer["statusCode"]) == (404, "Cannot POST /v1/nope", 404)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", KEY])
async def test_the_key_is_checked(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession(service.base_url) as bare,
        bare.post("/v1/chat/completions", json=body, headers=headers) as response,
    ):
        status, answer = response.status, await response.json()

    assert status == 401
    assert answer["message"].startswith("This request requires a valid API key.")
    # Refused before the body is looked at: nothing is a fidelity error, but it is recorded.
    assert service.fidelity_errors == []
    assert len(service.requests) == 1


async def test_no_key_needed_when_none_is_set() -> None:
    async with (
        FakeAimlapiUpstream(api_key=None) as open_fake,
        aiohttp.ClientSession(open_fake.base_url) as bare,
    ):
        async with bare.post(
            "/v1/tts", json={"model": "openai/tts-1", "text": "Hi", "voice": "alloy"}
        ) as response:
            assert response.status == 200


# ---------------------------------------------------------------------- queued failures


async def test_fail_next_status_then_recovers(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    service.fail_next = [503, 429]
    body = {"model": "openai/tts-1", "text": "Hi", "voice": "alloy"}

    first, second, third = [await _post(http, "/v1/tts", body) for _ in range(3)]

    assert (first[0], first[1]["message"]) == (503, "Service unavailable")
    assert (second[0], second[1]["message"]) == (429, "Too Many Requests")
    assert third[0] == 200
    assert len(service.requests) == 3  # failed attempts are recorded too


async def test_fail_next_hang(service: FakeAimlapiUpstream, http: aiohttp.ClientSession) -> None:
    service.fail_next = ["hang"]
    body = {"model": "text-embedding-3-small", "input": "hi"}

    with pytest.raises(asyncio.TimeoutError):
        async with http.post("/v1/embeddings", json=body, timeout=aiohttp.ClientTimeout(total=0.3)):
            pass


async def test_fail_next_disconnect(service: FakeAimlapiUpstream, http: aiohttp.ClientSession) -> None:
    service.fail_next = ["disconnect"]

    with pytest.raises(aiohttp.ClientError):
        await _post(http, "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"})


async def test_fail_next_midstream_cuts_json_and_streams(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    service.fail_next = ["midstream", "midstream"]
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "a longer question"}]}

    with pytest.raises(aiohttp.ClientPayloadError):
        await _post(http, "/v1/chat/completions", chat)
    async with http.post("/v1/chat/completions", json={**chat, "stream": True}) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


# ---------------------------------------------------------------------- tasks


async def _get(http: aiohttp.ClientSession, path: str, **query: str) -> tuple[int, Any]:
    async with http.get(path, params=query) as response:
        return response.status, await response.json()


async def _poll_three_times(http: aiohttp.ClientSession, path: str, **query: str) -> list[dict[str, Any]]:
    answers = []
    for _ in range(3):
        status, answer = await _get(http, path, **query)
        assert status == 200, answer
        answers.append(answer)
    return answers


async def test_video_task_moves_one_step_per_poll(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    body = {"model": "google/veo-3.1-t2v", "prompt": "a red fox", "duration": 6}

    status, created = await _post(http, "/v2/video/generations", body)
    polls = await _poll_three_times(http, "/v2/video/generations", generation_id=created["id"])
    later = await _get(http, "/v2/video/generations", generation_id=created["id"])

    assert status == 200
    assert set(created) == {"id", "status", "meta"}
    task_uuid, _, model = created["id"].partition(":")
    assert model == "google/veo-3.1-t2v" and len(task_uuid) == 36
    assert created["status"] == "queued"
    assert created["meta"] == {"usage": {"tokens_used": 6 * CREDITS_PER_VIDEO_SECOND}}
    assert tokens_used("/v2/video/generations", body) == 6 * CREDITS_PER_VIDEO_SECOND
    assert [p["status"] for p in polls] == ["queued", "generating", "completed"]
    assert [p["video"] for p in polls[:2]] == [None, None]
    assert all(p["id"] == created["id"] and p["error"] is None and p["meta"] is None for p in polls)
    video = polls[-1]["video"]
    assert video["duration"] == 6
    assert later == (200, polls[-1])  # done stays done, with the same URL
    assert await _fetch(http, video["url"]) == ("video/mp4", MP4)
    assert MP4[4:8] == b"ftyp"
    assert service.tasks[created["id"]].polls == 4
    assert service.fidelity_errors == []


@pytest.mark.parametrize(
    ("model", "extension", "content_type", "data"),
    [
        ("elevenlabs/eleven_music", "mp3", "audio/mpeg", MP3),
        ("google/lyria2", "wav", "audio/wav", WAV),
    ],
)
async def test_music_task_answers_its_audio_file(
    http: aiohttp.ClientSession, model: str, extension: str, content_type: str, data: bytes
) -> None:
    status, created = await _post(http, "/v2/generate/audio", {"model": model, "prompt": "calm piano"})
    polls = await _poll_three_times(http, "/v2/generate/audio", generation_id=created["id"])

    assert status == 200
    assert created["id"].endswith(f":{model}")
    assert created["meta"] == {"usage": {"tokens_used": CREDITS_PER_TRACK}}
    assert [p["status"] for p in polls] == ["queued", "generating", "completed"]
    track = polls[-1]["audio_file"]
    assert (track["content_type"], track["file_name"], track["file_size"]) == (
        content_type,
        f"output.{extension}",
        len(data),
    )
    assert await _fetch(http, track["url"]) == (content_type, data)


async def test_stt_task_from_a_url(service: FakeAimlapiUpstream, http: aiohttp.ClientSession) -> None:
    body = {"model": "#g1_nova-2-general", "url": "https://example.com/a.wav", "smart_format": True}

    async with http.post("/v1/stt/create", json=body) as response:
        status, created = response.status, await response.json()
    polls = await _poll_three_times(http, f"/v1/stt/{created['generation_id']}")
    unversioned = await _get(http, f"/stt/{created['generation_id']}")

    assert status == 201
    assert created["meta"] == {"usage": {"tokens_used": CREDITS_PER_AUDIO_SECOND * AUDIO_SECONDS}}
    assert ":" not in created["generation_id"]
    assert [p["status"] for p in polls] == ["waiting", "active", "completed"]
    assert [p["result"] for p in polls[:2]] == [None, None]
    transcript = polls[-1]["result"]
    assert transcript["metadata"]["duration"] == AUDIO_SECONDS
    assert transcript["results"]["channels"][0]["alternatives"][0]["transcript"] == TRANSCRIPT
    assert "meta" not in transcript  # the charge was on the create answer
    assert unversioned == (200, polls[-1])
    assert service.requests[1].path == f"/v1/stt/{created['generation_id']}"


async def test_stt_task_from_an_upload(service: FakeAimlapiUpstream, http: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "aai/universal")
    form.add_field("audio", WAV, filename="speech.wav", content_type="audio/wav")

    async with http.post("/stt/create", data=form) as response:  # without /v1 too
        status, created = response.status, await response.json()
    polls = await _poll_three_times(http, f"/v1/stt/{created['generation_id']}")

    assert status == 201
    assert polls[-1]["status"] == "completed"
    assert (polls[-1]["result"]["text"], polls[-1]["result"]["audio_duration"]) == (TRANSCRIPT, AUDIO_SECONDS)
    assert service.requests[0].files == [UploadedFile("audio", "speech.wav", "audio/wav", len(WAV))]
    assert service.fidelity_errors == []


async def test_the_fail_mark_ends_each_task_in_error(http: aiohttp.ClientSession) -> None:
    _, video = await _post(http, "/v2/video/generations", {"model": "sora-2-t2v", "prompt": f"{FAIL_MARK} x"})
    _, music = await _post(http, "/v2/generate/audio", {"model": "stable-audio", "prompt": f"x {FAIL_MARK}"})
    form = aiohttp.FormData()
    form.add_field("model", "#g1_whisper-base")
    form.add_field("audio", WAV, filename=f"{FAIL_MARK}.wav", content_type="audio/wav")
    async with http.post("/v1/stt/create", data=form) as response:
        stt = await response.json()

    *_, video_end = await _poll_three_times(http, "/v2/video/generations", generation_id=video["id"])
    *_, music_end = await _poll_three_times(http, "/v2/generate/audio", generation_id=music["id"])
    stt_polls = await _poll_three_times(http, f"/v1/stt/{stt['generation_id']}")

    assert (video_end["status"], video_end["video"]) == ("error", None)
    assert video_end["error"]["detail"][0]["msg"] == "The prompt was flagged by the content filter"
    assert (music_end["status"], music_end["audio_file"]) == ("error", None)
    assert music_end["error"] == {"name": "GenerationError", "message": "The track could not be generated"}
    assert [p["status"] for p in stt_polls] == ["waiting", "active", "error"]
    assert stt_polls[-1]["result"] is None
    assert stt_polls[-1]["error"] == {"message": "The audio could not be decoded"}
    # Charged at creation all the same (the gateway refunds failed tasks).
    assert video["meta"]["usage"]["tokens_used"] > 0 and music["meta"]["usage"]["tokens_used"] > 0


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/v2/video/generations",
            {"model": "google/veo-3.1-t2v", "prompt": "x", "resolution": "4k"},
            400,
            "Body validation error! resolution: Invalid enum value. Expected '720p' | '1080p', received '4k'",
        ),
        (
            "/v2/video/generations",
            {"model": "google/veo-3.1-t2v"},
            400,
            "Body validation error! prompt: Required",
        ),
        (
            "/v2/generate/audio",
            {"model": "elevenlabs/eleven_music", "prompt": "x", "music_length_ms": 500},
            400,
            "Body validation error! music_length_ms: "
            "Number must be greater than or equal to 10000, received 500",
        ),
        (
            "/v2/generate/audio",
            {"model": "google/veo-3.1-t2v", "prompt": "x"},
            400,
            "Body validation error! model: "
            "'google/veo-3.1-t2v' is a video model, not served on /v2/generate/audio",
        ),
        (
            "/v1/stt/create",
            {"model": "#g1_nova-2-general"},
            400,
            "Body validation error! url: Required (or a file in `audio`)",
        ),
        (
            "/v2/video/generations",
            {"model": "no/such-video", "prompt": "x"},
            404,
            "Model 'no/such-video' not found.",
        ),
    ],
)
async def test_task_creates_are_checked(
    service: FakeAimlapiUpstream,
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    answer = await _post(http, path, body)

    assert (answer[0], answer[1]["message"], answer[1]["path"]) == (status, message, path)
    assert service.tasks == {}
    assert service.fidelity_errors == ([f"{path}: {message}"] if status == 400 else [])


async def test_polls_of_tasks_the_fake_never_gave(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    _, video = await _post(http, "/v2/video/generations", {"model": "veo2", "prompt": "x"})

    unknown = await _get(http, "/v2/video/generations", generation_id="nope:veo2")
    wrong_route = await _get(http, "/v2/generate/audio", generation_id=video["id"])
    stt = await _get(http, f"/v1/stt/{video['id']}")
    no_id = await _get(http, "/v2/video/generations")

    assert (unknown[0], unknown[1]["message"]) == (404, "Generation 'nope:veo2' not found.")
    assert set(unknown[1]) == {"message", "path", "requestId", "statusCode", "timestamp"}
    assert wrong_route[0] == stt[0] == 404
    assert (no_id[0], no_id[1]["message"]) == (400, "Body validation error! generation_id: Required")
    assert service.tasks[video["id"]].polls == 0  # none of them moved it


async def test_polls_play_queued_failures_and_check_the_key(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    _, video = await _post(http, "/v2/video/generations", {"model": "veo2", "prompt": "x"})
    service.fail_next = [503]

    failed = await _get(http, "/v2/video/generations", generation_id=video["id"])
    async with (
        aiohttp.ClientSession(service.base_url) as bare,
        bare.get("/v2/video/generations", params={"generation_id": video["id"]}) as response,
    ):
        keyless = response.status
    first = await _get(http, "/v2/video/generations", generation_id=video["id"])

    assert (failed[0], failed[1]["message"]) == (503, "Service unavailable")
    assert keyless == 401
    assert first[1]["status"] == "queued"  # neither refused poll moved the task on
    assert [r.body for r in service.requests[1:]] == [{"generation_id": video["id"]}] * 3


async def test_video_seconds_come_from_the_duration() -> None:
    path = "/v2/video/generations"

    assert tokens_used(path, {"duration": 10}) == 10 * CREDITS_PER_VIDEO_SECOND
    assert tokens_used(path, {"duration": "5s"}) == 5 * CREDITS_PER_VIDEO_SECOND  # Luma's text
    assert tokens_used(path, {"duration": "10"}) == 10 * CREDITS_PER_VIDEO_SECOND
    assert (
        tokens_used(path, {})
        == tokens_used(path, {"duration": "long"})
        == VIDEO_SECONDS * CREDITS_PER_VIDEO_SECOND
    )


# ---------------------------------------------------------------------- catalogue-wide


async def test_every_synchronous_model_answers_its_minimal_request(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    """Each model the fake serves accepts the body tests/catalog builds for it, and bills it."""
    served = [m for m in CATALOG.models if route_for(m) is not None]
    assert len(served) > 250
    for model in served:
        path = route_for(model)
        assert path is not None
        body = minimal_request(model)
        uploads = upload_fields(model)
        if uploads:
            form = aiohttp.FormData()
            for name, value in body.items():
                if name not in uploads:
                    form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
            for name in uploads:
                form.add_field(name, WAV, filename="speech.wav", content_type="audio/wav")
            request = http.post(path, data=form)
        else:
            request = http.post(path, json=body)
        async with request as response:
            assert response.status == 200, (model.id, await response.text())
            if response.content_type == "audio/wav":
                assert model.type == "tts"
                continue
            answer = await response.json()
        assert answer["meta"]["usage"]["tokens_used"] > 0, model.id
    assert service.fidelity_errors == []


async def test_every_task_model_runs_its_minimal_request(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    """Each video and music model's smallest body makes a task that completes on its third poll."""
    routes = {"video": ("/v2/video/generations", "video"), "audio": ("/v2/generate/audio", "audio_file")}
    models = [m for m in CATALOG.models if m.type in routes]
    assert len(models) > 70
    for model in models:
        path, key = routes[model.type]
        status, created = await _post(http, path, minimal_request(model))
        assert status == 200, (model.id, created)
        assert created["meta"]["usage"]["tokens_used"] > 0, model.id
        *_, done = await _poll_three_times(http, path, generation_id=created["id"])
        assert done["status"] == "completed" and done[key]["url"], model.id
    assert service.fidelity_errors == []


async def test_every_stt_model_runs_as_a_task(
    service: FakeAimlapiUpstream, http: aiohttp.ClientSession
) -> None:
    for model in [m for m in CATALOG.models if m.type == "stt"]:
        body = minimal_request(model)
        uploads = upload_fields(model)
        # AssemblyAI's models take the file itself (multipart); the others a JSON `url`.
        form: aiohttp.FormData | None = None
        if uploads:
            form = aiohttp.FormData()
            for name, value in body.items():
                if name not in uploads:
                    form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
            for name in uploads:
                form.add_field(name, WAV, filename="speech.wav", content_type="audio/wav")
        async with (
            http.post("/v1/stt/create", data=form)
            if form is not None
            else http.post("/v1/stt/create", json=body)
        ) as response:
            assert response.status == 201, (model.id, await response.text())
            created = await response.json()
        *_, done = await _poll_three_times(http, f"/v1/stt/{created['generation_id']}")
        assert done["status"] == "completed", model.id
    assert service.fidelity_errors == []
