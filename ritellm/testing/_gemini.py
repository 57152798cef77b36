"""Google Gemini for the simulator: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent`` (SSE with ``?alt=sse``, else a JSON array streamed element by
element), also under ``/v1``; ``x-goog-api-key`` or ``?key=`` auth and google.rpc.Status errors
(wire-formats §5). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qs, unquote

import attrs

from ._common import SSE, Answer, answer, arguments_value, frame, pad, prelude, reply_headers
from ._common import signature as thought_signature
from ._gemini_check import Invalid, Prompt, check
from ._replies import RecordedRequest, Reply
from ._wire import HeaderList, Plan, Quota, dumps

__all__ = ["MODELS", "PATTERNS"]

PATH = re.compile(
    r"/(?P<version>v1beta|v1)/models/(?P<model>[^/:]+)"
    r":(?P<action>generateContent|streamGenerateContent)"
)
_JSON = b"application/json; charset=UTF-8"
_VARY = (b"vary", b"Origin, X-Origin, Referer")
_TYPES = "type.googleapis.com/google.rpc."
# status -> (google.rpc.Code name, message); "{model}", "{version}" are filled in (§5.7).
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: (
        "NOT_FOUND",
        "models/{model} is not found for API version {version}, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    ),
    409: ("ABORTED", "The operation was aborted."),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    501: ("UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
_BAD_KEY = "API key not valid. Please pass a valid API key."
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). Please "
    "use API Key or other form of API consumer identity to call this API."
)
_HELP = {
    "@type": _TYPES + "Help",
    "links": [
        {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }
    ],
}
_MALFORMED = b'{"candidates": [{"content": {"par'
_EXTRA = b',"x_ritellm_sim":{"unknown":true}'
# A blocked prompt's safety ratings (§5.3).
_SAFETY = (
    ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "NEGLIGIBLE"),
    ("HARM_CATEGORY_HATE_SPEECH", "NEGLIGIBLE"),
    ("HARM_CATEGORY_HARASSMENT", "NEGLIGIBLE"),
    ("HARM_CATEGORY_DANGEROUS_CONTENT", "HIGH"),
)


def _route(request: RecordedRequest) -> tuple[str, str, bool, bool]:
    """(model, API version, streaming, SSE) for a request on a Gemini route."""
    found = PATH.fullmatch(request.path)
    model, version, action = (
        (unquote(found["model"]), found["version"], found["action"]) if found else ("", "v1", "")
    )
    stream = action == "streamGenerateContent"
    return model, version, stream, stream and "sse" in parse_qs(request.query).get("alt", ())


def _is_array(request: RecordedRequest) -> bool:
    """A stream asked for without ``alt=sse``: errors come wrapped in a JSON array (§5.7)."""
    _, _, stream, sse = _route(request)
    return stream and not sse


def _status_plan(
    status: int,
    message: str | None = None,
    *,
    code_name: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: HeaderList = (),
    fill: dict[str, str] | None = None,
    array: bool = False,
) -> Plan:
    """A google.rpc.Status body; ``array``: wrapped in a list, as the JSON-array stream does."""
    default_name, default_message = _ERRORS.get(
        status,
        ("INTERNAL", _ERRORS[500][1])
        if status >= 500
        else ("FAILED_PRECONDITION", "Precondition check failed."),
    )
    error: dict[str, Any] = {
        "code": status,
        "message": message if message is not None else default_message.format(**(fill or {})),
        "status": code_name or default_name,
    }
    if details:
        error["details"] = details
    body = dumps([{"error": error}] if array else {"error": error})
    return Plan(status, [(b"content-type", _JSON), *headers], body=body)


def _retry_info(seconds: int) -> dict[str, Any]:
    return {"@type": _TYPES + "RetryInfo", "retryDelay": f"{seconds}s"}


class Models:
    """The model actions ``generateContent`` and ``streamGenerateContent``."""

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
        fill = {"model": "gemini-2.5-flash", "version": "v1beta"}
        return _status_plan(status, message, code_name=type, headers=headers, fill=fill)

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        return self._key(request) == api_key

    @staticmethod
    def _key(request: RecordedRequest) -> str | None:
        key = request.headers.get("x-goog-api-key")
        if key is None:
            keys = parse_qs(request.query).get("key")
            key = keys[0] if keys else None
        return key

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        array = _is_array(request)
        if self._key(request) is None:
            return _status_plan(403, _NO_KEY, array=array)
        # Gemini answers a wrong key with 400, not 401 (§5.7).
        details: list[dict[str, Any]] = [
            {
                "@type": _TYPES + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": _TYPES + "LocalizedMessage", "locale": "en-US", "message": _BAD_KEY},
        ]
        return _status_plan(400, _BAD_KEY, details=details, array=array)

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        return _status_plan(404, "Method not found.")

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        return _status_plan(404, "Method not found.")  # Google's front end answers so

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        return ()  # Gemini sends no rate-limit headers; the 429 body says when to retry

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        details = [_HELP, _retry_info(math.ceil(quota.wait))]
        array = _is_array(request)
        return _status_plan(429, details=details, array=array)

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        model, version, stream, sse = _route(request)
        array = stream and not sse
        prompt = check(request.json)
        if isinstance(prompt, Invalid):
            details = None
            if prompt.violations:
                violations = [
                    {"field": f, "description": d} if f else {"description": d}
                    for f, d in prompt.violations
                ]
                details = [{"@type": _TYPES + "BadRequest", "fieldViolations": violations}]
            return _status_plan(400, prompt.message, details=details, array=array)
        reply = next_reply()
        served = reply.model or model
        headers = [(b"server", b"scaffolding on HTTPServer2"), _VARY]
        extra = reply_headers(reply) if reply.headers else []
        early = prelude(reply, headers, extra)
        if early is not None:
            return early
        if reply.status >= 400:
            details = [_HELP, _retry_info(1)] if reply.status == 429 else None
            plan = _status_plan(
                reply.status,
                reply.error_message,
                code_name=reply.error_type,
                details=details,
                headers=[*headers, *extra],
                fill={"model": model, "version": version},
                array=array,
            )
            return attrs.evolve(plan, reply=reply)
        limit = prompt.max_output_tokens
        said = answer(reply, prompt.last_user, limit, None, speak=reply.blocked is None)
        chunks = _Response(reply, said, prompt, served, f"sim{seq:020d}").chunks(stream)
        if not stream:
            return Plan(
                reply.status, [(b"content-type", _JSON), *headers, *extra], chunks[0], None, reply
            )
        if array:
            events = _array(chunks, closed=reply.fault != "truncate")
            return Plan(
                reply.status,
                [(b"content-type", _JSON), *headers, *extra],
                events=events,
                reply=reply,
            )
        events = frame(chunks, reply)
        return Plan(
            reply.status, [(b"content-type", SSE), *headers, *extra], events=events, reply=reply
        )


def _array(payloads: list[bytes], closed: bool) -> list[bytes]:
    """The stream without ``alt=sse``: one pretty-printed JSON array, an element per write
    (``closed``: the closing bracket comes; a truncated stream never closes it)."""
    out = []
    for i, payload in enumerate(payloads):
        with suppress(ValueError):  # the malformed fault's element stays as broken as it is
            payload = json.dumps(json.loads(payload), indent=2, ensure_ascii=False).encode()
        out.append((b"[" if i == 0 else b",\r\n") + payload)
    return [*out, b"]"] if closed else out


@attrs.frozen
class _Response:
    """One answer in Gemini's shape: the GenerateContentResponse, or its chunks."""

    reply: Reply
    said: Answer
    prompt: Prompt
    model: str
    id: str

    def usage(self, candidates: int, thoughts: int) -> dict[str, Any]:
        reply = self.reply
        if reply.usage is not None:
            return reply.usage
        prompt = self.prompt.words + reply.cached_tokens
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        if reply.cached_tokens:
            usage["cachedContentTokenCount"] = reply.cached_tokens
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": reply.cached_tokens}]
        return usage

    def body(
        self, parts: list[dict[str, Any]] | None, finish: str | None, usage: dict[str, Any]
    ) -> bytes:
        """A GenerateContentResponse; ``parts=None``: the prompt was blocked."""
        response: dict[str, Any]
        if parts is None:  # the prompt was blocked: no candidates at all (§5.3)
            ratings = [{"category": c, "probability": p} for c, p in _SAFETY]
            feedback = {"blockReason": self.reply.blocked, "safetyRatings": ratings}
            response = {"promptFeedback": feedback}
        else:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
            if finish is not None:
                candidate["finishReason"] = finish
            candidate["index"] = 0
            response = {"candidates": [candidate]}
        response.update(usageMetadata=usage, modelVersion=self.model, responseId=self.id)
        encoded = dumps(response)
        return encoded[:-1] + _EXTRA + b"}" if self.reply.extra_fields else encoded

    def _calls(self) -> list[dict[str, Any]]:
        """The function calls, whole; ids only when the reply gave them (§5.3)."""
        parts: list[dict[str, Any]] = []
        for call_id, name, args in self.said.tools:
            call: dict[str, Any] = {"name": name, "args": arguments_value(args)}
            if call_id:
                call["id"] = call_id
            parts.append({"functionCall": call})
        if parts and self.reply.reasoning:  # thinking models sign the first call
            parts[0]["thoughtSignature"] = thought_signature(self.reply.reasoning)
        return parts

    def chunks(self, stream: bool) -> list[bytes]:
        """The JSON body (one item), or the stream's payloads with the reply's faults."""
        reply, said = self.reply, self.said
        finish = reply.finish_reason or ("MAX_TOKENS" if said.cut else "STOP")
        thoughts = said.thinking_tokens
        answer_tokens = said.output_tokens - thoughts
        if reply.blocked is not None:
            return [self.body(None, None, self.usage(0, 0))]
        if not stream:
            if reply.fault == "malformed":
                return [_MALFORMED]
            if reply.fault == "stream_error":  # a 200 whose body is an error object
                return [self._error()]
            parts: list[dict[str, Any]] = []
            if said.thinking:
                parts.append({"text": "".join(said.thinking), "thought": True})
            if said.text is not None:
                parts.append({"text": said.text})
            parts.extend(self._calls())
            return [self.body(parts, finish, self.usage(answer_tokens, thoughts))]
        pieces: list[tuple[list[dict[str, Any]], int, int]] = []  # (parts, answer, thought) counts
        pieces.extend(([{"text": t, "thought": True}], 0, 1) for t in said.thinking)
        pieces.extend(([{"text": pad(t, reply.event_size)}], 1, 0) for t in said.tokens)
        calls = self._calls()
        if calls:  # whole, and all of them in one chunk
            pieces.append((calls, answer_tokens - len(said.tokens), 0))
        if not pieces:
            pieces.append(([{"text": ""}], 0, 0))
        payloads, done, thought = [], 0, 0
        for i, (parts, n_answer, n_thought) in enumerate(pieces):
            done, thought = done + n_answer, thought + n_thought
            last = i == len(pieces) - 1
            payloads.append(self.body(parts, finish if last else None, self.usage(done, thought)))
        return self._faults(payloads)

    def _error(self) -> bytes:
        reply = self.reply
        return dumps(
            {
                "error": {
                    "code": 500,
                    "message": reply.error_message or _ERRORS[500][1],
                    "status": reply.error_type or "INTERNAL",
                }
            }
        )

    def _faults(self, payloads: list[bytes]) -> list[bytes]:
        reply = self.reply
        last = len(payloads) - 1  # the chunk with finishReason: a stream without it is cut short
        if reply.fault == "truncate":
            return payloads[: min(reply.truncate_after, last)]
        if reply.fault == "stream_error":
            return [*payloads[: min(reply.error_after, last)], self._error()]
        if reply.fault == "malformed":
            payloads.insert(min(reply.malformed_after, last), _MALFORMED)
        return payloads


MODELS = Models()
PATTERNS = ((PATH, MODELS),)
