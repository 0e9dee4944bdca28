"""The service's image bodies → fal inputs, fal answers → the service's answer, and the preset."""

from __future__ import annotations

import pytest

from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Catalog
from omnigate.providers.fal.client import FalProvider
from omnigate.providers.fal.errors import fal_message
from omnigate.providers.fal.translate import InvalidAnswer, from_fal, to_fal
from omnigate.providers.presets import presets, upstream_name
from omnigate.routing.router import MEDIA_FAMILY_OF_TYPE


def test_the_body_is_the_apps_input_without_the_model_and_the_answer_format() -> None:
    body = {
        "model": "fal-ai/flux/dev",
        "prompt": "a lighthouse",
        "image_size": {"width": 640, "height": 480},
        "num_images": 2,
        "seed": 7,
        "guidance_scale": 3.5,
        "num_inference_steps": 20,
        "enable_safety_checker": False,
        "output_format": "png",
        "response_format": "b64_json",
    }
    app, arguments = to_fal(body)
    assert app == "fal-ai/flux/dev"
    assert arguments == {k: v for k, v in body.items() if k not in ("model", "response_format")}
    assert to_fal({"model": "fal-ai/reve/text-to-image", "prompt": "p", "convert_base64_to_url": False}) == (
        "fal-ai/reve/text-to-image",
        {"prompt": "p"},
    )


def test_openai_sizes_become_fal_image_sizes_and_other_sizes_go() -> None:
    _, arguments = to_fal(
        {"model": "fal-ai/bytedance/seedream/v3/text-to-image", "prompt": "p", "size": "1024x768"}
    )
    assert arguments == {"prompt": "p", "image_size": {"width": 1024, "height": 768}}
    _, arguments = to_fal(
        {"model": "fal-ai/bytedance/seededit/v3/edit-image", "prompt": "p", "size": "adaptive"}
    )
    assert "size" not in arguments and "image_size" not in arguments


def test_an_image_field_is_the_image_url() -> None:
    _, arguments = to_fal({"model": "fal-ai/qwen-image-edit", "prompt": "p", "image": "https://x.test/a.png"})
    assert arguments == {"prompt": "p", "image_url": "https://x.test/a.png"}


def test_kontext_takes_several_images_through_its_multi_app() -> None:
    urls = ["https://x.test/a.png", "https://x.test/b.png"]
    assert to_fal({"model": "fal-ai/flux-pro/kontext/max", "prompt": "p", "image_url": urls}) == (
        "fal-ai/flux-pro/kontext/max/multi",
        {"prompt": "p", "image_urls": urls},
    )
    # One image in a list is one image.
    assert to_fal({"model": "fal-ai/flux-pro/kontext", "prompt": "p", "image_url": urls[:1]}) == (
        "fal-ai/flux-pro/kontext",
        {"prompt": "p", "image_url": urls[0]},
    )


def test_seedream_45_edits_through_its_edit_app_and_spells_sizes_its_way() -> None:
    model = "fal-ai/bytedance/seedream/v4.5/text-to-image"
    assert to_fal({"model": model, "prompt": "p", "image_size": "4K"}) == (
        model,
        {"prompt": "p", "image_size": "auto_4K"},
    )
    app, arguments = to_fal({"model": model, "prompt": "p", "image_urls": ["https://x.test/a.png"]})
    assert app == "fal-ai/bytedance/seedream/v4.5/edit" and arguments["image_urls"] == [
        "https://x.test/a.png"
    ]


def test_uso_names_its_images_input_image_urls() -> None:
    _, arguments = to_fal({"model": "fal-ai/uso", "prompt": "p", "image_urls": ["https://x.test/a.png"]})
    assert arguments == {"prompt": "p", "input_image_urls": ["https://x.test/a.png"]}


def test_images_become_data_next_to_fals_own_fields() -> None:
    image = {"url": "https://v3.fal.media/a.png", "width": 512, "height": 512, "content_type": "image/png"}
    answer = {
        "images": [image, {**image, "url": "https://v3.fal.media/b.png"}],
        "timings": {"inference": 0.3},
        "seed": 42,
        "has_nsfw_concepts": [False, False],
        "prompt": "p",
    }
    body, used = from_fal(answer)
    assert body["data"] == [
        {**image, "b64_json": None},
        {**image, "url": "https://v3.fal.media/b.png", "b64_json": None},
    ]
    assert {k: v for k, v in body.items() if k != "data"} == answer
    assert used == Used(images=2)
    # The gateway fills data items in (b64_json); fal's images stay as fal sent them.
    body["data"][0]["b64_json"] = "..."
    assert "b64_json" not in body["images"][0]


def test_a_single_image_answer_is_one_image() -> None:
    body, used = from_fal({"image": {"url": "https://v3.fal.media/a.png"}, "seed": 1})
    assert body["data"] == [{"url": "https://v3.fal.media/a.png", "b64_json": None}] and used.images == 1


def test_a_3d_model_passes_as_it_is_for_one_request() -> None:
    answer = {
        "model_mesh": {"url": "https://v3.fal.media/m.glb", "file_name": "model.glb", "file_size": 9},
        "timings": {"generation": 0.2},
        "remeshing_dir": None,
    }
    assert from_fal(answer) == (answer, Used(requests=1))


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"images": None},
        {"images": [{"width": 5}]},
        {"model_mesh": {"file_name": "m.glb"}},
        {"detail": "x"},
    ],
)
def test_answers_without_results_are_invalid(answer: object) -> None:
    with pytest.raises(InvalidAnswer):
        from_fal(answer)


def test_error_bodies_name_the_field_they_are_about() -> None:
    raw = b'{"detail":[{"loc":["body","image_size","width"],"msg":"Input should be greater than 0"}]}'
    assert fal_message(raw) == ("image_size.width: Input should be greater than 0", "image_size.width")
    assert fal_message(b'{"detail":"Application not found"}') == ("Application not found", None)
    assert fal_message(b"gateway timeout") == ("gateway timeout", None)


def test_the_preset_maps_every_model_it_routes_and_routes_no_chat() -> None:
    catalog = Catalog.load()
    spec = presets()["fal"]
    theirs = [m for m in catalog.models if m.developer in spec["developers"]]
    # A developer route carries every model of its developers that the protocol serves: a chat
    # model or an unmapped image model would reach fal under a name it does not know.
    assert not [m.id for m in theirs if m.type in ("chat-completion", "responses")]
    routed = [m for m in theirs if MEDIA_FAMILY_OF_TYPE.get(m.type) in FalProvider.media_families]
    assert sorted(m.id for m in routed) == sorted(spec["models"])
    names = {upstream_name(m, spec["names"], spec["models"]) for m in routed}
    assert all(name.startswith("fal-ai/") for name in names)
    assert spec["models"]["triposr"] == "fal-ai/triposr"
