"""The service's bodies → a fal app's input, and fal's results → the service's answers.

Images (`to_fal`, `from_fal`): the service's schemas for the models fal hosts are fal's own
(prompt, image_size, num_images, seed, image_url, ...), so a body goes out almost as it came:
`model` names the app to call and the rest is its input.

Video and music tasks (`to_fal_task`, `from_fal_task`): `model` is a catalogue id (apps.py names
its app) or a fal app id; the rest is passed through as the app's input, except for the
well-known differences below (the service's `duration` is a number of seconds where fal's
Kling, Seedance, Wan 2.5, PixVerse and Hailuo apps want "5", and Veo and Luma "8s"; Veo's
first/last frames, Kling's effect and multi-image inputs, MiniMax's first frame and Luma's
keyframes are named otherwise, and pick other apps). Every other field goes as the client sent it,
for fal's app to accept or refuse (422, which reaches the client with the field it names).

What differs is listed below, and it is all a few apps' business.
"""

from __future__ import annotations

import re

from omnigate.billing.pricing import Used
from omnigate.providers.fal.apps import TASK_APPS

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


# --- Video and music tasks (fal's queue API runs them; client.py speaks it) ---

# Apps whose `duration` is a string of whole seconds ("5", "10"); the service sends a number.
_DURATION_DIGITS = (
    "fal-ai/kling-video/",
    "fal-ai/bytedance/seedance/",
    "fal-ai/wan-25-preview/",
    "fal-ai/pixverse/",
    "fal-ai/minimax/hailuo-02/",
)
# Apps whose `duration` is seconds with a unit ("8s").
_DURATION_UNIT = ("fal-ai/veo2", "fal-ai/veo3", "fal-ai/luma-dream-machine")
_VEO = "fal-ai/veo"
_KLING = "fal-ai/kling-video/"
_HAILUO = "fal-ai/minimax/hailuo-02/"
_LUMA = "fal-ai/luma-dream-machine"
# MiniMax's older video apps: their image-to-video sibling takes the service's first frame.
_MINIMAX_FIRST_FRAME = frozenset({"fal-ai/minimax/video-01", "fal-ai/minimax/video-01-live"})
# The fields of a fal File (video, audio) the service's answers carry.
_FILE_FIELDS = ("url", "content_type", "file_name", "file_size")


def task_app(model: str) -> str:
    """The fal app a task model runs on: apps.py's for a catalogue id, else the name itself."""
    return TASK_APPS.get(model, model)


def to_fal_task(body: dict) -> tuple[str, dict]:
    """The app to submit a video or music job to, and its input."""
    app = task_app(str(body["model"]))
    arguments = {k: v for k, v in body.items() if k != "model"}
    if app.startswith(_HAILUO):
        app = _hailuo(arguments)
    elif _image_to_video(app, arguments):
        app += "/image-to-video"
    elif app.startswith(_VEO):
        if isinstance(arguments.get("resolution"), str):
            # The service's Google route says "720P"; fal's Veo apps "720p".
            arguments["resolution"] = arguments["resolution"].lower()
        if app.endswith("/first-last-frame-to-video"):
            _rename(arguments, "image_url", "first_frame_url")
            _rename(arguments, "last_image_url", "last_frame_url")
    elif app.startswith(_KLING) and app.endswith("/effects"):
        if isinstance(arguments.get("image_url"), str):
            arguments.setdefault("input_image_urls", [arguments.pop("image_url")])
    elif app.startswith(_KLING) and app.endswith("/elements") and "image_list" in arguments:
        arguments.setdefault("input_image_urls", _image_urls(arguments.pop("image_list")))
    _duration(app, arguments)
    return app, arguments


def from_fal_task(family: str, answer: object) -> tuple[dict, Used]:
    """The service's result for a completed fal request, and the seconds it made when fal says.

    Video: `{"video": {url, content_type, file_name, file_size, duration?}}` from fal's `video`
    File; the duration is the File's or the result's own (OmniHuman and Kling's avatars report
    the seconds they billed). Music: `{"audio_file": {url, content_type, file_name, file_size}}`
    from fal's `audio_file` (Stable Audio) or `audio` (ElevenLabs, Lyria, MiniMax) File.
    """
    if not isinstance(answer, dict):
        raise InvalidAnswer("returned a result that is not a JSON object")
    if family == "video":
        kind, file = "video", answer.get("video")
    else:
        kind, file = "audio", answer.get("audio_file") or answer.get("audio")
    if not isinstance(file, dict) or not isinstance(file.get("url"), str):
        raise InvalidAnswer(f"returned no {kind}")
    found = {k: file[k] for k in _FILE_FIELDS if file.get(k) is not None}
    seconds = _seconds(file.get("duration"), answer.get("duration"))
    used = Used(seconds=float(seconds)) if seconds is not None else Used()
    if family == "video":
        if seconds is not None:
            found["duration"] = seconds
        return {"video": found}, used
    return {"audio_file": found}, used


def _hailuo(arguments: dict) -> str:
    """Hailuo 02's app: fal splits it by resolution (standard 768P, pro 1080P) and by input."""
    resolution = arguments.pop("resolution", None)
    tier = "pro" if str(resolution).upper() == "1080P" else "standard"
    _rename(arguments, "first_frame_image", "image_url")
    _rename(arguments, "last_image_url", "end_image_url")
    mode = "image-to-video" if "image_url" in arguments else "text-to-video"
    return f"{_HAILUO}{tier}/{mode}"


def _image_to_video(app: str, arguments: dict) -> bool:
    """MiniMax's first frame and Luma's image keyframes, as fal's image-to-video siblings of those
    apps take them; True when the job has them."""
    if app in _MINIMAX_FIRST_FRAME:
        return _rename(arguments, "first_frame_image", "image_url")
    return app.startswith(_LUMA) and _luma_keyframes(arguments)


def _luma_keyframes(arguments: dict) -> bool:
    """Luma's image keyframes as fal's image_url and end_image_url; True when there were any."""
    keyframes = arguments.get("keyframes")
    if not isinstance(keyframes, dict):
        return False
    first, last = (_keyframe_url(keyframes.get(name)) for name in ("frame0", "frame1"))
    if first is None and last is None:
        return False  # a generation to extend: fal has no such input, its app says so
    del arguments["keyframes"]
    if first is not None:
        arguments.setdefault("image_url", first)
    if last is not None:
        arguments.setdefault("end_image_url", last)
    return True


def _keyframe_url(frame: object) -> str | None:
    if isinstance(frame, dict) and frame.get("type") == "image" and isinstance(frame.get("url"), str):
        return frame["url"]
    return None


def _image_urls(images: object) -> object:
    """Kling's image_list (URLs, or `{image: url}` as Kling's own API has them) as a list of URLs."""
    if not isinstance(images, list):
        return images
    urls = []
    for item in images:
        if isinstance(item, dict):
            item = next((item[k] for k in ("image", "image_url", "url") if k in item), item)
        urls.append(item)
    return urls


def _duration(app: str, arguments: dict) -> None:
    duration = arguments.get("duration")
    if isinstance(duration, bool) or duration is None:
        return
    whole = isinstance(duration, int | float) and float(duration).is_integer()
    if app.startswith(_DURATION_DIGITS) and whole:
        arguments["duration"] = str(int(duration))
    elif app.startswith(_DURATION_UNIT):
        if whole:
            arguments["duration"] = f"{int(duration)}s"
        elif isinstance(duration, str) and duration.isdigit():
            arguments["duration"] = f"{duration}s"


def _rename(arguments: dict, name: str, fal_name: str) -> bool:
    """Move `name` to `fal_name` (unless the client sent that too); True when `name` was there."""
    if name not in arguments:
        return False
    value = arguments.pop(name)
    arguments.setdefault(fal_name, value)
    return True


def _seconds(*values: object) -> int | float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return value
    return None
