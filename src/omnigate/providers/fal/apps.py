"""The catalogue's video and music models that fal hosts, and the fal app that runs each.

The image models' apps are the `fal` preset's `models` (providers/data/presets.json): the preset
turns their catalogue ids into app ids before a job reaches the adapter. The task models' apps are
listed here, as data: a task job whose `model` is one of these catalogue ids runs on the app named;
any other name is taken to be a fal app id already (a preset `models` entry, a route's
`upstream_model`), so moving these entries into the preset changes nothing.

Only apps fal is known to host are listed. An app named here is the model's base app: translate.py
picks a sibling app where fal splits one catalogue model in several (Hailuo 02's tiers and modes,
Luma's and MiniMax's image-to-video apps) and renames the few fields fal names otherwise.
"""

from __future__ import annotations

from typing import Final

TASK_APPS: Final[dict[str, str]] = {
    # Kling (Kuaishou): the catalogue's kling-video ids are fal's, less the `fal-ai/` owner.
    "kling-video/v1/standard/text-to-video": "fal-ai/kling-video/v1/standard/text-to-video",
    "kling-video/v1/standard/image-to-video": "fal-ai/kling-video/v1/standard/image-to-video",
    "kling-video/v1.6/standard/text-to-video": "fal-ai/kling-video/v1.6/standard/text-to-video",
    "kling-video/v1.6/standard/image-to-video": "fal-ai/kling-video/v1.6/standard/image-to-video",
    "kling-video/v1.6/pro/text-to-video": "fal-ai/kling-video/v1.6/pro/text-to-video",
    "kling-video/v1.6/pro/image-to-video": "fal-ai/kling-video/v1.6/pro/image-to-video",
    "kling-video/v1.6/standard/multi-image-to-video": "fal-ai/kling-video/v1.6/standard/elements",
    "klingai/kling-video-v1.6-standard-effects": "fal-ai/kling-video/v1.6/standard/effects",
    "klingai/kling-video-v1.6-pro-effects": "fal-ai/kling-video/v1.6/pro/effects",
    "klingai/v2-master-text-to-video": "fal-ai/kling-video/v2/master/text-to-video",
    "klingai/v2-master-image-to-video": "fal-ai/kling-video/v2/master/image-to-video",
    "kling-video/v2.1/standard/image-to-video": "fal-ai/kling-video/v2.1/standard/image-to-video",
    "kling-video/v2.1/pro/image-to-video": "fal-ai/kling-video/v2.1/pro/image-to-video",
    "klingai/v2.1-master-text-to-video": "fal-ai/kling-video/v2.1/master/text-to-video",
    "klingai/v2.1-master-image-to-video": "fal-ai/kling-video/v2.1/master/image-to-video",
    "klingai/v2.5-turbo/pro/text-to-video": "fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
    "klingai/v2.5-turbo/pro/image-to-video": "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
    "klingai/video-v2-6-pro-text-to-video": "fal-ai/kling-video/v2.6/pro/text-to-video",
    "klingai/video-v2-6-pro-image-to-video": "fal-ai/kling-video/v2.6/pro/image-to-video",
    "klingai/avatar-standard": "fal-ai/kling-video/v1/standard/ai-avatar",
    "klingai/avatar-pro": "fal-ai/kling-video/v1/pro/ai-avatar",
    # Alibaba Wan: the open-weight and preview models fal runs (not DashScope's -plus/-turbo).
    "alibaba/wan2.5-t2v-preview": "fal-ai/wan-25-preview/text-to-video",
    "alibaba/wan2.5-i2v-preview": "fal-ai/wan-25-preview/image-to-video",
    "alibaba/wan2.2-14b-animate-move": "fal-ai/wan/v2.2-14b/animate/move",
    "alibaba/wan2.2-14b-animate-replace": "fal-ai/wan/v2.2-14b/animate/replace",
    "alibaba/wan2.2-vace-fun-14b-depth": "fal-ai/wan-22-vace-fun-a14b/depth",
    "alibaba/wan2.2-vace-fun-a14b-pose": "fal-ai/wan-22-vace-fun-a14b/pose",
    "alibaba/wan2.2-vace-fun-a14b-inpainting": "fal-ai/wan-22-vace-fun-a14b/inpainting",
    "alibaba/wan2.2-vace-fun-a14b-outpainting": "fal-ai/wan-22-vace-fun-a14b/outpainting",
    "alibaba/wan2.2-vace-fun-a14b-reframe": "fal-ai/wan-22-vace-fun-a14b/reframe",
    # ByteDance.
    "bytedance/seedance-1-0-lite-t2v": "fal-ai/bytedance/seedance/v1/lite/text-to-video",
    "bytedance/seedance-1-0-lite-i2v": "fal-ai/bytedance/seedance/v1/lite/image-to-video",
    "bytedance/seedance-1-0-pro-t2v": "fal-ai/bytedance/seedance/v1/pro/text-to-video",
    "bytedance/seedance-1-0-pro-i2v": "fal-ai/bytedance/seedance/v1/pro/image-to-video",
    "bytedance/omnihuman": "fal-ai/bytedance/omnihuman",
    "bytedance/omnihuman/v1.5": "fal-ai/bytedance/omnihuman/v1.5",
    # Google Veo.
    "veo2": "fal-ai/veo2",
    "veo2/image-to-video": "fal-ai/veo2/image-to-video",
    "google/veo3": "fal-ai/veo3",
    "google/veo-3.0-fast": "fal-ai/veo3/fast",
    "google/veo-3.0-i2v": "fal-ai/veo3/image-to-video",
    "google/veo-3.0-i2v-fast": "fal-ai/veo3/fast/image-to-video",
    "google/veo-3.1-t2v": "fal-ai/veo3.1",
    "google/veo-3.1-t2v-fast": "fal-ai/veo3.1/fast",
    "google/veo-3.1-i2v": "fal-ai/veo3.1/image-to-video",
    "google/veo-3.1-i2v-fast": "fal-ai/veo3.1/fast/image-to-video",
    "google/veo-3.1-reference-to-video": "fal-ai/veo3.1/reference-to-video",
    "google/veo-3.1-first-last-image-to-video": "fal-ai/veo3.1/first-last-frame-to-video",
    "google/veo-3.1-first-last-image-to-video-fast": "fal-ai/veo3.1/fast/first-last-frame-to-video",
    # MiniMax (Hailuo): text-to-video apps; translate.py picks the image-to-video ones.
    "video-01": "fal-ai/minimax/video-01",
    "video-01-live2d": "fal-ai/minimax/video-01-live",
    "minimax/hailuo-02": "fal-ai/minimax/hailuo-02/standard/text-to-video",
    # PixVerse.
    "pixverse/v5/text-to-video": "fal-ai/pixverse/v5/text-to-video",
    "pixverse/v5/image-to-video": "fal-ai/pixverse/v5/image-to-video",
    # Luma: text-to-video apps; keyframes pick their image-to-video apps.
    "luma/ray-1.6": "fal-ai/luma-dream-machine",
    "luma/ray-2": "fal-ai/luma-dream-machine/ray-2",
    "luma/ray-flash-2": "fal-ai/luma-dream-machine/ray-2-flash",
    # OpenAI Sora 2.
    "sora-2-t2v": "fal-ai/sora-2/text-to-video",
    "sora-2-i2v": "fal-ai/sora-2/image-to-video",
    "sora-2-pro-t2v": "fal-ai/sora-2/text-to-video/pro",
    "sora-2-pro-i2v": "fal-ai/sora-2/image-to-video/pro",
    # VEED (its own owner on fal, not fal-ai).
    "veed/fabric-1.0": "veed/fabric-1.0",
    "veed/fabric-1.0-fast": "veed/fabric-1.0/fast",
    # Music.
    "stable-audio": "fal-ai/stable-audio",
    "elevenlabs/eleven_music": "fal-ai/elevenlabs/music",
    "google/lyria2": "fal-ai/lyria2",
    "minimax-music": "fal-ai/minimax-music",
}
