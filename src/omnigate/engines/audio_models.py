"""The built-in speech models (text to speech, speech to text) as local engines: what each needs
installed, its catalogue entry's rules and routes, and its engine."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from omnigate.engines.speech import FliteEngine, PiperEngine
from omnigate.engines.transcribe import WhisperEngine, default_cache
from omnigate.providers.media import MediaJob, MediaResult
from omnigate.settings import Settings

if TYPE_CHECKING:
    from omnigate.engines.local import LocalModelSpec

# The Python modules each engine runs on (found, not imported: Piper is never imported here).
RUNTIMES = {
    "piper": ("piper", "onnxruntime"),
    "flite": (),
    "faster-whisper": ("faster_whisper", "ctranslate2", "av"),
}
# The media families a model type serves ("translate": /v1/audio/translations), and its routes.
FAMILIES = {"tts": frozenset({"tts"}), "stt": frozenset({"stt", "translate"})}
ENDPOINTS = {
    "tts": ("/v1/tts", "/v1/audio/speech"),
    "stt": ("/v1/stt", "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/stt/create"),
}
RULES = {"tts": "tts_rules.json", "stt": "stt_rules.json"}


class MediaEngine(Protocol):
    scheduler: object

    async def run(self, job: MediaJob) -> MediaResult: ...

    def close(self) -> None: ...


def missing_commands(raw: dict) -> list[str]:
    """The programs a built-in model runs that are not on the PATH (flite is a Debian package)."""
    command = raw.get("command")
    return [command] if command and shutil.which(command) is None else []


def build(spec: LocalModelSpec, settings: Settings) -> MediaEngine:
    engines = settings.engines
    if spec.engine == "piper":
        return PiperEngine(
            spec.id,
            spec.path,
            max_waiting=engines.max_waiting,
            max_characters=engines.speech_max_characters,
        )
    if spec.engine == "flite":
        return FliteEngine(
            spec.id, max_waiting=engines.max_waiting, max_characters=engines.speech_max_characters
        )
    return WhisperEngine(
        spec.id,
        spec.path,
        spec.parts,
        spec.sha256,
        cache=Path(engines.model_cache) if engines.model_cache else default_cache(),
        threads=engines.threads,
        max_waiting=engines.max_waiting,
        max_seconds=engines.transcribe_max_seconds,
    )
