"""OpenAI-shape error bodies (wire-formats §2.10), shared by the OpenAI and Azure routes, and
Azure's content-filter 400 (§3.4). Pure: stdlib and this package's pure modules.
"""

from __future__ import annotations

from typing import Any

from ._common import JSON
from ._wire import HeaderList, Plan, dumps

__all__ = ["PROMPT_SAFE", "SAFE", "SERVER_ERROR", "content_filter_plan", "error_plan"]

SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
# Azure content-safety annotations (§3.2): every category "safe".
SAFE: dict[str, Any] = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}
# The prompt's annotations add the jailbreak check.
PROMPT_SAFE: dict[str, Any] = {**SAFE, "jailbreak": {"filtered": False, "detected": False}}

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
    500: ("server_error", None, SERVER_ERROR),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


def error_plan(
    status: int,
    *,
    model: str = "gpt-4o-mini",
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: HeaderList = (),
) -> Plan:
    """``{"error": {message, type, param, code}}`` with per-status defaults (§2.10)."""
    default_type, default_code, default_message = _ERRORS.get(
        status,
        ("server_error", None, SERVER_ERROR)
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
    return Plan(status, [(b"content-type", JSON), *headers], body=body)


_CATEGORIES = ("hate", "jailbreak", "self_harm", "sexual", "violence")


def content_filter_plan(category: str, headers: HeaderList = ()) -> Plan:
    """Azure's 400 for a prompt its content filter refused (§3.4); ``category`` is the
    filtered one when it names an Azure category, else ``violence``."""
    results: dict[str, Any] = dict(PROMPT_SAFE)
    hit = category if category in _CATEGORIES else "violence"
    results[hit] = (
        {"filtered": True, "detected": True}
        if hit == "jailbreak"
        else {"filtered": True, "severity": "medium"}
    )
    body = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy. Please modify your prompt and retry. To learn more about "
            "our content filtering policies please read our documentation: "
            "https://go.microsoft.com/fwlink/?linkid=2198766",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": dict(sorted(results.items())),
            },
        }
    }
    return Plan(400, [(b"content-type", JSON), *headers], body=dumps(body))
