"""The floor: a pass-through proxy on Omnigate's own server and client stack, with no governance.

aiohttp server + one keep-alive aiohttp client session + uvloop, forwarding the request body to
the upstream and the answer's bytes back (streams included, chunk by chunk). No auth, no
validation, no credits, no usage records: whatever Omnigate costs beyond this is governance.

    python bench/floor_proxy.py --port 9001 --upstream http://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import uvloop
from aiohttp import web


def build(upstream: str) -> web.Application:
    session: aiohttp.ClientSession | None = None

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with session.post(
            upstream + request.path, data=body, headers={"Content-Type": "application/json"}
        ) as up:
            if up.content_type == "text/event-stream":
                response = web.StreamResponse(status=up.status, headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                async for piece in up.content.iter_any():
                    await response.write(piece)
                await response.write_eof()
                return response
            return web.Response(body=await up.read(), status=up.status, content_type=up.content_type)

    async def lifespan(app: web.Application):
        nonlocal session
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await session.close()

    app = web.Application()
    app.router.add_post("/{tail:.*}", forward)
    app.cleanup_ctx.append(lifespan)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        build(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
