"""The service's image bodies → a fal app's input, and fal's answers → the service's image answer.

The service's schemas for the models fal hosts are fal's own (prompt, image_size, num_images,
seed, image_url, ...), so a body goes out almost as it came: `model` names the app to call and the
rest is its input. What differs is listed below, and it is all a few apps' business.
"""

from __future__ import annotations

import re

from omnigate.billing.pricing import Used

# How the client wants the answer (a URL or base64): the gateway applies that itself, fal has no
# such field.
_ANSWER_FORMAT = frozenset({"response_format", "convert_base64_to_url"})
# OpenAI's `size` (the service's ByteDance schemas use it): "WxH" is fal's `image_size`; any other
# value ("adaptive") is what fal does anyway.
_WXH = re.compile(r"(\d+)x(\d+)")
# Kontext's image-to-image apps take one `image_url`; several images go to their `/multi` app,
# as `image_urls`. The service takes either in `image_url`.
_MULTI_APPS = frozenset({"fal-ai/flux-pro/kontext", "fal-ai/flux-pro/kontext/max"})
# One catalogue model, two fal apps: the second takes the input images, when the client sent some.
_EDIT_APPS = {"fal-ai/bytedance/seedream/v4.5/text-to-image": "fal-ai/bytedance/seedream/v4.5/edit"}
# Fields an app names otherwise than the service.
_RENAMED = {"fal-ai/uso": {"image_urls": "input_image_urls"}}
# Seedream 4.5 spells the service's sizes "2K" and "4K" its own way.
_SEEDREAM_45 = "fal-ai/bytedance/seedream/v4.5/"
_SEEDREAM_45_SIZES = {"2K": "auto_2K", "4K": "auto_4K"}


class InvalidAnswer(ValueError):
    """fal answered 200 with a body that is not a result of an image or 3D app."""


def to_fal(body: dict) -> tuple[str, dict]:
    """The app to call (the body's `model`, the deployment's upstream name) and its input."""
    app = str(body["model"])
    arguments = {k: v for k, v in body.items() if k != "model" and k not in _ANSWER_FORMAT}
    size = arguments.pop("size", None)
    if isinstance(size, str) and (wxh := _WXH.fullmatch(size)):
        arguments.setdefault("image_size", {"width": int(wxh[1]), "height": int(wxh[2])})
    # Qwen's and SeedEdit's schemas call the input image `image`; every fal app calls it `image_url`.
    if "image" in arguments and "image_url" not in arguments:
        arguments["image_url"] = arguments.pop("image")
    image_url = arguments.get("image_url")
    if isinstance(image_url, list) and len(image_url) == 1:
        arguments["image_url"] = image_url[0]
    elif isinstance(image_url, list) and app in _MULTI_APPS:
        app += "/multi"
        arguments["image_urls"] = arguments.pop("image_url")
    if arguments.get("image_urls") and app in _EDIT_APPS:
        app = _EDIT_APPS[app]
    for name, fal_name in _RENAMED.get(app, {}).items():
        if name in arguments:
            arguments[fal_name] = arguments.pop(name)
    if app.startswith(_SEEDREAM_45) and isinstance(arguments.get("image_size"), str):
        size_name = arguments["image_size"]
        arguments["image_size"] = _SEEDREAM_45_SIZES.get(size_name, size_name)
    return app, arguments


def from_fal(answer: object) -> tuple[dict, Used]:
    """The service's answer for fal's, and what the call used.

    Images: fal's answer with `data` added, one `{url, b64_json, ...}` per image, so that clients
    written for either shape read it. A 3D model (triposr's `model_mesh`) is passed on as it is.
    """
    if not isinstance(answer, dict):
        raise InvalidAnswer("returned a body that is not a JSON object")
    mesh = answer.get("model_mesh")
    if mesh is not None:
        if not isinstance(mesh, dict) or not isinstance(mesh.get("url"), str):
            raise InvalidAnswer("returned a 3D model without a URL")
        return answer, Used(requests=1)
    images = answer.get("images")
    if images is None and isinstance(answer.get("image"), dict):
        # Single-image apps (SeedEdit) answer `image` rather than a list.
        images = [answer["image"]]
    if not isinstance(images, list) or not all(
        isinstance(image, dict) and isinstance(image.get("url"), str) for image in images
    ):
        raise InvalidAnswer("returned no images")
    data = [{**image, "b64_json": None} for image in images]
    return {**answer, "data": data}, Used(images=len(images))
