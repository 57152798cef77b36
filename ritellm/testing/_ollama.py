"""Ollama's native chat API for the simulator: ``POST /api/chat``, NDJSON streams by default
(``"stream": false`` for one object), ``{"error": "..."}`` errors, optional bearer auth
(wire-formats §6). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any

import attrs

from ._common import Answer, answer, arguments_value, pad, prelude, reply_headers, text_of
from ._replies import RecordedRequest, Reply
from ._wire import HeaderList, Plan, Quota, dumps

__all__ = ["CHAT", "ROUTES"]

_JSON = b"application/json; charset=utf-8"
_NDJSON = b"application/x-ndjson"
_ROLES = frozenset({"system", "user", "assistant", "tool"})
_THINK_LEVELS = ("low", "medium", "high")
_MALFORMED = b'{"model":"llama3.2","message":{"role":"assist'
_DEFAULT_ERRORS = {
    400: "invalid request",
    401: "unauthorized",
    403: "forbidden",
    429: "too many requests",
    500: "an error was encountered while running the model",
    502: "bad gateway",
}


def _plan(status: int, message: str, headers: HeaderList = ()) -> Plan:
    return Plan(status, [(b"content-type", _JSON), *headers], body=dumps({"error": message}))


def _invalid(body: Any) -> str | None:
    """What the real server's request decoding would refuse (Go's JSON types), or None."""
    if not isinstance(body, dict):
        return "missing request body" if body is None else "invalid request body"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    messages = body.get("messages")
    messages = [] if messages is None else messages  # null: Go's zero value (as below)
    if not isinstance(messages, list):
        return "json: cannot unmarshal messages into []api.Message"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"invalid role: {message.get('role') if isinstance(message, dict) else None}"
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            return "json: cannot unmarshal array into Go struct field Message.messages.content"
        images = message.get("images")
        images = [] if images is None else images
        if not isinstance(images, list) or not all(_base64(i) for i in images):
            return "illegal base64 data in images"
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                return "invalid tool call"
            if not isinstance(function.get("arguments", {}), dict):
                # Arguments are an object on the native API, never OpenAI's JSON text.
                return (
                    "json: cannot unmarshal string into Go struct field "
                    "ToolCallFunction.messages.tool_calls.function.arguments"
                )
    for name, kind in (("options", dict), ("tools", list), ("stream", bool)):
        if name in body and not isinstance(body[name], kind):
            return f"json: cannot unmarshal {name} into the request"
    fmt = body.get("format")
    if fmt is not None and fmt != "json" and fmt != "" and not isinstance(fmt, dict):
        return f'invalid format: "{fmt}"'
    think = body.get("think")
    if think is not None and type(think) is not bool and think not in _THINK_LEVELS:
        return f"invalid think value: {think!r}"  # 1 is not true to Go
    return None


def _base64(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return False
    return True


class Chat:
    """``POST /api/chat``."""

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
        default = _DEFAULT_ERRORS.get(status, "an error was encountered while running the model")
        return _plan(status, message or default, headers)

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {api_key}"

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        return _plan(401, "unauthorized")

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        return Plan(404, [(b"content-type", b"text/plain")], body=b"404 page not found")

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        return Plan(405, [(b"content-type", b"text/plain")], body=b"405 method not allowed")

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        return ()  # Ollama sends no rate-limit headers

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        return _plan(
            429, "too many requests", [(b"retry-after", b"%d" % max(1, round(quota.wait)))]
        )

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        body = request.json
        problem = _invalid(body)
        if problem is not None:
            return _plan(400, problem)
        model = body["model"]
        reply = next_reply()
        extra = reply_headers(reply) if reply.headers else []
        early = prelude(reply, (), extra)
        if early is not None:
            return early
        if reply.status >= 400:
            default = f"model '{model}' not found" if reply.status == 404 else None
            plan = self.error(reply.status, message=reply.error_message or default)
            return attrs.evolve(plan, headers=[*plan.headers, *extra], reply=reply)
        options = body.get("options") or {}
        limit = options.get("num_predict")
        limit = limit if isinstance(limit, int) and limit > 0 else None
        messages = body.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        said = answer(reply, text_of(users[-1].get("content")) if users else "", limit, None)
        words = sum(len(text_of(m.get("content")).split()) for m in messages)
        response = _Response(reply, said, reply.model or model, now, words)
        if not body.get("stream", True):
            return Plan(
                reply.status, [(b"content-type", _JSON), *extra], response.whole(), None, reply
            )
        return Plan(
            reply.status, [(b"content-type", _NDJSON), *extra], events=response.lines(), reply=reply
        )


@attrs.frozen
class _Response:
    reply: Reply
    said: Answer
    model: str
    now: int
    prompt_words: int

    def _head(self, message: dict[str, Any], done: bool) -> dict[str, Any]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.now))
        return {
            "model": self.model,
            "created_at": f"{stamp}.{self.now % 1000:03d}123456Z",
            "message": {"role": "assistant", **message},
            "done": done,
        }

    def _final(self, message: dict[str, Any]) -> dict[str, Any]:
        reply, said = self.reply, self.said
        out = self._head(message, True)
        out["done_reason"] = reply.finish_reason or ("length" if said.cut else "stop")
        counts = {"prompt_eval_count": self.prompt_words, "eval_count": said.output_tokens}
        out.update(
            total_duration=5191566416,
            load_duration=2154458,
            prompt_eval_duration=383809000,
            eval_duration=4799921000,
            **counts,
        )
        if reply.usage is not None:
            out.update(reply.usage)
        return out

    def _calls(self) -> list[dict[str, Any]]:
        """Whole calls; ids and indexes as newer servers send them, when the reply gave ids."""
        out = []
        for i, (call_id, name, args) in enumerate(self.said.tools):
            function: dict[str, Any] = {"name": name, "arguments": arguments_value(args)}
            call: dict[str, Any] = {"function": function}
            if call_id:
                function["index"] = i
                call = {"id": call_id, **call}
            out.append(call)
        return out

    def whole(self) -> bytes:
        reply, said = self.reply, self.said
        if reply.fault == "malformed":
            return _MALFORMED
        if reply.fault == "stream_error":
            return dumps({"error": reply.error_message or _DEFAULT_ERRORS[500]})
        message: dict[str, Any] = {"content": said.text or ""}
        if said.thinking:
            message["thinking"] = "".join(said.thinking)
        if said.tools:
            message["tool_calls"] = self._calls()
        return dumps(self._final(message))

    def lines(self) -> list[bytes]:
        reply, said = self.reply, self.said
        objects = [self._head({"content": "", "thinking": t}, False) for t in said.thinking]
        size = reply.event_size
        objects.extend(self._head({"content": pad(t, size)}, False) for t in said.tokens)
        if said.tools:
            objects.append(self._head({"content": "", "tool_calls": self._calls()}, False))
        objects.append(self._final({"content": ""}))
        eol = b"\r\n" if reply.crlf else b"\n"
        lines = [dumps(o) + eol for o in objects]
        last = len(lines) - 1  # the done line: a stream without it is cut short
        if reply.fault == "truncate":
            return lines[: min(reply.truncate_after, last)]
        if reply.fault == "stream_error":
            error = dumps({"error": reply.error_message or _DEFAULT_ERRORS[500]}) + eol
            return [*lines[: min(reply.error_after, last)], error]
        if reply.fault == "malformed":
            lines.insert(min(reply.malformed_after, last), _MALFORMED + eol)
        return lines


CHAT = Chat()
ROUTES = {"/api/chat": CHAT}
