"""Anthropic Messages responses -> OpenAI shapes: a message as a ``chat.completion``, its
usage and stop reason, and Anthropic's error shape (wire-formats §4.3, §4.8, §4.9).

Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import ErrorInfo
from .._types import AttrDict, ModelResponse
from ._common import cached_usage, completion, dumps, parse_error_body
from .openai import inband_status

__all__ = ["error_info", "error_status", "finish_reason", "message_completion", "usage"]

# stop_reason -> OpenAI finish_reason (wire-formats §9.2); anything else is "stop".
# fmt: off
_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "model_context_window_exceeded": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# fmt: on

# error.type -> the HTTP status Anthropic sends it with (wire-formats §4.9): the "twin" of an
# error that arrives inside a 200 stream, so it maps to the class (and retry rule) it would
# have had as an HTTP error.
# fmt: off
_ERROR_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
# fmt: on


def finish_reason(stop_reason: object) -> str:
    """OpenAI's ``finish_reason`` for an Anthropic ``stop_reason`` (unmapped -> "stop")."""
    return _FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def usage(raw: Mapping[str, Any]) -> AttrDict:
    """OpenAI's usage object for Anthropic's ``usage`` (``input_tokens`` excludes cached
    tokens)."""
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    return cached_usage(
        raw.get("input_tokens"),
        raw.get("output_tokens"),
        raw.get("cache_read_input_tokens"),
        raw.get("cache_creation_input_tokens"),
        reasoning=thinking if type(thinking) is int else None,
    )


def error_info(body: bytes) -> ErrorInfo:
    """Anthropic's ``{"type": "error", "error": {"type", "message"}, "request_id"}`` as an
    ErrorInfo whose body is the inner error object; any other shape goes to the
    OpenAI-compatible parser (proxies in front of Anthropic answer in many shapes)."""
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return parse_error_body(body)
    if (
        not isinstance(parsed, dict)
        or parsed.get("type") != "error"
        or not isinstance(parsed.get("error"), dict)
    ):
        return parse_error_body(body)
    inner = parsed["error"]
    message = inner.get("message")
    kind = inner.get("type")
    return ErrorInfo(
        message if isinstance(message, str) else None,
        type=kind if isinstance(kind, str) else None,
        body=inner,
    )


def error_status(info: ErrorInfo) -> int:
    """The HTTP twin of an Anthropic error that arrived without its own status."""
    status = _ERROR_STATUS.get(info.type or "")
    return status if status is not None else inband_status(info)


def message_completion(obj: Mapping[str, Any], model: str, now: int) -> ModelResponse | None:
    """A Messages API message as a ``chat.completion``.

    Args:
        obj: the decoded response body.
        model: the requested model id, for a body that names none.
        now: the unix time for ``created`` (Anthropic sends none).

    Returns:
        The completion, or None when ``obj`` is not a message (the caller raises).
    """
    content = obj.get("content")
    if not isinstance(content, list) or obj.get("type", "message") != "message":
        return None
    texts: list[str] = []
    calls: list[AttrDict] = []
    reasoning: list[str] = []
    blocks: list[AttrDict] = []
    for block in content:
        if not isinstance(block, Mapping):
            return None
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            given = block.get("input")
            function = AttrDict(
                name=block.get("name"),
                arguments=dumps(given) if isinstance(given, Mapping) and given else "{}",
            )
            calls.append(AttrDict(id=block.get("id"), type="function", function=function))
        elif kind == "thinking":
            text = block.get("thinking")
            text = text if isinstance(text, str) else ""
            reasoning.append(text)
            entry = AttrDict(type="thinking", thinking=text)
            if isinstance(block.get("signature"), str):
                entry["signature"] = block["signature"]
            blocks.append(entry)
        elif kind == "redacted_thinking":
            blocks.append(AttrDict(type="redacted_thinking", data=block.get("data")))
        # Server tool blocks and block types added later: not mapped.
    text = "".join(texts)
    message = AttrDict(role="assistant", content=text or (None if calls else ""))
    if calls:
        message["tool_calls"] = calls
    if "".join(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if blocks:
        message["thinking_blocks"] = blocks
    message["refusal"] = None
    choice = AttrDict(
        index=0, message=message, logprobs=None, finish_reason=finish_reason(obj.get("stop_reason"))
    )
    served = obj.get("model")
    raw = obj.get("usage")
    return completion(
        id=obj["id"] if isinstance(obj.get("id"), str) else "",
        created=now,
        model=served if isinstance(served, str) else model,
        choices=[choice],
        usage=usage(raw) if isinstance(raw, Mapping) else None,
    )
