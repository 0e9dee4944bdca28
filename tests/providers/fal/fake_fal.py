"""A local fake of fal.ai's synchronous model API (`POST https://fal.run/<app id>`).

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

Tests can queue answers (`answer_next`: any status and body) and make it hang (`hang = True`).
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import orjson
from aiohttp import web

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
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/files/{name}", self._file)
        app.router.add_post("/{app:.+}", self._run)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def answer_next(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """The next request gets this answer, whatever it asks (after the key check)."""
        self._scripted.append(Scripted(status, body, headers or {}))

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
        if self._scripted:
            scripted = self._scripted.pop(0)
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


def _invalid(problems: list[tuple[list[str], str, str]]) -> web.Response:
    return _json(422, {"detail": [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in problems]})


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
