"""Files the gateway makes, kept in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...).

The same `put` contract as `FileStore` (http/files.py), but the URL is absolute: a presigned GET
that works for `ttl_s` seconds, on every replica, without the gateway serving the bytes. The
presigned URL only expires the link; deleting the objects is a lifecycle rule on the bucket
(or its prefix), which the operator sets: the gateway needs no more than s3:PutObject.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import boto3
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from omnigate.errors import ApiError, not_found
from omnigate.http.files import extension_for

log = logging.getLogger(__name__)
# SigV4, the signature every S3-compatible server takes, caps a presigned URL at 7 days.
MAX_TTL_S = 7 * 24 * 3600


class StorageError(RuntimeError):
    """The bucket refused or could not be reached; the message says which bucket and why."""


class S3Store:
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        ttl_s: float,
        endpoint_url: str = "",
        region: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> None:
        if not 1 <= ttl_s <= MAX_TTL_S:
            raise ValueError(f"an S3 presigned URL lives 1 s to 7 days ({MAX_TTL_S} s), not {ttl_s} s")
        self.bucket = bucket
        self.prefix = prefix
        self.ttl_s = ttl_s
        config = Config(
            signature_version="s3v4",
            # Other servers than AWS's are found by path (http://host:9000/bucket/key): a bucket
            # as a subdomain of a custom endpoint (bucket.minio:9000) rarely resolves.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        # Empty strings become None: boto3's own defaults, its credential chain (environment,
        # ~/.aws, instance role) and region lookup. A session of its own keeps the process-wide
        # default session untouched; the client is built once and is thread-safe.
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=config,
        )

    async def put(self, data: bytes, content_type: str) -> str:
        """Store the bytes; returns an absolute presigned URL that works for `ttl_s` seconds.
        A bucket that refuses (missing, credentials, unreachable) is a 503 ApiError whose cause,
        a StorageError, says why."""
        key = self.prefix + secrets.token_urlsafe(24) + extension_for(content_type)
        try:
            # boto3 is blocking: run it in a thread so the event loop keeps serving.
            return await asyncio.to_thread(self._put, key, data, content_type)
        except StorageError as exc:
            # The operator reads why in the log; the client learns only that storage failed.
            log.error("%s", exc)
            raise ApiError(
                503,
                "Service unavailable: the file storage did not answer; try again.",
                code="storage_unavailable",
            ) from exc

    def _put(self, key: str, data: bytes, content_type: str) -> str:
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StorageError(
                f"S3 bucket {self.bucket!r} refused to store {key!r}: "
                f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
            ) from exc
        except BotoCoreError as exc:  # no credentials, endpoint unreachable, ...
            raise StorageError(f"S3 bucket {self.bucket!r} could not store {key!r}: {exc}") from exc
        # Signing is local (no request); the URL carries the key, so it is as unguessable as it.
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=int(self.ttl_s)
        )

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """GET /files/{name}: the bucket serves these files, so the gateway knows none."""
        raise not_found("This file does not exist or has expired.")
