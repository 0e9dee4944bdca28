"""POST /v1/images/generations (every image model, and triposr's 3D meshes) and POST
/v1/images/edits (multipart, as OpenAI's SDK sends it).

Answers always carry `data[{url | b64_json, ...}]` and `meta.usage.tokens_used`; answers in fal's
shape keep their `images[]`, `seed` and `timings` beside `data` (clients of either shape work);
triposr answers `model_mesh`. `response_format = "b64_json"` is honoured whoever served it.
"""

from __future__ import annotations

import base64

from aiohttp import web

from omnigate.api.media import begin_media, json_answer, run_media, settle_media, with_meta
from omnigate.api.pipeline import Call, Family
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, bad_request
from omnigate.gateway import GATEWAY
from omnigate.providers.media import MediaResult, Upload
from omnigate.settings_tables import megabytes

GENERATIONS = Family("/v1/images/generations", ("image",), media="image")
EDITS = Family("/v1/images/edits", ("image",), media="image-edit")


async def generations(request: web.Request) -> web.Response:
    call, uploads = await begin_media(request, GENERATIONS, _estimate)
    try:
        return await _answer(call, await run_media(call, "image", uploads))
    finally:
        await call.release()


async def edits(request: web.Request) -> web.Response:
    limit = megabytes(request.app[GATEWAY].settings.server.max_image_mb)
    call, uploads = await begin_media(request, EDITS, _estimate, files={"image": limit, "mask": limit})
    try:
        if not any(u.field == "image" for u in uploads):
            raise bad_request(f"{BODY_VALIDATION} image: Required (a file)", param="image")
        return await _answer(call, await run_media(call, "image-edit", uploads))
    finally:
        await call.release()


def _estimate(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
    count = body.get("n", body.get("num_images", 1))
    images = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1
    # Models sold by the token (gpt-image-1) count the prompt's tokens: at most one a byte.
    return Used(images=images, prompt_tokens=size)


async def _answer(call: Call, result: MediaResult) -> web.Response:
    answer = dict(result.body or {})
    if "model_mesh" not in answer:
        answer["data"] = _data(answer)
        if call.body.get("response_format") == "b64_json":
            answer["data"] = [await _inline(call, item) for item in answer["data"]]
    charged = await settle_media(call, result)
    return json_answer(call, with_meta(answer, charged))


def _data(answer: dict) -> list[dict]:
    """`data[]` as the service answers it; built from fal's `images[]` when only those came."""
    data = answer.get("data")
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    images = answer.get("images")
    if isinstance(images, list):
        return [{"url": i.get("url"), "b64_json": None, **i} for i in images if isinstance(i, dict)]
    return []


async def _inline(call: Call, item: dict) -> dict:
    """An image given as a URL, as base64 instead (the client asked for b64_json)."""
    url = item.get("url")
    if item.get("b64_json") or not isinstance(url, str):
        return item
    if url.startswith("data:") and "," in url:
        return {**item, "url": None, "b64_json": url.split(",", 1)[1]}
    # The URL came from the upstream, not from the client: it may sit on the operator's network.
    image = await call.gw.fetcher.fetch(url, "data.url", trusted=True)
    return {**item, "url": None, "b64_json": base64.b64encode(image.data).decode()}
