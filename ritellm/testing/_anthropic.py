"""Anthropic Messages for the simulator: ``POST /v1/messages`` with ``x-api-key`` auth, Anthropic's
error shapes and rate-limit headers, and the answer as a Message or as its named SSE events
(wire-formats §4). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from ._anthropic_check import Prompt, check
from ._common import JSON, SSE, Answer, answer, arguments_value, frame, pad, prelude, reply_headers
from ._common import signature as thinking_signature
from ._replies import RecordedRequest, Reply
from ._wire import HeaderList, Plan, Quota, dumps

__all__ = ["MESSAGES", "ROUTES"]

# status -> (error.type, message); "{model}" is filled in (wire-formats §4.9).
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request (simulated)."),
    401: ("authentication_error", "invalid x-api-key"),
    402: (
        "billing_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
        "Billing to upgrade or purchase credits.",
    ),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization (org-ritellm-sim) of 50 "
        "requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. "
        "You can see the response headers for current usage. Please reduce the prompt length or "
        "the maximum tokens requested, or try again later.",
    ),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
_ORGANIZATION = (b"anthropic-organization-id", b"00000000-0000-4000-a000-0000000051a1")
_PING = b'{"type": "ping"}'  # as captured: the one payload with a space (§4.5)
_MALFORMED = b'{"type":"content_block_delta","ind'
# extra_fields: an unknown key and the whitespace captured streams carry inside JSON (§4.4).
_EXTRA = b',"x_ritellm_sim":{"unknown":true}      '
_REFUSAL = {"type": "refusal", "category": None, "explanation": None}
# What content_block_start announces for each block type: the block with an empty payload.
_OPENED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "thinking": lambda b: {"type": "thinking", "thinking": ""},
    "text": lambda b: {"type": "text", "text": ""},
    "tool_use": lambda b: {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}},
}


def _request_id(seq: int) -> str:
    return f"req_sim{seq:024d}"


def _error_body(kind: str, message: str, seq: int, code: str | None = None) -> bytes:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:  # the SDK maps (status, details.error_code) to its exception classes
        error["details"] = {"error_code": code}
    return dumps({"type": "error", "error": error, "request_id": _request_id(seq)})


def _error_plan(
    status: int,
    seq: int,
    *,
    model: str = "claude-sonnet-4-6",
    message: str | None = None,
    kind: str | None = None,
    code: str | None = None,
    headers: HeaderList = (),
) -> Plan:
    default_kind, default_message = _ERRORS.get(
        status,
        ("api_error", "Internal server error")
        if status >= 500
        else ("invalid_request_error", "Simulated error."),
    )
    body = _error_body(
        kind or default_kind,
        message if message is not None else default_message.format(model=model),
        seq,
        code,
    )
    request_id = (b"request-id", _request_id(seq).encode())
    return Plan(status, [(b"content-type", JSON), request_id, *headers], body=body)


class Messages:
    """``POST /v1/messages``."""

    methods = frozenset({"POST"})

    def error(
        self,
        status: int,
        *,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: HeaderList = (),
        seq: int = 0,
    ) -> Plan:
        return _error_plan(status, seq, message=message, kind=type, headers=headers)

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        headers = request.headers
        return (
            headers.get("x-api-key") == api_key
            or headers.get("authorization") == f"Bearer {api_key}"
        )

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        sent = "x-api-key" in request.headers or "authorization" in request.headers
        message = "invalid x-api-key" if sent else "x-api-key header is required"
        return _error_plan(401, seq, message=message)

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        return _error_plan(404, seq, message="Not Found")

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        return _error_plan(405, seq, message="Method Not Allowed", headers=[(b"allow", b"POST")])

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        # The reset is an RFC 3339 time: when the bucket is full again (§4.10).
        reset = datetime.fromtimestamp(now + math.ceil(quota.reset_after), UTC)
        headers = [
            (b"anthropic-ratelimit-requests-limit", b"%d" % quota.limit),
            (b"anthropic-ratelimit-requests-remaining", b"%d" % quota.remaining),
            (b"anthropic-ratelimit-requests-reset", reset.strftime("%Y-%m-%dT%H:%M:%SZ").encode()),
        ]
        if quota.wait:
            headers.append((b"retry-after", b"%d" % math.ceil(quota.wait)))
        return headers

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        message = (
            "This request would exceed the rate limit for your organization (org-ritellm-sim) of "
            f"{quota.rate:g} requests per second. For details, refer to: "
            "https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
            "current usage. Please reduce the prompt length or the maximum tokens requested, or "
            "try again later."
        )
        return _error_plan(429, seq, message=message, headers=self.quota_headers(quota, now))

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        req = request.json
        prompt = check(req, request.headers)
        if isinstance(prompt, str):
            return _error_plan(400, seq, message=prompt)
        reply = next_reply()
        model: str = reply.model or req["model"]
        headers = [(b"request-id", _request_id(seq).encode()), _ORGANIZATION]
        extra = reply_headers(reply) if reply.headers else []
        early = prelude(reply, headers, extra)
        if early is not None:
            return early
        if reply.status >= 400:
            plan = _error_plan(
                reply.status,
                seq,
                model=model,
                message=reply.error_message,
                kind=reply.error_type,
                code=reply.error_code,
                headers=[_ORGANIZATION, *extra],
            )
            return attrs.evolve(plan, reply=reply)
        said = answer(
            reply, prompt.last_user, prompt.max_tokens, "toolu_", speak=reply.blocked is None
        )
        msg = _Message(reply, said, prompt, model, f"msg_sim{seq:020d}")
        if req.get("stream") is not True:
            if reply.fault == "malformed":
                body = b'{"id":"msg_sim","type":"message","conte'
            elif reply.fault == "stream_error":  # a 200 whose body is an error, as some proxies do
                body = _error_body("overloaded_error", "Overloaded", seq)
            else:
                body = dumps(msg.message(msg.usage(final=True), msg.content()))
                body = body[:-1] + _EXTRA + b"}" if reply.extra_fields else body
            return Plan(
                reply.status, [(b"content-type", JSON), *headers, *extra], body, None, reply
            )
        names, payloads = msg.events()
        return Plan(
            reply.status,
            [(b"content-type", SSE), (b"cache-control", b"no-cache"), *headers, *extra],
            events=frame(payloads, reply, names),
            reply=reply,
        )


@attrs.frozen
class _Message:
    """One answer in Anthropic's shape: the Message body or its stream of events."""

    reply: Reply
    said: Answer
    prompt: Prompt
    model: str
    id: str

    @property
    def stop_reason(self) -> str:
        reply, said = self.reply, self.said
        if reply.finish_reason is not None:
            return reply.finish_reason
        if reply.blocked is not None:
            return "refusal"
        return "max_tokens" if said.cut else "tool_use" if said.tools else "end_turn"

    def usage(self, *, final: bool) -> dict[str, Any]:
        reply = self.reply
        if reply.usage is not None:
            return reply.usage
        output = self.said.output_tokens if final else 1  # message_start's small first count
        return {
            "input_tokens": self.prompt.words,
            "cache_creation_input_tokens": reply.cache_creation_tokens,
            "cache_read_input_tokens": reply.cached_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": reply.cache_creation_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output,
            "service_tier": "standard",
        }

    def content(self) -> list[dict[str, Any]]:
        """The content blocks, in the API's order: thinking, text, tool_use."""
        said = self.said
        blocks: list[dict[str, Any]] = []
        if said.thinking:
            thinking = "".join(said.thinking)
            sig = thinking_signature(thinking)
            blocks.append({"type": "thinking", "thinking": thinking, "signature": sig})
        if said.text is not None:
            blocks.append({"type": "text", "text": said.text})
        blocks.extend(
            {"type": "tool_use", "id": i, "name": name, "input": arguments_value(args)}
            for i, name, args in said.tools
        )
        return blocks

    def message(self, usage: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
        """The Message body (§4.3)."""
        stop = self.stop_reason
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
        }
        if stop == "refusal":
            message["stop_details"] = _REFUSAL
        message["usage"] = usage
        return message

    def events(self) -> tuple[list[bytes], list[bytes]]:
        """The stream's event names and payloads, faults applied (§4.4-§4.9)."""
        reply = self.reply
        start = self.message(self.usage(final=False), [])
        start["stop_reason"] = None  # known only at the end
        start.pop("stop_details", None)
        events: list[tuple[bytes, dict[str, Any] | bytes]] = [
            (b"message_start", {"type": "message_start", "message": start})
        ]
        blocks = self.content()
        first_tool = len(blocks) - len(self.said.tools)  # tool_use blocks come last
        for index, block in enumerate(blocks):
            opened = _OPENED[block["type"]](block)
            events.append(
                (
                    b"content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opened},
                )
            )
            if index == 0:
                events.append((b"ping", _PING))
            deltas = self._deltas(block, index - first_tool)
            events.extend((b"content_block_delta", _delta(index, d)) for d in deltas)
            events.append((b"content_block_stop", {"type": "content_block_stop", "index": index}))
        if len(events) == 1:  # no content at all: the ping still comes
            events.append((b"ping", _PING))
        usage = self.usage(final=True)
        if reply.usage is None:  # message_delta carries the cumulative counts only
            usage = {k: v for k, v in usage.items() if k not in ("cache_creation", "service_tier")}
        delta: dict[str, Any] = {"stop_reason": self.stop_reason, "stop_sequence": None}
        if self.stop_reason == "refusal":
            delta["stop_details"] = _REFUSAL
        events.append((b"message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append((b"message_stop", {"type": "message_stop"}))
        extra = _EXTRA if reply.extra_fields else b""
        names = [name for name, _ in events]
        payloads = [p if isinstance(p, bytes) else dumps(p)[:-1] + extra + b"}" for _, p in events]
        return _faults(reply, names, payloads)

    def _deltas(self, block: dict[str, Any], tool: int) -> list[dict[str, Any]]:
        """A block's content_block_delta payloads; ``tool`` numbers the tool_use blocks."""
        said, reply = self.said, self.reply
        kind = block["type"]
        if kind == "thinking":
            return [
                *({"type": "thinking_delta", "thinking": t} for t in said.thinking),
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        if kind == "text":
            return [{"type": "text_delta", "text": pad(t, reply.event_size)} for t in said.tokens]
        # The first fragment is empty, as the API streams it (§4.4).
        fragments = ("", *said.arguments[tool])
        return [{"type": "input_json_delta", "partial_json": p} for p in fragments]


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _faults(
    reply: Reply, names: list[bytes], payloads: list[bytes]
) -> tuple[list[bytes], list[bytes]]:
    fault = reply.fault
    last = len(payloads) - 1  # message_stop: a stream without it is cut short
    if fault == "truncate":
        cut = min(reply.truncate_after, last)
        return names[:cut], payloads[:cut]
    if fault == "stream_error":
        cut = min(reply.error_after, last)
        error = {
            "type": "error",
            "error": {
                "type": reply.error_type or "overloaded_error",
                "message": reply.error_message or "Overloaded",
            },
        }
        return [*names[:cut], b"error"], [*payloads[:cut], dumps(error)]
    if fault == "malformed":
        at = min(reply.malformed_after, last)
        names.insert(at, b"content_block_delta")
        payloads.insert(at, _MALFORMED)
    return names, payloads


MESSAGES = Messages()
ROUTES: dict[str, Messages] = {"/v1/messages": MESSAGES}
