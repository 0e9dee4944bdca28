"""The Files API's schemas for the OpenAPI document (api/files.py): OpenAI's file object, its
list and deletion, and the upload form."""

from __future__ import annotations

from omnigate.api.files import MAX_EXPIRY_S, MIN_EXPIRY_S, PURPOSES
from omnigate.http.openapi_requests import Schema, enum, obj, ref

_UNIX: Schema = {"type": "integer", "format": "int64"}

FILE_OBJECT = obj(
    {
        "id": {"type": "string"},
        "object": enum("file"),
        "bytes": {"type": "integer"},
        "created_at": _UNIX,
        "expires_at": _UNIX,
        "filename": {"type": "string"},
        "purpose": enum(*PURPOSES, "batch_output", "assistants_output"),
        "status": enum("processed"),
    },
    ("id", "object", "bytes", "created_at", "filename", "purpose", "status"),
)

FILE_COMPONENTS: dict[str, Schema] = {
    "FileObject": FILE_OBJECT,
    "FileList": obj(
        {
            "object": enum("list"),
            "data": {"type": "array", "items": ref("FileObject")},
            "first_id": {"type": "string", "nullable": True},
            "last_id": {"type": "string", "nullable": True},
            "has_more": {"type": "boolean"},
        },
        ("object", "data", "first_id", "last_id", "has_more"),
    ),
    "FileContent": {"type": "string", "format": "binary"},
    "FileDeleted": obj(
        {"id": {"type": "string"}, "object": enum("file"), "deleted": {"type": "boolean"}},
        ("id", "object", "deleted"),
    ),
    "FileUploadForm": obj(
        {
            "file": {"type": "string", "format": "binary"},
            "purpose": enum(*PURPOSES),
            "expires_after[anchor]": enum("created_at"),
            "expires_after[seconds]": {"type": "integer", "minimum": MIN_EXPIRY_S, "maximum": MAX_EXPIRY_S},
        },
        ("file", "purpose"),
    ),
}
