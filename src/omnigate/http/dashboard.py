"""GET /ui: the dashboard, static files shipped inside the package (omnigate/ui/), no key.

Nothing is fetched from elsewhere: the page's scripts call the gateway's public API with the key
the user types in. The Content-Security-Policy lets the page load scripts and styles from, and
call, only this origin, so a missing asset shows up as an error here rather than as a silent trip
to a CDN. Images may come from anywhere: a generated image is often a link to its upstream.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from omnigate.errors import not_found

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src * data: blob:; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A new gateway version ships new assets under the same names: revalidate every time.
    "Cache-Control": "no-cache",
}


async def index(request: web.Request) -> web.StreamResponse:
    if request.path == "/ui":  # relative asset links resolve under /ui/
        raise web.HTTPFound("/ui/")
    return _file("index.html")


async def asset(request: web.Request) -> web.StreamResponse:
    return _file(request.match_info["name"])


def _file(name: str) -> web.StreamResponse:
    path = UI_DIR / name
    kind = _TYPES.get(path.suffix)
    # Only the files of the folder itself: no "..", no sub-folders, no other kinds of file.
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        raise not_found(f"No dashboard file {name!r}.")
    return web.FileResponse(path, headers={**_HEADERS, "Content-Type": f"{kind}; charset=utf-8"})
