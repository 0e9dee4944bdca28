"""Video and music jobs → fal queue apps and their inputs, fal's results → the service's; the
catalogue models mapped to fal apps; and the queue URLs, as fal_client builds them."""

from __future__ import annotations

import pytest
from fal_client.client import AppId

from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Catalog
from omnigate.providers.fal.apps import TASK_APPS
from omnigate.providers.fal.client import queue_root, requests_path
from omnigate.providers.fal.translate import InvalidAnswer, from_fal_task, to_fal_task

# The catalogue's video and music models fal does not run (or not as the catalogue's model):
# DashScope's Wan -plus/-turbo, Kling 1.0 Pro, PixVerse's transition (fal's input differs, unchecked),
# Runway, Krea, LTXV, Kandinsky, MiniMax Music 1.5 and music-01 (their fal inputs unchecked); and the
# video models only a docs page documents (Kling 1.5 and O1, Hailuo 2.3, PixVerse 5.5, Runway Gen-3),
# whose fal inputs are unchecked too.
UNMAPPED = frozenset(
    {
        "alibaba/wan2.1-t2v-plus",
        "alibaba/wan2.1-t2v-turbo",
        "alibaba/wan2.2-t2v-plus",
        "kling-video/v1/pro/text-to-video",
        "kling-video/v1/pro/image-to-video",
        "pixverse/v5/transition",
        "gen3a_turbo",
        "runway/gen4_turbo",
        "runway/gen4_aleph",
        "runway/act_two",
        "krea/krea-wan-14b/text-to-video",
        "krea/krea-wan-14b/video-to-video",
        "ltxv/ltxv-2",
        "ltxv/ltxv-2-fast",
        "sber-ai/kandinsky5-t2v",
        "sber-ai/kandinsky5-distill-t2v",
        "minimax/music-1.5",
        "music-01",
        "kling-video/v1.5/pro/image-to-video",
        "kling-video/v1.5/pro/text-to-video",
        "kling-video/v1.5/standard/image-to-video",
        "klingai/video-o1-image-to-video",
        "minimax/hailuo-2.3",
        "minimax/hailuo-2.3-fast",
        "pixverse/v5.5/image-to-video",
        "pixverse/v5.5/text-to-video",
        "runway-gen3/turbo/image-to-video",
    }
)


def fal_base(app: str, request_id: str) -> str:
    """fal_client's own rule for a request's URLs (AsyncRequestHandle.from_request_id)."""
    app_id = AppId.from_endpoint_id(app)
    prefix = f"{app_id.namespace}/" if app_id.namespace else ""
    return f"{prefix}{app_id.owner}/{app_id.alias}/requests/{request_id}"


def test_every_mapped_id_is_a_catalogue_video_or_music_model() -> None:
    catalog = Catalog.load()
    types = {model.id: model.type for model in catalog.models}
    assert {
        model_id: types.get(model_id)
        for model_id in TASK_APPS
        if types.get(model_id) not in ("video", "audio")
    } == {}


def test_every_catalogue_video_and_music_model_is_mapped_or_known_unmapped() -> None:
    tasks = {m.id for m in Catalog.load().models if m.type in ("video", "audio")}
    assert tasks - set(TASK_APPS) == UNMAPPED
    assert not UNMAPPED & set(TASK_APPS)


@pytest.mark.parametrize(
    "app",
    [
        *sorted(set(TASK_APPS.values())),
        "workflows/fal-ai/some-flow/v1",
        "comfy/fal-ai/graph",
        "12345-my-app",
    ],
)
def test_requests_are_named_under_the_app_ids_first_segments_as_fal_client_names_them(app: str) -> None:
    assert f"{requests_path(app)}/requests/r-1" == fal_base(app, "r-1")


def test_nested_app_ids_keep_only_owner_and_alias() -> None:
    assert requests_path("fal-ai/kling-video/v2.1/master/text-to-video") == "fal-ai/kling-video"
    assert requests_path("veed/fabric-1.0/fast") == "veed/fabric-1.0"
    with pytest.raises(ValueError):
        requests_path("nonsense")


def test_the_queue_lives_on_fals_queue_host() -> None:
    assert queue_root("https://fal.run") == "https://queue.fal.run"
    assert queue_root("https://falrun.com") == "https://queue.falrun.com"
    # Anything else (a proxy) serves the queue at its own root.
    assert queue_root("https://fal-proxy.internal.test/fal/") == "https://fal-proxy.internal.test/fal"


# --- Jobs → apps and inputs ---


def test_a_catalogue_id_runs_on_its_app_and_the_body_passes_through() -> None:
    app, arguments = to_fal_task(
        {"model": "kling-video/v1.6/pro/text-to-video", "prompt": "a fox", "cfg_scale": 0.4, "duration": 10}
    )
    assert app == "fal-ai/kling-video/v1.6/pro/text-to-video"
    # Kling's duration is a string on fal.
    assert arguments == {"prompt": "a fox", "cfg_scale": 0.4, "duration": "10"}


def test_a_fal_app_id_is_used_as_it_is() -> None:
    app, arguments = to_fal_task({"model": "fal-ai/some/new-video-app", "prompt": "p", "duration": 5})
    assert (app, arguments) == ("fal-ai/some/new-video-app", {"prompt": "p", "duration": 5})


@pytest.mark.parametrize(
    ("model", "sent", "expected"),
    [
        ("bytedance/seedance-1-0-pro-t2v", 5, "5"),
        ("alibaba/wan2.5-t2v-preview", 10, "10"),
        ("pixverse/v5/text-to-video", 8, "8"),
        ("klingai/v2.1-master-text-to-video", "5", "5"),
        ("google/veo-3.1-t2v", 6, "6s"),
        ("google/veo3", "8", "8s"),
        ("veo2", 7, "7s"),
        ("luma/ray-2", 9, "9s"),
        ("luma/ray-2", "5s", "5s"),
        ("sora-2-t2v", 8, 8),
        ("klingai/v2-master-text-to-video", True, True),
    ],
)
def test_durations_take_the_form_each_app_wants(model: str, sent: object, expected: object) -> None:
    _, arguments = to_fal_task({"model": model, "prompt": "p", "duration": sent})
    assert arguments["duration"] == expected and type(arguments["duration"]) is type(expected)


def test_veo_resolutions_are_lower_case_and_first_last_frames_are_renamed() -> None:
    app, arguments = to_fal_task(
        {
            "model": "google/veo-3.1-first-last-image-to-video-fast",
            "prompt": "p",
            "image_url": "https://x.test/a.png",
            "last_image_url": "https://x.test/b.png",
            "resolution": "1080P",
            "duration": 8,
        }
    )
    assert app == "fal-ai/veo3.1/fast/first-last-frame-to-video"
    assert arguments == {
        "prompt": "p",
        "first_frame_url": "https://x.test/a.png",
        "last_frame_url": "https://x.test/b.png",
        "resolution": "1080p",
        "duration": "8s",
    }


def test_hailuo_picks_its_tier_by_resolution_and_its_mode_by_input() -> None:
    app, arguments = to_fal_task({"model": "minimax/hailuo-02", "prompt": "p", "duration": 6})
    assert (app, arguments) == (
        "fal-ai/minimax/hailuo-02/standard/text-to-video",
        {"prompt": "p", "duration": "6"},
    )
    app, arguments = to_fal_task(
        {
            "model": "minimax/hailuo-02",
            "prompt": "p",
            "resolution": "1080P",
            "first_frame_image": "https://x.test/a.png",
            "last_image_url": "https://x.test/b.png",
            "prompt_optimizer": False,
        }
    )
    assert app == "fal-ai/minimax/hailuo-02/pro/image-to-video"
    assert arguments == {
        "prompt": "p",
        "image_url": "https://x.test/a.png",
        "end_image_url": "https://x.test/b.png",
        "prompt_optimizer": False,
    }


def test_minimax_first_frames_go_to_the_image_to_video_app() -> None:
    assert to_fal_task({"model": "video-01", "prompt": "p"}) == ("fal-ai/minimax/video-01", {"prompt": "p"})
    app, arguments = to_fal_task(
        {"model": "video-01-live2d", "prompt": "p", "first_frame_image": "https://x.test/a.png"}
    )
    assert (app, arguments) == (
        "fal-ai/minimax/video-01-live/image-to-video",
        {"prompt": "p", "image_url": "https://x.test/a.png"},
    )


def test_luma_image_keyframes_go_to_the_image_to_video_app() -> None:
    app, arguments = to_fal_task(
        {
            "model": "luma/ray-flash-2",
            "prompt": "p",
            "loop": True,
            "keyframes": {
                "frame0": {"type": "image", "url": "https://x.test/a.png"},
                "frame1": {"type": "image", "url": "https://x.test/b.png"},
            },
        }
    )
    assert app == "fal-ai/luma-dream-machine/ray-2-flash/image-to-video"
    assert arguments == {
        "prompt": "p",
        "loop": True,
        "image_url": "https://x.test/a.png",
        "end_image_url": "https://x.test/b.png",
    }
    # A generation to extend is no image: it goes as it came, for fal to refuse.
    keyframes = {"frame0": {"type": "generation", "id": "g-1"}}
    assert to_fal_task({"model": "luma/ray-2", "prompt": "p", "keyframes": keyframes}) == (
        "fal-ai/luma-dream-machine/ray-2",
        {"prompt": "p", "keyframes": keyframes},
    )


def test_kling_effects_and_elements_take_lists_of_images() -> None:
    app, arguments = to_fal_task(
        {
            "model": "klingai/kling-video-v1.6-pro-effects",
            "effect_scene": "hug",
            "image_url": "https://x.test/a.png",
        }
    )
    assert (app, arguments) == (
        "fal-ai/kling-video/v1.6/pro/effects",
        {"effect_scene": "hug", "input_image_urls": ["https://x.test/a.png"]},
    )
    app, arguments = to_fal_task(
        {
            "model": "kling-video/v1.6/standard/multi-image-to-video",
            "prompt": "p",
            "image_list": [{"image": "https://x.test/a.png"}, "https://x.test/b.png"],
        }
    )
    assert (app, arguments) == (
        "fal-ai/kling-video/v1.6/standard/elements",
        {"prompt": "p", "input_image_urls": ["https://x.test/a.png", "https://x.test/b.png"]},
    )


def test_music_bodies_are_fals_inputs_already() -> None:
    body = {"model": "stable-audio", "prompt": "lofi", "seconds_start": 2, "seconds_total": 20, "steps": 50}
    assert to_fal_task(body) == ("fal-ai/stable-audio", {k: v for k, v in body.items() if k != "model"})
    assert to_fal_task({"model": "elevenlabs/eleven_music", "prompt": "p", "music_length_ms": 20000}) == (
        "fal-ai/elevenlabs/music",
        {"prompt": "p", "music_length_ms": 20000},
    )


# --- fal's results → the service's ---

FILE = {
    "url": "https://v3.fal.media/files/out.mp4",
    "content_type": "video/mp4",
    "file_name": "out.mp4",
    "file_size": 123,
}


def test_a_video_result_keeps_the_file_fields() -> None:
    result, used = from_fal_task("video", {"video": {**FILE, "file_data": None}, "seed": 4})
    assert result == {"video": FILE} and used == Used()


@pytest.mark.parametrize(
    "answer",
    [{"video": {**FILE, "duration": 5.04}}, {"video": FILE, "duration": 5.04}],
)
def test_a_video_result_that_says_its_duration_is_billed_by_it(answer: dict) -> None:
    result, used = from_fal_task("video", answer)
    assert result == {"video": {**FILE, "duration": 5.04}} and used == Used(seconds=5.04)


def test_music_results_are_the_services_audio_file() -> None:
    audio = {
        "url": "https://v3.fal.media/files/a.wav",
        "content_type": "audio/wav",
        "file_name": "a.wav",
        "file_size": 9,
    }
    for answer in ({"audio_file": audio}, {"audio": audio}):
        assert from_fal_task("music", answer) == ({"audio_file": audio}, Used())
    result, used = from_fal_task("music", {"audio": {**audio, "duration": 30}})
    assert result == {"audio_file": audio} and used == Used(seconds=30.0)


@pytest.mark.parametrize(
    ("family", "answer"),
    [
        ("video", None),
        ("video", {"images": []}),
        ("video", {"video": {"content_type": "video/mp4"}}),
        ("music", {"video": FILE}),
        ("music", {"audio": "https://x.test/a.wav"}),
    ],
)
def test_results_without_the_file_are_invalid(family: str, answer: object) -> None:
    with pytest.raises(InvalidAnswer):
        from_fal_task(family, answer)
