"""Reading AWS Bedrock Converse responses (wire-formats §13.3, §13.5): messages, tool calls,
reasoning, stop reasons, usage and errors as OpenAI's.

Pure: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._error_map import snippet
from .._errors import ErrorInfo
from .._types import AttrDict
from ._common import cached_usage, dumps, parse_error_body

__all__ = [
    "EXCEPTION_STATUS",
    "error_info",
    "finish_reason",
    "message",
    "reasoning_block",
    "usage",
]

# stopReason -> OpenAI finish_reason (§13.3).
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# Exception names (an HTTP error's x-amzn-ErrorType, or a stream's :exception-type with a
# lower-case first letter) -> the HTTP status AWS sends them with (§13.5).
EXCEPTION_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ThrottlingException": 429,
    "ServiceQuotaExceededException": 429,
    "ModelStreamErrorException": 424,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
# Authentication failures AWS reports as 403s (a bad key id, a bad signature, an expired
# token, no or a half-formed Authorization): wrong credentials, not missing permissions.
_AUTH = (
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
)
_CONTEXT = ("too long", "too many input tokens", "context window", "maximum context length")


def finish_reason(stop_reason: object, has_calls: bool) -> str:
    if isinstance(stop_reason, str) and stop_reason in _FINISH:
        return _FINISH[stop_reason]
    return "tool_calls" if has_calls else "stop"


def usage(raw: Mapping[str, Any]) -> AttrDict:
    """OpenAI's usage for Bedrock's (``inputTokens`` excludes cache reads and writes, as in
    Anthropic's API)."""
    return cached_usage(
        raw.get("inputTokens"),
        raw.get("outputTokens"),
        raw.get("cacheReadInputTokens"),
        raw.get("cacheWriteInputTokens"),
    )


def reasoning_block(raw: Mapping[str, Any]) -> AttrDict | None:
    """A ``reasoningContent`` block as an Anthropic-style thinking block (the form the
    messages carry back in ``thinking_blocks``, as LiteLLM returns Bedrock's)."""
    text = raw.get("reasoningText")
    if isinstance(text, Mapping):
        block = AttrDict(type="thinking", thinking=text.get("text") or "")
        if isinstance(text.get("signature"), str):
            block["signature"] = text["signature"]
        return block
    if isinstance(raw.get("redactedContent"), str):
        return AttrDict(type="redacted_thinking", data=raw["redactedContent"])
    return None


def message(obj: Mapping[str, Any]) -> tuple[AttrDict, str] | None:
    """The assistant message and finish reason of a Converse response, or None when the
    response is not one."""
    output = obj.get("output")
    raw = output.get("message") if isinstance(output, Mapping) else None
    content = raw.get("content") if isinstance(raw, Mapping) else None
    if not isinstance(content, list):
        return None
    texts: list[str] = []
    calls: list[AttrDict] = []
    blocks: list[AttrDict] = []
    for block in content:
        if not isinstance(block, Mapping):
            return None
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), Mapping):
            use = block["toolUse"]
            given = use.get("input")
            arguments = dumps(given) if isinstance(given, Mapping) and given else "{}"
            function = AttrDict(name=use.get("name"), arguments=arguments)
            calls.append(AttrDict(id=use.get("toolUseId"), type="function", function=function))
        elif isinstance(block.get("reasoningContent"), Mapping):
            thinking = reasoning_block(block["reasoningContent"])
            if thinking is not None:
                blocks.append(thinking)
        # Images, documents, citations and block types added later: not mapped.
    text = "".join(texts)
    out = AttrDict(role="assistant", content=text or (None if calls else ""))
    if calls:
        out["tool_calls"] = calls
    reasoning = "".join(b.get("thinking", "") for b in blocks)
    if reasoning:
        out["reasoning_content"] = reasoning
    if blocks:
        out["thinking_blocks"] = blocks
    out["refusal"] = None
    return out, finish_reason(obj.get("stopReason"), bool(calls))


def error_info(headers: Mapping[str, str], body: bytes) -> ErrorInfo:
    """An AWS JSON error: the exception name from ``x-amzn-ErrorType`` (else the body's
    ``code`` or ``__type``, read as botocore reads them), the text from ``message`` /
    ``Message``; other shapes go to the OpenAI-compatible parser (a proxy in front of
    Bedrock)."""
    try:
        obj: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        obj = None
    raw = headers.get("x-amzn-errortype")
    if not raw and isinstance(obj, dict):
        raw = next((obj[k] for k in ("code", "Code", "__type") if isinstance(obj.get(k), str)), "")
    # "ValidationException:http://internal.amazon.com/...", "com.amazon.coral#Throttling..."
    name = (raw or "").split(":", 1)[0].rsplit("#", 1)[-1]
    text = None
    if isinstance(obj, dict):
        text = obj.get("message", obj.get("Message"))
    if not name and not isinstance(text, str):
        return parse_error_body(body)
    info = ErrorInfo(
        text if isinstance(text, str) else snippet(body) or None,
        type=name or None,
        body=obj if obj is not None else snippet(body),
    )
    lowered = (info.message or "").lower()
    if name in _AUTH or "security token" in lowered or "signature we calculated" in lowered:
        info.kind = "authentication"
    elif name == "ValidationException" and any(s in lowered for s in _CONTEXT):
        info.kind = "context_window"
    return info
