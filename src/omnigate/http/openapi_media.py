"""The OpenAPI schemas of the media routes: images, speech, transcription, OCR, and the
asynchronous generations (video, music, speech-to-text tasks).

Only the fields every model of a family shares are described; each model's own rules (from the
catalogue) add and narrow the rest, and a request they refuse gets a 400 naming the field.
"""

from __future__ import annotations

from omnigate.http.openapi_requests import Schema, enum, obj, ref

_BINARY: Schema = {"type": "string", "format": "binary"}
_URL: Schema = {"type": "string", "maxLength": 2048}
_SMALL_COUNT: Schema = {"type": "integer", "minimum": 1, "maximum": 4}

IMAGE_REQUEST = obj(
    {
        "model": ref("ImageModel"),
        "prompt": {"type": "string", "maxLength": 4000},
        "n": _SMALL_COUNT,
        "num_images": _SMALL_COUNT,
        "size": {"type": "string"},
        "response_format": enum("url", "b64_json"),
        "seed": {"type": "integer", "minimum": 1},
        "image_url": _URL,
    },
    ("model",),
)
IMAGE_EDIT_FORM = obj(
    {
        "model": ref("ImageModel"),
        "prompt": {"type": "string", "maxLength": 4000},
        "image": _BINARY,
        "mask": _BINARY,
        "n": _SMALL_COUNT,
        "size": {"type": "string"},
        "response_format": enum("url", "b64_json"),
    },
    ("model", "prompt", "image"),
)
TTS_REQUEST = obj(
    {
        "model": ref("TtsModel"),
        "text": {"type": "string", "minLength": 1, "maxLength": 4096},
        "voice": {"type": "string"},
        "stream": {"type": "boolean"},
    },
    ("model", "text"),
)
SPEECH_REQUEST = obj(
    {
        "model": ref("TtsModel"),
        "input": {"type": "string", "minLength": 1, "maxLength": 4096},
        "voice": {"type": "string"},
        "response_format": enum("mp3", "opus", "aac", "flac", "wav", "pcm"),
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4},
    },
    ("model", "input"),
)
STT_REQUEST = obj({"model": ref("SttModel"), "url": _URL}, ("model", "url"))
TRANSCRIPTION_FORM = obj(
    {
        "model": ref("SttModel"),
        "file": _BINARY,
        "language": {"type": "string"},
        "prompt": {"type": "string"},
        "response_format": enum("json", "text", "verbose_json", "srt", "vtt"),
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    },
    ("model", "file"),
)
OCR_REQUEST = obj(
    {
        "model": ref("DocumentModel"),
        "document": {"anyOf": [_URL, obj({"type": {"type": "string"}}, ("type",))]},
        "pages": {
            "anyOf": [{"type": "array", "items": {"type": "integer", "minimum": 0}}, {"type": "object"}]
        },
    },
    ("document",),
)

VISION_REQUEST = obj(
    {
        "image": obj({"source": obj({"imageUri": _URL}), "content": {"type": "string"}}),
        "features": {"type": "array", "minItems": 1, "items": obj({"type": {"type": "string"}}, ("type",))},
    },
    ("image", "features"),
)

# Asynchronous generations (api/tasks.py): a model and its own fields, which its rules check.
VIDEO_REQUEST = obj({"model": ref("VideoModel"), "prompt": {"type": "string", "maxLength": 4000}}, ("model",))
MUSIC_REQUEST = obj({"model": ref("MusicModel"), "prompt": {"type": "string", "maxLength": 4000}}, ("model",))
STT_TASK_REQUEST = obj({"model": ref("SttModel"), "url": _URL}, ("model",))
_STATUS = enum("queued", "generating", "completed", "error")
_TASK_ERROR: Schema = {**obj({"name": {"type": "string"}, "message": {"type": "string"}}), "nullable": True}
_FILE: Schema = {**obj({"url": {"type": "string"}}), "nullable": True}

_META = obj({"usage": obj({"tokens_used": {"type": "integer"}})})
MEDIA_COMPONENTS: dict[str, Schema] = {
    "ImageRequest": IMAGE_REQUEST,
    "ImageEditForm": IMAGE_EDIT_FORM,
    "TtsRequest": TTS_REQUEST,
    "SpeechRequest": SPEECH_REQUEST,
    "SttRequest": STT_REQUEST,
    "TranscriptionForm": TRANSCRIPTION_FORM,
    "OcrRequest": OCR_REQUEST,
    "VisionRequest": VISION_REQUEST,
    "VideoRequest": VIDEO_REQUEST,
    "MusicRequest": MUSIC_REQUEST,
    "SttTaskRequest": STT_TASK_REQUEST,
    "TaskCreated": obj({"id": {"type": "string"}, "status": _STATUS, "meta": _META}, ("id", "status")),
    "VideoTask": obj(
        {"id": {"type": "string"}, "status": _STATUS, "video": _FILE, "error": _TASK_ERROR, "meta": _META},
        ("id", "status"),
    ),
    "MusicTask": obj(
        {
            "id": {"type": "string"},
            "status": _STATUS,
            "audio_file": _FILE,
            "error": _TASK_ERROR,
            "meta": _META,
        },
        ("id", "status"),
    ),
    "MinimaxUploadForm": obj(
        {"model": enum("music-01"), "file": _BINARY, "purpose": enum("song", "voice", "instrumental")},
        ("file", "purpose"),
    ),
    "MinimaxUpload": obj(
        {
            "voice_id": {"type": "string"},
            "instrumental_id": {"type": "string"},
            "base_resp": {"type": "object"},
        }
    ),
    "MinimaxSongRequest": obj(
        {
            "model": enum("music-01"),
            "refer_voice": {"type": "string"},
            "refer_instrumental": {"type": "string"},
            "lyrics": {"type": "string", "minLength": 1, "maxLength": 3000},
        },
        ("model", "lyrics"),
    ),
    "MinimaxSong": obj(
        {"data": obj({"audio": {"type": "string"}}), "extra_info": {"type": "object"}, "meta": _META}
    ),
    "SttCreated": obj({"generation_id": {"type": "string"}}, ("generation_id",)),
    "SttTask": obj(
        {
            "id": {"type": "string"},
            "status": _STATUS,
            "result": {"type": "object", "nullable": True},
            "error": _TASK_ERROR,
        },
        ("status",),
    ),
    "Images": obj(
        {
            "data": {"type": "array", "items": obj({"url": {"type": "string", "nullable": True}})},
            "model_mesh": {"type": "object"},
            "meta": _META,
        }
    ),
    "Speech": obj({"audio": obj({"url": {"type": "string"}}), "meta": _META}),
    "Audio": _BINARY,
    "Transcript": obj({"results": {"type": "object"}, "text": {"type": "string"}, "meta": _META}),
    "Transcription": obj({"text": {"type": "string"}}, ("text",)),
    "Vision": obj({"responses": {"type": "array", "items": {"type": "object"}}, "meta": _META}),
    "Document": obj({"pages": {"type": "array", "items": {"type": "object"}}, "meta": _META}),
}
