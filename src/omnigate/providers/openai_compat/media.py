"""OpenAI's media endpoints (images, speech, transcriptions), translated from and to the service's
media jobs and results (providers/media.py).

- `image`: the job body goes to /images/generations as it is (but for the one field GPT image
  models refuse); OpenAI's ImagesResponse is already the service's image answer.
- `image-edit`: the body's fields and the files go to /images/edits as multipart.
- `tts`: the service's `text` and `style` are OpenAI's `input` and `instructions` (/audio/speech);
  the answer is the audio itself.
- `stt`: the audio goes to /audio/transcriptions (/audio/translations when the gateway sets
  `translate`); the transcript comes back in Deepgram's shape, the service's STT answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from omnigate.billing.pricing import Used
from omnigate.errors import ApiError
from omnigate.providers.http import HttpProvider
from omnigate.providers.media import MediaJob, MediaResult, Upload
from omnigate.providers.openai_compat import errors

FormValue = str | int | float | bool | list | dict | None

# What OpenAI sends each speech format as, for an upstream that labels its audio otherwise
# (application/octet-stream, say).
AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# The /audio/speech fields the service's body shares with OpenAI's.
_SPEECH_OPTIONS = ("voice", "response_format", "speed")
# The transcription options OpenAI knows; the service's Deepgram-style ones have no equivalent.
_STT_OPTIONS = ("prompt", "temperature")


class OpenAIMedia(HttpProvider):
    """The media half of the OpenAI-compatible adapter (its base class)."""

    async def run_media(self, job: MediaJob) -> MediaResult:
        run: dict[str, Callable[[MediaJob], Awaitable[MediaResult]]] = {
            "image": self._generate_images,
            "image-edit": self._edit_images,
            "tts": self._speak,
            "stt": self._transcribe,
        }
        return await run[job.family](job)

    async def _generate_images(self, job: MediaJob) -> MediaResult:
        body = orjson.dumps(_image_fields(job.body))
        response = await self.post(self.url("/images/generations"), body, self._headers)
        return self._images(await self.read_json(response))

    async def _edit_images(self, job: MediaJob) -> MediaResult:
        images = [f for f in job.files if f.field == "image"]
        # OpenAI takes one image as `image` and several as `image[]`, as its SDK sends them.
        name = "image[]" if len(images) > 1 else "image"
        files = [(name, image) for image in images]
        mask = job.file("mask")
        if mask is not None:
            files.append(("mask", mask))
        return self._images(await self._post_form("/images/edits", _image_fields(job.body), files))

    def _images(self, answer: object) -> MediaResult:
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise errors.invalid(self.name, "returned an invalid images answer")
        # gpt-image models also report the tokens they read and wrote; dall-e ones bill by image.
        usage = answer.get("usage")
        tokens = Used.from_usage(usage if isinstance(usage, dict) else None)
        return MediaResult(body=answer, used=dataclasses.replace(tokens, images=len(answer["data"])))

    async def _speak(self, job: MediaJob) -> MediaResult:
        text = job.body.get("text") or ""
        speech = {"model": job.body["model"], "input": text}
        speech.update((key, job.body[key]) for key in _SPEECH_OPTIONS if key in job.body)
        if job.body.get("style"):
            speech["instructions"] = job.body["style"]
        response = await self.post(self.url("/audio/speech"), orjson.dumps(speech), self._headers)
        content_type = response.content_type
        audio = await self._read(response)
        if content_type == "application/json" or not audio:
            raise errors.invalid(self.name, "did not answer with audio")
        if not content_type.startswith("audio/"):
            wanted = str(speech.get("response_format", "mp3"))
            content_type = AUDIO_TYPES.get(wanted, "application/octet-stream")
        return MediaResult(audio=audio, content_type=content_type, used=Used(characters=len(text)))

    async def _transcribe(self, job: MediaJob) -> MediaResult:
        body = job.body
        audio = job.file("audio")
        if audio is None:
            if not body.get("url"):
                raise ApiError(400, "Give the audio to transcribe: a file `audio` or a `url`.", param="url")
            audio = await job.fetch(str(body["url"]))
        model = str(body["model"])
        # verbose_json says how long the audio was; the gpt-4o transcribe models answer only
        # json or text, and refuse the rest.
        verbose = "transcribe" not in model
        fields: dict[str, FormValue] = {
            "model": model,
            "response_format": "verbose_json" if verbose else "json",
        }
        fields.update((key, body[key]) for key in _STT_OPTIONS if key in body)
        path = "/audio/translations" if body.get("translate") else "/audio/transcriptions"
        if body.get("language") and path == "/audio/transcriptions":
            # The service takes BCP-47 tags (en-US); OpenAI wants the ISO-639-1 language (en).
            fields["language"] = str(body["language"]).split("-")[0]
        answer = await self._post_form(path, fields, [("file", audio)])
        if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
            raise errors.invalid(self.name, "returned an invalid transcription")
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else None
        seconds = _seconds(answer, usage, audio)
        transcript = {
            "metadata": {"duration": seconds},
            "results": {"channels": [{"alternatives": [{"transcript": answer["text"]}]}]},
        }
        # Token-billed transcribe models also say what they read and wrote.
        used = dataclasses.replace(Used.from_usage(usage), seconds=seconds)
        return MediaResult(body=transcript, used=used)

    async def _post_form(
        self, path: str, fields: dict[str, FormValue], files: list[tuple[str, Upload]]
    ) -> object:
        form = aiohttp.FormData(default_to_multipart=True)
        for name, value in fields.items():
            for part, text in _form_fields(name, value):
                form.add_field(part, text)
        for name, upload in files:
            form.add_field(name, upload.data, filename=upload.filename, content_type=upload.content_type)
        # The form sets its own Content-Type, with the boundary.
        headers = {k: v for k, v in self._headers.items() if k.lower() != "content-type"}
        return await self.read_json(await self.post(self.url(path), form, headers))

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The bytes of a 200 answer; a stall or a broken connection fails as read_json's do."""
        try:
            return await response.read()
        except TimeoutError as exc:
            raise errors.timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise errors.unreachable(self.name, exc) from exc
        finally:
            response.release()


def _image_fields(body: dict) -> dict:
    """The body without `response_format` for GPT image models: they always answer b64_json and
    refuse the field ("Unknown parameter"), where dall-e models take it."""
    if "gpt-image" in str(body.get("model")):
        return {k: v for k, v in body.items() if k != "response_format"}
    return body


def _form_fields(name: str, value: FormValue) -> list[tuple[str, str]]:
    """A field as OpenAI's SDK writes it in a form: booleans as `true`/`false`, a list as repeated
    `name[]` parts, an object as `name[key]` parts, None left out."""
    if value is None:
        return []
    if isinstance(value, list):
        return [part for item in value for part in _form_fields(f"{name}[]", item)]
    if isinstance(value, dict):
        return [part for key, item in value.items() for part in _form_fields(f"{name}[{key}]", item)]
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    return [(name, str(value))]


def _seconds(answer: dict, usage: dict | None, audio: Upload) -> float:
    """How long the audio was: verbose_json's duration, else the usage of a model billed by
    duration, else what a WAV header says; 0 when none of them tells."""
    duration = answer.get("duration")
    if duration is None and usage is not None and usage.get("type") == "duration":
        duration = usage.get("seconds")
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        return float(duration)
    return wav_seconds(audio.data)


def wav_seconds(data: bytes) -> float:
    """The length of a RIFF/WAVE file from its byte rate and data chunk; 0 for anything else."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0.0
    byte_rate = 0
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        start = at + 8
        if chunk == b"fmt " and size >= 16:
            byte_rate = int.from_bytes(data[start + 8 : start + 12], "little")
        elif chunk == b"data":
            # A WAV written while streaming declares a size it never reached: count what came.
            return min(size, len(data) - start) / byte_rate if byte_rate else 0.0
        at = start + size + (size & 1)  # chunks are padded to an even length
    return 0.0
