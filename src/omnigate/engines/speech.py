"""The built-in text-to-speech engines: Piper (a neural voice) and flite (small, robotic).

Both run as separate processes. Piper is GPL-3, so it is never imported into the gateway: one
long-lived `python -m piper` process per voice reads one line of text per request on stdin and
writes one WAV file per line into a private folder (it logs `Wrote <file>` when done), which saves
loading the voice again for every request. flite is a small C program started per request; it
writes its WAV to stdout.

Each engine speaks one request at a time; waiting requests take fair turns by account
(engines/turns.py) and a full queue answers 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from omnigate.billing.pricing import Used
from omnigate.engines.audio import FORMATS, encode, wav_seconds
from omnigate.engines.scheduler import FairScheduler
from omnigate.engines.turns import take_turn
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, MediaResult

log = logging.getLogger(__name__)
_WROTE = re.compile(r"Wrote (.+\.wav)\s*$")
# flite's built-in voices; any other name (OpenAI's "alloy", say) gets the first.
FLITE_VOICES = ("slt", "kal", "kal16", "rms", "awb")


class SpeechEngine:
    """What both engines share: the body's checks, the queue, the encoding."""

    def __init__(self, model_id: str, *, max_waiting: int, max_characters: int) -> None:
        self.model_id = model_id
        self.max_characters = max_characters
        self.scheduler = FairScheduler(max_waiting)

    async def run(self, job: MediaJob) -> MediaResult:
        body = job.body
        text = _text(body, self.max_characters)
        # A catalogue id routed here brings its own model's rules: these are checked again.
        response_format = body.get("response_format") or "mp3"
        if not isinstance(response_format, str) or response_format not in FORMATS:
            raise UpstreamFailure.invalid("response_format", f"Expected one of {', '.join(FORMATS)}")
        speed = body.get("speed", 1)
        if not isinstance(speed, int | float) or isinstance(speed, bool) or not 0.25 <= speed <= 4:
            raise UpstreamFailure.invalid("speed", "Expected a number from 0.25 to 4")
        voice = body.get("voice") if isinstance(body.get("voice"), str) else ""

        async def speak() -> bytes:
            return await self.synthesize(text, voice)

        wav = await take_turn(self.scheduler, self.model_id, job.account_id, speak, job.gone)
        audio, content_type = await encode(wav, response_format, speed)
        return MediaResult(
            audio=audio,
            content_type=content_type,
            used=Used(characters=len(text), seconds=wav_seconds(wav) / speed),
        )

    async def synthesize(self, text: str, voice: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


class PiperEngine(SpeechEngine):
    def __init__(self, model_id: str, voice_path: Path, *, max_waiting: int, max_characters: int) -> None:
        super().__init__(model_id, max_waiting=max_waiting, max_characters=max_characters)
        self.voice_path = voice_path
        self._folder = Path(tempfile.mkdtemp(prefix="omnigate-piper-"))
        self._process: subprocess.Popen[bytes] | None = None
        # The process is driven with blocking pipes from one thread; the loop only waits for it.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="piper")

    async def synthesize(self, text: str, voice: str) -> bytes:
        left = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._speak, text, left)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The client left: its output could not be told apart from the next request's, so
            # the process goes (its pipes close, the thread's read ends); the next turn starts one.
            left.set()
            self._kill()
            await asyncio.wait({future})
            raise

    def _speak(self, text: str, left: threading.Event) -> bytes:
        """The WAV of one text. Piper exits on a text it makes no sound from (its WAV writer
        refuses an empty file): a process that ends twice on the same text is the text's fault."""
        for attempt in (1, 2):
            path = self._speak_once(text)
            if path is not None:
                try:
                    return path.read_bytes()
                finally:
                    path.unlink(missing_ok=True)
            if left.is_set():
                raise _engine_failed(self.model_id, "the client left")
            log.warning("the Piper process ended on a request (attempt %d)", attempt)
        raise UpstreamFailure.invalid("text", "the voice makes no sound from this text")

    def _speak_once(self, text: str) -> Path | None:
        """The file Piper wrote, or None when its process ended first."""
        process = self._running()
        assert process.stdin is not None and process.stderr is not None
        try:
            process.stdin.write(text.encode() + b"\n")
            process.stdin.flush()
            while line := process.stderr.readline().decode(errors="replace"):
                found = _WROTE.search(line)
                if found:
                    return Path(found.group(1))
                log.debug("piper: %s", line.rstrip())
        except OSError:  # a broken pipe: the process is gone
            pass
        self._kill()
        return None

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            command = [sys.executable, "-m", "piper", "--model", str(self.voice_path)]
            self._process = subprocess.Popen(
                [*command, "--output-dir", str(self._folder)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        return self._process

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        self._kill()
        self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._folder, ignore_errors=True)


class FliteEngine(SpeechEngine):
    def __init__(self, model_id: str, *, max_waiting: int, max_characters: int) -> None:
        super().__init__(model_id, max_waiting=max_waiting, max_characters=max_characters)
        # flite writes its WAV to a named file only: /dev/stdout fails where the event loop's
        # pipes are sockets (uvloop's are).
        self._folder = Path(tempfile.mkdtemp(prefix="omnigate-flite-"))

    async def synthesize(self, text: str, voice: str) -> bytes:
        voice = voice if voice in FLITE_VOICES else FLITE_VOICES[0]
        path = self._folder / f"{uuid.uuid4().hex}.wav"
        process = await asyncio.create_subprocess_exec(
            "flite",
            "-voice",
            voice,
            "-t",
            text,
            "-o",
            str(path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await process.communicate()
            if process.returncode != 0 or not path.exists():
                raise _engine_failed(self.model_id, err.decode(errors="replace")[-300:] or "flite failed")
            return path.read_bytes()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def _text(body: dict, max_characters: int) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UpstreamFailure.invalid("text", "Required: the text to speak (OpenAI's `input`)")
    # One line without control characters: Piper reads a line per request (its own line breaks
    # would make several files), and a program's arguments cannot hold a NUL.
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > max_characters:
        raise UpstreamFailure.invalid(
            "text",
            f"{len(text)} characters; the local speech engines speak at most {max_characters} "
            "([engines] speech_max_characters)",
        )
    if not any(c.isalnum() for c in text):
        raise UpstreamFailure.invalid("text", "Nothing to speak: the text has no letters or digits")
    return text


def _engine_failed(model_id: str, why: str) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(502, f"Bad Gateway: the local model {model_id!r} failed: {why}", code="engine_failed"),
        retryable=False,
    )
