"""OpenAI chat-completions format for the simulator: request checks, JSON bodies and SSE events
as pre-encoded bytes (wire-formats §2). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import attrs

from ._replies import RecordedRequest, Reply
from ._wire import REASONS, HeaderList, Plan, dumps

__all__ = ["CHAT", "MODELS", "ROUTES"]

_JSON = b"application/json"
_SSE = b"text/event-stream; charset=utf-8"
_FINGERPRINT = b',"service_tier":"default","system_fingerprint":"fp_ritellm_sim"'
_EXTRA = b',"obfuscation":"c2ltdWxhdG9y","provider":"ritellm-sim","x_groq":{"id":"req_sim"}'
_DONE = b"[DONE]"
_MALFORMED = b'{"id": "chatcmpl-x", "choi'
_MALFORMED_BODY = b'{"id": "chatcmpl-x", "object": "chat.completion", "choi'
_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
_STREAM_ERROR = dumps(
    {"error": {"message": _SERVER_ERROR, "type": "server_error", "param": None, "code": None}}
)
# Cap the echo so the default answer stays short whatever the prompt size.
_ECHO_WORDS = 24
_ECHO_CHARS = 160
_HTML = (
    "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1>"
    "</center>\r\n<hr><center>ritellm-simulator</center>\r\n</body>\r\n</html>\r\n"
)

# status -> (type, code, message); "{model}" is filled in when the request named one.
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (simulated)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    408: ("invalid_request_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with another request."),
    413: ("invalid_request_error", "request_too_large", "The request body is too large."),
    422: ("invalid_request_error", "unprocessable_entity", "The request could not be processed."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-ritellm-sim on requests per min "
        "(RPM): Limit 60, Used 60, Requested 1. Please try again in 1s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: ("server_error", None, _SERVER_ERROR),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


def _error_plan(
    status: int,
    *,
    model: str = "gpt-4o-mini",
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: HeaderList = (),
) -> Plan:
    default_type, default_code, default_message = _ERRORS.get(
        status,
        ("server_error", None, _SERVER_ERROR)
        if status >= 500
        else ("invalid_request_error", None, "Simulated error."),
    )
    body = dumps(
        {
            "error": {
                "message": message if message is not None else default_message.format(model=model),
                "type": type if type is not None else default_type,
                "param": param,
                "code": code if code is not None else default_code,
            }
        }
    )
    return Plan(status, [(b"content-type", _JSON), *headers], body=body)


def _bad_request(message: str, param: str | None, code: str | None = None) -> Plan:
    return _error_plan(400, message=message, type="invalid_request_error", param=param, code=code)


class _OpenAIEndpoint:
    """Errors and auth shared by every OpenAI route."""

    methods: frozenset[str] = frozenset()

    def error(
        self,
        status: int,
        *,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: HeaderList = (),
    ) -> Plan:
        return _error_plan(
            status, message=message, type=type, code=code, param=param, headers=headers
        )

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {api_key}"

    def unauthorized(self, request: RecordedRequest) -> Plan:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            message = (
                f"Incorrect API key provided: {_mask(auth[7:].strip())}. You can find your API "
                "key at https://platform.openai.com/account/api-keys."
            )
        return _error_plan(401, message=message, code="invalid_api_key")

    def not_found(self, request: RecordedRequest) -> Plan:
        message = f"Invalid URL ({request.method} {request.path})"
        return _error_plan(404, message=message, code="unknown_url")

    def method_not_allowed(self, request: RecordedRequest) -> Plan:
        message = f"Invalid method for URL ({request.method} {request.path})"
        allow = ", ".join(sorted(self.methods)).encode()
        return _error_plan(
            405, message=message, code="method_not_allowed", headers=[(b"allow", allow)]
        )

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        raise NotImplementedError


def _status_line(status: int) -> str:
    return f"{status} {REASONS.get(status, b'').decode()}".rstrip()


def _mask(key: str) -> str:
    # Echo only a few characters, like OpenAI does, so a leaked body never holds a usable key.
    return f"{key[:3]}***{key[-2:]}" if len(key) >= 10 else "***"


# --------------------------------------------------------------------------------------------
# /v1/chat/completions


@attrs.frozen
class _Choices:
    """Everything about the answer that does not depend on the request id or the clock."""

    message_json: bytes  # the non-streaming "choices" array
    parts: tuple[bytes, ...]  # streamed choice objects, in send order
    body_parts: int  # how many of ``parts`` come before the first finish chunk
    completion_tokens: int


# Each word with its trailing whitespace; leading whitespace sticks to the first word.
_WORDS = re.compile(r"\s*\S+\s*|\s+")


@lru_cache(maxsize=1024)
def _split(text: str, chunk_size: int | None) -> tuple[str, ...]:
    """Content tokens: ``chunk_size`` characters, or word-ish tokens (cached: replies and
    prompts repeat, so the tokenizer runs once per distinct text, not per request)."""
    if chunk_size is not None:
        return tuple(text[i : i + chunk_size] for i in range(0, len(text), chunk_size))
    return tuple(_WORDS.findall(text))


# (id, name, arguments): hashable, so the rendered answer can be cached.
_Tool = tuple[str, str, str]


def _tools(calls: list[dict[str, Any]]) -> tuple[_Tool, ...]:
    out = []
    for i, call in enumerate(calls):
        args = call.get("arguments", "")
        args = args if isinstance(args, str) else json.dumps(args)
        call_id = call.get("id")
        if not isinstance(call_id, str):
            digest = hashlib.sha1(f"{i}:{call['name']}:{args}".encode()).hexdigest()
            call_id = f"call_{digest[:24]}"
        out.append((call_id, call["name"], args))
    return tuple(out)


def _choice(index: int, delta: Mapping[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


@lru_cache(maxsize=256)
def _choices(
    text: str | None,
    chunk_size: int | None,
    n: int,
    limit: int | None,
    finish_override: str | None,
    tools: tuple[_Tool, ...],
    role_chunk: bool,
    event_size: int | None,
) -> _Choices:
    tokens = _split(text, chunk_size) if text is not None else ()
    finish = "tool_calls" if tools else "stop"
    if limit is not None and len(tokens) > limit:
        tokens, finish = tokens[:limit], "length"
    finish = finish_override or finish
    content = "".join(tokens) if text is not None else None

    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tools:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": name, "arguments": args}}
            for i, name, args in tools
        ]
    message.update(refusal=None, annotations=[])
    message_json = dumps(
        [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish}
            for i in range(n)
        ]
    )

    # One choice's stream: role chunk, content chunks, tool-call fragments (§2.7), finish.
    pieces = [_split(args, chunk_size or 8) for _, _, args in tools]
    fragments: list[dict[str, Any]] = []
    for k, ((call_id, name, _), args_pieces) in enumerate(zip(tools, pieces, strict=True)):
        first = {"index": k, "id": call_id, "type": "function"}
        fragments.append({**first, "function": {"name": name, "arguments": ""}})
        fragments.extend({"index": k, "function": {"arguments": p}} for p in args_pieces)
    deltas: list[dict[str, Any]] = []
    if role_chunk:
        role: dict[str, Any] = {"role": "assistant", "content": "" if text is not None else None}
        if text is None and fragments:  # OpenAI sends the first fragment with the role
            role["tool_calls"] = [fragments.pop(0)]
        role["refusal"] = None
        deltas.append(role)
    for token in tokens:
        if event_size is not None:
            token = token.ljust(event_size)  # over-pads: the event ends up >= event_size
        deltas.append({"content": token})
    deltas.extend({"tool_calls": [f]} for f in fragments)

    per_choice = [[dumps(_choice(i, d, None)) for d in deltas] for i in range(n)]
    finishes = [dumps(_choice(i, {}, finish)) for i in range(n)]
    # n > 1: choices interleave event by event, each with its own role and finish chunk (§2.8).
    parts = (*chain.from_iterable(zip(*per_choice, strict=True)), *finishes)
    completion = len(tokens) + sum(len(p) + 1 for p in pieces)
    return _Choices(message_json, parts, len(parts) - n, completion * n)


@lru_cache(maxsize=256)
def _usage_json(prompt: int, completion: int) -> bytes:
    return dumps(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
    )


_json_str: Callable[[str], bytes] = lru_cache(maxsize=256)(dumps)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only the text ones count
        return " ".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _frame(payloads: Sequence[bytes], reply: Reply) -> list[bytes]:
    """SSE framing: ``data: <payload>`` + blank line, with the reply's shape toggles."""
    eol = b"\r\n" if reply.crlf else b"\n"
    head, tail = b"data: ", eol + eol
    if not (reply.split_data_lines or reply.keepalive_comments):
        return [head + p + tail for p in payloads]
    out = []
    for i, p in enumerate(payloads):
        cut = p.find(b",") + 1 if reply.split_data_lines and p.startswith(b"{") else 0
        # Split after the first member: joined with "\n" the JSON is still valid (§1.1).
        event = head + p[:cut] + eol + head + p[cut:] + tail if cut else head + p + tail
        out.append(b": keep-alive" + eol + eol + event if reply.keepalive_comments and i else event)
    return out


class ChatCompletions(_OpenAIEndpoint):
    """``POST /v1/chat/completions``: validation, then the scripted reply in OpenAI's shape."""

    methods = frozenset({"POST"})

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        req = request.json
        checked = _check(req)
        if isinstance(checked, Plan):
            return checked
        prompt_tokens, last_user = checked
        reply = next_reply()
        model: str = reply.model or req["model"]
        stream = req.get("stream") is True
        headers = [
            (b"x-request-id", b"req_sim%024d" % seq),
            (b"openai-processing-ms", b"%d" % max(1, round(reply.latency * 1000))),
            (b"openai-version", b"2020-10-01"),
        ]
        extra = [(k.encode(), val.encode()) for k, val in reply.headers.items()]
        fault = reply.fault

        if fault == "html":
            status = reply.status if reply.status >= 400 else 502
            page = _HTML.format(status=_status_line(status))
            ctype = (reply.content_type or "text/html").encode()
            return Plan(status, [(b"content-type", ctype), *extra], body=page.encode(), reply=reply)
        if fault == "empty":
            return Plan(200, [(b"content-type", _JSON), *headers, *extra], body=b"", reply=reply)
        if reply.body is not None:
            body = reply.body
            raw = dumps(body) if isinstance(body, dict) else body
            raw = raw.encode() if isinstance(raw, str) else raw
            ctype = (reply.content_type or "application/json").encode()
            return Plan(
                reply.status, [(b"content-type", ctype), *headers, *extra], raw, None, reply
            )
        if reply.status >= 400:
            plan = _error_plan(
                reply.status,
                model=model,
                message=reply.error_message,
                type=reply.error_type,
                code=reply.error_code,
                headers=[*headers, *extra],
            )
            return attrs.evolve(plan, reply=reply)
        if not stream and fault == "malformed":
            return Plan(
                200, [(b"content-type", _JSON), *headers, *extra], _MALFORMED_BODY, None, reply
            )
        if not stream and fault == "stream_error":
            # Some OpenAI-compatible hosts answer 200 with an error object; mimic that.
            return Plan(
                200, [(b"content-type", _JSON), *headers, *extra], _STREAM_ERROR, None, reply
            )

        text = reply.content
        if text is None and not reply.tool_calls:
            words = last_user.split()
            echo = " ".join(words[:_ECHO_WORDS])[:_ECHO_CHARS]
            text = "Hello from the ritellm simulator!" + (f" You said: {echo}" if echo else "")
        limit = req.get("max_completion_tokens") or req.get("max_tokens")
        choices = _choices(
            text,
            reply.chunk_size,
            req.get("n") or 1,
            limit,
            reply.finish_reason,
            _tools(reply.tool_calls) if reply.tool_calls else (),
            reply.role_chunk,
            reply.event_size,
        )
        usage = (
            dumps(reply.usage)
            if reply.usage is not None
            else _usage_json(prompt_tokens, choices.completion_tokens)
        )
        extras = _EXTRA if reply.extra_fields else b""
        head = b'{"id":"chatcmpl-sim%020d","object":"chat.completion%s","created":%d,"model":%s' % (
            seq,
            b".chunk" if stream else b"",
            now,
            _json_str(model),
        )
        if not stream:
            body = b"".join(
                (head, b',"choices":', choices.message_json, b',"usage":', usage, _FINGERPRINT)
            )
            return Plan(
                reply.status,
                [(b"content-type", _JSON), *headers, *extra],
                body=body + extras + b"}",
                reply=reply,
            )

        options = req.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        prefix = head + _FINGERPRINT + b',"choices":['
        suffix = (b'],"usage":null' if include_usage else b"]") + extras + b"}"
        payloads: list[bytes] = [prefix + part + suffix for part in choices.parts]
        if include_usage:
            payloads.append(prefix + b'],"usage":' + usage + extras + b"}")
        payloads.append(_DONE)
        cut = choices.body_parts
        if fault == "truncate":
            payloads = payloads[: min(reply.truncate_after, cut)]
        elif fault == "stream_error":
            payloads = [*payloads[: min(reply.error_after, cut)], _STREAM_ERROR]
        elif fault == "malformed":
            at = min(reply.malformed_after, len(payloads) - 1)
            payloads.insert(at, _MALFORMED)
        return Plan(
            reply.status,
            [(b"content-type", _SSE), *headers, *extra],
            events=_frame(payloads, reply),
            reply=reply,
        )


def _check(req: Any) -> tuple[int, str] | Plan:
    """Validate a chat request like OpenAI does (400 with ``param``); on success return the
    prompt's word count and the last user message's text."""
    if not isinstance(req, dict):
        return _bad_request(
            "We could not parse the JSON body of your request. The API expects a JSON object "
            "with 'model' and 'messages'.",
            None,
        )
    model = req.get("model")
    if not isinstance(model, str) or not model:
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
        text = _text(msg.get("content"))
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


# --------------------------------------------------------------------------------------------
# /v1/models

_MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini")
_MODELS_BODY = dumps(
    {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "ritellm-simulator"}
            for m in _MODEL_IDS
        ],
    }
)


class Models(_OpenAIEndpoint):
    """``GET /v1/models``: a fixed list of model names."""

    methods = frozenset({"GET"})

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        return Plan(200, [(b"content-type", _JSON)], body=_MODELS_BODY)


CHAT = ChatCompletions()
MODELS = Models()
ROUTES: dict[str, _OpenAIEndpoint] = {
    "/v1/chat/completions": CHAT,
    "/chat/completions": CHAT,
    "/v1/models": MODELS,
    "/models": MODELS,
}
