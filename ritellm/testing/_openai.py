"""OpenAI's routes for the simulator: ``/v1/chat/completions`` and ``/v1/models``, with OpenAI's
auth, 404/405 and rate-limit answers (wire-formats §2). Pure: stdlib, attrs and this
package's pure modules (the OpenAI shape itself lives in ``_chat``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from . import _chat
from ._chat_errors import content_filter_plan, error_plan
from ._common import JSON, mask, prelude, reply_headers
from ._limits import openai_headers
from ._replies import RecordedRequest, Reply
from ._wire import HeaderList, Plan, Quota, dumps

__all__ = ["CHAT", "MODELS", "ROUTES"]


class _OpenAIEndpoint:
    """Errors, auth and rate limiting shared by every OpenAI route."""

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
        seq: int = 0,
    ) -> Plan:
        return error_plan(
            status, message=message, type=type, code=code, param=param, headers=headers
        )

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {api_key}"

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            message = (
                f"Incorrect API key provided: {mask(auth[7:].strip())}. You can find your API "
                "key at https://platform.openai.com/account/api-keys."
            )
        return error_plan(401, message=message, code="invalid_api_key")

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        message = f"Invalid URL ({request.method} {request.path})"
        return error_plan(404, message=message, code="unknown_url")

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        message = f"Invalid method for URL ({request.method} {request.path})"
        allow = ", ".join(sorted(self.methods)).encode()
        return error_plan(
            405, message=message, code="method_not_allowed", headers=[(b"allow", allow)]
        )

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        return openai_headers(quota)

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        message = (
            "Rate limit reached for requests in organization org-ritellm-sim on requests per "
            f"second (RPS): Limit {quota.rate:g}. Please try again in "
            f"{math.ceil(quota.wait * 1000)}ms."
        )
        return error_plan(429, message=message, headers=openai_headers(quota))

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        raise NotImplementedError


class ChatCompletions(_OpenAIEndpoint):
    """``POST /v1/chat/completions``: validation, then the scripted reply in OpenAI's shape."""

    methods = frozenset({"POST"})

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        req = request.json
        checked = _chat.check(req)
        if isinstance(checked, Plan):
            return checked
        prompt_tokens, last_user = checked
        reply = next_reply()
        model: str = reply.model or req["model"]
        headers = [
            (b"x-request-id", b"req_sim%024d" % seq),
            (b"openai-processing-ms", b"%d" % max(1, round(reply.latency * 1000))),
            (b"openai-version", b"2020-10-01"),
        ]
        extra = reply_headers(reply) if reply.headers else []
        early = prelude(reply, headers, extra)
        if early is not None:
            return early
        if reply.status >= 400:
            plan = error_plan(
                reply.status,
                model=model,
                message=reply.error_message,
                type=reply.error_type,
                code=reply.error_code,
                headers=[*headers, *extra],
            )
            return attrs.evolve(plan, reply=reply)
        if reply.blocked is not None:
            # OpenAI-compatible hosts in front of Azure answer a refused prompt this way.
            plan = content_filter_plan(reply.blocked, [*headers, *extra])
            return attrs.evolve(plan, reply=reply)
        return _chat.render(
            req,
            reply,
            seq=seq,
            now=now,
            model=model,
            prompt_tokens=prompt_tokens,
            last_user=last_user,
            headers=[*headers, *extra],
        )


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
        return Plan(200, [(b"content-type", JSON)], body=_MODELS_BODY)


CHAT = ChatCompletions()
MODELS = Models()
ROUTES: dict[str, _OpenAIEndpoint] = {
    "/v1/chat/completions": CHAT,
    "/chat/completions": CHAT,
    "/v1/models": MODELS,
    "/models": MODELS,
}
