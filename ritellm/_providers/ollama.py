"""Ollama's native chat API (``POST {base}/api/chat``, wire-formats §6): OpenAI chat arguments
-> an Ollama chat request, its responses -> ``chat.completion`` (streams: NDJSON, see
``_ollama_response``). Unlike Ollama's OpenAI-compatible endpoint, the native one keeps
``num_ctx``, ``keep_alive`` and ``think``. Pure translator: standard library and ritellm's pure
modules only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from .._error_map import error_from_response
from .._errors import ErrorInfo, ParameterError, ParameterTypeError
from .._types import AttrDict, CompletionRequest, Credentials, HttpRequest, Media, ModelResponse
from .._version import __version__
from . import NO_HEADERS, ProviderSpec, endpoint, resolve_credentials
from . import _common as common
from . import _ollama_response as results
from ._conversation import Image, Part, Text, ToolCall, ToolResult, conversation, image_urls
from ._framing import invalid_response, json_body
from ._ollama_response import OllamaStreamDecoder

__all__ = ["OllamaProvider", "make_provider"]

_USER_AGENT = f"ritellm/{__version__}".encode()
_JSON = b"application/json"
_DEFAULT_PORT = 11434

# OpenAI parameters the native API has no equivalent for.
# fmt: off
_UNSUPPORTED = frozenset({
    "user", "logit_bias", "logprobs", "top_logprobs", "store", "modalities", "audio",
    "prediction", "service_tier", "web_search_options", "verbosity", "prompt_cache_key",
    "safety_identifier", "metadata", "functions", "function_call",
})
# OpenAI name -> the ``options`` field (top_k is not OpenAI's, but LiteLLM users pass it).
_SAMPLING = (
    ("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("seed", "seed"),
    ("presence_penalty", "presence_penalty"), ("frequency_penalty", "frequency_penalty"),
)
# Ollama's model options (its Modelfile parameters) given as top-level keyword arguments, as
# LiteLLM users pass them: they go into ``options``.
_OPTIONS = frozenset({
    "num_ctx", "num_keep", "num_batch", "num_gpu", "main_gpu", "num_thread", "num_predict",
    "repeat_last_n", "repeat_penalty", "typical_p", "min_p", "tfs_z", "mirostat",
    "mirostat_tau", "mirostat_eta", "penalize_newline", "numa", "low_vram", "use_mmap",
    "use_mlock", "vocab_only",
})
_CONSUMED = _UNSUPPORTED | _OPTIONS | frozenset({
    *(name for name, _ in _SAMPLING), "n", "max_tokens", "max_completion_tokens", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort",
    "stream_options", "options",
})
# fmt: on
# reasoning_effort -> ``think``: off, or a level (the levels gpt-oss takes; other thinking
# models treat any level as "on").
_THINK = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_THINK["xhigh"] = "high"


class OllamaProvider(common.BaseProvider):
    """Translator for ``POST {base}/api/chat``; no key locally, ``api_key`` (or
    ``OLLAMA_API_KEY``) becomes a bearer token for hosted instances."""

    stream_media_types = ("application/x-ndjson",)

    def credentials(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        options: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> Credentials:
        if base_url is None:
            given = next((environ[v] for v in self.spec.base_env if environ.get(v)), None)
            base_url = host_url(given) if given else None
        return resolve_credentials(
            self.spec, api_key=api_key, base_url=base_url, environ=environ, path=_root
        )

    def media_urls(self, req: CompletionRequest) -> tuple[str, ...]:
        return image_urls(req.messages)  # Ollama takes images only as base64

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        headers = [
            (b"Content-Type", _JSON),
            (b"Accept", b"application/x-ndjson" if req.stream else _JSON),
            (b"User-Agent", _USER_AGENT),
        ]
        if creds.api_key:
            if any(name.lower() == b"authorization" for name, _ in creds.headers):
                # Two Authorization headers: a server or proxy would read either one.
                raise ParameterError(
                    f"base_url has a user:password (sent as Basic auth) and {self.spec.name} "
                    "sends its key in the same Authorization header: give one of them"
                )
            headers.append((b"Authorization", b"Bearer " + creds.api_key.encode()))
        headers.extend(creds.headers)
        return HttpRequest(
            method=b"POST",
            url=endpoint(creds, "/api/chat"),
            headers=headers,
            body=common.dumps(_body(req, media, self.spec.name)).encode(),
        )

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
        info = results.error_info(body)
        if status < 300:
            # An error body in a 2xx answering a stream request (proxies do that): the status it
            # stands for, as parse_completion decides for a whole response.
            info.status = results.twin_status(info)
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
        if isinstance(obj, dict) and obj.get("error") is not None:
            info = results.error_info(body)  # an error sent with a 2xx status
            twin = results.twin_status(info)
            raise error_from_response(twin, headers, body, info=info, provider=self.spec.name)
        if not isinstance(obj, dict) or not isinstance(obj.get("message"), dict):
            what = "response is not an Ollama chat response (no message)"
            raise invalid_response(self.spec.name, status, headers, body, what)
        rid = results.response_id(body)
        message = obj["message"]
        try:
            calls = results.tool_calls(message.get("tool_calls"), rid, 0)
        except ValueError as exc:
            what = f"malformed Ollama tool call ({exc})"
            raise invalid_response(self.spec.name, status, headers, body, what) from None
        content = message.get("content")
        content = content if isinstance(content, str) else ""
        out = AttrDict(role="assistant", content=content or (None if calls else ""))
        if calls:
            for call in calls:
                del call["index"]  # a stream's field: whole messages carry none
            out["tool_calls"] = calls
        thinking = message.get("thinking")
        if isinstance(thinking, str) and thinking:
            out["reasoning_content"] = thinking
        out["refusal"] = None
        finish = results.finish_reason(obj.get("done_reason"), bool(calls))
        model = obj.get("model")
        return common.completion(
            id=rid,
            created=now,
            model=model if isinstance(model, str) and model else req.model,
            choices=[AttrDict(index=0, message=out, logprobs=None, finish_reason=finish)],
            usage=results.usage_of(obj),
        )

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> OllamaStreamDecoder:
        options = req.params.get("stream_options")
        return OllamaStreamDecoder(
            self.spec.name,
            model=req.model,
            created=now,
            include_usage=isinstance(options, Mapping) and bool(options.get("include_usage")),
            max_event_bytes=max_event_bytes,
        )


def host_url(host: str) -> str:
    """``OLLAMA_HOST`` as a base URL, read as the ollama CLI and Python client read it:
    spaces and quotes around it dropped, the scheme optional (http), the host optional
    (``:1234`` is 127.0.0.1), the port 11434 unless a scheme or a port is given
    (``0.0.0.0``, ``example.com:8080``, ``https://host``, ``::1``).

    The wildcard addresses a server listens on (``0.0.0.0``, ``::``; OLLAMA_HOST is the
    server's setting too) are dialled as loopback: connecting to them fails on Windows and
    slips past a NO_PROXY of ``localhost,127.0.0.1``.
    """
    text = host.strip().strip("\"'")
    scheme, given, rest = text.partition("://")
    if not given:
        scheme, rest = "http", text
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    userinfo, at, hostport = rest[:end].rpartition("@")
    if hostport.startswith("["):
        name, _, port = hostport[1:].partition("]")
        port = port.removeprefix(":")
    elif hostport.count(":") == 1:
        name, _, port = hostport.partition(":")
    else:
        name, port = hostport, ""  # a name, or an IPv6 address without brackets
    name = name or "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        if address.is_unspecified:
            name = "127.0.0.1" if address.version == 4 else "::1"
    if not port and not given:
        port = str(_DEFAULT_PORT)
    netloc = (f"[{name}]" if ":" in name else name) + (f":{port}" if port else "")
    return f"{scheme}://{userinfo}{at}{netloc}{rest[end:]}"


def _root(url: str) -> str:
    """The server root, whether the base URL was given as the root, ``…/api`` or the full
    ``…/api/chat``."""
    for suffix in ("/api/chat", "/api"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


# -- requests ----------------------------------------------------------------------------------


def _body(req: CompletionRequest, media: Mapping[str, Media], provider: str) -> dict[str, Any]:
    params = req.params
    for name, value in params.items():
        if value is None:
            continue
        if name in _UNSUPPORTED or (name == "n" and value != 1):
            common.unsupported(provider, name, req)
    if params.get("parallel_tool_calls") is False:
        common.unsupported(provider, "parallel_tool_calls", req)
    choice = None
    if params.get("tool_choice") is not None:
        choice = common.tool_choice(params["tool_choice"])
        if choice not in ("auto", "none"):
            # Ollama decides whether to call a tool: it cannot be made to call one.
            common.unsupported(provider, "tool_choice", req)
    body: dict[str, Any] = {"model": req.model, "messages": _messages(req, media)}
    tools = common.function_tools(params["tools"]) if params.get("tools") is not None else []
    if tools and choice != "none":  # "none": the model is not shown the tools at all
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    **({"description": tool.description} if tool.description else {}),
                    "parameters": tool.parameters,
                },
            }
            for tool in tools
        ]
    if params.get("response_format") is not None:
        fmt = common.response_format(params["response_format"])
        if fmt.schema is not None:
            body["format"] = fmt.schema
        elif fmt.kind == "json_object":
            body["format"] = "json"
    effort = common.reasoning_effort(params.get("reasoning_effort"))
    if effort is not None:
        body["think"] = _THINK[effort]
    options = _options(params)
    if options:
        body["options"] = options
    for name, value in params.items():
        if name not in _CONSUMED and value is not None:
            body[name] = value  # Ollama-native fields: keep_alive, think, format, ...
    body["stream"] = req.stream  # Ollama streams unless told not to
    return body


def _options(params: Mapping[str, Any]) -> dict[str, Any]:
    options = {field: params[name] for name, field in _SAMPLING if params.get(name) is not None}
    limit = common.max_tokens(params)
    if limit is not None:
        options["num_predict"] = limit
    if params.get("stop") is not None:
        options["stop"] = common.stop_sequences(params["stop"])
    for name, value in params.items():  # the caller's order: the same body in every process
        if name in _OPTIONS and value is not None:
            options[name] = value
    native = params.get("options")
    if native is not None:
        if not isinstance(native, Mapping):
            raise ParameterTypeError("options must be a dict of Ollama model options")
        options.update(native)  # the caller's own options win over mapped ones
    return options


def _messages(req: CompletionRequest, media: Mapping[str, Media]) -> list[dict[str, Any]]:
    chat = conversation(req.messages)
    out: list[dict[str, Any]] = []
    if chat.system:
        out.append({"role": "system", "content": "\n\n".join(t.text for t in chat.system)})
    for turn in chat.turns:
        pending: list[Part] = []
        for part in turn.parts:
            if isinstance(part, ToolResult):
                # One tool message per result, named as Ollama matches them (by tool name),
                # in its place: what a merged turn had before it goes first.
                _add(out, turn.role, pending, media)
                pending = []
                out.append(_tool_result(part, media))
            else:
                pending.append(part)
        _add(out, turn.role, pending, media)
    if not out:
        raise ParameterError("messages is empty: Ollama needs at least one message")
    return out


def _add(
    out: list[dict[str, Any]], role: str, parts: Sequence[Part], media: Mapping[str, Media]
) -> None:
    """One message of ``parts`` (its text parts joined); nothing when they hold nothing to
    send. Thinking blocks are Anthropic's, signed for Anthropic: never sent here."""
    texts = [p.text for p in parts if isinstance(p, Text)]
    images = [_image(p, media) for p in parts if isinstance(p, Image)]
    calls = [
        {"function": {"name": p.name, "arguments": p.arguments}}
        for p in parts
        if isinstance(p, ToolCall)
    ]
    if not (texts or images or calls):
        return
    message: dict[str, Any] = {"role": role, "content": "\n".join(texts)}
    if images:
        message["images"] = images
    if calls:
        message["tool_calls"] = calls
    out.append(message)


def _tool_result(part: ToolResult, media: Mapping[str, Media]) -> dict[str, Any]:
    result: dict[str, Any] = {"role": "tool", "content": part.text, "tool_name": part.name}
    pictures = [_image(p, media) for p in part.content if isinstance(p, Image)]
    if pictures:
        result["images"] = pictures
    return result


def _image(part: Image, media: Mapping[str, Media]) -> str:
    if part.url is None:
        assert part.data is not None
        return part.data
    if part.url in media:
        return media[part.url].data
    raise ParameterError(
        f"image URL {part.url!r} was not fetched: Ollama takes images inline, so every URL "
        "media_urls() returns must be in media"
    )


def make_provider(spec: ProviderSpec) -> OllamaProvider:
    """Registry hook: the translator for ``spec``."""
    return OllamaProvider(spec)
