"""Masking what an upstream's words reveal about the gateway before they reach a client.

Upstream error messages are written for the upstream's customer, who is the gateway's operator,
not its client: they quote the gateway's keys (whole or half-masked), name the operator's
organisation and project, and proxies on the way name internal hosts. `scrub` keeps the words
that help a client fix its request and masks those.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

SECRET = "[redacted]"
HOST = "[host]"
URL = "[url]"

# Shorter values would mask ordinary words wherever they appear.
_SHORTEST_REMEMBERED = 8
_remembered: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Mask `value` wherever it appears from now on: the keys the gateway sends upstream, which
    no pattern can be sure to recognise."""
    if value and len(value) >= _SHORTEST_REMEMBERED:
        _remembered.add(value)


def _always(mark: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: mark


def _if_random(found: re.Match[str]) -> str:
    # Keys and ids are random: they mix letters with digits (or are already half-masked with *).
    # Long plain words and snake_case names are left alone.
    token = found.group()
    random = any(c.isdigit() or c == "*" for c in token) and any(c.isalpha() for c in token)
    return SECRET if random else token


def _if_ip(found: re.Match[str]) -> str:
    # The IPv6 patterns also catch times (12:30:45) and a lone "::"; only real addresses go.
    candidate = found.group("ip")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return found.group()
    return HOST if any(c.isalnum() for c in candidate) else found.group()


# In order: a URL goes whole, with the host and any key in its query; a bracketed IPv6 address
# before the bare one, so that its brackets and port go with it.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    # A URL ends before the punctuation of the sentence around it.
    (re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]*[^\s'\"<>().,;:!?]"), _always(URL)),
    (re.compile(r"\bBearer\s+[^\s'\",;]+", re.IGNORECASE), _always(f"Bearer {SECRET}")),
    # OpenAI, Anthropic, Stripe-style keys (sk-proj-..., sk-ant-..., sk-upst*****cret).
    (re.compile(r"\b(?:sk|rk|pk)[-_][\w*-]{4,}"), _always(SECRET)),
    (re.compile(r"\bAIza[\w-]{20,}"), _always(SECRET)),  # Google API keys
    (re.compile(r"\[(?P<ip>[0-9A-Fa-f:.]+)\](?::\d{1,5})?"), _if_ip),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), _always(HOST)),
    (re.compile(r"(?<![\w:])(?P<ip>[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w:])"), _if_ip),
    (re.compile(r"\b[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*:\d{2,5}\b"), _always(HOST)),
    (
        re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:internal|local|localdomain|lan|corp|intranet|svc)\b"),
        _always(HOST),
    ),
    # Account, organisation and project ids (key-..., org-..., proj_...).
    (re.compile(r"\b(?:key|org|proj|sess)[-_][\w*-]{8,}"), _if_random),
    # Anything else that looks like a key or token: a long run of base64, hex or key characters.
    (re.compile(r"(?<![\w+/=*-])[\w+/=*-]{32,}"), _if_random),
)


def scrub(message: str) -> str:
    """`message` with secrets, URLs, hosts and IP addresses masked; the rest of its words kept."""
    for secret in _remembered:
        message = message.replace(secret, SECRET)
    for pattern, replace in _RULES:
        message = pattern.sub(replace, message)
    return message
