"""Azure OpenAI for the simulator: ``POST /openai/deployments/{deployment}/chat/completions
?api-version=…`` with ``api-key`` (or Entra bearer) auth, gateway-shaped auth/404/429 errors and
content-filter annotations (wire-formats §3). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from urllib.parse import parse_qs, unquote

import attrs

from . import _chat
from ._chat_errors import content_filter_plan, error_plan
from ._common import JSON, prelude, reply_headers
from ._limits import openai_headers
from ._replies import RecordedRequest, Reply
from ._wire import HeaderList, Plan, Quota, dumps

__all__ = ["CHAT", "PATTERNS"]

PATH = re.compile(r"/openai/deployments/(?P<deployment>[^/]+)/chat/completions")
_NOT_FOUND = "Resource not found"
_MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when "
    "making requests to an API."
)
_WRONG_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
_NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)
_QUOTA = (
    "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {version} "
    "have exceeded {what} rate limit of your current OpenAI S0 pricing tier. Please retry after "
    "{seconds} second{s}. Please go here: https://aka.ms/oai/quotaincrease if you would like to "
    "further increase the default rate limit."
)


# status -> (code, message) of the errors Azure's gateway answers itself.
_GATEWAY = {
    401: ("401", _WRONG_KEY),
    404: ("DeploymentNotFound", _NO_DEPLOYMENT),
    429: ("429", _QUOTA.format(version="2024-10-21", what="token", seconds=6, s="s")),
}


def _gateway(status: int, code: str, message: str, headers: HeaderList = ()) -> Plan:
    """Azure's gateway-level error shape: a string ``code`` and no ``type`` (§3.4)."""
    body = dumps({"error": {"code": code, "message": message}})
    return Plan(status, [(b"content-type", JSON), *headers], body=body)


def _version(request: RecordedRequest) -> str | None:
    values = parse_qs(request.query).get("api-version")
    return values[0] if values and values[0] else None


def _quota_message(request: RecordedRequest, what: str, seconds: int) -> str:
    version = _version(request) or "2024-10-21"
    return _QUOTA.format(version=version, what=what, seconds=seconds, s="" if seconds == 1 else "s")


class AzureChat:
    """The deployment-scoped chat-completions route."""

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
        if status in _GATEWAY:  # answered by the gateway in front of the model
            default_code, default_message = _GATEWAY[status]
            return _gateway(status, code or default_code, message or default_message, headers)
        return error_plan(
            status, message=message, type=type, code=code, param=param, headers=headers
        )

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        headers = request.headers
        return (
            headers.get("api-key") == api_key or headers.get("authorization") == f"Bearer {api_key}"
        )

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        sent = "api-key" in request.headers or "authorization" in request.headers
        return _gateway(401, "401", _WRONG_KEY if sent else _MISSING_KEY)

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        return _gateway(404, "404", _NOT_FOUND)

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        # Azure's gateway has no route for other methods: it answers like an unknown path.
        return _gateway(404, "404", _NOT_FOUND)

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        return openai_headers(quota)

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        message = _quota_message(request, "call", math.ceil(quota.wait))
        return _gateway(429, "429", message, openai_headers(quota))

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        # Without an api-version the gateway finds no operation to route to (§3.4).
        if _version(request) is None:
            return _gateway(404, "404", _NOT_FOUND)
        found = PATH.fullmatch(request.path)
        segment = found["deployment"] if found else ""  # as sent: always a valid header value
        deployment = unquote(segment)
        req = request.json
        checked = _chat.check(req, need_model=False)
        if isinstance(checked, Plan):
            return checked
        prompt_tokens, last_user = checked
        reply = next_reply()
        headers = [
            (b"apim-request-id", b"00000000-0000-4000-8000-%012d" % seq),
            (b"x-request-id", b"00000000-0000-4000-9000-%012d" % seq),
            (b"x-ms-region", b"East US"),
            (b"x-ms-deployment-name", segment.encode()),
        ]
        extra = reply_headers(reply) if reply.headers else []
        early = prelude(reply, headers, extra)
        if early is not None:
            return early
        if reply.status >= 400:
            message = reply.error_message
            if reply.status == 429 and message is None:
                message = _quota_message(request, "token", 6)
            plan = self.error(
                reply.status,
                message=message,
                type=reply.error_type,
                code=reply.error_code,
                headers=[*headers, *extra],
            )
            return attrs.evolve(plan, reply=reply)
        if reply.blocked is not None:
            return attrs.evolve(content_filter_plan(reply.blocked, [*headers, *extra]), reply=reply)
        return _chat.render(
            req,
            reply,
            seq=seq,
            now=now,
            # Azure reports the deployment's model, not the deployment; the simulator knows
            # only the deployment name, so that is what it reports unless the reply says.
            model=reply.model or deployment,
            prompt_tokens=prompt_tokens,
            last_user=last_user,
            headers=[*headers, *extra],
            azure=True,
        )


CHAT = AzureChat()
PATTERNS = ((PATH, CHAT),)
