"""A local fake of fal.ai's model APIs: the synchronous one (`POST https://fal.run/<app id>`) and
the queue (`https://queue.fal.run`), each on its own port as on its own host (`base_url`,
`queue_url`).

It speaks the wire protocol as fal does, and as fal's own client (fal_client) expects it
(test_fal_client.py drives it with that client):

* `POST /<app id>` (ids contain slashes) with the app's input as JSON, `Authorization: Key <key>`;
  200 with the app's result, or an error body `{"detail": ...}`: a sentence, or for an input the
  app refuses (422) FastAPI's list of `{loc, msg, type}`.
* Apps are those the `fal` preset names, plus the variants the adapter may pick (Kontext's
  `/multi`, Seedream 4.5's `/edit`); any other answers 404.
* Results have the shapes of fal's published types (fal-js `endpoints.ts`): image apps
  `{images: [{url, width, height, content_type}], timings, seed, has_nsfw_concepts, prompt}`
  (SeedEdit: one `image`), triposr `{model_mesh: {url, content_type, file_name, file_size},
  timings, remeshing_dir}`. The URLs point at files it serves itself (`GET /files/<name>`): real
  PNGs of the reported size, and small GLB/OBJ meshes.

The queue, for the video and music apps (those apps.py names, and the siblings the adapter may
pick):

* `POST /<app id>` with the input → 200 `{request_id, response_url, status_url, cancel_url,
  queue_position}`; an unknown app is 404, a body that is not a JSON object 422. The URLs name
  the request under the app id's first two segments (fal_client's `AppId` builds them here).
* `GET .../requests/<id>/status` → `{status, request_id, response_url, status_url, cancel_url,
  queue_position (IN_QUEUE), logs, metrics (COMPLETED), error/error_type (a failed request)}`,
  202 until COMPLETED, then 200. A request starts IN_QUEUE and each status poll moves it on,
  after answering: IN_QUEUE, IN_PROGRESS, then COMPLETED for good.
* `GET .../requests/<id>` → 400 while not COMPLETED; then the app's output (video apps
  `{video: {url, content_type, file_name, file_size}}`, OmniHuman and Kling's avatars with the
  seconds made as `duration`; Stable Audio `{audio_file: {...}}`, the other music apps
  `{audio: {...}}`), or its error: an input the app's schema refuses is 422 with FastAPI's list
  (fal checks inputs when the request runs, not at submit), and a prompt containing `[fail]`
  makes the app crash: the status carries `error`, the result is a 500.
* A request polled under another app's owner/alias is 404, as fal's queue answers an unknown one.

Tests can queue answers (`answer_next`: any status and body, for the next request on either API)
and make it hang (`hang = True`).
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import orjson
from aiohttp import web
from fal_client.client import AppId

from omnigate.providers.fal.apps import TASK_APPS
from omnigate.providers.presets import presets

KEY: Final = "fal-test-key-7f3a9c2e51"

# fal's named sizes, as its apps resolve them.
SIZES: Final = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# The input image fields each app requires (besides `prompt`, which every image app but USO needs).
IMAGE_URL_APPS: Final = frozenset(
    {
        "fal-ai/flux/dev/image-to-image",
        "fal-ai/flux/srpo/image-to-image",
        "fal-ai/flux-pro/kontext",
        "fal-ai/flux-pro/kontext/max",
        "fal-ai/bytedance/seededit/v3/edit-image",
        "fal-ai/reve/edit",
    }
)
IMAGE_URLS_APPS: Final = frozenset(
    {
        "fal-ai/flux-pro/kontext/multi",
        "fal-ai/flux-pro/kontext/max/multi",
        "fal-ai/flux-2/edit",
        "fal-ai/flux-2/lora/edit",
        "fal-ai/flux-2-pro/edit",
        "fal-ai/bytedance/seedream/v4/edit",
        "fal-ai/bytedance/seedream/v4.5/edit",
        "fal-ai/reve/remix",
    }
)
TRIPOSR: Final = "fal-ai/triposr"
USO: Final = "fal-ai/uso"
# fal's SeedEdit answers its one image as `image`.
SINGLE_IMAGE_APPS: Final = frozenset({"fal-ai/bytedance/seededit/v3/edit-image"})
APPS: Final = frozenset(presets()["fal"]["models"].values()) | IMAGE_URLS_APPS


# --- The queue's apps ---

# The siblings of apps.py's apps that the adapter picks for some inputs.
TASK_SIBLINGS: Final = frozenset(
    {
        "fal-ai/minimax/hailuo-02/standard/image-to-video",
        "fal-ai/minimax/hailuo-02/pro/text-to-video",
        "fal-ai/minimax/hailuo-02/pro/image-to-video",
        "fal-ai/minimax/video-01/image-to-video",
        "fal-ai/minimax/video-01-live/image-to-video",
        "fal-ai/luma-dream-machine/image-to-video",
        "fal-ai/luma-dream-machine/ray-2/image-to-video",
        "fal-ai/luma-dream-machine/ray-2-flash/image-to-video",
    }
)
QUEUE_APPS: Final = frozenset(TASK_APPS.values()) | TASK_SIBLINGS
MUSIC_APPS: Final = frozenset(
    {"fal-ai/stable-audio", "fal-ai/elevenlabs/music", "fal-ai/lyria2", "fal-ai/minimax-music"}
)
# Apps that animate a face to an audio track, and say how many seconds they made (and billed).
AUDIO_DRIVEN_APPS: Final = frozenset(
    {
        "fal-ai/bytedance/omnihuman",
        "fal-ai/bytedance/omnihuman/v1.5",
        "fal-ai/kling-video/v1/standard/ai-avatar",
        "fal-ai/kling-video/v1/pro/ai-avatar",
        "veed/fabric-1.0",
        "veed/fabric-1.0/fast",
    }
)
# Each app family's `duration` values, as fal's schemas spell them (strings, or Sora's numbers).
DURATIONS: Final[tuple[tuple[str, tuple[Any, ...]], ...]] = (
    ("fal-ai/kling-video/", ("5", "10")),
    ("fal-ai/bytedance/seedance/", tuple(str(n) for n in range(2, 13))),
    ("fal-ai/wan-25-preview/", ("5", "10")),
    ("fal-ai/pixverse/", ("5", "8")),
    ("fal-ai/minimax/hailuo-02/", ("6", "10")),
    ("fal-ai/veo2", ("5s", "6s", "7s", "8s")),
    ("fal-ai/veo3", ("4s", "6s", "8s")),
    ("fal-ai/luma-dream-machine", ("5s", "9s")),
    ("fal-ai/sora-2/", (4, 8, 12)),
)
FAIL: Final = "[fail]"


@dataclass
class QueuedRequest:
    app: str
    body: dict
    state: str = "IN_QUEUE"
    problems: list[tuple[list[str], str, str]] = field(default_factory=list)
    crashes: bool = False


@dataclass(frozen=True)
class Received:
    app: str
    body: Any
    authorization: str | None


@dataclass(frozen=True)
class Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    # Which route it answers ("run", "submit", "status", "result"); None: whichever comes first.
    route: str | None = None


class FakeFal:
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.requests: list[Received] = []
        self.hang = False
        # Hanging requests wait on this; stop() sets it, so the server need not wait them out.
        self._stopping = asyncio.Event()
        self._scripted: list[Scripted] = []
        self._seeds = itertools.count(1000)
        self._files: dict[str, tuple[bytes, str]] = {}
        self._runners: list[web.AppRunner] = []
        self.base_url = ""
        # The queue: submitted requests by id, what was submitted, and the paths polled.
        self.queue_url = ""
        self.queued: dict[str, QueuedRequest] = {}
        self.submitted: list[Received] = []
        self.polled: list[str] = []

    async def start(self) -> None:
        run = web.Application()
        run.router.add_get("/files/{name}", self._file)
        run.router.add_post("/{app:.+}", self._run)
        queue = web.Application()
        queue.router.add_get("/{path:.+}/requests/{request_id}/status", self._status)
        queue.router.add_get("/{path:.+}/requests/{request_id}", self._result)
        queue.router.add_post("/{app:.+}", self._submit)
        self.base_url = await self._serve(run)
        self.queue_url = await self._serve(queue)

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._stopping.set()
        for runner in self._runners:
            await runner.cleanup()

    def answer_next(
        self, status: int, body: Any, headers: dict[str, str] | None = None, *, route: str | None = None
    ) -> None:
        """The next request gets this answer, whatever it asks (after the key check); with `route`
        ("run", "submit", "status", "result"), the next request to that route."""
        self._scripted.append(Scripted(status, body, headers or {}, route))

    def _scripted_for(self, route: str) -> Scripted | None:
        for index, scripted in enumerate(self._scripted):
            if scripted.route in (None, route):
                return self._scripted.pop(index)
        return None

    async def _run(self, request: web.Request) -> web.StreamResponse:
        app = request.match_info["app"]
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        authorization = request.headers.get("Authorization")
        self.requests.append(Received(app, body, authorization))
        if authorization != f"Key {self.key}":
            # Quoting what it was sent, as upstreams' errors may: the gateway must not pass it on.
            return _json(401, {"detail": f"Cannot access application with credentials {authorization}"})
        if (scripted := self._scripted_for("run")) is not None:
            return _json(scripted.status, scripted.body, scripted.headers)
        if self.hang:
            await self._stopping.wait()
        if app not in APPS:
            return _json(404, {"detail": f"Application '{app}' not found"})
        if not isinstance(body, dict):
            return _invalid([(["body"], "Input should be a valid dictionary", "dict_type")])
        problems = _problems(app, body)
        if problems:
            return _invalid(problems)
        result = self._mesh(body) if app == TRIPOSR else self._images(app, body)
        return _json(200, result)

    # --- The queue ---

    def request_base(self, app: str, request_id: str) -> str:
        """Where fal's queue answers for a request: fal_client's rule, from its own AppId."""
        app_id = AppId.from_endpoint_id(app)
        prefix = f"{app_id.namespace}/" if app_id.namespace else ""
        return f"{self.queue_url}/{prefix}{app_id.owner}/{app_id.alias}/requests/{request_id}"

    def _urls(self, app: str, request_id: str) -> dict[str, str]:
        base = self.request_base(app, request_id)
        return {
            "request_id": request_id,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }

    async def _gate(self, request: web.Request, route: str) -> web.Response | None:
        """The key check, then a scripted answer or a hang, as every route has them."""
        authorization = request.headers.get("Authorization")
        if authorization != f"Key {self.key}":
            return _json(401, {"detail": f"Cannot access application with credentials {authorization}"})
        if (scripted := self._scripted_for(route)) is not None:
            return _json(scripted.status, scripted.body, scripted.headers)
        if self.hang:
            await self._stopping.wait()
        return None

    async def _submit(self, request: web.Request) -> web.Response:
        app = request.match_info["app"]
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.submitted.append(Received(app, body, request.headers.get("Authorization")))
        if (refused := await self._gate(request, "submit")) is not None:
            return refused
        if app not in QUEUE_APPS:
            return _json(404, {"detail": f"Application '{app}' not found"})
        if not isinstance(body, dict):
            return _invalid([(["body"], "Input should be a valid dictionary", "dict_type")])
        request_id = str(uuid.uuid4())
        self.queued[request_id] = QueuedRequest(
            app, body, problems=_task_problems(app, body), crashes=FAIL in str(body.get("prompt", ""))
        )
        return _json(200, {**self._urls(app, request_id), "queue_position": 0}, _request_header(request_id))

    def _find(self, request: web.Request) -> tuple[str, QueuedRequest | None]:
        request_id = request.match_info["request_id"]
        self.polled.append(request.path)
        found = self.queued.get(request_id)
        asked = f"{self.queue_url}{request.path}".removesuffix("/status")
        if found is not None and asked != self.request_base(found.app, request_id):
            return request_id, None  # asked for under another app's owner/alias
        return request_id, found

    async def _status(self, request: web.Request) -> web.Response:
        request_id, found = self._find(request)
        if (refused := await self._gate(request, "status")) is not None:
            return refused
        if found is None:
            return _json(404, {"detail": "Request not found"})
        answer: dict[str, Any] = {"status": found.state, **self._urls(found.app, request_id)}
        logs = [] if request.query.get("logs") in ("1", "true") else None
        if found.state == "IN_QUEUE":
            answer["queue_position"] = 0
            found.state = "IN_PROGRESS"
        elif found.state == "IN_PROGRESS":
            answer["logs"] = logs
            found.state = "COMPLETED"
        else:
            answer |= {"logs": logs, "metrics": {"inference_time": 1.25}}
            if found.crashes:
                answer |= {"error": "Internal server error", "error_type": "internal_error"}
        code = 200 if answer["status"] == "COMPLETED" else 202
        return _json(code, answer, _request_header(request_id))

    async def _result(self, request: web.Request) -> web.Response:
        request_id, found = self._find(request)
        if (refused := await self._gate(request, "result")) is not None:
            return refused
        if found is None:
            return _json(404, {"detail": "Request not found"})
        headers = _request_header(request_id)
        if found.state != "COMPLETED":
            return _json(400, {"detail": "Request is still in progress"}, headers)
        if found.problems:
            return _invalid(found.problems, headers)
        if found.crashes:
            # The app's own words name the machine it ran on: the gateway must not pass them on.
            return _json(500, {"detail": "CUDA error on runner gpu-17.fal.internal:8080"}, headers)
        if found.app in MUSIC_APPS:
            return _json(200, self._music(found.app, found.body), headers)
        return _json(200, self._video(found.app, found.body), headers)

    def _video(self, app: str, body: dict) -> dict:
        name = f"video-{len(self._files)}.mp4"
        self._files[name] = (MP4, "video/mp4")
        video = {
            "url": self._url(name),
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": len(MP4),
        }
        result: dict[str, Any] = {"video": video}
        if app in AUDIO_DRIVEN_APPS and not app.startswith("veed/"):
            result["duration"] = 4.2
        if app.startswith(("fal-ai/bytedance/seedance/", "fal-ai/wan")):
            result["seed"] = body.get("seed", next(self._seeds))
        return result

    def _music(self, app: str, body: dict) -> dict:
        if "music_length_ms" in body:
            seconds = body["music_length_ms"] / 1000
        else:
            seconds = body.get("seconds_total", 30 if app == "fal-ai/stable-audio" else 10)
        data = wav(float(seconds))
        name = f"audio-{len(self._files)}.wav"
        self._files[name] = (data, "audio/wav")
        file = {
            "url": self._url(name),
            "content_type": "audio/wav",
            "file_name": "output.wav",
            "file_size": len(data),
        }
        return {"audio_file": file} if app == "fal-ai/stable-audio" else {"audio": file}

    def _images(self, app: str, body: dict) -> dict:
        width, height = _size(body.get("image_size"))
        count = body.get("num_images", 1)
        seed = body.get("seed", next(self._seeds))
        images = []
        for _ in range(count):
            name = f"image-{len(self._files)}.png"
            self._files[name] = (png(width, height), "image/png")
            images.append(
                {"url": self._url(name), "width": width, "height": height, "content_type": "image/png"}
            )
        if app in SINGLE_IMAGE_APPS:
            return {"image": images[0], "seed": seed}
        return {
            "images": images,
            "timings": {"inference": 0.012},
            "seed": seed,
            "has_nsfw_concepts": [False] * count,
            "prompt": body.get("prompt", ""),
        }

    def _mesh(self, body: dict) -> dict:
        kind = body.get("output_format", "glb")
        data = GLB if kind == "glb" else OBJ
        name = f"model-{len(self._files)}.{kind}"
        self._files[name] = (data, "application/octet-stream")
        return {
            "model_mesh": {
                "url": self._url(name),
                "content_type": "application/octet-stream",
                "file_name": f"model.{kind}",
                "file_size": len(data),
            },
            "timings": {"prepare": 0.01, "generation": 0.02, "export": 0.01},
            "remeshing_dir": None,
        }

    def _url(self, name: str) -> str:
        return f"{self.base_url}/files/{name}"

    async def _file(self, request: web.Request) -> web.Response:
        found = self._files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        data, content_type = found
        return web.Response(body=data, content_type=content_type)


def _problems(app: str, body: dict) -> list[tuple[list[str], str, str]]:
    """What the app's input schema refuses, as (loc, msg, type); only the fields tests exercise."""
    problems: list[tuple[list[str], str, str]] = []
    needed: list[tuple[str, type]] = []
    if app == TRIPOSR:
        needed.append(("image_url", str))
    elif app == USO:
        needed.append(("input_image_urls", list))
    else:
        needed.append(("prompt", str))
    if app in IMAGE_URL_APPS:
        needed.append(("image_url", str))
    if app in IMAGE_URLS_APPS:
        needed.append(("image_urls", list))
    for name, kind in needed:
        if name not in body:
            problems.append((["body", name], "Field required", "missing"))
        elif not isinstance(body[name], kind):
            problems.append(
                (["body", name], f"Input should be a valid {kind.__name__}", f"{kind.__name__}_type")
            )
    count = body.get("num_images", 1)
    if not isinstance(count, int) or not 1 <= count <= 4:
        problems.append(
            (["body", "num_images"], "Input should be less than or equal to 4", "less_than_equal")
        )
    size = body.get("image_size")
    if size is not None and not (size in SIZES or _is_dimensions(size)):
        problems.append((["body", "image_size"], "Input should be a valid size", "union_tag_invalid"))
    return problems


def _task_problems(app: str, body: dict) -> list[tuple[list[str], str, str]]:
    """What a queue app's input schema refuses; only the fields the adapter translates or tests use."""
    needed: list[tuple[str, type]] = []
    if app.endswith("/first-last-frame-to-video"):
        needed += [("prompt", str), ("first_frame_url", str), ("last_frame_url", str)]
    elif app.endswith("/reference-to-video"):
        needed += [("prompt", str), ("image_urls", list)]
    elif app.endswith("/effects"):
        needed += [("input_image_urls", list), ("effect_scene", str)]
    elif app.endswith("/elements"):
        needed += [("prompt", str), ("input_image_urls", list)]
    elif app in AUDIO_DRIVEN_APPS:
        needed += [("image_url", str), ("audio_url", str)]
    elif "/animate/" in app:
        needed += [("video_url", str), ("image_url", str)]
    elif app.startswith("fal-ai/wan-22-vace-fun-a14b/"):
        needed += [("video_url", str)]
    elif app == "fal-ai/minimax-music":
        needed += [("prompt", str), ("reference_audio_url", str)]
    else:
        needed.append(("prompt", str))
        if "image-to-video" in app:
            needed.append(("image_url", str))
    problems = [(["body", name], "Field required", "missing") for name, _ in needed if name not in body] + [
        (["body", name], f"Input should be a valid {kind.__name__}", f"{kind.__name__}_type")
        for name, kind in needed
        if name in body and not isinstance(body[name], kind)
    ]
    allowed = next((values for prefix, values in DURATIONS if app.startswith(prefix)), None)
    if "duration" in body and allowed is not None and body["duration"] not in allowed:
        choices = " or ".join(repr(v) for v in allowed)
        problems.append((["body", "duration"], f"Input should be {choices}", "enum"))
    if app.startswith("fal-ai/veo") and body.get("resolution", "720p") not in ("720p", "1080p"):
        problems.append((["body", "resolution"], "Input should be '720p' or '1080p'", "enum"))
    return problems


def _is_dimensions(size: object) -> bool:
    return (
        isinstance(size, dict)
        and isinstance(size.get("width"), int)
        and isinstance(size.get("height"), int)
        and 0 < size["width"] <= 4096
        and 0 < size["height"] <= 4096
    )


def _size(size: object) -> tuple[int, int]:
    if isinstance(size, dict):
        return size["width"], size["height"]
    return SIZES[size] if isinstance(size, str) else SIZES["landscape_4_3"]


def _invalid(
    problems: list[tuple[list[str], str, str]], headers: dict[str, str] | None = None
) -> web.Response:
    detail = [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in problems]
    return _json(422, {"detail": detail}, headers)


def _request_header(request_id: str) -> dict[str, str]:
    # fal's answers name the request (fal_client tells them from a proxy's errors by it).
    return {"x-fal-request-id": request_id}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


@cache
def png(width: int, height: int) -> bytes:
    """A real PNG of one colour (8-bit RGB); its rows compress to almost nothing at any size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x30\x80\xc0" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _glb() -> bytes:
    """The smallest valid binary glTF: the header and a JSON chunk naming the asset version."""
    scene = b'{"asset":{"version":"2.0"}}'
    scene += b" " * (-len(scene) % 4)
    chunk = struct.pack("<I4s", len(scene), b"JSON") + scene
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunk)) + chunk


GLB: Final = _glb()
OBJ: Final = b"o fake\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def _mp4() -> bytes:
    """The smallest ISO media file: an `ftyp` box (isom) and an empty `mdat`."""
    ftyp = struct.pack(">I4s4sI", 24, b"ftyp", b"isom", 0x200) + b"isomiso2"
    return ftyp + struct.pack(">I4s", 8, b"mdat")


MP4: Final = _mp4()


@cache
def wav(seconds: float, rate: int = 8000) -> bytes:
    """A real WAV file of silence (8-bit mono PCM), `seconds` long."""
    frames = round(seconds * rate)
    header = struct.pack("<4sI4s", b"RIFF", 36 + frames, b"WAVE")
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate, 1, 8)
    return header + fmt + struct.pack("<4sI", b"data", frames) + b"\x80" * frames
