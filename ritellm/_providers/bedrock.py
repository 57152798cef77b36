"""AWS Bedrock Runtime, Converse and ConverseStream (``POST {base}/model/{modelId}/converse``
and ``/converse-stream``, wire-formats §13): OpenAI chat arguments -> a Converse request signed
with SigV4 (or a Bedrock API key as a bearer token), Converse responses -> ``chat.completion``
(streams: binary event-stream frames, see ``_bedrock_stream``). Pure translator: standard
library and ritellm's pure modules only; credentials and regions are resolved by
``ritellm._aws_credentials`` (botocore's credential chain is an optional fallback, imported
only when no credentials are given, and run off the event loop).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from .._aws_credentials import CREDENTIAL_PARAMS, bedrock_credentials
from .._error_map import error_from_response
from .._errors import ErrorInfo, ParameterError, ParameterTypeError
from .._types import AttrDict, CompletionRequest, Credentials, HttpRequest, Media, ModelResponse
from .._version import __version__
from . import NO_HEADERS, ProviderSpec, endpoint
from . import _bedrock_response as results
from . import _common as common
from ._bedrock_stream import BedrockStreamDecoder
from ._conversation import Image, Text, Thinking, ToolCall, ToolResult, conversation, image_urls
from ._framing import invalid_response, json_body
from ._sigv4 import AwsCredentials, sign

__all__ = ["BedrockProvider", "make_provider"]

_USER_AGENT = f"ritellm/{__version__}".encode()
_JSON = b"application/json"
_EVENTS = "application/vnd.amazon.eventstream"
_SERVICE = "bedrock"  # the signing name of bedrock-runtime (botocore's service model)
_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
_FORMATS["image/jpg"] = "jpeg"

# fmt: off
_UNSUPPORTED = frozenset({
    "n", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
    "top_logprobs", "user", "store", "modalities", "audio", "prediction", "service_tier",
    "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier", "metadata",
    "functions", "function_call", "response_format",
})
_CONSUMED = _UNSUPPORTED | frozenset({
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop", "tools",
    "tool_choice", "parallel_tool_calls", "reasoning_effort", "stream_options",
    "inferenceConfig", "toolConfig", "additionalModelRequestFields", "system",
})
# fmt: on
_ANSWER_TOKENS = 4096  # room for the answer next to a thinking budget (as for Anthropic)


class BedrockProvider(common.BaseProvider):
    """Translator for Bedrock Runtime's Converse API."""

    credential_params = CREDENTIAL_PARAMS
    stream_media_types = (_EVENTS,)

    def credentials(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        options: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> Credentials:
        # Keys, regions and the botocore fallback: see _aws_credentials (botocore itself is only
        # imported by the chain, in a worker thread).
        return bedrock_credentials(
            api_key=api_key, base_url=base_url, options=options, environ=environ
        )

    def media_urls(self, req: CompletionRequest) -> tuple[str, ...]:
        return image_urls(req.messages)  # Converse takes images only as bytes

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        action = "converse-stream" if req.stream else "converse"
        # One path segment, whatever the id holds (an ARN's ':' and '/').
        path = f"/model/{quote(req.model, safe='')}/{action}"
        headers = [
            (b"Content-Type", _JSON),
            (b"Accept", _EVENTS.encode() if req.stream else _JSON),
            (b"User-Agent", _USER_AGENT),
        ]
        if creds.api_key:
            headers.append((b"Authorization", b"Bearer " + creds.api_key.encode()))
        headers.extend(creds.headers)
        return HttpRequest(
            method=b"POST",
            url=endpoint(creds, path),
            headers=headers,
            body=common.dumps(_body(req, media, self.spec.name)).encode(),
        )

    def sign(self, request: HttpRequest, creds: Credentials, now: float) -> HttpRequest:
        if not isinstance(creds.signing, AwsCredentials):
            return request  # a bearer token, or an unauthenticated local endpoint
        try:
            added = sign(
                request.method,
                request.url,
                request.headers,
                request.body,
                credentials=creds.signing,
                region=creds.extra["region"],
                service=_SERVICE,
                now=datetime.datetime.fromtimestamp(now, datetime.UTC),
            )
        except ValueError as exc:  # e.g. extra_headers holding Authorization or X-Amz-Date
            raise ParameterError(f"bedrock cannot sign this request: {exc}") from None
        return attrs.evolve(request, headers=[*request.headers, *added])

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
        info = results.error_info(headers, body)
        if status < 300 and info.type is not None:
            # An error in a 2xx (a proxy): the status AWS sends that exception with.
            info.status = results.EXCEPTION_STATUS.get(info.type, 500)
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
        parsed = results.message(obj) if isinstance(obj, dict) else None
        if parsed is None:
            if isinstance(obj, dict) and isinstance(obj.get("message"), str):
                # An error sent with a 2xx status (a proxy): raised as the status it names.
                info = results.error_info(headers, body)
                twin = results.EXCEPTION_STATUS.get(info.type or "", 500)
                raise error_from_response(twin, headers, body, info=info, provider=self.spec.name)
            what = "response is not a Bedrock Converse response"
            raise invalid_response(self.spec.name, status, headers, body, what)
        message, finish = parsed
        raw = obj.get("usage")
        return common.completion(
            id=_response_id(headers, hashlib.sha256(body).hexdigest()[:24]),
            created=now,
            model=req.model,
            choices=[AttrDict(index=0, message=message, logprobs=None, finish_reason=finish)],
            usage=results.usage(raw) if isinstance(raw, Mapping) else None,
        )

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> BedrockStreamDecoder:
        options = req.params.get("stream_options")
        return BedrockStreamDecoder(
            self.spec.name,
            # ConverseStream's body carries no id: AWS's request id, else a random one.
            id=_response_id(headers, uuid.uuid4().hex[:24]),
            model=req.model,
            created=now,
            include_usage=isinstance(options, Mapping) and bool(options.get("include_usage")),
            max_event_bytes=max_event_bytes,
        )


def _response_id(headers: Mapping[str, str], fallback: str) -> str:
    """Bedrock sends no id in the body: ``chatcmpl-`` + the request id AWS gives every
    response (what AWS support asks for), else ``chatcmpl-`` + ``fallback``."""
    return "chatcmpl-" + (headers.get("x-amzn-requestid") or fallback)


# -- requests ----------------------------------------------------------------------------------


def _body(req: CompletionRequest, media: Mapping[str, Media], provider: str) -> dict[str, Any]:
    params = req.params
    for name, value in params.items():
        if value is None:
            continue
        if name in _UNSUPPORTED and not _harmless(name, value):
            common.unsupported(provider, name, req)
    if params.get("parallel_tool_calls") is False:
        common.unsupported(provider, "parallel_tool_calls", req)
    chat = conversation(req.messages)
    body: dict[str, Any] = {"messages": _messages(chat.turns, media)}
    system = [{"text": t.text} for t in chat.system if t.text]
    if system:
        body["system"] = system
    config: dict[str, Any] = {}
    limit = common.max_tokens(params)
    if limit is not None:
        config["maxTokens"] = limit
    for name, field in (("temperature", "temperature"), ("top_p", "topP")):
        if params.get(name) is not None:
            config[field] = params[name]
    if params.get("stop") is not None:
        config["stopSequences"] = common.stop_sequences(params["stop"])
    extra: dict[str, Any] = {}
    if params.get("top_k") is not None:
        extra["top_k"] = params["top_k"]  # a model field, not Converse's (§13.2)
    # Before the merges: the thinking budget may set maxTokens.
    _thinking(params, req.model, extra, config, provider, req)
    _merge(body, "inferenceConfig", config, params)
    tools = _tool_config(params, provider, req)
    _merge(body, "toolConfig", tools, params)
    _merge(body, "additionalModelRequestFields", extra, params)
    if params.get("system") is not None:
        body["system"] = params["system"]  # Converse's own system blocks win
    for name, value in params.items():
        if name not in _CONSUMED and value is not None:
            body[name] = value  # Converse fields: guardrailConfig, requestMetadata, ...
    return body


def _harmless(name: str, value: object) -> bool:
    """An unsupported parameter set to what Converse does anyway: one choice, plain text."""
    if name == "n":
        return value == 1
    return name == "response_format" and common.response_format(value).kind == "text"


def _merge(body: dict[str, Any], field: str, mapped: dict[str, Any], params: Any) -> None:
    """``mapped`` into ``body[field]``, with the caller's own ``field`` dict merged over it."""
    native = params.get(field)
    if native is not None and not isinstance(native, Mapping):
        raise ParameterTypeError(f"{field} must be a dict (Converse's {field})")
    merged = {**mapped, **(native or {})}
    if merged:
        body[field] = merged


def _tool_config(
    params: Mapping[str, Any], provider: str, req: CompletionRequest
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if params.get("tools") is not None:
        config["tools"] = [
            {
                "toolSpec": {
                    "name": tool.name,
                    **({"description": tool.description} if tool.description else {}),
                    "inputSchema": {"json": tool.parameters},
                }
            }
            for tool in common.function_tools(params["tools"])
        ]
    if params.get("tool_choice") is not None:
        choice = common.tool_choice(params["tool_choice"])
        if isinstance(choice, tuple):
            config["toolChoice"] = {"tool": {"name": choice[1]}}
        elif choice == "required":
            config["toolChoice"] = {"any": {}}
        elif choice == "auto":
            config["toolChoice"] = {"auto": {}}
        else:
            common.unsupported(provider, "tool_choice", req)  # Converse has no "none"
    return config


def _thinking(
    params: Mapping[str, Any],
    model: str,
    extra: dict[str, Any],
    config: dict[str, Any],
    provider: str,
    req: CompletionRequest,
) -> None:
    """reasoning_effort -> Claude's ``thinking`` budget in additionalModelRequestFields (the
    models that take one on Bedrock); maxTokens (the caller's inferenceConfig's included)
    must leave room for the answer, and defaults to the budget plus 4096."""
    effort = common.reasoning_effort(params.get("reasoning_effort"))
    if effort is None or effort == "none":
        return
    if "anthropic." not in model:
        common.unsupported(provider, "reasoning_effort", req)
        return
    budget = common.REASONING_BUDGETS[effort]
    extra["thinking"] = {"type": "enabled", "budget_tokens": budget}
    native = params.get("inferenceConfig")
    given = native.get("maxTokens") if isinstance(native, Mapping) else None
    limit: int | None
    if type(given) is int:
        limit, name = given, "inferenceConfig.maxTokens"
    else:
        limit = config.get("maxTokens")
        name = "max_completion_tokens" if "max_completion_tokens" in params else "max_tokens"
    if limit is None:
        config["maxTokens"] = budget + _ANSWER_TOKENS
    elif limit <= budget:
        raise ParameterError(
            f"{name}={limit} leaves no room for the answer: Claude counts thinking against "
            f"maxTokens, and reasoning_effort={effort!r} is a {budget}-token thinking budget, "
            f"so {name} must be greater than {budget} (or leave it out to get "
            f"{budget + _ANSWER_TOKENS})"
        )


def _messages(turns: Any, media: Mapping[str, Media]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for turn in turns:
        blocks: list[dict[str, Any]] = []
        for part in turn.parts:
            if isinstance(part, Text):
                if part.text:  # Converse rejects blank text blocks
                    blocks.append({"text": part.text})
            elif isinstance(part, Image):
                blocks.append(_image(part, media))
            elif isinstance(part, ToolCall):
                if not part.id:
                    raise ParameterError(
                        "a tool call has no id: Bedrock matches each toolResult to its toolUse "
                        "by id"
                    )
                use = {"toolUseId": part.id, "name": part.name, "input": part.arguments}
                blocks.append({"toolUse": use})
            elif isinstance(part, ToolResult):
                if not part.id:
                    raise ParameterError(
                        f"the result of tool {part.name!r} has no tool_call_id: Bedrock "
                        "matches each toolResult to its toolUse by id"
                    )
                blocks.append({"toolResult": _tool_result(part, media)})
            elif isinstance(part, Thinking):
                reasoning = _reasoning(part.block)
                if reasoning is not None:
                    blocks.append(reasoning)
        if blocks:
            out.append({"role": turn.role, "content": blocks})
    if not out:
        raise ParameterError("messages has no user or assistant content for bedrock")
    return out


def _tool_result(part: ToolResult, media: Mapping[str, Media]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    try:
        value = json.loads(part.text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        content.append({"json": value})
    elif part.text:
        content.append({"text": part.text})
    content.extend(_image(p, media) for p in part.content if isinstance(p, Image))
    return {"toolUseId": part.id, "content": content or [{"text": ""}], "status": "success"}


def _reasoning(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """A thinking block from a previous answer, sent back unchanged (signature included)."""
    if block.get("type") == "thinking":
        text: dict[str, Any] = {"text": block.get("thinking") or ""}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if block.get("type") == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data")}}
    return None


def _image(part: Image, media: Mapping[str, Media]) -> dict[str, Any]:
    if part.url is None:
        mime, data = part.mime_type or "", part.data
    elif part.url in media:
        mime, data = media[part.url].mime_type, media[part.url].data
    else:
        raise ParameterError(
            f"image URL {part.url!r} was not fetched: Bedrock takes images only as bytes, so "
            "every URL media_urls() returns must be in media"
        )
    fmt = _FORMATS.get(mime.split(";")[0].strip().lower())
    if fmt is None:
        raise ParameterError(
            f"bedrock takes png, jpeg, gif or webp images, not {mime or 'an unknown type'!r}"
        )
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def make_provider(spec: ProviderSpec) -> BedrockProvider:
    """Registry hook: the translator for ``spec``."""
    return BedrockProvider(spec)
