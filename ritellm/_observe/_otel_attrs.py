"""What a call looks like in the OpenTelemetry GenAI semantic conventions: attribute names,
the provider map, request/response/usage attributes and the opt-in message content.

The names are those of semconv v1.41.1, the last core release that defined the GenAI
conventions (the ``opentelemetry-semantic-conventions`` 0.66b2 constants; the conventions now
live in open-telemetry/semantic-conventions-genai). They are spelled out here: that package
is not part of ``ritellm[otel]``.

Pure: standard library and ritellm's pure modules; never opentelemetry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "SCHEMA_URL",
    "error_type",
    "input_messages",
    "output_messages",
    "provider_name",
    "request_attributes",
    "server_attributes",
    "stream_summary",
    "to_json",
    "usage_attributes",
]

SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.1"

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_STATUS = "http.response.status_code"

# ritellm's own prefix-less model names -> the conventions' well-known provider values.
# Others (ollama, openrouter, hosted_vllm, ...) are reported as ritellm names them, which the
# conventions allow ("otherwise, a custom value MAY be used").
_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",  # generativelanguage.googleapis.com (AI Studio)
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral_ai",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "ollama_chat": "ollama",  # LiteLLM's second prefix for the same native API
}

# Request parameters (OpenAI's vocabulary) recorded as-is, by type.
_FLOAT_PARAMS = (
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)

# OpenAI's finish reasons -> the output-messages schema's FinishReason values.
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}


def error_type(error: BaseException) -> str:
    """``error.type``: the class name, as the OpenAI SDK's instrumentation reports it
    (ritellm's errors have the SDK's names: RateLimitError, APITimeoutError, ...)."""
    return type(error).__qualname__


def provider_name(prefix: str) -> str:
    """``gen_ai.provider.name`` for a ritellm provider prefix."""
    return _PROVIDERS.get(prefix, prefix)


@functools.lru_cache(maxsize=64)
def server_attributes(base_url: str) -> tuple[tuple[str, str | int], ...]:
    """``server.address`` and ``server.port`` of a base URL (the scheme's default port when
    none is given). Cached: a process calls a handful of base URLs."""
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return ()
    if not host:
        return ()
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return ((SERVER_ADDRESS, host), (SERVER_PORT, port))


def request_attributes(params: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """The ``gen_ai.request.*`` attributes for the parameters the caller gave."""
    out: dict[str, Any] = {}
    if stream:
        out["gen_ai.request.stream"] = True  # set if and only if streaming
    max_tokens = params.get("max_tokens", params.get("max_completion_tokens"))
    if type(max_tokens) is int:
        out["gen_ai.request.max_tokens"] = max_tokens
    for name, key in _FLOAT_PARAMS:
        value = params.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
    seed = params.get("seed")
    if type(seed) is int:
        out["gen_ai.request.seed"] = seed
    stop = params.get("stop")
    if isinstance(stop, str):
        out["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, Sequence) and stop and all(isinstance(s, str) for s in stop):
        out["gen_ai.request.stop_sequences"] = list(stop)
    n = params.get("n")
    if type(n) is int and n != 1:
        out["gen_ai.request.choice.count"] = n
    output_type = _output_type(params.get("response_format"))
    if output_type is not None:
        out["gen_ai.output.type"] = output_type
    return out


def _output_type(response_format: object) -> str | None:
    if response_format is None:
        return None
    if isinstance(response_format, type):
        return "json"  # a Pydantic model: a JSON schema
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind in ("json_object", "json_schema"):
            return "json"
        if kind == "text":
            return "text"
    return None


def usage_attributes(usage: Any) -> dict[str, int]:
    """``gen_ai.usage.*`` from OpenAI's usage shape (ritellm normalises every provider's to
    it: ``prompt_tokens`` counts every input token, cached ones included, as the conventions
    ask of ``gen_ai.usage.input_tokens``)."""
    out: dict[str, int] = {}
    if not isinstance(usage, Mapping):
        return out
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if type(prompt) is int:
        out[INPUT_TOKENS] = prompt
    if type(completion) is int:
        out[OUTPUT_TOKENS] = completion
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    if type(cached) is int:
        out["gen_ai.usage.cache_read.input_tokens"] = cached
    written = usage.get("cache_creation_input_tokens")  # LiteLLM's name (Anthropic, Bedrock)
    if type(written) is int:
        out["gen_ai.usage.cache_creation.input_tokens"] = written
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    if type(reasoning) is int:
        out["gen_ai.usage.reasoning.output_tokens"] = reasoning
    return out


# -- opt-in content (the input/output messages JSON schemas of the conventions) -------------


def to_json(value: object) -> str:
    """A content attribute's value: the conventions' structure serialised to JSON (span
    attributes cannot hold structures yet)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def input_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI chat messages as ``gen_ai.input.messages`` (system messages included: they are
    part of the chat history, not separate instructions)."""
    out = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("tool", "function"):
            parts: list[dict[str, Any]] = [
                {
                    "type": "tool_call_response",
                    "id": message.get("tool_call_id"),
                    "response": _text(content),
                }
            ]
        else:
            parts = _parts(content)
            parts.extend(_tool_calls(message))
        entry: dict[str, Any] = {"role": role, "parts": parts}
        if isinstance(message.get("name"), str):
            entry["name"] = message["name"]
        out.append(entry)
    return out


def output_messages(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each choice of a response as one ``gen_ai.output.messages`` entry."""
    out = []
    choices = response.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        message = choice.get("message") or {}
        parts: list[dict[str, Any]] = []
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            parts.append({"type": "reasoning", "content": reasoning})
        parts.extend(_parts(message.get("content")))
        parts.extend(_tool_calls(message))
        reason = choice.get("finish_reason")
        out.append(
            {
                "role": message.get("role") or "assistant",
                "parts": parts,
                "finish_reason": _FINISH.get(reason, reason) if isinstance(reason, str) else "",
            }
        )
    return out


def _text(content: object) -> object:
    """A tool result: its text (joined text parts), else as given."""
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, Mapping)]
        strings = [t for t in texts if isinstance(t, str)]
        if strings and len(strings) == len(content):
            return "".join(strings)
    return content


def _parts(content: object) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, list):
        return [{"type": "text", "content": str(content)}]
    return [_part(part) for part in content if isinstance(part, Mapping)]


def _part(part: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAI content part as a conventions part (text, blob, uri, file, or the part as
    given: the schema's GenericPart)."""
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "content": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if isinstance(url, str):
            return _media(url, "image")
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if isinstance(audio, Mapping):
            return {
                "type": "blob",
                "modality": "audio",
                "mime_type": f"audio/{audio.get('format', 'wav')}",
                "content": audio.get("data", ""),
            }
    elif kind == "file":
        file = part.get("file")
        if isinstance(file, Mapping):
            if isinstance(file.get("file_id"), str):
                return {"type": "file", "modality": "document", "file_id": file["file_id"]}
            if isinstance(file.get("file_data"), str):
                return _media(file["file_data"], "document")
    return dict(part)


def _media(url: str, modality: str) -> dict[str, Any]:
    """A data: URL inline (a blob part, base64 as sent), any other URL by reference."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header[5:].split(";", 1)[0] or None
        return {"type": "blob", "modality": modality, "mime_type": mime, "content": data}
    return {"type": "uri", "modality": modality, "uri": url}


def _tool_calls(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    calls = message.get("tool_calls")
    out = []
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            out.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": _arguments(function.get("arguments")),
                }
            )
    return out


def _arguments(arguments: object) -> object:
    """Tool-call arguments as an object when they are JSON (the conventions expect one)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def stream_summary(chunks: Sequence[Mapping[str, Any]], usage: Any) -> dict[str, Any]:
    """A stream's id, model, usage and each choice's last finish reason, from its chunks."""
    first = chunks[0] if chunks else {}
    reasons: dict[Any, Any] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                reasons[choice.get("index", 0)] = choice["finish_reason"]
    return {
        "id": first.get("id"),
        "model": first.get("model"),
        "usage": usage,
        "choices": [{"finish_reason": reasons[i]} for i in sorted(reasons)],
    }
