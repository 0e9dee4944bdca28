"""What a run sends its model: the chat body made of the run's settings, the thread's messages
(cut by its truncation strategy), what file_search found, and the tool calls of this run so far;
and the citations put on the answer's text afterwards."""

from __future__ import annotations

import re
from typing import Any

from omnigate.assistants.objects import message_text
from omnigate.responses import truncation

# OpenAI's citation marker in an answer: 【n†source】 (n: the source's number in the context).
MARKER = re.compile(r"【(\d+)(?::\d+)?†([^】]*)】")


def chat_messages(thread: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for msg in thread:
        images = [p["image_url"] for p in msg.get("content") or () if p.get("type") == "image_url"]
        text = message_text(msg)
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            parts += [{"type": "image_url", "image_url": {"url": i["url"]}} for i in images]
            out.append({"role": msg["role"], "content": parts})
        else:
            out.append({"role": msg["role"], "content": text})
    return out


def cut(
    messages: list[dict[str, Any]], strategy: dict[str, Any], context_length: int | None
) -> list[dict[str, Any]]:
    """The thread's messages a run reads: the last n with `last_messages`; with `auto`, as many of
    the latest as the model's context holds (Responses' `auto` truncation)."""
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        return messages[-int(strategy["last_messages"]) :]
    return truncation.fit(messages, context_length, "auto")


def chat_body(
    run: dict[str, Any],
    messages: list[dict[str, Any]],
    *,
    history: list[dict[str, Any]] = (),  # type: ignore[assignment]
    sources: str | None = None,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    """The chat completions body of one model call of a run."""
    system = run.get("instructions") or ""
    if sources:
        system = f"{system}\n\n{sources}" if system else sources
    body: dict[str, Any] = {
        "model": run["model"],
        "messages": ([{"role": "system", "content": system}] if system else []) + messages + list(history),
        "stream": True,
    }
    for name in ("temperature", "top_p", "reasoning_effort"):
        if run.get(name) is not None:
            body[name] = run[name]
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    functions = [
        {"type": "function", "function": t["function"]} for t in run["tools"] if t["type"] == "function"
    ]
    choice = run.get("tool_choice")
    if functions and not (history and _forced(choice)):
        body["tools"] = functions
        # A forced tool is called once: after its output, the model answers in words.
        if isinstance(choice, dict) and choice.get("type") == "function":
            body["tool_choice"] = {"type": "function", "function": {"name": choice["function"]["name"]}}
        elif choice in ("none", "auto", "required"):
            body["tool_choice"] = choice
        if run.get("parallel_tool_calls") is False:
            body["parallel_tool_calls"] = False
    fmt = run.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") != "text":
        body["response_format"] = fmt
    return body


def _forced(choice: Any) -> bool:
    return choice == "required" or (isinstance(choice, dict) and choice.get("type") == "function")


# -- file_search ------------------------------------------------------------------------------------
def search_file_ids(
    run: dict[str, Any],
    thread: dict[str, Any],
    assistant: dict[str, Any] | None,
    messages: list[dict[str, Any]],
) -> list[str]:
    """The files a run's file_search reads: those its messages attach for file_search, and those
    the thread's and the assistant's tool_resources name; none when the run has no file_search."""
    if not any(t["type"] == "file_search" for t in run["tools"]):
        return []
    found: list[str] = []
    for msg in messages:
        for item in msg.get("attachments") or ():
            if any(t.get("type") == "file_search" for t in item.get("tools") or ()):
                found.append(item["file_id"])
    for owner in (thread, assistant or {}):
        found += ((owner.get("tool_resources") or {}).get("file_search") or {}).get("file_ids") or []
    return list(dict.fromkeys(found))


def sources_text(hits: list[Any]) -> str:
    """The hits as the model reads them, numbered so that it can cite them as 【n†filename】."""
    lines = ["Answer from these sources. Cite a source where you use it as 【n†filename】, n its number."]
    for n, hit in enumerate(hits):
        lines.append(f"【{n}†{hit.filename}】\n{hit.text}")
    return "\n\n".join(lines)


def file_search_call(call_id: str, hits: list[Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "file_search",
        "file_search": {
            "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
            "results": [
                {
                    "file_id": hit.file_id,
                    "file_name": hit.filename,
                    "score": max(0.0, min(1.0, float(hit.score))),
                    "content": [{"type": "text", "text": hit.text}],
                }
                for hit in hits
            ],
        },
    }


def cite(text: str, hits: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """The answer's text and its file_citation annotations: one per marker the model wrote that
    names a source; when it wrote none, a line naming each file the sources came from is added,
    so that the reader always sees where the answer came from. Returns (text, annotations)."""
    annotations = []
    for found in MARKER.finditer(text):
        number = int(found.group(1))
        if number < len(hits):
            annotations.append(_citation(found.group(0), found.start(), hits[number].file_id))
    if annotations or not hits:
        return text, annotations
    files: dict[str, str] = {}
    for hit in hits:
        files.setdefault(hit.file_id, hit.filename)
    text = text.rstrip() + "\n\nSources:"
    for n, (file_id, filename) in enumerate(files.items()):
        marker = f"【{n}†{filename}】"
        text += " "
        annotations.append(_citation(marker, len(text), file_id))
        text += marker
    return text, annotations


def _citation(marker: str, start: int, file_id: str) -> dict[str, Any]:
    return {
        "type": "file_citation",
        "text": marker,
        "start_index": start,
        "end_index": start + len(marker),
        "file_citation": {"file_id": file_id},
    }
