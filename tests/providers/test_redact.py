"""The scrubber that upstream words pass through before a client reads them."""

from __future__ import annotations

import pytest

from omnigate.providers.redact import HOST, SECRET, URL, remember_secret, scrub


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Incorrect API key provided: sk-upst*******cret. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            f"Incorrect API key provided: {SECRET}. You can find your API key at {URL}.",
        ),
        ("bad key sk-proj-Ab12Cd34Ef56", f"bad key {SECRET}"),
        ("bad key sk-ant-api03-xyz_987", f"bad key {SECRET}"),
        ("API key AIzaSyD-abcdefghijklmnopqrstuvwxyz12345 not valid", f"API key {SECRET} not valid"),
        ("sent Authorization: Bearer abc.def-ghi", f"sent Authorization: Bearer {SECRET}"),
        ("account key-1234abcd5678efgh locked", f"account {SECRET} locked"),
        (
            "Rate limit reached for gpt-4o in organization org-AbC123dEf456 on tokens per min",
            f"Rate limit reached for gpt-4o in organization {SECRET} on tokens per min",
        ),
        ("token a1b2c3d4e5f60718293a4b5c6d7e8f90aabbccdd expired", f"token {SECRET} expired"),
        ("blob dGhpcyBpcyBhIHNlY3JldCB0b2tlbjEyMzQ1Njc4OTA= refused", f"blob {SECRET} refused"),
    ],
)
def test_secrets_are_masked(message: str, expected: str) -> None:
    assert scrub(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Cannot connect to host 10.0.0.5:8443 ssl:default", f"Cannot connect to host {HOST} ssl:default"),
        ("from 192.168.1.20 upstream", f"from {HOST} upstream"),
        ("via [fe80::1]:8080 and 2001:db8::8a2e:370:7334", f"via {HOST} and {HOST}"),
        ("try api.internal.example.com:443 or vllm-3:8000", f"try {HOST} or {HOST}"),
        ("vllm-3.internal and db.svc did not answer", f"{HOST} and {HOST} did not answer"),
        ("see http://10.0.0.5:8443/v1/chat?key=abc for details", f"see {URL} for details"),
    ],
)
def test_hosts_and_urls_are_masked(message: str, expected: str) -> None:
    assert scrub(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "max_tokens is too large: 500000. This model supports at most 128000 completion tokens.",
        "Invalid 'messages[1].tool_calls[0].function.arguments': not valid JSON",
        "model gpt-4o-2024-08-06 or meta-llama/Llama-3.1-8B-Instruct not found",
        "temperature must be at most 2; the tool get_current_weather_for_the_location_by_city is unknown",
        "the batch started at 12:30:45 :: retry later",
        "key-value pairs and org-wide settings are fine",
    ],
)
def test_words_that_help_the_client_stay(message: str) -> None:
    assert scrub(message) == message


def test_the_gateway_s_own_keys_are_masked_whatever_they_look_like() -> None:
    remember_secret("plainwordsecretkey")
    remember_secret("short")  # too short to mask safely: ordinary words would go with it
    assert scrub("key plainwordsecretkey is short") == f"key {SECRET} is short"
