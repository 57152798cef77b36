"""Anthropic Messages request validation for the simulator: the body's field set, block types,
roles, and tool_use/tool_result pairing, strict like the real API and with its 400 messages
where they are known (wire-formats §4.2). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

import attrs

from ._common import text_of

__all__ = ["Prompt", "check"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FIELDS = _names(
    "model messages max_tokens system stop_sequences temperature top_p top_k stream tools "
    "tool_choice thinking metadata service_tier output_config container inference_geo "
    "cache_control diagnostics speed"
)
# Fields of beta features: the API rejects them unless an anthropic-beta header is sent.
_BETA_FIELDS = _names(
    "context_management mcp_servers compaction fallbacks thread billing_policy "
    "fallback_credit_token"
)
# block type -> (required fields, allowed fields); None: a known type whose fields go unchecked.
_BLOCKS: dict[str, tuple[tuple[str, ...], frozenset[str]] | None] = {
    "text": (("text",), frozenset({"type", "text", "cache_control", "citations"})),
    "image": (("source",), frozenset({"type", "source", "cache_control", "transformations"})),
    "document": (
        ("source",),
        frozenset({"type", "source", "cache_control", "citations", "context", "title"}),
    ),
    "search_result": None,
    "thinking": (("signature", "thinking"), frozenset({"type", "thinking", "signature"})),
    "redacted_thinking": (("data",), frozenset({"type", "data"})),
    "tool_use": (
        ("id", "input", "name"),
        frozenset({"type", "id", "name", "input", "cache_control", "caller", "toolset_name"}),
    ),
    "tool_result": (
        ("tool_use_id",),
        frozenset({"type", "tool_use_id", "content", "is_error", "cache_control", "toolset_name"}),
    ),
    "server_tool_use": None,
    "web_search_tool_result": None,
    "web_fetch_tool_result": None,
    "code_execution_tool_result": None,
    "bash_code_execution_tool_result": None,
    "text_editor_code_execution_tool_result": None,
    "tool_search_tool_result": None,
    "container_upload": None,
}
# Blocks only the model writes (echoed back in assistant turns), and the user's tool results.
_ASSISTANT_ONLY = frozenset({"tool_use", "thinking", "redacted_thinking", "server_tool_use"})
_TOOL_KEYS = _names(
    "type name description input_schema cache_control allowed_callers defer_loading "
    "eager_input_streaming input_examples strict"
)
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_CHOICES = {
    "auto": frozenset({"type", "disable_parallel_tool_use"}),
    "any": frozenset({"type", "disable_parallel_tool_use"}),
    "tool": frozenset({"type", "name", "disable_parallel_tool_use"}),
    "none": frozenset({"type"}),
}
_THINKING = {
    "enabled": frozenset({"type", "budget_tokens", "display"}),
    "disabled": frozenset({"type"}),
    "adaptive": frozenset({"type", "display"}),
}
_BUDGET_DOCS = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
    "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    "#max-tokens-and-context-window-size"
)


@attrs.frozen
class Prompt:
    """What a valid request tells the simulator's answer."""

    words: int
    last_user: str
    max_tokens: int


class _Bad(Exception):
    """Internal: the first problem found, as the API's 400 message."""


def _literal(options: Iterable[str]) -> str:
    quoted = [f"'{o}'" for o in options]
    return " or ".join(quoted) if len(quoted) < 3 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _dict(value: object, loc: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{loc}: Input should be a valid dictionary or object to extract fields from")
    return value


def _keys(
    obj: Mapping[str, Any], loc: str, allowed: frozenset[str], required: Iterable[str]
) -> None:
    for key in obj:
        if key not in allowed:
            raise _Bad(f"{loc}.{key}: Extra inputs are not permitted")
    for key in required:
        if key not in obj:
            raise _Bad(f"{loc}.{key}: Field required")


def _int(value: object, loc: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"{loc}: Input should be a valid integer")
    if value < minimum:
        raise _Bad(f"{loc}: Input should be greater than or equal to {minimum}")
    return value


def _number(value: object, loc: str, high: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Bad(f"{loc}: Input should be a valid number")
    if value < 0:
        raise _Bad(f"{loc}: Input should be greater than or equal to 0")
    if value > high:
        raise _Bad(f"{loc}: Input should be less than or equal to {high:g}")


def _tagged(value: object, loc: str, tags: Iterable[str]) -> tuple[dict[str, Any], str]:
    obj = _dict(value, loc)
    tag = obj.get("type")
    if "type" not in obj:
        raise _Bad(f"{loc}: Unable to extract tag using discriminator 'type'")
    names = list(tags)
    if tag not in names:
        raise _Bad(
            f"{loc}: Input tag '{tag}' found using 'type' does not match any of the expected "
            f"tags: {', '.join(repr(t) for t in names)}"
        )
    return obj, str(tag)


def _blocks(content: object, i: int, role: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _Bad(f"messages.{i}.content: Input should be a valid string or a list of blocks")
    out = []
    for j, value in enumerate(content):
        block, kind = _tagged(value, f"messages.{i}.content.{j}", _BLOCKS)
        rule = _BLOCKS[kind]
        if rule is not None:
            _keys(block, f"messages.{i}.content.{j}.{kind}", rule[1], rule[0])
        if kind == "text" and not isinstance(block["text"], str):
            raise _Bad(f"messages.{i}.content.{j}.text.text: Input should be a valid string")
        if kind == "text" and not block["text"]:
            raise _Bad("messages: text content blocks must be non-empty")
        if kind == "tool_use" and not isinstance(block["input"], dict):
            raise _Bad(
                f"messages.{i}.content.{j}.tool_use.input: Input should be a valid dictionary"
            )
        wanted = (
            "assistant" if kind in _ASSISTANT_ONLY else "user" if kind == "tool_result" else role
        )
        if wanted != role:
            raise _Bad(
                f"messages.{i}.content.{j}: `{kind}` blocks are only allowed in `{wanted}` messages"
            )
        out.append(block)
    return out


def _messages(value: object) -> tuple[int, str]:
    """Check the turns; returns the prompt's word count and the last user turn's text."""
    if not isinstance(value, list):
        raise _Bad("messages: Input should be a valid list")
    if not value:
        raise _Bad("messages: at least one message is required")
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for i, raw in enumerate(value):
        msg = _dict(raw, f"messages.{i}")
        _keys(msg, f"messages.{i}", frozenset({"role", "content"}), ("role", "content"))
        role = msg["role"]
        if role not in ("user", "assistant"):
            raise _Bad(f"messages.{i}.role: Input should be {_literal(('user', 'assistant'))}")
        blocks = _blocks(msg["content"], i, role)
        final_assistant = role == "assistant" and i == len(value) - 1
        if not blocks and not final_assistant:
            raise _Bad(
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        tail = blocks[-1] if blocks else {}
        if final_assistant and tail.get("type") == "text" and tail["text"] != tail["text"].rstrip():
            raise _Bad("messages: final assistant content cannot end with trailing whitespace")
        turns.append((role, blocks))
    if turns[0][0] != "user":
        raise _Bad('messages: first message must use the "user" role')
    for (before, _), (role, _) in pairwise(turns):
        if role == before:
            raise _Bad(
                'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{role}" roles in a row'
            )
    _pairs(turns)
    words, last_user = 0, ""
    for role, blocks in turns:
        text = text_of(blocks)
        words += len(text.split())
        if role == "user":
            last_user = text
    return words, last_user


def _pairs(turns: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """Every tool_use is answered in the very next user turn, and only those are answered."""
    asked: list[str] = []
    for i, (role, blocks) in enumerate(turns):
        if role == "user":
            for j, block in enumerate(blocks):
                if block["type"] == "tool_result" and block["tool_use_id"] not in asked:
                    raise _Bad(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block "
                        "must have a corresponding `tool_use` block in the previous message."
                    )
            asked = []
            continue
        asked = [b["id"] for b in blocks if b["type"] == "tool_use"]
        answered = (
            {b["tool_use_id"] for b in turns[i + 1][1] if b["type"] == "tool_result"}
            if i + 1 < len(turns)
            else set()
        )
        missing = [a for a in asked if a not in answered]
        if missing:
            raise _Bad(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )


def _system(value: object) -> int:
    if isinstance(value, str):
        return len(value.split())
    if not isinstance(value, list):
        raise _Bad("system: Input should be a valid string or a list of text blocks")
    words = 0
    for j, raw in enumerate(value):
        block = _dict(raw, f"system.{j}")
        _keys(block, f"system.{j}", frozenset({"type", "text", "cache_control", "citations"}), ())
        if block.get("type") != "text":
            raise _Bad(f"system.{j}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str):
            raise _Bad(f"system.{j}.text: Field required")
        words += len(block["text"].split())
    return words


def _tools(value: object) -> None:
    if not isinstance(value, list):
        raise _Bad("tools: Input should be a valid list")
    names = []
    for k, raw in enumerate(value):
        tool = _dict(raw, f"tools.{k}")
        if tool.get("type") not in (None, "custom"):
            if not isinstance(tool.get("type"), str):
                raise _Bad(f"tools.{k}.type: Input should be a valid string")
            continue  # a server tool (web search, bash, ...): its fields are the API's business
        loc = f"tools.{k}.custom"
        _keys(tool, loc, _TOOL_KEYS, ("name", "input_schema"))
        if not isinstance(tool["name"], str) or not _TOOL_NAME.match(tool["name"]):
            raise _Bad(f"{loc}.name: String should match pattern '{_TOOL_NAME.pattern}'")
        schema = _dict(tool["input_schema"], f"{loc}.input_schema")
        if schema.get("type") != "object":
            raise _Bad(f"{loc}.input_schema.type: Input should be 'object'")
        names.append(tool["name"])
    if len(set(names)) != len(names):
        raise _Bad("tools: Tool names must be unique.")


def _options(req: dict[str, Any], max_tokens: int) -> None:
    """The optional fields' shapes and the cross-field rules."""
    if "tool_choice" in req:
        choice, kind = _tagged(req["tool_choice"], "tool_choice", _CHOICES)
        _keys(choice, f"tool_choice.{kind}", _CHOICES[kind], ("name",) if kind == "tool" else ())
    thinking_on = False
    if "thinking" in req:
        thinking, kind = _tagged(req["thinking"], "thinking", _THINKING)
        required = ("budget_tokens",) if kind == "enabled" else ()
        _keys(thinking, f"thinking.{kind}", _THINKING[kind], required)
        if kind == "enabled":
            budget = _int(thinking["budget_tokens"], "thinking.enabled.budget_tokens", 1024)
            if budget >= max_tokens:
                raise _Bad(_BUDGET_DOCS)
        thinking_on = kind != "disabled"
    for name, high in (("temperature", 1.0), ("top_p", 1.0)):
        if name in req:
            _number(req[name], name, high)
    if "top_k" in req:
        _int(req["top_k"], "top_k", 0)
    if thinking_on and req.get("temperature", 1) != 1:
        raise _Bad("`temperature` may only be set to 1 when thinking is enabled.")
    if "stream" in req and not isinstance(req["stream"], bool):
        raise _Bad("stream: Input should be a valid boolean")
    stops = req.get("stop_sequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise _Bad("stop_sequences: Input should be a valid list of strings")
    if "metadata" in req:
        _keys(_dict(req["metadata"], "metadata"), "metadata", frozenset({"user_id"}), ())
    if "service_tier" in req and req["service_tier"] not in ("auto", "standard_only"):
        raise _Bad(f"service_tier: Input should be {_literal(('auto', 'standard_only'))}")
    if req.get("output_config") is not None:
        config = _dict(req["output_config"], "output_config")
        _keys(config, "output_config", frozenset({"effort", "format"}), ())
        efforts = ("low", "medium", "high", "xhigh", "max")
        if config.get("effort") not in (None, *efforts):
            raise _Bad(f"output_config.effort: Input should be {_literal(efforts)}")
        if config.get("format") is not None:
            fmt = _dict(config["format"], "output_config.format")
            _keys(fmt, "output_config.format", frozenset({"type", "schema"}), ("type", "schema"))
            if fmt["type"] != "json_schema":
                raise _Bad("output_config.format.type: Input should be 'json_schema'")
            _dict(fmt["schema"], "output_config.format.schema")


def check(req: object, headers: Mapping[str, str]) -> Prompt | str:
    """Validate a Messages request like the API does.

    Args:
        req: the parsed JSON body (None when it was not JSON).
        headers: the request headers (lower-case names).

    Returns:
        What the answer needs to know, or the 400 message for the first problem found.
    """
    try:
        if "anthropic-version" not in headers:
            raise _Bad("anthropic-version: header is required")
        if not isinstance(req, dict):
            raise _Bad("The request body is not valid JSON: expected a JSON object.")
        beta = "anthropic-beta" in headers
        for key in req:
            if key not in _FIELDS and not (beta and key in _BETA_FIELDS):
                raise _Bad(f"{key}: Extra inputs are not permitted")
        for key in ("model", "messages", "max_tokens"):
            if key not in req:
                raise _Bad(f"{key}: Field required")
        if not isinstance(req["model"], str):
            raise _Bad("model: Input should be a valid string")
        max_tokens = _int(req["max_tokens"], "max_tokens", 1)
        words, last_user = _messages(req["messages"])
        if "system" in req:
            words += _system(req["system"])
        if "tools" in req:
            _tools(req["tools"])
        _options(req, max_tokens)
    except _Bad as exc:
        return str(exc)
    return Prompt(words=max(1, words), last_user=last_user, max_tokens=max_tokens)
