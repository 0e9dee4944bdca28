"""Asynchronous generations end to end: the real server, a fake of the service as the upstream
(its task routes move queued → generating → completed, one step a poll), the task runner, and
the money each task moves, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import math
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import boto3
import orjson
import pytest
from moto.server import ThreadedMotoServer
from yarl import URL

from omnigate.gateway import Gateway
from omnigate.settings import load_settings
from omnigate.store.db import Database
from omnigate.store.tasks import charge_entry_id, refund_entry_id
from tests.e2e.conftest import STACKS, eventually, stack
from tests.fakes.aimlapi_upstream import MP3, MP4, TRANSCRIPT, WAV, FakeAimlapiUpstream, tokens_used
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.server import funded_account, serve

MARKUP = 1.5
STARTING = 50_000_000
# Priced by the operator per second of video: 0.05 USD (100,000 credits) a second.
OPERATOR_PRICED = "google/veo-3.1-t2v"
CREDITS_PER_SECOND = 100_000
VIDEO = "kling-video/v1/standard/text-to-video"  # billed by the upstream, times the markup
MUSIC = "elevenlabs/eleven_music"
STT = "#g1_whisper-large"


@dataclass
class Env:
    root: str
    key: str
    db: Database
    account_id: int
    gateway: Gateway
    service: FakeAimlapiUpstream

    async def call(self, method: str, path: str, *, key: str | None = None, **kwargs) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.request(method, self.root + path, **kwargs) as response,
        ):
            return response.status, orjson.loads(await response.read())

    async def finished(self, poll_path: str) -> dict:
        """Poll as a client does until the task ends."""
        answer: dict = {}

        async def ended() -> bool:
            nonlocal answer
            status, answer = await self.call("GET", poll_path)
            assert status == 200, answer
            return answer["status"] in ("completed", "error")

        await eventually(ended, timeout=10.0)
        return answer

    async def settled_balance(self) -> int:
        """The account's balance once every charge reached the ledger; the live balance (what
        /billing/balance answers, from Redis where it runs) must say the same."""
        await self.gateway.book.drain()
        await self.gateway.sync.flush()
        balance = self.db.account(self.account_id).balance
        assert balance == self.db.ledger_sum(self.account_id)
        status, live = await self.call("GET", "/v1/billing/balance")
        assert status == 200 and live["balance"] == balance
        return balance

    async def ledger(self, task_id: str) -> dict[str, int | None]:
        """The task's two ledger rows, once every charge so far reached the ledger."""
        await self.gateway.book.drain()
        await self.gateway.sync.flush()
        uuid = task_id.split(":")[0]
        return {
            "charge": self.db.ledger_amount(charge_entry_id(uuid)),
            "refund": self.db.ledger_amount(refund_entry_id(uuid)),
        }


def config_text(tmp_path: Path, service: FakeAimlapiUpstream, services, *, extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        data_dir = "{tmp_path / "data"}"
        [engines]
        builtin = false
        [database]
        url = "{services.database_url}"
        [redis]
        url = "{services.redis_url}"
        prefix = "{services.redis_prefix}"
        [server]
        allow_private_urls = true
        [billing]
        flush_interval_s = 0.05
        poll_interval_s = 0.1
        [tasks]
        poll_min_s = 0.02
        poll_max_s = 0.05
        [providers.svc]
        kind = "aimlapi"
        base_url = "{service.base_url}"
        api_key = "svc-key"
        markup = {MARKUP}
        [[routes]]
        model = "*"
        provider = "svc"
        [[prices]]
        model = "{OPERATOR_PRICED}"
        per_second = {CREDITS_PER_SECOND / 2_000_000}
        """
    ) + textwrap.dedent(extra)


def openai_config(tmp_path: Path, fake: FakeOpenAIUpstream, model: str, upstream_model: str) -> str:
    """One model routed to a fake OpenAI, priced by the operator per second."""
    return textwrap.dedent(
        f"""
        data_dir = "{tmp_path / "data"}"
        [engines]
        builtin = false
        [billing]
        flush_interval_s = 0.05
        [tasks]
        poll_min_s = 0.02
        poll_max_s = 0.05
        [providers.openai]
        kind = "openai"
        base_url = "{fake.base_url}"
        api_key = "sk-fake"
        [[routes]]
        model = "{model}"
        provider = "openai"
        upstream_model = "{upstream_model}"
        [[prices]]
        model = "{model}"
        per_second = {CREDITS_PER_SECOND / 2_000_000}
        """
    )


@pytest.fixture(params=STACKS)
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    with stack(request.param) as services:
        async with FakeAimlapiUpstream(api_key="svc-key") as service:
            config = tmp_path / "omnigate.toml"
            config.write_text(config_text(tmp_path, service, services))
            settings = load_settings(config)
            db, account, key = funded_account(settings.database_url, STARTING)
            async with serve(settings) as (gateway, root):
                yield Env(root, key, db, account.id, gateway, service)
            db.close()


async def test_a_video_task_is_charged_what_the_upstream_billed_once(env: Env) -> None:
    body = {"model": VIDEO, "prompt": "a cat surfing", "duration": 10}
    status, created = await env.call("POST", "/v2/video/generations", json=body)
    assert status == 200, created
    assert created["id"].endswith(":" + VIDEO) and created["status"] == "queued"
    charged = math.ceil(tokens_used("/v2/video/generations", body) * MARKUP)
    assert created["meta"]["usage"]["tokens_used"] == charged

    done = await env.finished(f"/v2/video/generations?generation_id={created['id']}")
    assert done["status"] == "completed" and done["error"] is None
    assert done["video"]["url"] and done["meta"]["usage"]["tokens_used"] == charged
    # More polls change nothing: the task ended once.
    await env.call("GET", f"/v2/video/generations?generation_id={created['id']}")
    assert await env.ledger(created["id"]) == {"charge": -charged, "refund": 0}
    assert await env.settled_balance() == STARTING - charged


async def test_a_failed_task_is_refunded_in_full(env: Env) -> None:
    status, created = await env.call(
        "POST", "/v2/video/generations", json={"model": VIDEO, "prompt": "[fail] a cat"}
    )
    assert status == 200, created
    done = await env.finished(f"/v2/video/generations?generation_id={created['id']}")
    assert done["status"] == "error" and done["video"] is None
    assert done["error"]["message"] and done["meta"]["usage"]["tokens_used"] == 0
    charged = created["meta"]["usage"]["tokens_used"]
    assert charged > 0 and await env.ledger(created["id"]) == {"charge": -charged, "refund": charged}
    assert await env.settled_balance() == STARTING


async def test_an_operator_priced_task_gives_back_what_it_did_not_use(env: Env) -> None:
    # No duration: the rules allow up to 8 s, which is held; the video runs the default 5 s.
    status, created = await env.call(
        "POST", "/v2/video/generations", json={"model": OPERATOR_PRICED, "prompt": "a cat"}
    )
    assert status == 200, created
    assert created["meta"]["usage"]["tokens_used"] == 8 * CREDITS_PER_SECOND
    done = await env.finished(f"/v2/video/generations?generation_id={created['id']}")
    assert done["status"] == "completed"
    assert done["meta"]["usage"]["tokens_used"] == 5 * CREDITS_PER_SECOND
    ledger = await env.ledger(created["id"])
    assert ledger == {"charge": -8 * CREDITS_PER_SECOND, "refund": 3 * CREDITS_PER_SECOND}
    assert await env.settled_balance() == STARTING - 5 * CREDITS_PER_SECOND


async def test_a_task_belongs_to_the_account_that_created_it(env: Env) -> None:
    status, created = await env.call("POST", "/v2/generate/audio", json={"model": MUSIC, "prompt": "jazz"})
    assert status == 200, created
    env.db.create_account("other", low_balance_threshold=0, origin="test")
    other_key, _ = env.db.create_key("other", admin=False, origin="test")
    status, answer = await env.call("GET", f"/v2/generate/audio?generation_id={created['id']}", key=other_key)
    assert status == 404 and answer["error"]["param"] == "generation_id"
    status, _ = await env.call("GET", "/v2/generate/audio?generation_id=no-such-task")
    assert status == 404
    # A music task is not found on the video route either.
    status, _ = await env.call("GET", f"/v2/video/generations?generation_id={created['id']}")
    assert status == 404
    done = await env.finished(f"/v2/generate/audio?generation_id={created['id']}")
    assert done["status"] == "completed" and done["audio_file"]["url"]


async def test_a_body_the_rules_refuse_creates_nothing(env: Env) -> None:
    status, answer = await env.call("POST", "/v2/video/generations", json={"model": VIDEO, "duration": 10})
    assert status == 400 and answer["error"]["param"] == "prompt"
    status, answer = await env.call(
        "POST", "/v2/video/generations", json={"model": VIDEO, "prompt": "x", "duration": 7}
    )
    assert status == 400 and answer["error"]["param"] == "duration"
    assert env.db.list_tasks() == [] and env.service.tasks == {}
    assert await env.settled_balance() == STARTING


async def test_vendor_routes_take_their_vendors_models_only(env: Env) -> None:
    body = {"model": VIDEO, "prompt": "a cat"}
    status, created = await env.call("POST", "/v2/generate/video/kling/generation", json=body)
    assert status == 200, created
    status, answer = await env.call("POST", "/v2/generate/video/google/generation", json=body)
    assert status == 400 and answer["error"]["param"] == "model"
    done = await env.finished(f"/v2/generate/video/kling/generation?generation_id={created['id']}")
    assert done["status"] == "completed"


async def test_speech_to_text_tasks_by_url_and_by_upload(env: Env) -> None:
    status, created = await env.call(
        "POST", "/v1/stt/create", json={"model": STT, "url": "https://example.com/talk.wav"}
    )
    assert status == 201 and set(created) == {"generation_id"}
    by_url = await env.finished(f"/v1/stt/{created['generation_id']}")

    form = aiohttp.FormData()
    form.add_field("model", STT)
    form.add_field("audio", WAV, filename="talk.wav", content_type="audio/wav")
    status, created = await env.call("POST", "/v1/stt/create", data=form)
    assert status == 201, created
    by_upload = await env.finished(f"/v1/stt/{created['generation_id']}")
    for done in (by_url, by_upload):
        assert done["status"] == "completed"
        transcript = done["result"]["results"]["channels"][0]["alternatives"][0]["transcript"]
        assert transcript == TRANSCRIPT

    status, answer = await env.call("POST", "/v1/stt/create", json={"model": STT})
    assert status == 400 and answer["error"]["param"] == "audio"


async def test_artifacts_can_be_kept_by_the_gateway(tmp_path: Path) -> None:
    with stack("sqlite") as services:
        async with FakeAimlapiUpstream(api_key="svc-key") as service:
            config = tmp_path / "omnigate.toml"
            config.write_text(
                config_text(tmp_path, service, services, extra="[storage]\ncopy_artifacts = true\n")
            )
            settings = load_settings(config)
            db, account, key = funded_account(settings.database_url, STARTING)
            async with serve(settings) as (gateway, root):
                env = Env(root, key, db, account.id, gateway, service)
                status, created = await env.call(
                    "POST", "/v2/video/generations", json={"model": VIDEO, "prompt": "a cat"}
                )
                assert status == 200, created
                done = await env.finished(f"/v2/video/generations?generation_id={created['id']}")
                url = done["video"]["url"]
                assert url.startswith(root + "/files/")
                async with aiohttp.ClientSession() as http, http.get(url) as response:
                    assert response.status == 200 and await response.read() == MP4
            db.close()


async def test_polls_wake_the_runner_but_never_settle_twice(env: Env) -> None:
    status, created = await env.call(
        "POST", "/v2/video/generations", json={"model": VIDEO, "prompt": "a cat"}
    )
    assert status == 200
    path = f"/v2/video/generations?generation_id={created['id']}"
    answers = await asyncio.gather(*(env.call("GET", path) for _ in range(30)))
    assert all(status == 200 for status, _ in answers)
    await env.finished(path)
    assert len([e for e in env.db.ledger_entries(env.account_id) if e.kind == "refund"]) == 1


async def test_minimax_music_01_uploads_a_reference_free_then_makes_a_song(env: Env) -> None:
    form = aiohttp.FormData()
    form.add_field("purpose", "song")
    form.add_field("file", MP3, filename="reference.mp3", content_type="audio/mpeg")
    status, uploaded = await env.call("POST", "/v2/generate/audio/minimax/upload", data=form)
    assert status == 200, uploaded
    assert uploaded["voice_id"] and uploaded["instrumental_id"]
    assert uploaded["meta"]["usage"]["tokens_used"] == 0
    assert await env.settled_balance() == STARTING

    form = aiohttp.FormData()
    form.add_field("purpose", "chorus")
    form.add_field("file", MP3, filename="reference.mp3", content_type="audio/mpeg")
    status, answer = await env.call("POST", "/v2/generate/audio/minimax/upload", data=form)
    assert status == 400 and answer["error"]["param"] == "purpose"

    body = {"model": "music-01", "refer_voice": uploaded["voice_id"], "lyrics": "[Verse] la la"}
    status, song = await env.call("POST", "/v2/generate/audio/minimax/generate", json=body)
    assert status == 200, song
    assert bytes.fromhex(song["data"]["audio"]) == MP3
    charged = math.ceil(tokens_used("/v2/generate/audio/minimax/generate", body) * MARKUP)
    assert song["meta"]["usage"]["tokens_used"] == charged
    status, answer = await env.call(
        "POST", "/v2/generate/audio/minimax/generate", json={"model": MUSIC, "lyrics": "la"}
    )
    assert status == 400 and answer["error"]["param"] == "model"
    assert await env.settled_balance() == STARTING - charged


async def test_sora_runs_on_openais_videos_api_and_its_bytes_are_served_here(tmp_path: Path) -> None:
    """An upstream that hands over the video's bytes (OpenAI's content route): the gateway keeps
    them and answers its own URL; the operator's per-second price is charged for the real length."""
    async with FakeOpenAIUpstream() as openai_fake:
        config = tmp_path / "omnigate.toml"
        config.write_text(openai_config(tmp_path, openai_fake, "sora-2-t2v", "sora-2"))
        settings = load_settings(config)
        db, account, key = funded_account(settings.database_url, STARTING)
        async with serve(settings) as (gateway, root):
            env = Env(root, key, db, account.id, gateway, FakeAimlapiUpstream())
            body = {"model": "sora-2-t2v", "prompt": "a cat surfing", "duration": 8}
            status, created = await env.call("POST", "/v2/video/generations", json=body)
            assert status == 200, created
            assert created["meta"]["usage"]["tokens_used"] == 8 * CREDITS_PER_SECOND
            done = await env.finished(f"/v2/video/generations?generation_id={created['id']}")
            assert done["status"] == "completed", done
            url = done["video"]["url"]
            assert url.startswith(root + "/files/") and done["video"]["duration"] == 8
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                assert response.status == 200 and response.content_type == "video/mp4"
                assert (await response.read()).startswith(b"\x00\x00\x00")
            [video] = openai_fake.videos.values()
            assert (video.model, video.seconds, video.size) == ("sora-2", "8", "1280x720")
            assert await env.ledger(created["id"]) == {"charge": -8 * CREDITS_PER_SECOND, "refund": 0}
            assert await env.settled_balance() == STARTING - 8 * CREDITS_PER_SECOND
        db.close()


async def test_artifacts_can_be_kept_in_an_s3_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a bucket configured, a finished video is copied there and answered as a presigned
    URL that works from any replica (moto's S3 server stands in for S3)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("TEST_S3_KEY", "testing")
    monkeypatch.setenv("TEST_S3_SECRET", "testing")
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket="media")
    storage = f"""
        [storage]
        copy_artifacts = true
        s3_bucket = "media"
        s3_prefix = "tasks/"
        s3_endpoint_url = "{endpoint}"
        s3_region = "us-east-1"
        s3_access_key_id_env = "TEST_S3_KEY"
        s3_secret_access_key_env = "TEST_S3_SECRET"
        """
    try:
        with stack("sqlite") as services:
            async with FakeAimlapiUpstream(api_key="svc-key") as service:
                config = tmp_path / "omnigate.toml"
                config.write_text(config_text(tmp_path, service, services, extra=storage))
                settings = load_settings(config)
                db, account, key = funded_account(settings.database_url, STARTING)
                async with serve(settings) as (gateway, root):
                    env = Env(root, key, db, account.id, gateway, service)
                    status, created = await env.call(
                        "POST", "/v2/video/generations", json={"model": VIDEO, "prompt": "a cat"}
                    )
                    assert status == 200, created
                    done = await env.finished(f"/v2/video/generations?generation_id={created['id']}")
                url = done["video"]["url"]
                assert url.startswith(f"{endpoint}/media/tasks/") and "X-Amz-Expires=3600" in url
                async with aiohttp.ClientSession() as http, http.get(URL(url, encoded=True)) as response:
                    assert response.status == 200 and await response.read() == MP4
                db.close()
    finally:
        server.stop()


async def test_a_backend_without_a_task_api_runs_its_job_in_the_runner(tmp_path: Path) -> None:
    """Speech to text through OpenAI's synchronous transcriptions: the upload is kept with the
    task (in the database) until the runner has run the job; the hold on the file's longest
    possible length is charged at creation, and what the audio did not last is given back."""
    async with FakeOpenAIUpstream() as openai_fake:
        config = tmp_path / "omnigate.toml"
        config.write_text(openai_config(tmp_path, openai_fake, STT, "whisper-1"))
        settings = load_settings(config)
        db, account, key = funded_account(settings.database_url, STARTING)
        async with serve(settings) as (gateway, root):
            env = Env(root, key, db, account.id, gateway, FakeAimlapiUpstream())
            form = aiohttp.FormData()
            form.add_field("model", STT)
            form.add_field("audio", WAV, filename="talk.wav", content_type="audio/wav")
            status, created = await env.call("POST", "/v1/stt/create", data=form)
            assert status == 201, created
            task_id = created["generation_id"]
            assert db.task(task_id).upstream_id is None  # the runner runs it
            done = await env.finished(f"/v1/stt/{task_id}")
            assert done["status"] == "completed", done
            assert done["result"]["results"]["channels"][0]["alternatives"][0]["transcript"]
            assert db.task_inputs(task_id) == []  # the upload went with the job
            # At most a second a 1,000 bytes, plus one, was charged; 0.25 s is what it cost.
            held = math.ceil((len(WAV) / 1000 + 1) * CREDITS_PER_SECOND)
            assert await env.ledger(task_id) == {"charge": -held, "refund": held - CREDITS_PER_SECOND // 4}
            assert await env.settled_balance() == STARTING - CREDITS_PER_SECOND // 4
        db.close()
