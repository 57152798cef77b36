"""OpenAI's chat-completions shape, shared by the OpenAI and Azure routes: the request check, and
the answer as pre-encoded JSON or SSE events, with Azure's annotations (wire-formats §2, §3).
Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import attrs

from ._chat_errors import PROMPT_SAFE, SAFE, SERVER_ERROR, error_plan
from ._common import JSON, SSE, Tool, answer_of, answer_text, frame, json_str, pad, text_of, tools
from ._replies import Reply
from ._wire import Plan, dumps

__all__ = ["check", "render"]

_FINGERPRINT = b',"service_tier":"default","system_fingerprint":"fp_ritellm_sim"'
_EXTRA = b',"obfuscation":"c2ltdWxhdG9y","provider":"ritellm-sim","x_groq":{"id":"req_sim"}'
_DONE = b"[DONE]"
_MALFORMED = b'{"id": "chatcmpl-x", "choi'
_MALFORMED_BODY = b'{"id": "chatcmpl-x", "object": "chat.completion", "choi'
_STREAM_ERROR = dumps(
    {"error": {"message": SERVER_ERROR, "type": "server_error", "param": None, "code": None}}
)


def _bad_request(message: str, param: str | None, code: str | None = None) -> Plan:
    return error_plan(400, message=message, type="invalid_request_error", param=param, code=code)


# Azure's prompt annotations: on the JSON body, and as the stream's first chunk (§3.2, §3.3).
_PROMPT_FILTER = dumps([{"prompt_index": 0, "content_filter_results": PROMPT_SAFE}])
_PROMPT_FILTER_CHUNK = (
    b'{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":'
    + _PROMPT_FILTER
    + b"}"
)

# Azure modes for _choices: no annotations, annotations on each chunk, or trailing
# annotation chunks (the asynchronous filter, §3.3 item 3).
_PLAIN, _FILTERED, _ASYNC_FILTERED = 0, 1, 2


@attrs.frozen
class _Choices:
    """Everything about the answer that does not depend on the request id or the clock."""

    message_json: bytes  # the non-streaming "choices" array
    parts: tuple[bytes, ...]  # streamed choice objects, in send order
    body_parts: int  # how many of ``parts`` come before the first finish chunk
    completion_tokens: int
    reasoning_tokens: int
    text_chars: int  # the answer text's length (Azure's filter offsets)


def _choice(
    index: int, delta: Mapping[str, Any], finish: str | None, filters: Mapping[str, Any] | None
) -> dict[str, Any]:
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
    if filters is not None:
        choice["content_filter_results"] = filters
    return choice


@lru_cache(maxsize=256)
def _choices(
    text: str | None,
    chunk_size: int | None,
    limit: int | None,
    reasoning: str | None,
    calls: tuple[Tool, ...],
    n: int,
    finish_override: str | None,
    role_chunk: bool,
    event_size: int | None,
    azure: int,
) -> _Choices:
    # One cache lookup per request on this hot path: the Answer is only made on a miss.
    said = answer_of(text, chunk_size, limit, reasoning, calls)
    tokens, thinking, content = said.tokens, said.thinking, said.text
    finish = finish_override or ("length" if said.cut else "tool_calls" if calls else "stop")

    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:  # DeepSeek-style reasoning models
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": name, "arguments": args}}
            for i, name, args in calls
        ]
    message.update(refusal=None, annotations=[])
    safe = SAFE if azure else None
    message_json = dumps(
        [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish}
            | ({"content_filter_results": safe} if safe is not None else {})
            for i in range(n)
        ]
    )

    # One choice's stream: role chunk, reasoning, content chunks, tool-call fragments (§2.7).
    fragments: list[dict[str, Any]] = []
    for k, ((call_id, name, _), args_pieces) in enumerate(zip(calls, said.arguments, strict=True)):
        first = {"index": k, "id": call_id, "type": "function"}
        fragments.append({**first, "function": {"name": name, "arguments": ""}})
        fragments.extend({"index": k, "function": {"arguments": p}} for p in args_pieces)
    deltas: list[tuple[dict[str, Any], bool]] = []  # (delta, carries text to annotate)
    if role_chunk:
        role: dict[str, Any] = {"role": "assistant", "content": "" if content is not None else None}
        if content is None and fragments and not thinking:  # OpenAI sends it with the role
            role["tool_calls"] = [fragments.pop(0)]
        role["refusal"] = None
        deltas.append((role, False))
    deltas.extend(({"reasoning_content": pad(t, event_size)}, False) for t in thinking)
    deltas.extend(({"content": pad(t, event_size)}, True) for t in tokens)
    deltas.extend(({"tool_calls": [f]}, False) for f in fragments)

    empty: dict[str, Any] | None = {} if azure else None  # Azure: {} where no text is checked
    inline = safe if azure == _FILTERED else empty
    per_choice = [
        [dumps(_choice(i, d, None, inline if has_text else empty)) for d, has_text in deltas]
        for i in range(n)
    ]
    finishes = [dumps(_choice(i, {}, finish, empty)) for i in range(n)]
    # n > 1: choices interleave event by event, each with its own role and finish chunk (§2.8).
    parts = (*chain.from_iterable(zip(*per_choice, strict=True)), *finishes)
    return _Choices(
        message_json,
        parts,
        len(parts) - n,
        said.output_tokens * n,
        said.thinking_tokens * n,
        len(content or ""),
    )


def _annotations(n: int, end: int) -> list[bytes]:
    """The asynchronous filter's trailing chunks: blank metadata, no ``delta``, offsets."""
    offsets = {"check_offset": end, "start_offset": 0, "end_offset": end}
    return [
        b'{"id":"","object":"","created":0,"model":"","choices":['
        + dumps(
            {
                "index": i,
                "finish_reason": None,
                "content_filter_results": SAFE,
                "content_filter_offsets": offsets,
            }
        )
        + b'],"usage":null}'
        for i in range(n)
    ]


@lru_cache(maxsize=256)
def _usage_json(prompt: int, completion: int, cached: int, reasoning: int) -> bytes:
    return dumps(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
    )


def render(
    req: dict[str, Any],
    reply: Reply,
    *,
    seq: int,
    now: int,
    model: str,
    prompt_tokens: int,
    last_user: str,
    headers: Sequence[tuple[bytes, bytes]],
    azure: bool = False,
) -> Plan:
    """The answer to a valid request in OpenAI's shape (Azure's annotations when ``azure``),
    with the reply's stream and body faults applied; status errors are the caller's."""
    fault = reply.fault
    stream = req.get("stream") is True
    if not stream and fault == "malformed":
        return Plan(200, [(b"content-type", JSON), *headers], _MALFORMED_BODY, None, reply)
    if not stream and fault == "stream_error":
        # Some OpenAI-compatible hosts answer 200 with an error object; mimic that.
        return Plan(200, [(b"content-type", JSON), *headers], _STREAM_ERROR, None, reply)

    calls = tools(reply.tool_calls, "call_") if reply.tool_calls else ()
    mode = (_ASYNC_FILTERED if reply.async_filter else _FILTERED) if azure else _PLAIN
    choices = _choices(
        answer_text(reply, calls, last_user),
        reply.chunk_size,
        req.get("max_completion_tokens") or req.get("max_tokens"),
        reply.reasoning,
        calls,
        req.get("n") or 1,
        reply.finish_reason,
        reply.role_chunk,
        reply.event_size,
        mode,
    )
    prompt = prompt_tokens + reply.cached_tokens
    usage = (
        dumps(reply.usage)
        if reply.usage is not None
        else _usage_json(
            prompt, choices.completion_tokens, reply.cached_tokens, choices.reasoning_tokens
        )
    )
    extras = _EXTRA if reply.extra_fields else b""
    head = b'{"id":"chatcmpl-sim%020d","object":"chat.completion%s","created":%d,"model":%s' % (
        seq,
        b".chunk" if stream else b"",
        now,
        json_str(model),
    )
    if not stream:
        if azure:
            head += b',"prompt_filter_results":' + _PROMPT_FILTER
        body = b"".join(
            (head, b',"choices":', choices.message_json, b',"usage":', usage, _FINGERPRINT)
        )
        return Plan(
            reply.status, [(b"content-type", JSON), *headers], body + extras + b"}", None, reply
        )

    options = req.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    prefix = head + _FINGERPRINT + b',"choices":['
    suffix = (b'],"usage":null' if include_usage else b"]") + extras + b"}"
    payloads: list[bytes] = [prefix + part + suffix for part in choices.parts]
    cut = choices.body_parts
    if azure:
        payloads.insert(0, _PROMPT_FILTER_CHUNK)
        cut += 1
        if reply.async_filter:
            payloads.extend(_annotations(req.get("n") or 1, choices.text_chars))
    if include_usage:
        payloads.append(prefix + b'],"usage":' + usage + extras + b"}")
    payloads.append(_DONE)
    if fault == "truncate":
        payloads = payloads[: min(reply.truncate_after, cut)]
    elif fault == "stream_error":
        payloads = [*payloads[: min(reply.error_after, cut)], _STREAM_ERROR]
    elif fault == "malformed":
        at = min(reply.malformed_after, len(payloads) - 1)
        payloads.insert(at, _MALFORMED)
    return Plan(
        reply.status, [(b"content-type", SSE), *headers], events=frame(payloads, reply), reply=reply
    )


def check(req: Any, *, need_model: bool = True) -> tuple[int, str] | Plan:
    """Validate a chat request like OpenAI does (400 with ``param``); on success return the
    prompt's word count and the last user message's text. Azure (``need_model=False``) takes
    the model from the deployment in the URL."""
    if not isinstance(req, dict):
        return _bad_request(
            "We could not parse the JSON body of your request. The API expects a JSON object "
            "with 'model' and 'messages'.",
            None,
        )
    model = req.get("model")
    if (need_model or model is not None) and (not isinstance(model, str) or not model):
        return _bad_request(
            "you must provide a model parameter", "model", "missing_required_parameter"
        )
    messages = req.get("messages")
    if messages is None:
        return _bad_request(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(messages, list):
        return _bad_request(
            "Invalid type for 'messages': expected an array of objects.", "messages", "invalid_type"
        )
    if not messages:
        return _bad_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "messages",
            "empty_array",
        )
    words = 0
    last_user = ""
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            return _bad_request(
                f"Invalid 'messages[{i}]': expected an object with a string 'role'.",
                f"messages[{i}]",
                "invalid_type",
            )
        text = text_of(msg.get("content"))
        words += len(text.split())
        if msg["role"] == "user":
            last_user = text
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = req.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            return _bad_request(
                f"Invalid '{name}': expected an integer >= 1, but got {value!r} instead.",
                name,
                "invalid_value",
            )
    if req.get("stream_options") is not None and req.get("stream") is not True:
        return _bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    return max(1, words), last_user
