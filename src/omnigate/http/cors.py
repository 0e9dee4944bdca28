"""Browser apps on other origins (`[server] cors_origins`): preflights, and the headers that let a
browser hand an answer to the page that asked.

Installed only when origins are configured, so a gateway without them does no work for it. Keys
travel in the Authorization header, never in cookies: no credentials mode is needed.
"""

from __future__ import annotations

from aiohttp import web

from omnigate.errors import ApiError

# How long a browser may reuse a preflight's answer (seconds).
MAX_AGE_S = 600
# Response headers a page may read besides the basic ones.
EXPOSED = "X-Request-Id, X-Omnigate-Overhead-Ms, Retry-After"


class Cors:
    def __init__(self, origins: list[str]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(origins)

    def allows(self, origin: str) -> bool:
        return self.any or origin in self.origins

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.preflight)
        app.on_response_prepare.append(self.on_prepare)

    @web.middleware
    async def preflight(self, request: web.Request, handler) -> web.StreamResponse:
        """Answer a preflight (OPTIONS with Access-Control-Request-Method) for any route; other
        requests go on. Inside the error boundary: a preflight has an id and a record too."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        failure = request.match_info.http_exception
        if failure is None or failure.status != 405:
            return await handler(request)  # no such route (404), or one that takes OPTIONS itself
        origin = request.headers.get("Origin", "")
        if not self.allows(origin):
            raise ApiError(
                403,
                f"The origin {origin!r} may not call this gateway from a browser "
                "(the operator lists allowed origins in [server] cors_origins).",
                code="origin_not_allowed",
            )
        methods = ", ".join(sorted(failure.allowed_methods))  # type: ignore[attr-defined]
        headers = {
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Max-Age": str(MAX_AGE_S),
        }
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            headers["Access-Control-Allow-Headers"] = asked
        return web.Response(status=204, headers=headers)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every answer to an allowed origin says so, streams included (headers go out here)."""
        origin = request.headers.get("Origin")
        if origin is None or not self.allows(origin):
            return
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = "*" if self.any else origin
        headers["Access-Control-Expose-Headers"] = EXPOSED
        if not self.any:  # the answer depends on the origin: caches must keep them apart
            vary = headers.get("Vary")
            if vary is None:
                headers["Vary"] = "Origin"
            elif "origin" not in vary.lower():
                headers["Vary"] = vary + ", Origin"
