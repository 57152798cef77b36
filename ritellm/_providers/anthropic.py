"""Anthropic Messages wire format (``POST {base}/v1/messages``, wire-formats §4): OpenAI chat
arguments -> a Messages request, a Messages response -> ``chat.completion`` (streams: see
``_anthropic_stream``). Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._error_map import error_from_response
from .._errors import ErrorInfo, ParameterError, ParameterTypeError
from .._types import CompletionRequest, Credentials, HttpRequest, Media, ModelResponse
from .._version import __version__
from . import NO_HEADERS, ProviderSpec, endpoint, resolve_credentials
from ._anthropic_response import error_info, error_status, message_completion
from ._anthropic_stream import AnthropicStreamDecoder
from ._common import (
    REASONING_BUDGETS,
    BaseProvider,
    dumps,
    function_tools,
    max_tokens,
    reasoning_effort,
    response_format,
    stop_sequences,
    tool_choice,
    unsupported,
)
from ._conversation import Conversation, Image, Part, Text, Thinking, ToolCall, conversation
from ._framing import invalid_response, json_body
from ._schema import strict_schema

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "AnthropicProvider",
    "make_provider",
]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the caller gives none (the API requires it; LiteLLM's default).
With thinking on, the default is the thinking budget plus this much for the answer."""

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header: the only API version in use (wire-formats §4.1)."""

_USER_AGENT = f"ritellm/{__version__}".encode()
_JSON = b"application/json"

# OpenAI parameters the Messages API has no equivalent for.
# fmt: off
_UNSUPPORTED = frozenset({
    "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "store", "modalities", "audio", "prediction", "web_search_options", "verbosity",
    "prompt_cache_key", "safety_identifier", "functions", "function_call",
})
# OpenAI parameters translated by _parameters; every other one is sent unchanged (top_k,
# metadata, service_tier, thinking, ... and temperature/top_p, which share OpenAI's names).
_TRANSLATED = _UNSUPPORTED | frozenset({
    "n", "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice",
    "parallel_tool_calls", "response_format", "reasoning_effort", "user", "stream_options",
})
# fmt: on
# Native fields that a translated parameter also fills: the caller's dict is merged over ours
# (user -> metadata.user_id, response_format -> output_config.format).
_MERGED = frozenset({"metadata", "output_config"})
_CHOICES = {"auto": "auto", "none": "none", "required": "any"}


class AnthropicProvider(BaseProvider):
    """Translator for ``POST {base_url}/v1/messages``."""

    def credentials(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        options: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> Credentials:
        # Normalised to the root before the default-URL check, so that the default API named
        # as ".../v1" still needs a key before any I/O.
        return resolve_credentials(
            self.spec, api_key=api_key, base_url=base_url, environ=environ, path=_root
        )

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        headers = [
            (b"Content-Type", _JSON),
            (b"Accept", b"text/event-stream" if req.stream else _JSON),
            (b"User-Agent", _USER_AGENT),
        ]
        if creds.api_key:
            headers.append((b"x-api-key", creds.api_key.encode()))
        headers.append((b"anthropic-version", ANTHROPIC_VERSION.encode()))
        headers.extend(creds.headers)
        return HttpRequest(
            method=b"POST",
            url=endpoint(creds, "/v1/messages"),
            headers=headers,
            body=dumps(_body(req, self.spec.name)).encode(),
        )

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
        info = error_info(body)
        if status < 300:
            # An error sent with a 2xx status (proxies do): its class and retry rule are those
            # of the status Anthropic sends it with (overloaded_error -> 529).
            info.status = error_status(info)
        return info

    def parse_completion(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        req: CompletionRequest,
        now: int,
    ) -> ModelResponse:
        obj = json_body(self.spec.name, status, headers, body)
        if isinstance(obj, dict) and (obj.get("type") == "error" or obj.get("error")):
            # An error sent with a 2xx status: raised as the status Anthropic pairs it with.
            info = self.parse_error(status, headers, body)
            twin = info.status if info.status is not None else error_status(info)
            raise error_from_response(twin, headers, body, info=info, provider=self.spec.name)
        result = message_completion(obj, req.model, now) if isinstance(obj, dict) else None
        if result is None:
            raise invalid_response(
                self.spec.name, status, headers, body, "response is not a Messages API message"
            )
        return result

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> AnthropicStreamDecoder:
        options = req.params.get("stream_options")
        include = isinstance(options, Mapping) and bool(options.get("include_usage"))
        return AnthropicStreamDecoder(
            self.spec.name,
            model=req.model,
            created=now,
            include_usage=include,
            max_event_bytes=max_event_bytes,
        )


def _root(url: str) -> str:
    """The server root, whether the base URL was given as the root, ``…/v1`` or the full
    ``…/v1/messages`` (SDKs and docs use all three)."""
    url = url.rstrip("/")
    for suffix in ("/v1/messages", "/v1"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


# -- requests ----------------------------------------------------------------------------------


def _body(req: CompletionRequest, provider: str) -> dict[str, Any]:
    chat = conversation(req.messages)
    body: dict[str, Any] = {"model": req.model, "max_tokens": DEFAULT_MAX_TOKENS}
    if chat.system:
        parts = chat.system
        # The plain-string form when it says everything (one block, nothing attached).
        body["system"] = (
            parts[0].text if len(parts) == 1 and not parts[0].extra else [_text(p) for p in parts]
        )
    body["messages"] = _messages(chat, req.messages)
    _parameters(req, body, provider)
    for name, value in req.params.items():
        if name in _TRANSLATED:
            continue
        mapped = body.get(name)
        if name in _MERGED and isinstance(mapped, dict) and isinstance(value, Mapping):
            body[name] = {**mapped, **value}
        else:
            body[name] = value  # the caller's native field wins over a translated one
    if req.stream:
        body["stream"] = True
    return body


def _text(part: Text) -> dict[str, Any]:
    return {"type": "text", "text": part.text, **part.extra}


def _image(part: Image) -> dict[str, Any]:
    if part.url is not None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    else:
        source = {"type": "base64", "media_type": part.mime_type, "data": part.data}
    return {"type": "image", "source": source, **part.extra}


def _messages(chat: Conversation, raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for turn in chat.turns:
        parts = turn.parts
        first = parts[0]
        if len(parts) == 1 and isinstance(first, Text) and not first.extra:
            out.append({"role": turn.role, "content": first.text})
        else:
            out.append({"role": turn.role, "content": [_block(p, raw) for p in parts]})
    return out


def _block(part: Part, raw: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if isinstance(part, Text):
        return _text(part)
    if isinstance(part, Image):
        return _image(part)
    if isinstance(part, Thinking):
        return dict(part.block)  # sent back exactly as the model produced it
    if isinstance(part, ToolCall):
        if not part.id:
            raise ParameterError(
                f"{_call_without_id(raw)} has no id: Anthropic needs an id on every tool "
                "call to match it with its tool_result"
            )
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if not part.id:
        raise ParameterError(
            f"{_result_without_id(raw)} has no tool_call_id: Anthropic matches each tool "
            "result to its tool call by id (use role 'tool' with tool_call_id)"
        )
    content: str | list[dict[str, Any]] = part.text
    # Blocks when a string cannot carry it all: an image, or a part's cache_control.
    if any(isinstance(p, Image) or p.extra for p in part.content):
        content = [_image(p) if isinstance(p, Image) else _text(p) for p in part.content]
    return {"type": "tool_result", "tool_use_id": part.id, "content": content}


def _call_without_id(raw: Sequence[Mapping[str, Any]]) -> str:
    for i, message in enumerate(raw):
        if message["role"] != "assistant":
            continue
        for j, call in enumerate(message.get("tool_calls") or ()):
            if isinstance(call, Mapping) and not call.get("id"):
                return f"messages[{i}].tool_calls[{j}]"
        if isinstance(message.get("function_call"), Mapping):
            return f"messages[{i}].function_call"
    return "a tool call"  # pragma: no cover - conversation() only makes calls from these


def _result_without_id(raw: Sequence[Mapping[str, Any]]) -> str:
    for i, message in enumerate(raw):
        if message["role"] in ("tool", "function") and not message.get("tool_call_id"):
            return f"messages[{i}]"
    return "a tool result"  # pragma: no cover - conversation() only makes results from these


def _parameters(req: CompletionRequest, body: dict[str, Any], provider: str) -> None:
    """The translated OpenAI parameters, into ``body`` (wire-formats §4.2, §4.12)."""
    params = req.params
    for name, value in params.items():
        if value is None:
            continue
        if name in _UNSUPPORTED or (name == "n" and value != 1):
            unsupported(provider, name, req)
    if params.get("stop") is not None:
        body["stop_sequences"] = stop_sequences(params["stop"])
    if params.get("tools") is not None:
        body["tools"] = [
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description is not None else {}),
                "input_schema": tool.parameters,
                **({"strict": tool.strict} if tool.strict is not None else {}),
            }
            for tool in function_tools(params["tools"])
        ]
    choice = _tool_choice(params)
    if choice is not None:
        body["tool_choice"] = choice
    if params.get("response_format") is not None:
        fmt = response_format(params["response_format"])
        if fmt.kind == "json_schema" and fmt.schema is not None:
            schema = strict_schema(fmt.schema)
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        elif fmt.kind == "json_object" and not req.drop_params:
            raise ParameterError(
                f"{provider} has no JSON mode without a schema (response_format "
                "{'type': 'json_object'}): pass {'type': 'json_schema', 'json_schema': "
                "{'name': ..., 'schema': {...}}} or a Pydantic model class instead, or "
                "drop_params=True to drop it"
            )
    _thinking(params, body)
    user = params.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise ParameterTypeError(f"user must be a str, not {type(user).__name__}")
        body["metadata"] = {"user_id": user}


def _tool_choice(params: Mapping[str, Any]) -> dict[str, Any] | None:
    parallel = params.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise ParameterTypeError(f"parallel_tool_calls must be True or False, not {parallel!r}")
    choice: dict[str, Any] | None = None
    if params.get("tool_choice") is not None:
        value = tool_choice(params["tool_choice"])
        if isinstance(value, tuple):
            choice = {"type": "tool", "name": value[1]}
        else:
            choice = {"type": _CHOICES[value]}
    # Without tools the flag means nothing (and the API refuses a tool_choice without tools).
    if parallel is False and params.get("tools"):
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":  # {"type": "none"} takes no other field
            choice["disable_parallel_tool_use"] = True
    return choice


def _thinking(params: Mapping[str, Any], body: dict[str, Any]) -> None:
    """reasoning_effort -> ``thinking``, and ``max_tokens``, which must leave room for it."""
    effort = reasoning_effort(params.get("reasoning_effort"))
    limit = max_tokens(params)
    native = params.get("thinking")
    budget = None
    if native is not None:
        # The caller's own thinking config wins and is sent as given (the _body loop): only
        # its budget is read, for the default max_tokens.
        if isinstance(native, Mapping) and native.get("type") == "enabled":
            given = native.get("budget_tokens")
            budget = given if type(given) is int else None
    elif effort is not None and effort != "none":
        budget = REASONING_BUDGETS[effort]
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if limit is not None and limit <= budget:
            name = "max_completion_tokens" if "max_completion_tokens" in params else "max_tokens"
            raise ParameterError(
                f"{name}={limit} leaves no room for the answer: Anthropic counts thinking "
                f"against max_tokens, and reasoning_effort={effort!r} is a {budget}-token "
                f"thinking budget, so {name} must be greater than {budget} (or leave it out "
                f"to get {budget + DEFAULT_MAX_TOKENS})"
            )
    body["max_tokens"] = limit if limit is not None else DEFAULT_MAX_TOKENS + (budget or 0)


def make_provider(spec: ProviderSpec) -> AnthropicProvider:
    """Registry hook: the translator for ``spec``."""
    return AnthropicProvider(spec)
