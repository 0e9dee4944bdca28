"""The S3 store against a real S3-compatible server: moto's standalone server on a free port,
spoken to over HTTP by boto3 (the store) and aiohttp (a client fetching the presigned URL)."""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import boto3
import pytest
from aiohttp.test_utils import make_mocked_request
from moto.server import ThreadedMotoServer
from yarl import URL

from omnigate.errors import ApiError
from omnigate.http.s3 import S3Store, StorageError

# Explicit credentials and region: the tests never read the machine's ~/.aws or environment.
CREDENTIALS = {"region": "us-east-1", "access_key_id": "testing", "secret_access_key": "testing"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"media-{secrets.token_hex(6)}"  # one bucket a test: none sees another's objects
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)
    return name


def store(endpoint: str, bucket: str, *, ttl_s: float = 3600, prefix: str = "gen/") -> S3Store:
    return S3Store(bucket, prefix=prefix, ttl_s=ttl_s, endpoint_url=endpoint, **CREDENTIALS)


async def fetch(url: str) -> tuple[int, str, bytes]:
    # encoded=True: send the signed query exactly as signed (%2F in the credential stays).
    async with aiohttp.ClientSession() as session, session.get(URL(url, encoded=True)) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_put_answers_a_presigned_url_that_serves_the_bytes(endpoint: str, bucket: str) -> None:
    url = await store(endpoint, bucket).put(b"ID3\x04audio bytes", "audio/mpeg")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == endpoint  # absolute: `absolute()` leaves it be
    assert parts.path.startswith(f"/{bucket}/gen/")  # path-style on a custom endpoint, under the prefix
    assert parts.path.endswith(".mp3")
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Signature"]
    assert await fetch(url) == (200, "audio/mpeg", b"ID3\x04audio bytes")


async def test_the_url_expires_after_ttl(endpoint: str, bucket: str) -> None:
    # moto's server does not check presigned expiry (nor signatures on query-string auth): a URL
    # past its X-Amz-Date + X-Amz-Expires still answers 200 there, while AWS, MinIO, Ceph and R2
    # answer 403 "Request has expired". So the test asserts what those servers check: the signed
    # lifetime is the store's ttl, in whole seconds.
    for ttl_s, expires in ((1, "1"), (90.7, "90")):
        url = await store(endpoint, bucket, ttl_s=ttl_s).put(b"x", "video/mp4")
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == [expires]
        assert query["X-Amz-SignedHeaders"] == ["host"]  # a plain GET, no header to send


async def test_two_puts_make_two_objects(endpoint: str, bucket: str) -> None:
    s3 = store(endpoint, bucket)
    first = await s3.put(b"one", "video/mp4")
    second = await s3.put(b"two", "video/mp4")

    assert urlsplit(first).path != urlsplit(second).path
    assert (await fetch(first))[2] == b"one"
    assert (await fetch(second))[2] == b"two"


async def test_a_missing_bucket_is_a_clear_error(endpoint: str) -> None:
    with pytest.raises(ApiError) as refused:
        await store(endpoint, "no-such-bucket").put(b"x", "audio/wav")
    assert refused.value.status == 503 and "no-such-bucket" not in refused.value.message
    assert isinstance(refused.value.__cause__, StorageError)
    assert re.search(r"'no-such-bucket'.*NoSuchBucket", str(refused.value.__cause__))


async def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApiError) as refused:
        await store(f"http://127.0.0.1:{port}", "media").put(b"x", "audio/wav")
    assert refused.value.status == 503
    assert re.search(r"'media'.*could not store", str(refused.value.__cause__))


async def test_the_gateway_serves_none_of_its_files(endpoint: str) -> None:
    request = make_mocked_request("GET", "/files/abc.mp3", match_info={"name": "abc.mp3"})
    with pytest.raises(ApiError) as err:
        await store(endpoint, "media").serve(request)
    assert err.value.status == 404


def test_ttl_must_fit_a_presigned_url(endpoint: str) -> None:
    with pytest.raises(ValueError, match="7 days"):
        store(endpoint, "media", ttl_s=8 * 24 * 3600)
