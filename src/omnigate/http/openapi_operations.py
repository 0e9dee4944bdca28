"""The table of the gateway's HTTP surface for GET /openapi.json (http/openapi.py renders it):
each route is one `Operation`: what it is for, the key it needs, its body, its answer and the
errors it may answer with. Routes are listed with the /v1 prefix; each also answers without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from omnigate.api.tasks import VIDEO_ALIASES, VIDEO_VENDORS
from omnigate.http.openapi_assistants import ASSISTANT_ROUTES, page_parameters
from omnigate.http.openapi_requests import Schema
from omnigate.http.openapi_search import SEARCH_ANSWERS
from omnigate.http.openapi_usage import USAGE_ROUTES

Auth = Literal["none", "key", "admin", "anthropic"]

# The errors each kind of route can answer with, beyond those of its key (http/openapi.py adds those).
BODY_ERRORS = (400, 404, 409, 413)
MODEL_CALL_ERRORS = (400, 403, 404, 413, 429, 502, 503, 504)
STORED_ERRORS = (400, 404)
# What api/admin.py accepts as an Idempotency-Key (another answers 400).
IDEMPOTENCY_KEY: Schema = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str
    auth: Auth
    answer: str  # the component schema of the success body
    body: str | None = None  # the component schema of the request body
    status: int = 200
    streams: bool = False  # with `stream: true` the answer is server-sent events
    errors: tuple[int, ...] = ()
    parameters: tuple[Schema, ...] = ()  # beyond the path's own
    form: bool = False  # the body is multipart/form-data (files), not JSON
    answer_type: str = "application/json"  # audio routes answer audio
    # Other bodies the same status may carry: (content type, component schema).
    also: tuple[tuple[str, str], ...] = ()
    # Other statuses answered with the success body's schema (a readiness check's 503).
    same_body: tuple[int, ...] = ()


def _optional(where: str, name: str, schema: Schema) -> Schema:
    return {"name": name, "in": where, "required": False, "schema": schema}


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/openapi.json"): Operation("This document", "meta", "none", "OpenAPI"),
    ("GET", "/health"): Operation("The process is alive (liveness)", "operations", "none", "Health"),
    ("GET", "/ready"): Operation(
        "Database, Redis (when configured) and routes are ready; 503 names what is not",
        "operations",
        "none",
        "Readiness",
        same_body=(503,),
    ),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics of every worker", "operations", "none", "MetricsText", answer_type="text/plain"
    ),
    ("GET", "/models"): Operation("Models, in the service's own shape", "models", "none", "ModelList"),
    ("GET", "/v1/models"): Operation("Models, also as OpenAI Model objects", "models", "none", "ModelList"),
    ("GET", "/model/{id}"): Operation(
        "One model with its parameter rules, price (USD) and whether this gateway routes it",
        "models",
        "none",
        "ModelDetail",
        errors=(404,),
    ),
    ("POST", "/v1/chat/completions"): Operation(
        "Chat completion",
        "models",
        "key",
        "ChatCompletion",
        "ChatCompletionRequest",
        streams=True,
        errors=MODEL_CALL_ERRORS,
    ),
    ("POST", "/v1/embeddings"): Operation(
        "Embeddings", "models", "key", "Embeddings", "EmbeddingRequest", errors=MODEL_CALL_ERRORS
    ),
    ("POST", "/v1/messages"): Operation(
        "Anthropic Messages API",
        "models",
        "anthropic",
        "Message",
        "MessagesRequest",
        streams=True,
        errors=MODEL_CALL_ERRORS,
    ),
    ("POST", "/v1/responses"): Operation(
        "OpenAI Responses API",
        "responses",
        "key",
        "Response",
        "ResponseRequest",
        streams=True,
        errors=MODEL_CALL_ERRORS,
    ),
    ("GET", "/v1/responses/{response_id}"): Operation(
        "A stored response", "responses", "key", "Response", errors=STORED_ERRORS
    ),
    ("DELETE", "/v1/responses/{response_id}"): Operation(
        "Delete a stored response", "responses", "key", "ResponseDeleted", errors=STORED_ERRORS
    ),
    ("GET", "/v1/responses/{response_id}/input_items"): Operation(
        "The input items of a stored response",
        "responses",
        "key",
        "List",
        errors=STORED_ERRORS,
        parameters=(
            _optional("query", "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            _optional("query", "order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
            _optional("query", "after", {"type": "string"}),
        ),
    ),
    ("POST", "/v1/batches"): Operation(
        "Create a batch: a message batch ({requests}: Anthropic Messages requests, any chat model) or "
        "OpenAI's ({input_file_id, endpoint, completion_window}: a JSONL file from /v1/files)",
        "batches",
        "key",
        "AnyBatch",
        "AnyBatchRequest",
        errors=(400, 403, 404, 413, 503),
    ),
    ("GET", "/v1/batches"): Operation(
        "With batch_id: that batch (a message batch's results, JSONL, once ended); without: the page of "
        "the account's OpenAI batches (OpenAIBatchList)",
        "batches",
        "key",
        "AnyBatch",
        errors=STORED_ERRORS,
        parameters=(
            _optional("query", "batch_id", {"type": "string"}),
            _optional("query", "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            _optional("query", "after", {"type": "string"}),
        ),
        also=(("application/jsonl", "MessageBatchResult"),),
    ),
    ("GET", "/v1/batches/{batch_id}"): Operation(
        "A batch, as its kind shows it", "batches", "key", "AnyBatch", errors=STORED_ERRORS
    ),
    ("POST", "/v1/batches/cancel/{batch_id}"): Operation(
        "Cancel a batch of either kind (400 once it has ended)",
        "batches",
        "key",
        "AnyBatch",
        errors=STORED_ERRORS,
    ),
    ("POST", "/v1/batches/{batch_id}/cancel"): Operation(
        "Cancel a batch (OpenAI's route; 400 once it has ended)",
        "batches",
        "key",
        "AnyBatch",
        errors=STORED_ERRORS,
    ),
    ("POST", "/v1/files"): Operation(
        "Upload a file (for assistants' file_search, or a batch's requests)",
        "files",
        "key",
        "FileObject",
        "FileUploadForm",
        errors=(400, 403, 413, 503),
        form=True,
    ),
    ("GET", "/v1/files"): Operation(
        "The account's files, newest first unless `order=asc`",
        "files",
        "key",
        "FileList",
        errors=(400,),
        parameters=(
            _optional("query", "purpose", {"type": "string"}),
            _optional(
                "query", "limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 10000}
            ),
            _optional("query", "order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
            _optional("query", "after", {"type": "string"}),
        ),
    ),
    ("GET", "/v1/files/{file_id}"): Operation("A file", "files", "key", "FileObject", errors=STORED_ERRORS),
    ("DELETE", "/v1/files/{file_id}"): Operation(
        "Delete a file", "files", "key", "FileDeleted", errors=STORED_ERRORS
    ),
    ("GET", "/v1/files/{file_id}/content"): Operation(
        "A file's bytes, as uploaded", "files", "key", "FileContent", answer_type="*/*", errors=STORED_ERRORS
    ),
    ("GET", "/v1/billing/balance"): Operation("The key's account balance", "billing", "key", "Balance"),
    ("GET", "/v1/admin/accounts"): Operation("Accounts", "admin", "admin", "List"),
    ("POST", "/v1/admin/accounts"): Operation(
        "Create an account", "admin", "admin", "Account", "AccountRequest", status=201, errors=BODY_ERRORS
    ),
    ("GET", "/v1/admin/accounts/{name}"): Operation(
        "One account", "admin", "admin", "Account", errors=(404,)
    ),
    ("PATCH", "/v1/admin/accounts/{name}"): Operation(
        "Change an account's limits", "admin", "admin", "Account", "AccountLimits", errors=BODY_ERRORS
    ),
    ("POST", "/v1/admin/accounts/{name}/topup"): Operation(
        "Add credits to an account",
        "admin",
        "admin",
        "Account",
        "TopUpRequest",
        errors=BODY_ERRORS,
        # The same key again changes nothing and answers as the first time did.
        parameters=(_optional("header", "Idempotency-Key", IDEMPOTENCY_KEY),),
    ),
    ("GET", "/v1/admin/keys"): Operation("Keys", "admin", "admin", "List"),
    ("POST", "/v1/admin/keys"): Operation(
        "Create a key (shown once)",
        "admin",
        "admin",
        "CreatedKey",
        "KeyRequest",
        status=201,
        errors=BODY_ERRORS,
    ),
    ("PATCH", "/v1/admin/keys/{prefix}"): Operation(
        "Change a key", "admin", "admin", "Key", "KeyUpdate", errors=BODY_ERRORS
    ),
    ("POST", "/v1/admin/keys/{prefix}/disable"): Operation(
        "Disable a key", "admin", "admin", "Key", errors=(404,)
    ),
    ("POST", "/v1/admin/keys/{prefix}/enable"): Operation(
        "Enable a key", "admin", "admin", "Key", errors=(404,)
    ),
    ("GET", "/v1/keys"): Operation("Keys, in the service's shape", "keys", "admin", "ServiceKeys"),
    ("POST", "/v1/keys"): Operation(
        "Create a key (shown once)",
        "keys",
        "admin",
        "ServiceKey",
        "ServiceKeyRequest",
        status=201,
        errors=BODY_ERRORS,
    ),
    ("PATCH", "/v1/keys/{prefix}"): Operation(
        "Change a key", "keys", "admin", "ServiceKey", "ServiceKeyUpdate", errors=BODY_ERRORS
    ),
    ("DELETE", "/v1/keys/{prefix}"): Operation(
        "Delete a key", "keys", "admin", "ServiceKeyDeleted", errors=(404,)
    ),
    ("GET", "/v1/key"): Operation("The calling key's own settings and use", "keys", "key", "ServiceKey"),
    ("POST", "/v1/images/generations"): Operation(
        "Generate images (and triposr's 3D meshes)",
        "media",
        "key",
        "Images",
        "ImageRequest",
        errors=MODEL_CALL_ERRORS,
    ),
    ("POST", "/v1/images/edits"): Operation(
        "Edit images", "media", "key", "Images", "ImageEditForm", errors=MODEL_CALL_ERRORS, form=True
    ),
    ("POST", "/v1/tts"): Operation(
        "Text to speech", "media", "key", "Speech", "TtsRequest", errors=MODEL_CALL_ERRORS
    ),
    ("POST", "/v1/audio/speech"): Operation(
        "Text to speech, as OpenAI's API",
        "media",
        "key",
        "Audio",
        "SpeechRequest",
        errors=MODEL_CALL_ERRORS,
        answer_type="audio/*",
    ),
    ("POST", "/v1/stt"): Operation(
        "Speech to text (synchronous)", "media", "key", "Transcript", "SttRequest", errors=MODEL_CALL_ERRORS
    ),
    ("POST", "/v1/audio/transcriptions"): Operation(
        "Speech to text, as OpenAI's API",
        "media",
        "key",
        "Transcription",
        "TranscriptionForm",
        errors=MODEL_CALL_ERRORS,
        form=True,
    ),
    ("POST", "/v1/audio/translations"): Operation(
        "Speech to English text, as OpenAI's API",
        "media",
        "key",
        "Transcription",
        "TranscriptionForm",
        errors=MODEL_CALL_ERRORS,
        form=True,
    ),
    ("POST", "/vision"): Operation(
        "Google Cloud Vision feature detection",
        "media",
        "key",
        "Vision",
        "VisionRequest",
        errors=MODEL_CALL_ERRORS,
    ),
    ("GET", "/files/{name}"): Operation(
        "A file the gateway made (generated audio), for an hour; or, with a key, an uploaded file's "
        "object (names starting `file-`, as GET /v1/files/{file_id})",
        "media",
        "none",
        "Audio",
        answer_type="*/*",
    ),
    ("POST", "/v1/ocr"): Operation(
        "Text from documents", "media", "key", "Document", "OcrRequest", errors=MODEL_CALL_ERRORS
    ),
}


# The AI search's follow-ups: what the search behind a chat completion (its id) found.
_FOLLOWUP_ID: Schema = {
    "name": "followup_id",
    "in": "query",
    "required": True,
    "schema": {"type": "string"},
    "description": "The id of a bagoodex/bagoodex-search-v1 chat completion",
}
OPERATIONS.update(
    {
        ("GET", f"/v1/bagoodex/{kind}"): Operation(
            summary, "search", "key", answer, errors=STORED_ERRORS, parameters=(_FOLLOWUP_ID,)
        )
        for kind, (summary, answer) in SEARCH_ANSWERS.items()
    }
)


def _task_operations() -> dict[tuple[str, str], Operation]:
    """The asynchronous generations: create with POST, poll with GET ?generation_id=."""
    generation_id = {"name": "generation_id", "in": "query", "required": True, "schema": {"type": "string"}}
    families = [
        ("/v2/video/generations", "Video", "VideoRequest", "VideoTask"),
        *(
            (f"/v2/generate/video/{v}/generation", f"Video ({v} models)", "VideoRequest", "VideoTask")
            for v in VIDEO_VENDORS
        ),
        *((path, "Video (an alias)", "VideoRequest", "VideoTask") for path in VIDEO_ALIASES),
        ("/v2/generate/audio", "Music", "MusicRequest", "MusicTask"),
    ]
    operations = {}
    for path, what, request, task in families:
        operations[("POST", path)] = Operation(
            f"{what}: start a generation", "tasks", "key", "TaskCreated", request, errors=MODEL_CALL_ERRORS
        )
        operations[("GET", path)] = Operation(
            f"{what}: where a generation stands",
            "tasks",
            "key",
            task,
            errors=STORED_ERRORS,
            parameters=(generation_id,),
        )
    operations[("POST", "/v2/generate/audio/minimax/upload")] = Operation(
        "MiniMax music-01: upload a reference track",
        "tasks",
        "key",
        "MinimaxUpload",
        "MinimaxUploadForm",
        errors=MODEL_CALL_ERRORS,
        form=True,
    )
    operations[("POST", "/v2/generate/audio/minimax/generate")] = Operation(
        "MiniMax music-01: make a song (synchronous)",
        "tasks",
        "key",
        "MinimaxSong",
        "MinimaxSongRequest",
        errors=MODEL_CALL_ERRORS,
    )
    operations[("POST", "/v1/stt/create")] = Operation(
        "Speech to text: start a transcription (JSON url, or multipart audio)",
        "tasks",
        "key",
        "SttCreated",
        "SttTaskRequest",
        status=201,
        errors=MODEL_CALL_ERRORS,
    )
    operations[("GET", "/v1/stt/{generation_id}")] = Operation(
        "Speech to text: where a transcription stands", "tasks", "key", "SttTask", errors=STORED_ERRORS
    )
    return operations


OPERATIONS.update(_task_operations())
OPERATIONS.update(
    {
        ("GET", path): Operation(summary, "usage", "key", answer, errors=(400, 403, 404), parameters=params)
        for path, summary, answer, params in USAGE_ROUTES
    }
)
OPERATIONS.update(
    {
        (method, path): Operation(
            summary,
            "assistants",
            "key",
            answer,
            body,
            streams=streams,
            errors=MODEL_CALL_ERRORS if streams else STORED_ERRORS,
            parameters=page_parameters(lists),
        )
        for method, path, summary, answer, body, lists, streams in ASSISTANT_ROUTES
    }
)
OPERATIONS[("GET", "/models/metrics")] = Operation(
    "Latency and speed per model, measured by this gateway", "models", "none", "ModelMetrics"
)
