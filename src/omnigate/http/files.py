"""Files the gateway serves itself, at unguessable URLs that expire (GET /files/{name}).

Generated audio an upstream returned as bytes becomes a URL here when the client asked for the
service's JSON answer (`{"audio": {"url": ...}}`). Files live in a local folder; with several
replicas, a URL works on the replica that made it only (shared storage comes with the task
runner's artifacts).
"""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
import time
from pathlib import Path

from aiohttp import web

from omnigate.errors import not_found

# Content types of what the gateway stores, by file extension (mimetypes misses some audio).
_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".aac": "audio/aac",
    ".pcm": "audio/L16",
}


def extension_for(content_type: str) -> str:
    for ext, known in _TYPES.items():
        if known == content_type:
            return ext
    return mimetypes.guess_extension(content_type) or ".bin"


class FileStore:
    def __init__(self, folder: Path, ttl_s: float) -> None:
        self.folder = folder
        self.ttl_s = ttl_s

    async def put(self, data: bytes, content_type: str) -> str:
        """Store the bytes; returns their URL, relative to the gateway (/files/<name>): answers
        make it absolute (`absolute`). An S3 store (http/s3.py) returns absolute URLs."""
        name = secrets.token_urlsafe(24) + extension_for(content_type)
        await asyncio.to_thread(self._write, name, data)
        return "/files/" + name

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(data)
        self._sweep()

    def _sweep(self) -> None:
        """Delete what expired (on every write: cheap, and nothing else needs to run)."""
        cutoff = time.time() - self.ttl_s
        for path in self.folder.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)

    def path(self, name: str) -> Path | None:
        """The live file of that name, or None (unknown, expired or not a plain name)."""
        if "/" in name or name.startswith(".") or not name:
            return None
        path = self.folder / name
        try:
            if path.stat().st_mtime < time.time() - self.ttl_s:
                return None
        except OSError:
            return None
        return path

    async def serve(self, request: web.Request) -> web.StreamResponse:
        path = self.path(request.match_info["name"])
        if path is None:
            raise not_found("This file does not exist or has expired.")
        content_type = (
            _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        return web.FileResponse(
            path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=3600"}
        )


def absolute(url: str, origin: str) -> str:
    """A stored file's URL as clients use it: the gateway's own, on `origin` (its public URL, or
    the one the client came to)."""
    return origin.rstrip("/") + url if url.startswith("/") else url
