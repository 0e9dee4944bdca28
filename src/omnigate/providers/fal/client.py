"""`kind = "fal"`: fal.ai's model APIs, for the media family `image` and the task families
`video` and `music`.

Images go to the synchronous API: a job's body names a fal app in `model` (the deployment's
upstream name, `fal-ai/flux/schnell` say); it is posted to `{base_url}/{app}`, which holds the
request open until the app is done and answers its result (translate.py turns both into the
service's shapes). The catalogue's image and 3D apps take seconds, and a stall is the read
timeout's business.

Video and music take minutes, so they go through fal's queue API (the protocol fal_client speaks):

- submit: `POST {queue}/{app}` with the app's input → `{request_id, status_url, response_url,
  cancel_url, queue_position}`;
- status: `GET {queue}/{owner}/{alias}/requests/{request_id}/status` → `{status: IN_QUEUE |
  IN_PROGRESS | COMPLETED, queue_position?, logs, metrics?, error?, error_type?}` (202 until done);
- result: `GET {queue}/{owner}/{alias}/requests/{request_id}` → the app's output, or for a request
  that failed fal's error answer (`{"detail": ...}` with the app's status).

The status and result URLs name only the first two segments of the app id (three for the
`workflows/` and `comfy/` namespaces), as fal_client's `AppId` and `from_request_id` build them:
`fal-ai/kling-video/v2.1/master/text-to-video` is polled at `{queue}/fal-ai/kling-video/requests/..`.
The task id handed to the gateway is `"{app}|{request_id}"`: the app as submitted and fal's request
id, all that poll needs to rebuild both URLs (so polling does not depend on what a submit answer
said, and survives a restart).

`{queue}` is fal's queue host for fal's own hosts (`https://fal.run` → `https://queue.fal.run`);
any other base URL (a proxy, a test double) serves both APIs unless `queue_url` names the queue's.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import orjson
from yarl import URL

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.fal import errors
from omnigate.providers.fal.translate import InvalidAnswer, from_fal, from_fal_task, to_fal, to_fal_task
from omnigate.providers.http import MediaOnlyProvider
from omnigate.providers.media import MediaJob, MediaResult
from omnigate.providers.tasks import Polled, Submitted

# fal's run hosts and their queue hosts (fal_client's FAL_RUN_HOST / FAL_QUEUE_RUN_HOST, and the
# backup domains it falls back to).
_QUEUE_HOSTS = {"fal.run": "queue.fal.run", "falrun.com": "queue.falrun.com"}
# App id prefixes that are namespaces, not owners (fal_client's APP_NAMESPACES).
_NAMESPACES = frozenset({"workflows", "comfy"})
# fal_client's short form of an app id: "<owner number>-<alias>".
_SHORT_APP = re.compile(r"([0-9]+)-([a-zA-Z0-9-]+)")
# fal's request ids are UUIDs; anything else in a task id was not made here.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SEPARATOR = "|"


def queue_root(base_url: str) -> str:
    """The queue API's root for a configured (synchronous API) base URL."""
    url = URL(base_url)
    queue_host = _QUEUE_HOSTS.get(url.host or "")
    return str(url.with_host(queue_host)).rstrip("/") if queue_host else base_url.rstrip("/")


def requests_path(app: str) -> str:
    """The part of an app id fal's queue names its requests under, as fal_client builds it
    (`AppId.from_endpoint_id`): `[namespace/]owner/alias`, without the app's own path."""
    parts = app.split("/")
    if len(parts) == 1 and (short := _SHORT_APP.fullmatch(app)):
        parts = [short[1], short[2]]
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"invalid fal app id {app!r}: it must be <owner>/<alias>[/<path>]")
    return "/".join(parts[:3] if parts[0] in _NAMESPACES else parts[:2])


class FalProvider(MediaOnlyProvider):
    media_families = frozenset({"image"})
    task_families = frozenset({"video", "music"})
    failure_for_status = staticmethod(errors.failure_for_status)

    def __init__(self, name: str, base_url: str, *, queue_url: str | None = None, **options: Any) -> None:
        super().__init__(name, base_url, **options)
        self.queue_root = queue_url.rstrip("/") if queue_url else queue_root(self.base_url)
        # GETs carry no body: the key (and configured headers) without the JSON content type.
        self._get_headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Key {api_key}"}

    async def run_media(self, job: MediaJob) -> MediaResult:
        app, arguments = to_fal(job.body)
        response = await self.post(self.url(f"/{app}"), orjson.dumps(arguments), self._headers)
        try:
            body, used = from_fal(await self.read_json(response))
        except InvalidAnswer as exc:
            raise errors.invalid(self.name, str(exc)) from exc
        return MediaResult(body=body, used=used)

    # --- Tasks: fal's queue API ---

    async def submit_task(self, family: str, job: MediaJob) -> Submitted:
        if family not in self.task_families:
            raise self._no_task(family)
        app, arguments = to_fal_task(job.body)
        response = await self.post(URL(f"{self.queue_root}/{app}"), orjson.dumps(arguments), self._headers)
        answer = await self.read_json(response)
        request_id = answer.get("request_id") if isinstance(answer, dict) else None
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            raise errors.invalid(self.name, "answered a queue submission without a request id")
        return Submitted(upstream_id=f"{app}{_SEPARATOR}{request_id}", status="queued")

    async def poll_task(self, family: str, upstream_id: str) -> Polled:
        app, _, request_id = upstream_id.partition(_SEPARATOR)
        try:
            request_url = self.request_url(app, request_id)
        except ValueError:
            return Polled(status="error", error="The task's upstream id is not a fal request.")
        status_code, raw, retry_after = await self._get(request_url / "status")
        if not 200 <= status_code < 300:
            raise self.failure_for_status(self.name, status_code, raw, retry_after)
        state = _json_object(raw)
        status = state.get("status") if state is not None else None
        if status == "IN_QUEUE":
            return Polled(status="queued")
        if status == "IN_PROGRESS":
            return Polled(status="generating")
        if status != "COMPLETED" or state is None:
            raise errors.invalid(self.name, "answered a request status that is not fal's")
        return await self._result(family, request_url, failed=state.get("error") is not None)

    def request_url(self, app: str, request_id: str) -> URL:
        """`{queue}/{owner}/{alias}/requests/{request_id}`: the result URL; + `/status`, its status."""
        if not _REQUEST_ID.fullmatch(request_id):
            raise ValueError(f"invalid fal request id {request_id!r}")
        return URL(f"{self.queue_root}/{requests_path(app)}/requests/{request_id}")

    async def _result(self, family: str, request_url: URL, *, failed: bool) -> Polled:
        status_code, raw, retry_after = await self._get(request_url)
        if 200 <= status_code < 300:
            try:
                result, used = from_fal_task(family, _json_object(raw))
            except InvalidAnswer as exc:
                # Done, and asking again gets the same answer: the task failed.
                return Polled(status="error", error=errors.invalid(self.name, str(exc)).error.message)
            return Polled(status="completed", result=result, used=used)
        failure = self.failure_for_status(self.name, status_code, raw, retry_after)
        if status_code in (401, 403, 429, 408):
            raise failure  # the gateway's key or fal's limits: the request itself may be fine
        if status_code < 500:
            # The app refused the input (422 names the field) or its content: fal's words, scrubbed.
            return Polled(status="error", error=failure.error.message)
        if failed:
            # The status said the request failed: the app's server error, not a passing one.
            message = (
                f"The generation failed: provider {self.name!r} reported a server error ({status_code})."
            )
            return Polled(status="error", error=message)
        raise failure

    async def _get(self, url: URL) -> tuple[int, bytes, str | None]:
        """Status, body and Retry-After of a GET, whatever the status; transport failures raise."""
        assert self._session is not None, "provider used before start()"
        try:
            async with self._session.get(url, headers=self._get_headers) as response:
                return response.status, await response.read(), response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise errors.timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise errors.unreachable(self.name, exc) from exc

    def _no_task(self, family: str) -> UpstreamFailure:
        families = ", ".join(sorted(self.task_families))
        message = f"Service unavailable: provider {self.name!r} runs no {family} tasks (only {families})."
        return UpstreamFailure(ApiError(503, message, code="model_not_configured"), retryable=True)


def _json_object(raw: bytes) -> dict | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
