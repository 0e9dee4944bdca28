"""What a finished task hands its client: the video or audio, at a URL that keeps working.

Bytes an upstream hands over instead of a URL (OpenAI's video content) are always stored by the
gateway. With `[storage] copy_artifacts`, files behind an upstream's URL are copied too, because
upstream CDN links expire. A file the gateway serves itself is kept as `/files/<name>`; answers
make it absolute (`absolute_urls`) with `[server] public_url`, or the origin the client came to.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from omnigate.errors import ApiError
from omnigate.http.files import absolute
from omnigate.providers.tasks import Polled

if TYPE_CHECKING:
    from omnigate.gateway import Gateway

log = logging.getLogger(__name__)
# Where each family's result keeps its file, as the service answers it.
SLOT = {"video": "video", "music": "audio_file"}


async def keep_artifacts(gw: Gateway, family: str, polled: Polled) -> dict:
    """The result to store for a completed task, its file kept by the gateway where it must be."""
    result = dict(polled.result or {})
    slot = SLOT.get(family)
    item = result.get(slot) if slot else None
    if slot is None or not (item is None or isinstance(item, dict)):
        return result  # speech to text, or a shape of the upstream's own (Runway's list of URLs)
    item = dict(item or {})
    if polled.content is not None:
        content_type = polled.content_type or "application/octet-stream"
        item["url"] = await gw.files.put(polled.content, content_type)
        item.setdefault("content_type", content_type)
        item.setdefault("file_size", len(polled.content))
    elif gw.settings.storage.copy_artifacts and isinstance(item.get("url"), str):
        try:
            upload = await gw.fetcher.fetch(item["url"], slot, trusted=True)
        except ApiError as exc:
            log.warning(
                "the %s at %s was not copied (%s); its URL is answered as it is", slot, item["url"], exc
            )
            return result
        item["url"] = await gw.files.put(upload.data, upload.content_type)
    else:
        return result
    result[slot] = item
    return result


def absolute_urls(result: dict, family: str, origin: str) -> dict:
    """The result with the gateway's own file URLs made absolute for the client."""
    slot = SLOT.get(family)
    item = result.get(slot) if slot else None
    if isinstance(item, dict) and isinstance(item.get("url"), str):
        return {**result, slot: {**item, "url": absolute(item["url"], origin)}}
    return result
