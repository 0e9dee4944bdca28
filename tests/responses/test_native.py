"""The native road's pure parts: the body an upstream gets, the items it is shown, and how its
answers and events become the gateway's."""

from __future__ import annotations

from typing import Any

from omnigate.responses.items import normalise_input
from omnigate.responses.native import NativeRelay, adopt, upstream_body, upstream_input
from omnigate.responses.translate import chat_usage

CHAT_PARAMS = frozenset({"model", "messages", "max_tokens", "tools", "tool_choice", "response_format"})


def test_the_gateway_fields_are_its_own() -> None:
    request = {
        "model": "gpt-4o",
        "input": "hi",
        "previous_response_id": "resp_1",
        "store": True,
        "stream": True,
        "instructions": "Be brief.",
        "include": ["reasoning.encrypted_content"],
    }
    body = upstream_body(
        request,
        normalise_input("hi"),
        upstream_model="gpt-4o-2024-08-06",
        known_chat_params=None,
        stream=False,
    )
    assert body == {
        "model": "gpt-4o-2024-08-06",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "store": False,
        "instructions": "Be brief.",
        "include": ["reasoning.encrypted_content"],
    }
    streamed = upstream_body(request, [], upstream_model="m", known_chat_params=None, stream=True)
    assert streamed["stream"] is True


def test_fields_whose_chat_counterpart_the_rules_drop_are_dropped() -> None:
    request = {
        "model": "gpt-4o",
        "input": "hi",
        "temperature": 0.2,
        "max_output_tokens": 5,
        "reasoning": {"effort": "low"},
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "metadata": {"k": "v"},
    }
    body = upstream_body(request, [], upstream_model="m", known_chat_params=CHAT_PARAMS, stream=False)
    assert "temperature" not in body and "reasoning" not in body
    assert body["max_output_tokens"] == 5 and body["metadata"] == {"k": "v"}
    assert body["text"] == {"format": {"type": "json_object"}, "verbosity": "low"}
    no_format = upstream_body(
        request, [], upstream_model="m", known_chat_params=CHAT_PARAMS - {"response_format"}, stream=False
    )
    assert no_format["text"] == {"verbosity": "low"}


def test_items_go_upstream_without_ids() -> None:
    items = normalise_input(
        [
            {"role": "developer", "content": "Rules."},
            {"role": "user", "content": [{"type": "input_text", "text": "look"}]},
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "I ", "annotations": []},
                    {"type": "refusal", "refusal": "won't"},
                ],
            },
            {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_1",
                "name": "f",
                "arguments": "{}",
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "done"},
            {"id": "rs_1", "type": "reasoning", "summary": []},
            {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "enc"},
        ]
    )
    assert upstream_input(items) == [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look"}]},
        {"role": "assistant", "content": "I won't"},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "done"},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "enc"},
    ]


def upstream_response(**fields: Any) -> dict[str, Any]:
    return {
        "id": "resp_upstream",
        "object": "response",
        "model": "gpt-4o-2024-08-06",
        "status": "completed",
        "store": False,
        "previous_response_id": None,
        "output": [],
        **fields,
    }


def test_adopt_gives_the_answer_the_gateways_id_and_the_clients_storage_fields() -> None:
    request = {"model": "gpt-4o", "input": "hi", "previous_response_id": "resp_prev"}
    response = adopt(upstream_response(), request, response_id="resp_ours", model="gpt-4o")
    assert response["id"] == "resp_ours" and response["model"] == "gpt-4o"
    assert response["store"] is True and response["previous_response_id"] == "resp_prev"
    unstored = adopt(upstream_response(), {**request, "store": False}, response_id="r", model="m")
    assert unstored["store"] is False


def test_the_relay_renumbers_rewrites_and_reads_the_usage() -> None:
    relay = NativeRelay(
        {"model": "gpt-4o", "input": "hi"}, response_id="resp_ours", model="gpt-4o", created_at=1
    )
    assert relay.start() == []
    usage = {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 1},
        "output_tokens": 2,
        "total_tokens": 5,
    }
    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hey", "annotations": []}],
    }
    upstream_events = [
        {
            "type": "response.created",
            "sequence_number": 7,
            "response": upstream_response(status="in_progress"),
        },
        {"type": "response.output_text.delta", "sequence_number": 8, "delta": "hey", "item_id": "msg_1"},
        {
            "type": "response.completed",
            "sequence_number": 9,
            "response": upstream_response(output=[message], usage=usage),
        },
    ]
    relayed = [event for upstream in upstream_events for event in relay.feed(upstream)]
    assert [e["sequence_number"] for e in relayed] == [0, 1, 2]
    assert relayed[0]["response"]["id"] == relayed[2]["response"]["id"] == "resp_ours"
    assert relayed[2]["response"]["output_text"] == "hey" and relay.response["status"] == "completed"
    assert relay.usage == chat_usage(usage)
    assert relay.usage == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 1},
    }
    assert relay.finish(relay.usage) == []


def test_a_relay_cut_short_ends_with_its_own_response_failed() -> None:
    relay = NativeRelay(
        {"model": "gpt-4o", "input": "hi"}, response_id="resp_ours", model="gpt-4o", created_at=1
    )
    relay.feed(
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": upstream_response(status="in_progress"),
        }
    )
    for piece in ("abcd", "efgh", "ij"):
        relay.feed({"type": "response.output_text.delta", "sequence_number": 0, "delta": piece})
    [failed] = relay.failed(502, "the upstream broke off")
    assert failed["type"] == "response.failed" and failed["sequence_number"] == 4
    assert failed["response"]["id"] == "resp_ours" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "the upstream broke off"}
    assert relay.usage is None and relay.completion_estimate() == 3
