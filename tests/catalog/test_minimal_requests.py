"""`minimal_request` gives every catalogue model a body its own rules accept."""

from __future__ import annotations

from typing import Any

import pytest

from omnigate.catalog.loader import Catalog, Model

from .minimal_requests import (
    AUDIO_URL,
    CHAT_MESSAGES,
    IMAGE_URL,
    ROUTE_BY_TYPE,
    STT_URL,
    TASK_TYPES,
    TEXT,
    VIDEO_URL,
    minimal_request,
    route_for,
    upload_fields,
)

CATALOG = Catalog.load()


@pytest.mark.parametrize("model", CATALOG.models, ids=lambda m: m.id)
def test_every_model_accepts_its_minimal_request(model: Model) -> None:
    body = minimal_request(model)

    model.validate(body)  # raises RuleViolation when a rule is broken
    assert body["model"] == model.id


def test_the_catalogue_is_covered() -> None:
    # All 386 active models take part, and each has a route or is a /v2 task type.
    assert len(CATALOG.models) == 386
    assert {m.type for m in CATALOG.models} <= set(ROUTE_BY_TYPE) | TASK_TYPES


def _model(rules: dict[str, Any] | None, type_: str = "image") -> Model:
    return Model(id="test/model", type=type_, name="Test", developer="Test", rules=rules)


def _required(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": ["model", *properties]}


def test_only_required_fields_are_filled() -> None:
    rules = _required(prompt={"type": "string"})
    rules["properties"]["seed"] = {"type": "integer", "minimum": 1}

    assert minimal_request(_model(rules)) == {"model": "test/model", "prompt": TEXT}


def test_string_lengths_are_honoured() -> None:
    rules = _required(lyrics={"type": "string", "minLength": 25}, tag={"type": "string", "maxLength": 3})

    body = minimal_request(_model(rules))

    assert len(body["lyrics"]) >= 25
    assert body["tag"] == TEXT[:3]


def test_numbers_take_the_minimum_or_a_small_valid_value() -> None:
    rules = _required(
        steps={"type": "integer", "minimum": 4, "maximum": 50},
        ratio={"type": "number", "minimum": 0.5, "maximum": 1},
        half={"type": "integer", "minimum": 0.5},
        small={"type": "number", "maximum": 0.25},
        free={"type": "integer"},
    )

    body = minimal_request(_model(rules))

    assert (body["steps"], body["ratio"], body["half"], body["small"], body["free"]) == (4, 0.5, 1, 0.25, 1)


def test_enums_unions_and_nesting() -> None:
    rules = _required(
        size={"type": "string", "enum": ["square_hd", "square"]},
        pages={"anyOf": [{"nullable": True}, {"type": "array", "items": {"type": "integer"}}]},
        document={
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["document_url"]},
                        "document_url": {"type": "string"},
                    },
                    "required": ["type", "document_url"],
                }
            ]
        },
        image_urls={"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
        reference={
            "type": "object",
            "properties": {"type": {"type": "string", "enum": ["video"]}, "url": {"type": "string"}},
            "required": ["type", "url"],
        },
        flag={"type": "boolean"},
    )

    body = minimal_request(_model(rules))

    assert body["size"] == "square_hd"
    assert body["pages"] == [1]  # the null-only branch is skipped
    assert body["document"] == {"type": "document_url", "document_url": "https://example.com/paper.pdf"}
    assert body["image_urls"] == [IMAGE_URL, IMAGE_URL]
    assert body["reference"] == {"type": "video", "url": VIDEO_URL}
    assert body["flag"] is False


def test_all_of_parts_are_merged() -> None:
    rules = {
        "allOf": [
            {"type": "object", "properties": {"lyrics": {"type": "string"}}, "required": ["lyrics", "model"]},
            {"type": "object", "properties": {"voice_url": {"type": "string"}}, "required": ["voice_url"]},
        ]
    }

    assert minimal_request(_model(rules, "audio")) == {
        "model": "test/model",
        "lyrics": TEXT,
        "voice_url": AUDIO_URL,
    }


def test_chat_embedding_and_responses_inputs() -> None:
    chat = minimal_request(CATALOG.lookup("gpt-4o") or pytest.fail("gpt-4o missing"))
    embedding = minimal_request(CATALOG.lookup("text-embedding-3-small") or pytest.fail("missing"))
    responses = minimal_request(CATALOG.lookup("openai/gpt-5-1-codex") or pytest.fail("missing"))

    assert chat == {"model": "gpt-4o", "messages": list(CHAT_MESSAGES)}
    assert embedding == {"model": "text-embedding-3-small", "input": "hello"}
    assert responses == {"model": "openai/gpt-5-1-codex", "input": "hello"}


def test_speech_models_get_something_to_work_on() -> None:
    deepgram = CATALOG.lookup("#g1_nova-2-general")
    assemblyai = CATALOG.lookup("aai/slam-1")
    no_rules = CATALOG.lookup("#g1_aura-2-draco-en")
    assert deepgram and assemblyai and no_rules

    # Deepgram's rules name no audio source: the legacy route reads a `url`.
    assert minimal_request(deepgram) == {"model": "#g1_nova-2-general", "url": STT_URL}
    assert upload_fields(deepgram) == ()
    # AssemblyAI's rules want an uploaded file, described as multer describes one.
    assert upload_fields(assemblyai) == ("audio",)
    assert minimal_request(assemblyai)["audio"]["mimetype"] == "audio/wav"
    # A TTS model the catalogue gives no rule set still says something.
    assert no_rules.rules is None
    assert minimal_request(no_rules) == {"model": "#g1_aura-2-draco-en", "text": TEXT}


@pytest.mark.parametrize(
    ("model_id", "route"),
    [
        ("gpt-4o", "/v1/chat/completions"),
        ("openai/gpt-5-1-codex", "/v1/responses"),
        ("text-embedding-3-small", "/v1/embeddings"),
        ("flux/schnell", "/v1/images/generations"),
        ("triposr", "/v1/images/generations"),
        ("openai/tts-1", "/v1/tts"),
        ("#g1_whisper-tiny", "/v1/stt"),
        ("mistral/mistral-ocr-latest", "/v1/ocr"),
        ("google/veo-3.1-t2v", None),
        ("elevenlabs/eleven_music", None),
    ],
)
def test_route_for(model_id: str, route: str | None) -> None:
    model = CATALOG.lookup(model_id)
    assert model is not None
    assert route_for(model) == route
