"""GET /v1/bagoodex/{links,images,videos,weather,local-map,knowledge}?followup_id=<completion id>:
what the AI search behind that chat completion found, in the service's shapes (`[]` or `{}` when
nothing of that kind was), for the account that asked only."""

from __future__ import annotations

from aiohttp import web

from omnigate.api.admin import json_response
from omnigate.api.chat_call import CHAT
from omnigate.errors import BODY_VALIDATION, bad_request
from omnigate.gateway import GATEWAY
from omnigate.http.scopes import require_scope
from omnigate.search.results import KINDS
from omnigate.search.store import SearchStore

# Completion ids are uuids (36 characters); anything much longer cannot be one.
MAX_ID = 64


def follow_up(kind: str) -> web.Handler:
    field = KINDS[kind]

    async def handler(request: web.Request) -> web.Response:
        gw = request.app[GATEWAY]
        key = await gw.keys.authenticate(request.headers.get("Authorization"))
        # The follow-ups read what a chat completion found: the same scope.
        require_scope(key, CHAT.endpoint)
        followup_id = request.query.get("followup_id", "").strip()
        if not followup_id:
            raise bad_request(f"{BODY_VALIDATION} followup_id: Required", param="followup_id")
        if len(followup_id) > MAX_ID:
            raise bad_request(
                f"{BODY_VALIDATION} followup_id: at most {MAX_ID} characters", param="followup_id"
            )
        found = await SearchStore(gw.db).load(followup_id, key.account_id)
        return json_response(getattr(found, field))

    return handler


ROUTES = [("GET", f"/bagoodex/{kind}", follow_up(kind)) for kind in KINDS]
