"""From an OpenAI chat body to what a local model needs, and back: pure functions, no model.

- `template_messages`: messages as plain role/content pairs for a GGUF chat template, with
  tool definitions and earlier tool calls written into the text (small templates know no tools);
- `output_plan`: what the answer must look like (free text, JSON, a JSON schema, a tool call),
  as the JSON schema a grammar is built from;
- `tool_calls_from`: the grammar-shaped output turned into OpenAI `tool_calls`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

# Any JSON object: what `response_format: json_object` promises.
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def content_text(content: Any) -> str:
    """A message's content as text (string, or the text parts of a list)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return str(content)


def template_messages(body: dict) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for message in body["messages"]:
        role = message.get("role", "user")
        text = content_text(message.get("content"))
        if role == "developer":
            role = "system"
        if role == "assistant" and message.get("tool_calls"):
            calls = [
                {
                    "name": c.get("function", {}).get("name"),
                    "arguments": c.get("function", {}).get("arguments"),
                }
                for c in message["tool_calls"]
            ]
            text = (text + "\n" if text else "") + json.dumps(calls)
        if role == "tool":
            # Templates of small models rarely know a tool role; a labelled user turn works everywhere.
            role = "user"
            text = f"Result of tool call {message.get('tool_call_id', '')}: {text}"
        messages.append({"role": role, "content": text})
    tools = body.get("tools")
    if tools and body.get("tool_choice") != "none":
        described = json.dumps([t.get("function", {}) for t in tools], ensure_ascii=False)
        note = f"You can call these functions:\n{described}\nTo call one, answer with its arguments as JSON."
        if messages and messages[0]["role"] == "system":
            messages[0] = {"role": "system", "content": messages[0]["content"] + "\n\n" + note}
        else:
            messages.insert(0, {"role": "system", "content": note})
    return messages


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """What the generated text must be. `schema` None: free text."""

    schema: dict[str, Any] | None = None
    # "text", "json" (response_format), or "tool" (the output is a tool call)
    mode: str = "text"
    # For a tool call: the forced function's name, or None when the output names the function.
    tool_name: str | None = None
    # The client's schemas inside `schema`, each with the body field it came from, so that a
    # schema the engine refuses can be named.
    sources: tuple[tuple[str, Any], ...] = ()


def output_plan(body: dict) -> OutputPlan:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if tools and choice not in (None, "none", "auto"):
        functions = {
            t["function"]["name"]: (i, t["function"])
            for i, t in enumerate(tools)
            if t.get("type") == "function"
        }
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            if name not in functions:
                raise ValueError(f"tool_choice names {name!r}, which is not in tools")
            index, function = functions[name]
            return OutputPlan(_parameters(function), "tool", name, (_source(index, function),))
        # "required": the model picks a function and its arguments, both constrained.
        options = [
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": _parameters(fn)},
                "required": ["name", "arguments"],
            }
            for name, (_, fn) in functions.items()
        ]
        sources = tuple(_source(i, fn) for i, fn in functions.values())
        return OutputPlan(options[0] if len(options) == 1 else {"anyOf": options}, "tool", sources=sources)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        return OutputPlan(ANY_OBJECT, "json")
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or ANY_OBJECT
        return OutputPlan(schema, "json", sources=(("response_format.json_schema.schema", schema),))
    return OutputPlan()


def _parameters(function: dict) -> dict[str, Any]:
    return function.get("parameters") or ANY_OBJECT


def _source(index: int, function: dict) -> tuple[str, Any]:
    return f"tools[{index}].function.parameters", _parameters(function)


def tool_calls_from(text: str, plan: OutputPlan) -> list[dict[str, Any]]:
    """OpenAI `tool_calls` from grammar-constrained output (which is valid JSON by construction)."""
    data = json.loads(text)
    if plan.tool_name is not None:
        name, arguments = plan.tool_name, data
    else:
        name, arguments = data["name"], data["arguments"]
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
        }
    ]
