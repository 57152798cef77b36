"""Tests for ritellm._errors: one table row per provider error shape (wire-formats §2.10, §3.4,
§4.9, §5.7, §6.5, §7, §9.1), the exception tree, formatting, pickling and key scrubbing."""

from __future__ import annotations

import json
import pickle
from typing import Any, NamedTuple

import pytest

import ritellm
import ritellm._errors as errors_module
from ritellm._error_map import (
    SNIPPET_CHARS,
    class_for_status,
    error_from_response,
    is_context_window_error,
    snippet,
)
from ritellm._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    ErrorInfo,
    InternalServerError,
    NotFoundError,
    ParameterError,
    ParameterTypeError,
    PermissionDeniedError,
    RateLimitError,
    RiteLLMError,
    ServiceUnavailableError,
    StreamError,
    UnknownProviderError,
    UnprocessableEntityError,
)
from ritellm._providers._common import parse_error_body
from ritellm._redact import scrub_secret


def _err(status: int, headers: dict[str, str], body: bytes, **kwargs: Any) -> APIError:
    """The mapping as the OpenAI-compatible providers use it: their parse, then the table."""
    kwargs.setdefault("info", parse_error_body(body))
    return error_from_response(status, headers, body, **kwargs)


def _j(obj: Any) -> bytes:
    return json.dumps(obj).encode()


class Row(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    cls: type[APIError]
    message: str
    type: str | None
    code: str | None
    param: str | None
    request_id: str | None
    parsed: Any  # the expected ``.body``


OPENAI_CONTEXT = {
    "message": "This model's maximum context length is 128000 tokens. However, your messages "
    "resulted in 130012 tokens. Please reduce the length of the messages.",
    "type": "invalid_request_error",
    "param": "messages",
    "code": "context_length_exceeded",
}
OPENAI_INVALID = {
    "message": "Invalid value for 'temperature': must be between 0 and 2.",
    "type": "invalid_request_error",
    "param": "temperature",
    "code": "invalid_value",
}
OPENAI_UNSUPPORTED = {
    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead.",
    "type": "invalid_request_error",
    "param": "max_tokens",
    "code": "unsupported_parameter",
}
OPENAI_BAD_KEY = {
    "message": "Incorrect API key provided: sk-VKMIs***wjh3. You can find your API key at "
    "https://platform.openai.com/account/api-keys.",
    "type": "invalid_request_error",
    "param": None,
    "code": "invalid_api_key",
}
OPENAI_403 = {
    "message": "Country, region, or territory not supported",
    "type": "request_forbidden",
    "param": None,
    "code": "unsupported_country_region_territory",
}
OPENAI_404 = {
    "message": "The model `gpt-9` does not exist or you do not have access to it.",
    "type": "invalid_request_error",
    "param": None,
    "code": "model_not_found",
}
OPENAI_409 = {
    "message": "Another request for this resource is in progress.",
    "type": "invalid_request_error",
    "param": None,
    "code": "conflict",
}
OPENAI_422 = {
    "message": "The request could not be processed.",
    "type": "invalid_request_error",
    "param": None,
    "code": None,
}
OPENAI_429_RATE = {
    "message": "Request too large for gpt-4o in organization org-78asdf87asdf9aaa8976 on tokens "
    "per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced "
    "in order to run successfully. Visit https://platform.openai.com/account/rate-limits to "
    "learn more.",
    "type": "tokens",
    "param": None,
    "code": "rate_limit_exceeded",
}
OPENAI_429_QUOTA = {
    "message": "You exceeded your current quota, please check your plan and billing details. "
    "For more information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    "type": "insufficient_quota",
    "param": None,
    "code": "insufficient_quota",
}
OPENAI_500 = {
    "message": "The server had an error while processing your request. Sorry about that!",
    "type": "server_error",
    "param": None,
    "code": None,
}
OPENAI_503 = {
    "message": "The engine is currently overloaded, please try again later.",
    "type": "server_error",
    "param": None,
    "code": None,
}
AZURE_429 = {
    "code": "429",
    "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
    "2024-05-01-preview have exceeded token rate limit of your current OpenAI S0 pricing tier. "
    "Please retry after 6 seconds.",
}
AZURE_FILTER = {
    "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy. Please modify your prompt and retry.",
    "type": None,
    "param": "prompt",
    "code": "content_filter",
    "status": 400,
    "innererror": {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {
            "hate": {"filtered": False, "severity": "safe"},
            "violence": {"filtered": True, "severity": "medium"},
        },
    },
}
ANTHROPIC_OVERLOADED = {"type": "overloaded_error", "message": "Overloaded"}
ANTHROPIC_RATE = {
    "type": "rate_limit_error",
    "message": "This request would exceed the rate limit for your organization of 50 input "
    "tokens per minute.",
}
ANTHROPIC_TOO_LONG = {
    "type": "invalid_request_error",
    "message": "prompt is too long: 208310 tokens > 200000 maximum",
}
ANTHROPIC_TOO_LARGE = {
    "type": "request_too_large",
    "message": "Request exceeds the maximum allowed number of bytes.",
}
ANTHROPIC_AUTH = {"type": "authentication_error", "message": "invalid x-api-key"}
ANTHROPIC_BILLING = {"type": "billing_error", "message": "Your credit balance is too low."}
ANTHROPIC_TIMEOUT = {"type": "timeout_error", "message": "Request timed out"}
GEMINI_BAD_KEY = {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
    ],
}
GEMINI_LIST = {
    "code": 400,
    "message": "* GenerateContentRequest.contents: contents is not specified\n",
    "status": "INVALID_ARGUMENT",
}
GEMINI_TOO_LONG = {
    "code": 400,
    "message": "The input token count (1200000) exceeds the maximum number of tokens allowed "
    "(1048576).",
    "status": "INVALID_ARGUMENT",
}
GEMINI_429 = {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details. ",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
    ],
}
GEMINI_503 = {
    "code": 503,
    "message": "The model is overloaded. Please try again later.",
    "status": "UNAVAILABLE",
}
VLLM_FLAT = {
    "object": "error",
    "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
    "to be set",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
VLLM_CONTEXT = {
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested "
    "5000 tokens (4000 in the messages, 1000 in the completion).",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
LLAMACPP_CONTEXT = {
    "code": 400,
    "message": "request (4390 tokens) exceeds the available context size (4096 tokens), try "
    "increasing it",
    "type": "exceed_context_size_error",
    "n_prompt_tokens": 4390,
    "n_ctx": 4096,
}
OPENROUTER_402 = {
    "code": 402,
    "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
    "metadata": {"provider_name": None},
}
OPENROUTER_502 = {
    "code": 502,
    "message": "Provider returned error",
    "metadata": {"provider_name": "Azure", "raw": "upstream timed out"},
}
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
HTML_502_TEXT = (
    "<html> <head><title>502 Bad Gateway</title></head> <body> "
    "<center><h1>502 Bad Gateway</h1></center> <hr><center>cloudflare</center> </body> </html>"
)
ENVOY_TEXT = "upstream connect error or disconnect/reset before headers. reset reason: overflow"

RID = {"x-request-id": "req_abc123"}


def _row(
    status: int,
    body: bytes,
    cls: type[APIError],
    message: str,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = "req_abc123",
    parsed: Any = None,
    id: str,
) -> Any:
    hdrs = RID if headers is None else headers
    row = Row(status, hdrs, body, cls, message, type, code, param, request_id, parsed)
    return pytest.param(row, id=id)


def _openai(status: int, err: dict[str, Any], cls: type[APIError], *, id: str) -> Any:
    return _row(
        status,
        _j({"error": err}),
        cls,
        err["message"],
        type=err["type"],
        code=err["code"],
        param=err["param"],
        parsed=err,
        id=id,
    )


def _anthropic(status: int, err: dict[str, str], cls: type[APIError], *, id: str) -> Any:
    body = _j({"type": "error", "error": err, "request_id": "req_018EeWyXxfu5pfWkrYcMdjWG"})
    return _row(
        status,
        body,
        cls,
        err["message"],
        type=err["type"],
        headers={"request-id": "req_018EeWyXxfu5pfWkrYcMdjWG"},
        request_id="req_018EeWyXxfu5pfWkrYcMdjWG",
        parsed=err,
        id=id,
    )


def _gemini(status: int, err: dict[str, Any], cls: type[APIError], *, id: str) -> Any:
    return _row(
        status,
        _j({"error": err}),
        cls,
        err["message"],
        type=err["status"],
        code=str(err["code"]),
        headers={},
        request_id=None,
        parsed=err,
        id=id,
    )


ROWS = [
    # OpenAI (§2.10)
    _openai(400, OPENAI_CONTEXT, ContextWindowExceededError, id="openai-400-context"),
    _openai(400, OPENAI_INVALID, BadRequestError, id="openai-400-invalid-value"),
    _openai(400, OPENAI_UNSUPPORTED, BadRequestError, id="openai-400-unsupported-parameter"),
    _openai(401, OPENAI_BAD_KEY, AuthenticationError, id="openai-401-invalid-api-key"),
    _openai(403, OPENAI_403, PermissionDeniedError, id="openai-403"),
    _openai(404, OPENAI_404, NotFoundError, id="openai-404-model-not-found"),
    _openai(409, OPENAI_409, ConflictError, id="openai-409"),
    _openai(422, OPENAI_422, UnprocessableEntityError, id="openai-422"),
    _openai(429, OPENAI_429_RATE, RateLimitError, id="openai-429-rate-limit"),
    _openai(429, OPENAI_429_QUOTA, RateLimitError, id="openai-429-insufficient-quota"),
    _openai(500, OPENAI_500, InternalServerError, id="openai-500"),
    _openai(503, OPENAI_503, ServiceUnavailableError, id="openai-503"),
    # Azure (§3.4): string code, no type; the content filter adds a numeric "status".
    _row(
        429,
        _j({"error": AZURE_429}),
        RateLimitError,
        AZURE_429["message"],
        code="429",
        headers={"apim-request-id": "a-1", "x-request-id": "x-1", "retry-after": "6"},
        request_id="x-1",
        parsed=AZURE_429,
        id="azure-429",
    ),
    _row(
        404,
        _j({"error": {"code": "404", "message": "Resource not found"}}),
        NotFoundError,
        "Resource not found",
        code="404",
        parsed={"code": "404", "message": "Resource not found"},
        id="azure-404",
    ),
    _row(
        400,
        _j({"error": AZURE_FILTER}),
        ContentPolicyViolationError,
        str(AZURE_FILTER["message"]),
        type=None,  # the body says "type": null; its numeric "status" is not a type
        code="content_filter",
        param="prompt",
        parsed=AZURE_FILTER,
        id="azure-400-content-filter",
    ),
    # Anthropic (§4.9)
    _anthropic(529, ANTHROPIC_OVERLOADED, ServiceUnavailableError, id="anthropic-529-overloaded"),
    _anthropic(429, ANTHROPIC_RATE, RateLimitError, id="anthropic-429"),
    _anthropic(400, ANTHROPIC_TOO_LONG, ContextWindowExceededError, id="anthropic-400-too-long"),
    _anthropic(413, ANTHROPIC_TOO_LARGE, BadRequestError, id="anthropic-413"),
    _anthropic(401, ANTHROPIC_AUTH, AuthenticationError, id="anthropic-401"),
    _anthropic(402, ANTHROPIC_BILLING, APIError, id="anthropic-402"),
    _anthropic(504, ANTHROPIC_TIMEOUT, InternalServerError, id="anthropic-504"),
    # Gemini (§5.7): "status" is the type, the numeric code becomes a string.
    _gemini(400, GEMINI_BAD_KEY, BadRequestError, id="gemini-400-bad-key"),
    _gemini(400, GEMINI_TOO_LONG, ContextWindowExceededError, id="gemini-400-too-long"),
    _gemini(429, GEMINI_429, RateLimitError, id="gemini-429"),
    _gemini(503, GEMINI_503, ServiceUnavailableError, id="gemini-503"),
    _row(
        400,
        _j([{"error": GEMINI_LIST}]),
        BadRequestError,
        str(GEMINI_LIST["message"]),
        type="INVALID_ARGUMENT",
        code="400",
        parsed=GEMINI_LIST,
        id="gemini-400-list-wrapped",
    ),
    # Ollama (§6.5): the error is a bare string; the whole body is kept.
    _row(
        404,
        b'{"error":"model \'llama9\' not found"}',
        NotFoundError,
        "model 'llama9' not found",
        parsed={"error": "model 'llama9' not found"},
        id="ollama-404",
    ),
    _row(
        400,
        b'{"error":"missing request body"}',
        BadRequestError,
        "missing request body",
        parsed={"error": "missing request body"},
        id="ollama-400",
    ),
    # vLLM (§7): flat body.
    _row(
        400,
        _j(VLLM_FLAT),
        BadRequestError,
        str(VLLM_FLAT["message"]),
        type="BadRequestError",
        code="400",
        parsed=VLLM_FLAT,
        id="vllm-400-flat",
    ),
    _row(
        400,
        _j(VLLM_CONTEXT),
        ContextWindowExceededError,
        str(VLLM_CONTEXT["message"]),
        type="BadRequestError",
        code="400",
        parsed=VLLM_CONTEXT,
        id="vllm-400-context",
    ),
    # llama.cpp (§7): the same context error as 400, 500 and even 200.
    *(
        _row(
            status,
            _j({"error": {**LLAMACPP_CONTEXT, "code": status}}),
            ContextWindowExceededError,
            str(LLAMACPP_CONTEXT["message"]),
            type="exceed_context_size_error",
            code=str(status),
            headers={},
            request_id=None,
            parsed={**LLAMACPP_CONTEXT, "code": status},
            id=f"llamacpp-{status}-context",
        )
        for status in (400, 500, 200)
    ),
    # OpenRouter (§7): numeric code plus metadata.
    _row(
        402,
        _j({"error": OPENROUTER_402}),
        APIError,
        str(OPENROUTER_402["message"]),
        code="402",
        parsed=OPENROUTER_402,
        id="openrouter-402",
    ),
    _row(
        502,
        _j({"error": OPENROUTER_502}),
        InternalServerError,
        "Provider returned error",
        code="502",
        parsed=OPENROUTER_502,
        id="openrouter-502",
    ),
    # Not JSON at all.
    _row(
        502,
        HTML_502,
        InternalServerError,
        HTML_502_TEXT,
        headers={"content-type": "text/html"},
        request_id=None,
        parsed=HTML_502_TEXT,
        id="html-502",
    ),
    _row(
        503,
        b"",
        ServiceUnavailableError,
        "HTTP 503 with an empty body (text/plain)",
        headers={"content-type": "text/plain", "request-id": "r-2"},
        request_id="r-2",
        parsed="",
        id="empty-503",
    ),
    _row(
        500,
        b"",
        InternalServerError,
        "HTTP 500 with an empty body (unknown content type)",
        headers={},
        request_id=None,
        parsed="",
        id="empty-500-no-content-type",
    ),
    _row(
        503,
        ENVOY_TEXT.encode(),
        ServiceUnavailableError,
        ENVOY_TEXT,
        parsed=ENVOY_TEXT,
        id="text-503",
    ),
    _row(
        500,
        b"Erreur interne: \xe9chec",
        InternalServerError,
        "Erreur interne: \ufffdchec",
        parsed="Erreur interne: \ufffdchec",
        id="text-not-utf8",
    ),
    _row(
        408,
        b'{"error":{"code":408,"message":"Timed out"}}',
        APITimeoutError,
        "Timed out",
        code="408",
        parsed={"code": 408, "message": "Timed out"},
        id="openrouter-408",
    ),
]


@pytest.mark.parametrize("row", ROWS)
def test_error_from_response(row: Row) -> None:
    err = _err(
        row.status, row.headers, row.body, provider="openai", model="openai/gpt-4o", retry_after=2.5
    )
    assert type(err) is row.cls
    assert err.status_code == row.status
    assert err.message == row.message
    assert err.args == (row.message,)
    assert err.type == row.type
    assert err.code == row.code
    assert err.param == row.param
    assert err.request_id == row.request_id
    assert err.body == row.parsed
    assert err.headers == row.headers
    assert err.headers is not row.headers
    assert err.provider == "openai"
    assert err.model == "openai/gpt-4o"
    assert err.retry_after == 2.5
    assert str(err) == f"openai/gpt-4o: HTTP {row.status}: {row.message}"


def test_x_request_id_wins_over_request_id() -> None:
    headers = {"x-request-id": "x", "request-id": "r"}
    assert _err(500, headers, b"").request_id == "x"
    assert _err(500, {"request-id": "r"}, b"").request_id == "r"
    assert _err(500, {}, b"").request_id is None


def test_info_argument_overrides_parsing() -> None:
    info = ErrorInfo("from the provider", type="t", code="c", param="p", body={"k": 1})
    err = _err(429, {}, b"ignored", info=info)
    assert type(err) is RateLimitError
    assert (err.message, err.type, err.code, err.param, err.body) == (
        "from the provider",
        "t",
        "c",
        "p",
        {"k": 1},
    )


def test_long_text_body_is_cut_to_a_snippet() -> None:
    err = _err(500, {}, b"x" * 5000)
    assert len(err.message) == SNIPPET_CHARS
    assert err.message == "x" * (SNIPPET_CHARS - 1) + "…"


@pytest.mark.parametrize(
    ("body", "message", "type", "code", "param", "parsed"),
    [
        (b'{"message":"bare"}', "bare", None, None, None, {"message": "bare"}),
        (b'{"error":{"message":123}}', '{"message": 123}', None, None, None, {"message": 123}),
        (b'{"error":{}}', None, None, None, None, {}),
        (b"42", "42", None, None, None, 42),
        (b'"oops"', '"oops"', None, None, None, "oops"),
        (b'{"error":7}', '{"error":7}', None, None, None, {"error": 7}),
        (b"", None, None, None, None, ""),
        (b"  \n ", None, None, None, None, ""),
        (b'{"error":{"message":"m","code":0}}', "m", None, "0", None, {"message": "m", "code": 0}),
    ],
)
def test_parse_error_body_odd_shapes(
    body: bytes,
    message: str | None,
    type: str | None,
    code: str | None,
    param: str | None,
    parsed: Any,
) -> None:
    info = parse_error_body(body)
    assert (info.message, info.type, info.code, info.param, info.body) == (
        message,
        type,
        code,
        param,
        parsed,
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, APIError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (408, APITimeoutError),
        (409, ConflictError),
        (413, BadRequestError),
        (418, APIError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, ServiceUnavailableError),
        (504, InternalServerError),
        (529, ServiceUnavailableError),
        (599, InternalServerError),
        (200, APIError),
    ],
)
def test_class_for_status(status: int, cls: type[APIError]) -> None:
    assert class_for_status(status) is cls


@pytest.mark.parametrize(
    ("status", "info", "expected"),
    [
        (400, ErrorInfo("x", code="context_length_exceeded"), True),
        (500, ErrorInfo("x", type="exceed_context_size_error"), True),
        (200, ErrorInfo("x", type="exceed_context_size_error"), True),
        (400, ErrorInfo("x", code="model_context_window_exceeded"), True),
        (400, ErrorInfo("Prompt is too long: 5 tokens > 4 maximum"), True),
        (413, ErrorInfo("Input is too long for requested model."), True),
        (400, ErrorInfo("Invalid value for 'temperature'"), False),
        (400, ErrorInfo(None), False),
        # Wording alone is only trusted on 400/413: a 429 about "too many tokens" is a rate
        # limit, not a context overflow.
        (429, ErrorInfo("too many tokens per minute"), False),
        (500, ErrorInfo("maximum context length exceeded"), True),
        (500, ErrorInfo("The server had an error while processing your request."), False),
    ],
)
def test_is_context_window_error(status: int, info: ErrorInfo, expected: bool) -> None:
    assert is_context_window_error(status, info) is expected


def test_snippet() -> None:
    assert snippet(b"a\n\n b\tc ") == "a b c"
    assert snippet("x" * 10, limit=5) == "xxxx…"
    assert snippet(b"\xff ok") == "\ufffd ok"
    assert snippet("") == ""


# --- the exception tree ---------------------------------------------------------------------

ERROR_CLASS_NAMES = [
    name
    for name in errors_module.__all__
    if isinstance(getattr(errors_module, name), type)
    and issubclass(getattr(errors_module, name), BaseException)
]
API_ERROR_CLASSES: list[type[APIError]] = [
    cls
    for cls in (getattr(errors_module, name) for name in ERROR_CLASS_NAMES)
    if issubclass(cls, APIError)
]


def test_every_error_class_is_public() -> None:
    assert set(ERROR_CLASS_NAMES) >= {
        "RiteLLMError",
        "ParameterError",
        "ParameterTypeError",
        "UnknownProviderError",
        "APIError",
        "BadRequestError",
        "ContextWindowExceededError",
        "ContentPolicyViolationError",
        "ImageFetchError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "UnprocessableEntityError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
        "APIConnectionError",
        "APITimeoutError",
        "APIResponseValidationError",
        "StreamError",
    }
    for name in ERROR_CLASS_NAMES:
        assert name in ritellm.__all__, name
        assert getattr(ritellm, name) is getattr(errors_module, name)


@pytest.mark.parametrize(
    ("sub", "base"),
    [
        (ContextWindowExceededError, BadRequestError),
        (ServiceUnavailableError, InternalServerError),
        (APITimeoutError, APIConnectionError),
        (APITimeoutError, TimeoutError),
        (APIError, RiteLLMError),
        (RiteLLMError, Exception),
        (ParameterError, ValueError),
        (ParameterError, RiteLLMError),
        (UnknownProviderError, ParameterError),
        (ParameterTypeError, TypeError),
        (ParameterTypeError, RiteLLMError),
        (StreamError, APIError),
        (APIResponseValidationError, APIError),
    ],
)
def test_hierarchy(sub: type[BaseException], base: type[BaseException]) -> None:
    assert issubclass(sub, base)


@pytest.mark.parametrize(
    ("sub", "base"),
    [
        (ParameterError, APIError),
        (ParameterTypeError, ValueError),
        (StreamError, APIConnectionError),
        (RateLimitError, InternalServerError),
        (APIConnectionError, TimeoutError),
        (ContextWindowExceededError, InternalServerError),
    ],
)
def test_not_in_hierarchy(sub: type[BaseException], base: type[BaseException]) -> None:
    assert not issubclass(sub, base)


@pytest.mark.parametrize("cls", API_ERROR_CLASSES, ids=lambda c: c.__name__)
def test_all_api_errors_derive_from_api_error(cls: type[APIError]) -> None:
    assert issubclass(cls, APIError)
    assert issubclass(cls, RiteLLMError)


def test_str_and_repr_formats() -> None:
    assert str(APIError("m")) == "m"
    assert str(RateLimitError("m", status_code=429)) == "HTTP 429: m"
    # The model string carries its provider prefix; the provider alone is the fallback.
    assert str(RateLimitError("m", provider="openai")) == "openai: m"
    assert str(StreamError("m", provider="groq", model="groq/llama3")) == "groq/llama3: m"
    err = RateLimitError("slow down", status_code=429, provider="openai", model="openai/gpt-4o")
    assert str(err) == "openai/gpt-4o: HTTP 429: slow down"
    assert repr(err) == "RateLimitError(status_code=429, message='slow down')"
    assert repr(APIError("x")) == "APIError(status_code=None, message='x')"
    assert str(ParameterError("bad value")) == "bad value"


def test_defaults() -> None:
    err = APIError("m")
    assert err.args == ("m",)
    assert (err.status_code, err.type, err.code, err.param) == (None, None, None, None)
    assert (err.provider, err.model, err.request_id, err.body) == (None, None, None, None)
    assert err.headers == {}
    assert err.retry_after is None


@pytest.mark.parametrize("cls", API_ERROR_CLASSES, ids=lambda c: c.__name__)
def test_pickle_round_trip_keeps_attributes(cls: type[APIError]) -> None:
    err = cls(
        "boom",
        status_code=429,
        type="t",
        code="c",
        param="p",
        provider="openai",
        model="gpt-4o",
        request_id="req_1",
        body={"nested": [{"k": "v"}]},
        headers={"retry-after": "3"},
        retry_after=3.0,
    )
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls
    assert copy.__dict__ == err.__dict__
    assert copy.args == ("boom",)
    assert str(copy) == str(err)
    assert repr(copy) == repr(err)


@pytest.mark.parametrize("cls", [ParameterError, ParameterTypeError, UnknownProviderError])
def test_pickle_parameter_errors(cls: type[RiteLLMError]) -> None:
    copy = pickle.loads(pickle.dumps(cls("bad model")))
    assert type(copy) is cls
    assert copy.args == ("bad model",)


# --- scrub_secret ---------------------------------------------------------------------------

CANARY = "sk-CANARY-0123456789abcdef"


def test_scrub_secret_removes_key_everywhere() -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {CANARY}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
            "echo": {"headers": [{"authorization": f"Bearer {CANARY}"}], "n": 1},
        }
    }
    headers = {"x-request-id": "r", "x-echo-authorization": f"Bearer {CANARY}"}
    err = _err(401, headers, _j(body), provider="openai", model="openai/gpt-4o")
    assert CANARY in str(err)  # precondition: the server echoed it

    same = scrub_secret(err, CANARY)

    assert same is err
    assert err.message == "Incorrect API key provided: ***."
    assert err.args == ("Incorrect API key provided: ***.",)
    assert err.body == {
        "message": "Incorrect API key provided: ***.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
        "echo": {"headers": [{"authorization": "Bearer ***"}], "n": 1},
    }
    assert err.headers == {"x-request-id": "r", "x-echo-authorization": "Bearer ***"}
    for text in (str(err), repr(err), repr(err.__dict__), repr(err.args)):
        assert CANARY not in text
    assert CANARY.encode() not in pickle.dumps(err)


def test_scrub_secret_text_body() -> None:
    err = _err(502, {}, f"proxy said: key={CANARY}".encode())
    scrub_secret(err, CANARY)
    assert err.message == "proxy said: key=***"
    assert err.body == "proxy said: key=***"


@pytest.mark.parametrize("secret", [None, "", "abc"])
def test_scrub_secret_ignores_missing_or_tiny_secrets(secret: str | None) -> None:
    err = APIError("abc abc", body={"m": "abc"})
    assert scrub_secret(err, secret) is err
    assert err.message == "abc abc"
    assert err.body == {"m": "abc"}
