"""What every wire format shares: the OpenAI-compatible error-body parser, checks of OpenAI's
cross-provider parameters (tools, tool_choice, response_format, reasoning_effort, stop), and
builders for the OpenAI-shaped values the translators return.

Pure: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .._error_map import snippet
from .._errors import ErrorInfo, ParameterError, ParameterTypeError
from .._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    HttpRequest,
    ModelResponse,
    ModelResponseStream,
)
from . import ProviderSpec, resolve_credentials

__all__ = [
    "REASONING_BUDGETS",
    "BaseProvider",
    "FunctionTool",
    "ResponseFormat",
    "call_id",
    "chunk",
    "completion",
    "dumps",
    "function_tools",
    "max_tokens",
    "parse_error_body",
    "reasoning_effort",
    "response_format",
    "stop_sequences",
    "tool_choice",
    "unsupported",
    "usage",
]

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""Compact JSON text (UTF-8 kept), as the request bodies are sent."""


class BaseProvider:
    """What a translator does unless its format says otherwise: no provider-specific
    credential arguments, the registry's credential rules, image URLs passed by reference,
    and OpenAI-compatible error bodies."""

    credential_params: tuple[str, ...] = ()
    stream_media_types: tuple[str, ...] = ("text/event-stream",)

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    def credentials(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        options: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> Credentials:
        return resolve_credentials(self.spec, api_key=api_key, base_url=base_url, environ=environ)

    def media_urls(self, req: CompletionRequest) -> tuple[str, ...]:
        return ()

    def sign(self, request: HttpRequest, creds: Credentials, now: float) -> HttpRequest:
        return request

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
        return parse_error_body(body)


# -- errors ------------------------------------------------------------------------------------


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _str_only(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_error_body(body: bytes) -> ErrorInfo:
    """Extract message/type/code/param from an OpenAI-compatible error body, or anything else.

    Shapes accepted (see wire-formats §2.10, §6.5, §7): OpenAI/Azure/llama.cpp/OpenRouter
    ``{"error": {...}}`` (``code`` may be a string or a number), vLLM's flat
    ``{"object": "error", ...}``, Ollama's ``{"error": "text"}``, a bare ``{"message": ...}``,
    a one-element list of any of these, and anything else as text. Providers with their own
    shape (Anthropic, Gemini) parse that first and fall back to this.
    """
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = snippet(body)
        return ErrorInfo(text or None, body=text)
    obj = parsed
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    if not isinstance(obj, dict):
        return ErrorInfo(snippet(body), body=parsed)
    err = obj.get("error", obj)
    if isinstance(err, str):
        return ErrorInfo(err, body=parsed)
    if not isinstance(err, dict):
        return ErrorInfo(snippet(body), body=parsed)
    message = err.get("message")
    if not isinstance(message, str):
        message = snippet(json.dumps(err)) if err else None
    code = _str_or_none(err.get("code"))
    return ErrorInfo(
        message,
        # Gemini names the error kind in a string "status"; Azure sends a numeric one.
        type=_str_or_none(err.get("type") or _str_only(err.get("status"))),
        code=code,
        param=_str_or_none(err.get("param")),
        body=err if "error" in obj else parsed,
        # Azure's content filter (wire-formats §3.4), also seen through OpenAI-compatible
        # gateways in front of Azure.
        kind="content_policy" if code == "content_filter" else None,
    )


# -- parameters --------------------------------------------------------------------------------


def unsupported(provider: str, name: str, req: CompletionRequest) -> None:
    """Refuse a parameter ``provider`` cannot honour, unless the caller asked to drop such
    parameters (LiteLLM's ``drop_params=True``), in which case it is silently left out.

    Raises:
        ParameterError: naming the parameter and the provider.
    """
    if not req.drop_params:
        raise ParameterError(
            f"{provider} does not support the parameter {name!r}: remove it, or pass "
            "drop_params=True to drop parameters a provider cannot honour"
        )


def max_tokens(params: Mapping[str, Any]) -> int | None:
    """``max_completion_tokens`` (OpenAI's newer name) or ``max_tokens``."""
    value = params.get("max_completion_tokens")
    if value is None:
        value = params.get("max_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterTypeError(f"max_tokens must be an integer, not {type(value).__name__}")
    if value < 1:
        raise ParameterError(f"max_tokens must be >= 1, got {value}")
    return value


def stop_sequences(value: object) -> list[str]:
    """OpenAI's ``stop`` (a string or a list of strings) as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value)
    raise ParameterTypeError("stop must be a string or a list of strings")


@attrs.frozen(kw_only=True)
class FunctionTool:
    name: str
    description: str | None
    parameters: dict[str, Any]
    strict: bool | None = None


def function_tools(tools: object) -> list[FunctionTool]:
    """OpenAI's ``tools=[{"type": "function", "function": {...}}]``, checked.

    Raises:
        ParameterTypeError / ParameterError: naming the malformed ``tools[i]``.
    """
    if not isinstance(tools, list):
        raise ParameterTypeError("tools must be a list of {'type': 'function', ...} dicts")
    out: list[FunctionTool] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise ParameterTypeError(f"{where} must be a dict")
        if tool.get("type", "function") != "function":
            raise ParameterError(f"{where} has type {tool.get('type')!r}; only 'function'")
        function = tool.get("function")
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ParameterError(f"{where} must be {{'type': 'function', 'function': {{'name'...")
        parameters = function.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping):
            raise ParameterTypeError(f"{where}.function.parameters must be a JSON schema dict")
        description = function.get("description")
        strict = function.get("strict")
        out.append(
            FunctionTool(
                name=function["name"],
                description=description if isinstance(description, str) else None,
                parameters=dict(parameters),
                strict=strict if isinstance(strict, bool) else None,
            )
        )
    return out


ToolChoice = Literal["auto", "none", "required"] | tuple[Literal["function"], str]


def tool_choice(value: object) -> ToolChoice:
    """OpenAI's ``tool_choice``: "auto", "none", "required", or a named function
    (``{"type": "function", "function": {"name": ...}}``) as ("function", name)."""
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, Mapping):
        function = value.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return ("function", function["name"])
    raise ParameterError(
        "tool_choice must be 'auto', 'none', 'required' or "
        "{'type': 'function', 'function': {'name': ...}}"
    )


@attrs.frozen(kw_only=True)
class ResponseFormat:
    kind: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


def response_format(value: object) -> ResponseFormat:
    """OpenAI's ``response_format``: ``{"type": "text" | "json_object"}``,
    ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``, or a Pydantic
    model class (anything with ``model_json_schema()``), converted to a JSON schema without
    importing pydantic."""
    if isinstance(value, type) and hasattr(value, "model_json_schema"):
        schema = value.model_json_schema()
        return ResponseFormat(kind="json_schema", name=value.__name__, schema=schema, strict=True)
    if not isinstance(value, Mapping):
        raise ParameterTypeError(
            "response_format must be a dict like {'type': 'json_object'} or a Pydantic model class"
        )
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind=kind)
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise ParameterError(
                "response_format json_schema needs {'json_schema': {'name': ..., 'schema': {...}}}"
            )
        name = spec.get("name")
        strict = spec.get("strict")
        return ResponseFormat(
            kind="json_schema",
            name=name if isinstance(name, str) else None,
            schema=dict(spec["schema"]),
            strict=strict if isinstance(strict, bool) else None,
        )
    raise ParameterError(f"response_format has unknown type {kind!r}")


# Thinking budgets per OpenAI reasoning_effort level (LiteLLM's constants for low/medium/high;
# 1024 is Anthropic's minimum budget). "none" turns thinking off.
REASONING_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
}


def reasoning_effort(value: object) -> str | None:
    """A checked ``reasoning_effort``: None, "none", or a key of REASONING_BUDGETS."""
    if value is None or value == "none" or value in REASONING_BUDGETS:
        return value
    levels = ", ".join(repr(k) for k in ("none", *REASONING_BUDGETS))
    raise ParameterError(f"reasoning_effort must be one of {levels}, got {value!r}")


# -- results ---------------------------------------------------------------------------------


def call_id(*parts: object) -> str:
    """A deterministic tool-call id for formats that send none (e.g. Gemini): unique per
    response and call, so a multi-turn tool loop can match results to calls."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()
    return f"call_{digest[:24]}"


def usage(
    prompt: int,
    completion: int,
    *,
    total: int | None = None,
    cached: int | None = None,
    reasoning: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AttrDict:
    """OpenAI's usage object. ``prompt`` counts every input token (cached ones included, as
    OpenAI counts them); ``completion`` every output token (reasoning included)."""
    out = AttrDict(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion if total is None else total,
    )
    if cached is not None:
        out["prompt_tokens_details"] = AttrDict(cached_tokens=cached)
    if reasoning is not None:
        out["completion_tokens_details"] = AttrDict(reasoning_tokens=reasoning)
    if extra:
        out.update(extra)
    return out


def cached_usage(
    uncached: object, output: object, read: object, write: object, *, reasoning: int | None = None
) -> AttrDict:
    """OpenAI's usage for formats whose input count excludes cache reads and writes
    (Anthropic, Bedrock): the prompt total adds them (OpenAI's convention: prompt_tokens
    counts every input token), and the cache counts are also kept under LiteLLM's names.
    A count that is not an int counts as 0 (absent, or a server's null)."""

    def count(value: object) -> int:
        return value if type(value) is int else 0

    extra: dict[str, int] = {}
    if type(write) is int:
        extra["cache_creation_input_tokens"] = write
    if type(read) is int:
        extra["cache_read_input_tokens"] = read
    return usage(
        count(uncached) + count(read) + count(write),
        count(output),
        cached=read if type(read) is int else None,
        reasoning=reasoning,
        extra=extra,
    )


def completion(
    *,
    id: str,
    created: int,
    model: str,
    choices: list[AttrDict],
    usage: AttrDict | None,
) -> ModelResponse:
    """A ``chat.completion`` exactly as ``stream_chunk_builder`` rebuilds one: each choice is
    ``{"index", "message", "logprobs", "finish_reason"}`` and each message
    ``{"role", "content", ["tool_calls"], ["reasoning_content"], ["thinking_blocks"],
    "refusal"}``."""
    out = ModelResponse(
        id=id,
        object="chat.completion",
        created=created,
        model=model,
        system_fingerprint=None,
        choices=choices,
    )
    if usage is not None:
        out["usage"] = usage
    return out


def chunk(
    *,
    id: str,
    created: int,
    model: str,
    delta: AttrDict,
    finish_reason: str | None = None,
    index: int = 0,
) -> ModelResponseStream:
    """One ``chat.completion.chunk`` with one choice (once per streamed token: built from
    literals, not keyword arguments)."""
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return ModelResponseStream(
        {
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [AttrDict(choice)],
        }
    )
