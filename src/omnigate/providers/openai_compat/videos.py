"""OpenAI's Videos API (Sora) as the gateway's video tasks (providers/tasks.py).

- submit: the service's video body (`prompt`, `duration`, `aspect_ratio`, `resolution`,
  `image_url`) becomes the multipart form OpenAI's SDK sends to POST /videos: `seconds` as a
  string, `size` from the aspect ratio and resolution, the image fetched and sent as the file
  `input_reference`. `model` is the upstream's name (`sora-2`, `sora-2-pro`); a catalogue id that
  reaches this far (`openai/sora-2-pro-i2v`) is reduced to it.
- poll: GET /videos/{id}. A completed video's MP4 comes from GET /videos/{id}/content and goes back
  as bytes (the gateway stores them and answers its own URL), billed by the seconds OpenAI made; a
  failed one's error message goes back scrubbed (providers/redact.py).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from typing import Any

import aiohttp

from omnigate.billing.pricing import Used
from omnigate.errors import ApiError, bad_request
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, Upload
from omnigate.providers.openai_compat import errors
from omnigate.providers.openai_compat.media import FormValue, OpenAIMedia
from omnigate.providers.redact import scrub
from omnigate.providers.tasks import Polled, Status, Submitted

log = logging.getLogger(__name__)

# (aspect_ratio, resolution) → OpenAI's size. The 1080p sizes are sora-2-pro's (OpenAI refuses
# them for sora-2, and says so).
SIZES = {
    ("16:9", "720p"): "1280x720",
    ("9:16", "720p"): "720x1280",
    ("16:9", "1080p"): "1792x1024",
    ("9:16", "1080p"): "1024x1792",
}
# The service's defaults for Sora (OpenAI's own default size is portrait).
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_RESOLUTION = "720p"
# OpenAI's video statuses → the service's task statuses.
STATUSES: dict[str, Status] = {
    "queued": "queued",
    "in_progress": "generating",
    "completed": "completed",
    "failed": "error",
}
# What OpenAI's content is when the upstream labels it otherwise (the default variant is MP4).
VIDEO_TYPE = "video/mp4"
# An id goes into the poll URL's path: only characters that cannot change the path.
_UPSTREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,256}")
_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*?;base64,(?P<data>.*)", re.DOTALL)


def upstream_model(model: str) -> str:
    """OpenAI's name for a Sora model: the catalogue's `openai/sora-2-pro-i2v` is `sora-2-pro`;
    an upstream name (`sora-2`, a dated snapshot) stays as it is."""
    name = model.removeprefix("openai/")
    for suffix in ("-t2v", "-i2v"):
        name = name.removesuffix(suffix)
    return name


def video_size(aspect_ratio: object, resolution: object) -> str:
    """OpenAI's `size` for the service's aspect ratio and resolution (16:9 at 720p: 1280x720)."""
    ratio = DEFAULT_ASPECT_RATIO if aspect_ratio is None else str(aspect_ratio)
    height = DEFAULT_RESOLUTION if resolution is None else str(resolution).lower()
    if ratio not in {r for r, _ in SIZES}:
        raise bad_request(
            f"aspect_ratio {ratio!r} is not supported by this model: use 16:9 or 9:16.", param="aspect_ratio"
        )
    size = SIZES.get((ratio, height))
    if size is None:
        raise bad_request(
            f"resolution {height!r} is not supported by this model: use 720p or 1080p.", param="resolution"
        )
    return size


def video_seconds(duration: object) -> str:
    """OpenAI's `seconds` (a string) for the service's `duration` (a number of seconds)."""
    if isinstance(duration, bool) or not isinstance(duration, int | float | str):
        raise bad_request("duration must be a number of seconds.", param="duration")
    if isinstance(duration, float) and duration.is_integer():
        duration = int(duration)
    return str(duration).strip()


def create_fields(body: dict[str, Any]) -> dict[str, FormValue]:
    """The POST /videos form fields for the service's body, but for the image (`image_url` goes
    as a file, fetched). Fields OpenAI has no equivalent for are left out: it refuses them."""
    fields: dict[str, FormValue] = {}
    if body.get("model"):
        fields["model"] = upstream_model(str(body["model"]))
    fields["prompt"] = body.get("prompt")
    if body.get("duration") is not None:
        fields["seconds"] = video_seconds(body["duration"])
    fields["size"] = video_size(body.get("aspect_ratio"), body.get("resolution"))
    return fields


def seconds_of(video: dict[str, Any]) -> float | None:
    """How long a Video object says its clip is (`seconds` is a string: "8"); None when it does not."""
    value = video.get("seconds")
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _number(seconds: float | None) -> int | float | None:
    """Whole seconds as an int (8, as the service writes a duration), others as they are."""
    return int(seconds) if seconds is not None and seconds.is_integer() else seconds


class OpenAIVideos(OpenAIMedia):
    """The video-task half of the OpenAI-compatible adapter (a base class of it)."""

    async def submit_task(self, family: str, job: MediaJob) -> Submitted:
        if family != "video":
            raise self._no_task(family)
        fields = create_fields(job.body)
        files: list[tuple[str, Upload]] = []
        if job.body.get("image_url"):
            files.append(("input_reference", await self._reference(job, str(job.body["image_url"]))))
        # The SDK sends a multipart form even without a file.
        video = await self._post_form("/videos", fields, files)
        if not isinstance(video, dict):
            raise errors.invalid(self.name, "returned an invalid video")
        upstream_id = video.get("id")
        if not isinstance(upstream_id, str) or not _UPSTREAM_ID.fullmatch(upstream_id):
            raise errors.invalid(self.name, "returned a video without a valid id")
        return Submitted(upstream_id=upstream_id, status=self._status(video))

    async def poll_task(self, family: str, upstream_id: str) -> Polled:
        if family != "video":
            raise self._no_task(family)
        if not _UPSTREAM_ID.fullmatch(upstream_id):
            # submit_task never hands out such an id; polling it again would not help.
            failure = errors.invalid(self.name, "gave a video id the gateway cannot poll")
            failure.retryable = False
            raise failure
        path = f"/videos/{upstream_id}"
        video = await self.read_json(await self._get(path, "application/json"))
        if not isinstance(video, dict):
            raise errors.invalid(self.name, "returned an invalid video")
        status = self._status(video)
        if status == "error":
            return Polled(status="error", error=self._failure(upstream_id, video.get("error")))
        if status != "completed":
            return Polled(status=status)
        # As the SDK's download_content asks for it: the MP4 (the default variant).
        response = await self._get(f"{path}/content", "application/binary")
        content_type = response.content_type
        content = await self._read(response)
        if not content or content_type == "application/json":
            raise errors.invalid(self.name, "did not answer with the video")
        if not content_type.startswith("video/"):
            content_type = VIDEO_TYPE
        seconds = seconds_of(video)
        if seconds is None:
            # Nothing to bill by: the operator should know.
            log.warning("provider %r: video %s says nothing of its length", self.name, upstream_id)
        return Polled(
            status="completed",
            result={"video": {"duration": _number(seconds)}},
            used=Used(seconds=seconds or 0.0),
            content=content,
            content_type=content_type,
        )

    async def _reference(self, job: MediaJob, url: str) -> Upload:
        """The image to start from, as a file: a data URL decoded here, any other URL fetched."""
        found = _DATA_URL.fullmatch(url)
        if found is None:
            return await job.fetch(url)
        try:
            data = base64.b64decode(found["data"], validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("image_url is not valid base64 data.", param="image_url") from None
        content_type = found["type"] or "application/octet-stream"
        extension = content_type.rpartition("/")[2]
        return Upload("image_url", f"image.{extension}", content_type, data)

    def _status(self, video: dict[str, Any]) -> Status:
        status = STATUSES.get(str(video.get("status")))
        if status is None:
            raise errors.invalid(
                self.name, f"returned a video with an unknown status {video.get('status')!r}"
            )
        return status

    def _failure(self, upstream_id: str, error: object) -> str:
        """What the client may read of a failed video: OpenAI's message, scrubbed; the log gets it
        whole, with its code."""
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        log.info("provider %r: video %s failed (%s): %s", self.name, upstream_id, code, message)
        if not isinstance(message, str) or not message.strip():
            return f"The video generation failed ({code})." if code else "The video generation failed."
        return scrub(message)

    async def _get(self, path: str, accept: str) -> aiohttp.ClientResponse:
        """The open upstream response to a GET once it answered 200 (HttpProvider.send)."""
        # A GET has no body: no Content-Type.
        headers = {k: v for k, v in self._headers.items() if k.lower() != "content-type"}
        headers["Accept"] = accept
        return await self.send("GET", self.base_url + path, headers=headers)

    def _no_task(self, family: str) -> UpstreamFailure:
        message = f"Service unavailable: provider {self.name!r} runs no {family} tasks (only video)."
        return UpstreamFailure(ApiError(503, message, code="model_not_configured"), retryable=True)
