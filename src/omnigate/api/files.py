"""Files users upload, as OpenAI's Files API (the service's `client.files.create(...)` samples):

    POST   /v1/files                     multipart: file, purpose, expires_after[anchor|seconds]
    GET    /v1/files                     purpose, limit (1-10000), order, after
    GET    /v1/files/{file_id}           the file object
    DELETE /v1/files/{file_id}           {id, object: "file", deleted: true}
    GET    /v1/files/{file_id}/content   the bytes as uploaded

Assistants search them (`file_search`) and OpenAI-shape batches read their requests from them.
A file belongs to the account of the key that uploaded it: any other account gets 404. Files
are kept in the database (store/uploads.py); uploading costs nothing.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from omnigate.api.admin import json_response
from omnigate.api.common import in_db
from omnigate.api.forms import read_form
from omnigate.errors import BODY_VALIDATION, bad_request, not_found
from omnigate.gateway import GATEWAY, Gateway
from omnigate.http.scopes import require_scope
from omnigate.store.rows import KeyRow
from omnigate.store.timestamps import now
from omnigate.store.uploads import UploadRow

ENDPOINT = "/v1/files"
# What a client may upload for; `batch_output` and `assistants_output` are written by the gateway.
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
# OpenAI's bounds on `expires_after[seconds]`, and the expiry its batch inputs get by default.
MIN_EXPIRY_S, MAX_EXPIRY_S = 3600, 2_592_000
BATCH_INPUT_EXPIRY = timedelta(days=30)
_ID_ALPHABET = string.ascii_letters + string.digits


def new_file_id() -> str:
    return "file-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def file_object(row: UploadRow) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": int(row.created_at.timestamp()),
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
    }
    if row.expires_at is not None:
        view["expires_at"] = int(row.expires_at.timestamp())
    return view


async def _key(request: web.Request) -> tuple[Gateway, KeyRow]:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    require_scope(key, ENDPOINT)
    return gw, key


async def find_upload(gw: Gateway, key: KeyRow, file_id: str, param: str = "file_id") -> UploadRow:
    """The key's account's file, or a 404 naming it."""
    row = await in_db(gw.db.upload, file_id, key.account_id)
    if row is None:
        raise not_found(f"No such file: {file_id!r}.", param=param)
    return row


async def upload_file(request: web.Request) -> web.Response:
    gw, key = await _key(request)
    if request.content_type != "multipart/form-data":
        raise bad_request(
            f"{BODY_VALIDATION} file: send the file in a multipart/form-data body", param="file"
        )
    limit = int(gw.settings.storage.max_upload_mb * 1024 * 1024)
    fields, files, _size = await read_form(request, {"file": limit})
    if not files:
        raise bad_request(f"{BODY_VALIDATION} file: a file is required", param="file")
    if len(files) > 1:
        raise bad_request(f"{BODY_VALIDATION} file: one file per upload", param="file")
    purpose = fields.get("purpose")
    if purpose not in PURPOSES:
        raise bad_request(f"{BODY_VALIDATION} purpose: must be one of {', '.join(PURPOSES)}", param="purpose")
    upload = files[0]
    created = now()
    row = UploadRow(
        id=new_file_id(),
        account_id=key.account_id,
        filename=upload.filename or "file",
        purpose=purpose,
        bytes=len(upload.data),
        content_type=upload.content_type,
        created_at=created,
        expires_at=_expiry(fields, purpose, created),
    )
    await in_db(gw.db.save_upload, row, upload.data)
    return json_response(file_object(row))


def _expiry(fields: dict[str, Any], purpose: str, created: datetime) -> datetime | None:
    anchor = fields.get("expires_after[anchor]")
    seconds = fields.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return created + BATCH_INPUT_EXPIRY if purpose == "batch" else None
    if anchor != "created_at":
        raise bad_request(
            f"{BODY_VALIDATION} expires_after.anchor: must be created_at", param="expires_after.anchor"
        )
    try:
        after = int(str(seconds))
    except ValueError:
        after = 0
    if not MIN_EXPIRY_S <= after <= MAX_EXPIRY_S:
        raise bad_request(
            f"{BODY_VALIDATION} expires_after.seconds: must be an integer from {MIN_EXPIRY_S} to "
            f"{MAX_EXPIRY_S}",
            param="expires_after.seconds",
        )
    return created + timedelta(seconds=after)


async def list_files(request: web.Request) -> web.Response:
    gw, key = await _key(request)
    query = request.query
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("order: must be asc or desc", param="order")
    try:
        limit = int(query.get("limit", "10000"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 10_000:
        raise bad_request("limit: must be an integer from 1 to 10000", param="limit")
    rows = await in_db(
        gw.db.list_uploads,
        key.account_id,
        purpose=query.get("purpose") or None,
        limit=limit + 1,
        order=order,
        after=query.get("after") or None,
    )
    page = [file_object(r) for r in rows[:limit]]
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(rows) > limit,
        }
    )


async def retrieve_file(request: web.Request) -> web.Response:
    return await retrieve(request, request.match_info["file_id"])


async def retrieve(request: web.Request, file_id: str) -> web.Response:
    gw, key = await _key(request)
    return json_response(file_object(await find_upload(gw, key, file_id)))


async def delete_file(request: web.Request) -> web.Response:
    gw, key = await _key(request)
    file_id = request.match_info["file_id"]
    if not await in_db(gw.db.delete_upload, file_id, key.account_id):
        raise not_found(f"No such file: {file_id!r}.", param="file_id")
    return json_response({"id": file_id, "object": "file", "deleted": True})


async def file_content(request: web.Request) -> web.Response:
    gw, key = await _key(request)
    row = await find_upload(gw, key, request.match_info["file_id"])
    try:
        content = await in_db(gw.db.upload_content, row.id)
    except KeyError:  # deleted between the two reads
        raise not_found(f"No such file: {row.id!r}.", param="file_id") from None
    disposition = "attachment; filename*=UTF-8''" + quote(row.filename, safe="")
    return web.Response(
        body=content,
        headers={"Content-Type": row.content_type, "Content-Disposition": disposition},
    )


def is_file_id(name: str) -> bool:
    """Whether /files/{name} names an uploaded file rather than a file the gateway made (those are
    `<token>.<extension>`, always with a dot; ids never have one)."""
    return name.startswith("file-") and "." not in name
