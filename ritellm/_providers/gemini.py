"""Google Gemini (Generative Language API): OpenAI-shaped calls -> ``generateContent`` requests
(wire-formats §5.1-§5.2), whole responses -> ``chat.completion``, and the provider glue.

Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._error_map import error_from_response
from .._errors import ErrorInfo, ParameterError, ParameterTypeError
from .._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    HttpRequest,
    Media,
    ModelResponse,
)
from .._version import __version__
from . import NO_HEADERS, ProviderSpec, endpoint
from . import _common as common
from . import _gemini_stream as results
from ._conversation import Image, Text, ToolCall, ToolResult, conversation, image_urls
from ._framing import invalid_response, json_body
from ._gemini_stream import GeminiStreamDecoder

__all__ = ["GeminiProvider", "GeminiStreamDecoder", "make_provider"]

_USER_AGENT = f"ritellm/{__version__}".encode()
_JSON = b"application/json"

# A base URL that already names an API version is used as is; otherwise v1beta, the
# version google-genai uses (thinking, JSON-schema fields and thought signatures live there).
_VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})

# OpenAI parameters Gemini has no equivalent for.
_UNSUPPORTED = (
    *("user", "logit_bias", "store", "modalities", "audio", "prediction", "service_tier"),
    *("web_search_options", "verbosity", "prompt_cache_key", "safety_identifier", "metadata"),
    *("functions", "function_call"),
)
# OpenAI name -> generationConfig field, the value unchanged (top_k is a convenience: not
# OpenAI's, but LiteLLM users pass it). Two groups, in the order Google documents them.
_SAMPLING = (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"))
_RENAMED = (
    ("n", "candidateCount"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
    ("logprobs", "responseLogprobs"),
    ("top_logprobs", "logprobs"),
)
# Every parameter read here; any other passes into the body unchanged.
_CONSUMED = frozenset(
    {
        *_UNSUPPORTED,
        *(name for name, _ in (*_SAMPLING, *_RENAMED)),
        *("max_tokens", "max_completion_tokens", "stop", "response_format", "reasoning_effort"),
        *("tools", "tool_choice", "parallel_tool_calls", "safety_settings", "stream_options"),
        *("generationConfig", "thinking"),
    }
)
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
# reasoning_effort -> ThinkingConfig.thinkingLevel (google-genai's ThinkingLevel) for models
# after Gemini 2. Thinking cannot be turned off there, so "none" asks for the least; the
# SDK's XHIGH is not offered by every model, so "xhigh" asks for HIGH.
_LEVELS = {
    "none": "MINIMAL",
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "HIGH",
}
# A tool in Gemini's own shape ({"googleSearch": {}}, {"codeExecution": {}}, ...) has none
# of the keys of OpenAI's function-tool shape; it is passed as is.
_OPENAI_TOOL_KEYS = frozenset({"type", "function", "name"})
_PLACEHOLDER_TOOL = {"type": "function", "function": {"name": "-"}}


class GeminiProvider(common.BaseProvider):
    """Translator for ``POST {base}/v1beta/models/{model}:generateContent`` (and
    ``:streamGenerateContent?alt=sse``), authenticated by the ``x-goog-api-key`` header."""

    def media_urls(self, req: CompletionRequest) -> tuple[str, ...]:
        return image_urls(req.messages)  # Gemini cannot fetch image URLs itself

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        model = req.model.removeprefix("models/")  # the resource name; the path takes the id
        if not model:
            raise ParameterError(f"Gemini model {req.model!r} has no id after 'models/'")
        version = "" if creds.base_url.rsplit("/", 1)[-1] in _VERSIONS else "/v1beta"
        method = "streamGenerateContent" if req.stream else "generateContent"
        path = f"{version}/models/{quote(model, safe='')}:{method}"
        headers = [
            (b"Content-Type", _JSON),
            (b"Accept", b"text/event-stream" if req.stream else _JSON),
            (b"User-Agent", _USER_AGENT),
        ]
        if creds.api_key:
            # Only ever a header: a ?key= query parameter ends up in logs and error messages.
            headers.append((b"x-goog-api-key", creds.api_key.encode()))
        headers.extend(creds.headers)
        return HttpRequest(
            method=b"POST",
            url=endpoint(creds, path, "alt=sse" if req.stream else ""),
            headers=headers,
            body=common.dumps(_body(req, model, media, self.spec.name)).encode(),
        )

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
        info = results.error_info(body)
        if status < 300:
            # An error body sent with a 2xx status (a proxy, or the JSON-array stream): its
            # class and retry rule are those of the HTTP status its code names.
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
        if type(obj) is list and len(obj) == 1 and isinstance(obj[0], dict):
            obj = obj[0]  # the form errors take on the streaming endpoint without alt=sse
        if isinstance(obj, dict) and obj.get("error"):
            # An error sent with a 2xx status (a proxy; the JSON-array streaming endpoint):
            # raised as the HTTP error its code names.
            info = results.error_info(body)
            status = results.twin_status(info)
            raise error_from_response(status, headers, body, info=info, provider=self.spec.name)
        if not isinstance(obj, dict) or not obj.keys() & {"candidates", "promptFeedback"}:
            what = "response is not a GenerateContentResponse object"
            raise invalid_response(self.spec.name, status, headers, body, what)
        block = results.prompt_block(obj)
        if block is not None:  # a 200 with no candidates: never an empty success
            raise error_from_response(status, headers, body, info=block, provider=self.spec.name)
        rid = results.response_id(obj, body.decode("utf-8", "replace"))
        try:
            choices = [_choice(i, cand, rid) for i, cand in results.candidates(obj)]
        except results.Malformed as exc:
            what = f"malformed Gemini response ({exc})"
            raise invalid_response(self.spec.name, status, headers, body, what) from None
        return common.completion(
            id=rid,
            created=now,
            model=results.model_name(obj, req.model.removeprefix("models/")),
            choices=sorted(choices, key=lambda c: c.index),
            usage=results.usage_of(obj.get("usageMetadata")),
        )

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> GeminiStreamDecoder:
        options = req.params.get("stream_options")
        return GeminiStreamDecoder(
            self.spec.name,
            model=req.model.removeprefix("models/"),
            now=now,
            include_usage=isinstance(options, Mapping) and bool(options.get("include_usage")),
            max_event_bytes=max_event_bytes,
        )


def _choice(index: int, cand: Mapping[str, Any], rid: str) -> AttrDict:
    """One ``chat.completion`` choice: thought parts are reasoning_content, not content."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[AttrDict] = []
    for part in results.parts(cand):
        if "text" in part:
            (thoughts if part.get("thought") is True else texts).append(part["text"])
        elif "functionCall" in part:
            calls.append(results.tool_call(part, rid, index, len(calls)))
    content = "".join(texts)
    message = AttrDict(role="assistant", content=content or (None if calls else ""))
    if calls:
        message["tool_calls"] = calls
    if any(thoughts):
        message["reasoning_content"] = "".join(thoughts)
    message["refusal"] = None
    finish = results.finish_reason(cand.get("finishReason"), bool(calls))
    probs = results.logprobs(cand)
    return AttrDict(index=index, message=message, logprobs=probs, finish_reason=finish)


def _body(
    req: CompletionRequest, model: str, media: Mapping[str, Media], provider: str
) -> dict[str, Any]:
    params = req.params
    for name in _UNSUPPORTED:
        if params.get(name) is not None:
            common.unsupported(provider, name, req)
    if params.get("parallel_tool_calls") is False:
        # Gemini decides how many calls to make; it cannot be held to one per turn.
        common.unsupported(provider, "parallel_tool_calls", req)
    options = params.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise ParameterTypeError("stream_options must be a dict like {'include_usage': True}")
    system, contents = _contents(req, media)
    body: dict[str, Any] = {"systemInstruction": {"parts": system}} if system else {}
    body["contents"] = contents
    if params.get("tools") is not None:
        tools = _tools(params["tools"])
        if tools:
            body["tools"] = tools
    if params.get("tool_choice") is not None:
        picked = common.tool_choice(params["tool_choice"])
        if isinstance(picked, tuple):
            config = {"mode": "ANY", "allowedFunctionNames": [picked[1]]}
        else:
            config = {"mode": _MODES[picked]}
        body["toolConfig"] = {"functionCallingConfig": config}
    generation = _generation_config(params, model)
    native = params.get("generationConfig")
    if native is not None:
        if not isinstance(native, Mapping):
            raise ParameterTypeError("generationConfig must be a dict (Gemini's GenerationConfig)")
        generation.update(native)  # the caller's native fields win over mapped ones
    if generation:
        body["generationConfig"] = generation
    if params.get("safety_settings") is not None:
        body["safetySettings"] = params["safety_settings"]  # LiteLLM's name for it
    for name, value in params.items():
        if name not in _CONSUMED:
            body[name] = value  # Gemini-native fields: safetySettings, cachedContent, ...
    return body


def _generation_config(params: Mapping[str, Any], model: str) -> dict[str, Any]:
    config = {field: params[name] for name, field in _SAMPLING if params.get(name) is not None}
    limit = common.max_tokens(params)
    if limit is not None:
        config["maxOutputTokens"] = limit
    if params.get("stop") is not None:
        stop = common.stop_sequences(params["stop"])
        if stop:
            config["stopSequences"] = stop
    for name, field in _RENAMED:
        if params.get(name) is not None:
            config[field] = params[name]
    if params.get("response_format") is not None:
        fmt = common.response_format(params["response_format"])
        if fmt.kind != "text":
            config["responseMimeType"] = "application/json"
        if fmt.schema is not None:
            config["responseJsonSchema"] = fmt.schema  # JSON Schema as is, not OpenAPI's
    thinking = _thinking_config(params, model)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(params: Mapping[str, Any], model: str) -> dict[str, Any] | None:
    native = params.get("thinking")  # Anthropic's form, which LiteLLM users pass to any model
    if native is not None:
        kind = native.get("type") if isinstance(native, Mapping) else None
        budget = native.get("budget_tokens") if isinstance(native, Mapping) else None
        if kind == "disabled":
            return {"thinkingBudget": 0}
        if kind == "enabled" and type(budget) is int:
            return {"thinkingBudget": budget, "includeThoughts": True}
        raise ParameterError(
            "thinking must be {'type': 'enabled', 'budget_tokens': N} or {'type': 'disabled'} "
            "for gemini (or use reasoning_effort)"
        )
    effort = common.reasoning_effort(params.get("reasoning_effort"))
    if effort is None:
        return None
    # Gemini 1.x/2.x take a token budget (0 turns thinking off); later models take a
    # thinkingLevel (google-genai's ThinkingConfig: from Gemini 3.5 a budget is an error).
    if model.startswith(("gemini-1", "gemini-2")):
        budget = 0 if effort == "none" else common.REASONING_BUDGETS[effort]
        return {"thinkingBudget": budget, "includeThoughts": True}
    return {"thinkingLevel": _LEVELS[effort], "includeThoughts": True}


def _tools(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        common.function_tools(value)  # raises its ParameterTypeError
    assert isinstance(value, list)
    native = [isinstance(t, Mapping) and not t.keys() & _OPENAI_TOOL_KEYS for t in value]
    # Native tools are checked as a placeholder, so that errors still name the right tools[i].
    checked = common.function_tools(
        [_PLACEHOLDER_TOOL if is_native else t for is_native, t in zip(native, value, strict=True)]
    )
    declarations = []
    for is_native, tool in zip(native, checked, strict=True):
        if not is_native:
            # FunctionDeclaration.parametersJsonSchema takes JSON Schema as is (its
            # ``parameters`` takes only an OpenAPI subset).
            declaration: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                declaration["description"] = tool.description
            declaration["parametersJsonSchema"] = tool.parameters
            declarations.append(declaration)
    out = [{"functionDeclarations": declarations}] if declarations else []
    return out + [dict(t) for is_native, t in zip(native, value, strict=True) if is_native]


def _contents(
    req: CompletionRequest, media: Mapping[str, Media]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    conv = conversation(req.messages)
    contents: list[dict[str, Any]] = []
    for turn in conv.turns:
        role = "model" if turn.role == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        for part in turn.parts:
            if isinstance(part, Text | Image):
                _content_part(part, parts, media)
            elif isinstance(part, ToolCall):
                # No id: Gemini matches results to calls by name and order, and the ids we
                # synthesised for its calls would mean nothing to it.
                call: dict[str, Any] = {"functionCall": {"name": part.name, "args": part.arguments}}
                signature = part.extra.get("thought_signature")
                if isinstance(signature, str) and signature:
                    call["thoughtSignature"] = signature
                parts.append(call)
            elif isinstance(part, ToolResult):
                response = {"name": part.name, "response": _tool_response(part.text)}
                parts.append({"functionResponse": response})
                # functionResponse holds JSON only: the tool's images follow it in the turn.
                for item in part.content:
                    if isinstance(item, Image):
                        _content_part(item, parts, media)
            # Thinking blocks are Anthropic's, signed for Anthropic: nothing to send here.
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            # Same role twice: the turn between them had nothing Gemini can take.
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        raise ParameterError(
            "messages has no user or assistant content: Gemini needs at least one message "
            "besides system instructions"
        )
    return [{"text": t.text} for t in conv.system if t.text], contents


def _content_part(
    part: Text | Image, out: list[dict[str, Any]], media: Mapping[str, Media]
) -> None:
    if isinstance(part, Text):
        if part.text:  # Gemini rejects empty text parts
            out.append({"text": part.text})
    elif part.url is None:
        out.append({"inlineData": {"mimeType": part.mime_type, "data": part.data}})
    elif part.url in media:
        fetched = media[part.url]
        out.append({"inlineData": {"mimeType": fetched.mime_type, "data": fetched.data}})
    else:
        raise ParameterError(
            f"image URL {part.url!r} was not fetched: Gemini takes images inline, so every "
            "URL media_urls() returns must be in media"
        )


def _tool_response(text: str) -> dict[str, Any]:
    # functionResponse.response must be a JSON object: a tool that answered with one is
    # passed as is, any other answer is wrapped.
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": text}


def make_provider(spec: ProviderSpec) -> GeminiProvider:
    """Registry hook: the translator for ``spec``."""
    return GeminiProvider(spec)
