"""Key scopes: the families of models a key may call (the service's `scopes` of POST /v1/keys).

A key without scopes may call every family. Scopes name families, not routes: Anthropic's
/v1/messages serves chat models, so `model:chat` covers it too.
"""

from __future__ import annotations

from omnigate.errors import ApiError
from omnigate.store.rows import KeyRow

SCOPES = (
    "model:chat",
    "model:responses",
    "model:image",
    "model:audio",
    "model:video",
    "model:embeddings",
    "model:speech",
    "model:ocr",
)
SCOPE_OF_ENDPOINT = {
    "/v1/chat/completions": "model:chat",
    "/v1/messages": "model:chat",
    "/v1/batches": "model:chat",
    # Uploaded files serve assistants and batches, both chat families.
    "/v1/files": "model:chat",
    "/v1/responses": "model:responses",
    "/v1/embeddings": "model:embeddings",
    "/v1/images/generations": "model:image",
    "/v1/images/edits": "model:image",
    "/v1/tts": "model:speech",
    "/v1/audio/speech": "model:speech",
    "/v1/stt": "model:speech",
    "/v1/audio/transcriptions": "model:speech",
    "/v1/audio/translations": "model:speech",
    "/v1/ocr": "model:ocr",
    "/vision": "model:ocr",
    "/v1/stt/create": "model:speech",
    "/v2/generate/audio": "model:audio",
    "/v2/generate/audio/minimax/upload": "model:audio",
    "/v2/generate/audio/minimax/generate": "model:audio",
    "/v2/video/generations": "model:video",
}


def require_scope(key: KeyRow, endpoint: str) -> None:
    """403 when the key's scopes leave out the family of `endpoint`."""
    if not key.scopes:
        return
    needed = SCOPE_OF_ENDPOINT.get(endpoint)
    if needed is None and endpoint.startswith("/v2/generate/video/"):
        needed = "model:video"  # the service's older per-vendor video routes
    if needed is None or needed not in key.scopes:
        raise ApiError(
            403,
            f"This key may only call {', '.join(key.scopes)}; {endpoint} needs "
            f"{needed or 'a key without scopes'}.",
            code="scope_denied",
        )
