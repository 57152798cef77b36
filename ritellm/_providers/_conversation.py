"""OpenAI chat messages -> a provider-neutral conversation (system text + alternating turns of
typed parts), so each native translator maps parts, not OpenAI's message quirks.

Pure: standard library, attrs and ritellm's pure modules only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._errors import ParameterError, ParameterTypeError

__all__ = [
    "Conversation",
    "Image",
    "Part",
    "Text",
    "Thinking",
    "ToolCall",
    "ToolResult",
    "Turn",
    "conversation",
    "image_urls",
    "parse_data_url",
]


@attrs.frozen(kw_only=True)
class Text:
    text: str
    # Provider-specific fields of the part, kept as given (e.g. Anthropic's cache_control).
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Image:
    """An image part: inline (``data`` is base64, ``mime_type`` set) or by ``url``."""

    mime_type: str | None = None
    data: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ToolCall:
    """A call the assistant made; ``arguments`` is the parsed JSON object."""

    id: str | None
    name: str
    arguments: dict[str, Any]
    # The tool call's ``provider_specific_fields`` (e.g. Gemini's thought_signature).
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ToolResult:
    """A tool's answer; ``name`` is looked up from the assistant call it answers."""

    id: str | None
    name: str
    content: tuple[Text | Image, ...]
    # The content exactly as given when it was a plain string (providers that take text).
    text: str


@attrs.frozen(kw_only=True)
class Thinking:
    """A reasoning block the assistant produced, to be sent back unchanged (Anthropic's
    ``thinking`` / ``redacted_thinking``, from the message's ``thinking_blocks``)."""

    block: Mapping[str, Any]


Part = Text | Image | ToolCall | ToolResult | Thinking


@attrs.frozen(kw_only=True)
class Turn:
    role: str  # "user" or "assistant"
    parts: tuple[Part, ...]


@attrs.frozen(kw_only=True)
class Conversation:
    system: tuple[Text, ...]
    turns: tuple[Turn, ...]


def parse_data_url(url: str, where: str) -> tuple[str, str]:
    """``data:<mime>;base64,<data>`` -> (mime, base64 data).

    Raises:
        ParameterError: not a base64 data URL.
    """
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise ParameterError(f"{where}: expected a data:<mime>;base64,... URL or an http(s) URL")
    mime = head[5:-7] or "application/octet-stream"
    return mime, data


def image_urls(messages: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The http(s) image URLs in the messages (tool results' included), in order, each once:
    what a format that takes images only inline needs fetched."""
    if not any(type(m.get("content")) is list for m in messages):
        return ()  # only lists of content parts hold images
    found: dict[str, None] = {}
    for turn in conversation(messages).turns:
        for part in turn.parts:
            for item in part.content if isinstance(part, ToolResult) else (part,):
                if isinstance(item, Image) and item.url is not None:
                    found.setdefault(item.url)
    return tuple(found)


def conversation(messages: Sequence[Mapping[str, Any]]) -> Conversation:
    """Translate OpenAI chat messages (already checked to be dicts with a role).

    ``system``/``developer`` messages (anywhere) become the system text, in order; ``user``
    and ``tool`` messages become user turns, ``assistant`` messages assistant turns, and
    consecutive turns of the same role are merged (providers that need alternation get it).

    Raises:
        ParameterError / ParameterTypeError: a message the providers cannot express, naming
            it as ``messages[i]``.
    """
    system: list[Text] = []
    turns: list[tuple[str, list[Part]]] = []
    names: dict[str, str] = {}  # tool_call id -> function name, from assistant turns

    def add(role: str, parts: list[Part]) -> None:
        if not parts:
            return
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(parts)
        else:
            turns.append((role, parts))

    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message["role"]
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(p for p in _parts(content, where, images=False) if isinstance(p, Text))
        elif role == "user":
            add("user", _with_cache_control(_parts(content, where, images=True), message))
        elif role == "assistant":
            add("assistant", _assistant(message, where, names))
        elif role in ("tool", "function"):
            add("user", [_tool_result(message, where, names)])
        else:
            raise ParameterError(
                f"{where} has role {role!r}; expected system, developer, user, assistant or tool"
            )
    return Conversation(
        system=tuple(system), turns=tuple(Turn(role=r, parts=tuple(p)) for r, p in turns)
    )


def _parts(content: object, where: str, *, images: bool) -> list[Text | Image]:
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    if not isinstance(content, list):
        raise ParameterTypeError(
            f"{where}.content must be a string or a list of content parts, "
            f"not {type(content).__name__}"
        )
    out: list[Text | Image] = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, Mapping):
            raise ParameterTypeError(f"{at} must be a dict, not {type(part).__name__}")
        kind = part.get("type")
        extra = {k: v for k, v in part.items() if k not in ("type", "text", "image_url")}
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise ParameterTypeError(f"{at}.text must be a string")
            out.append(Text(text=text, extra=extra))
        elif kind == "image_url" and images:
            out.append(_image(part.get("image_url"), at, extra))
        else:
            what = "text parts" if not images else "text and image_url parts"
            raise ParameterError(f"{at} has type {kind!r}; only {what} are supported here")
    return out


def _image(spec: object, where: str, extra: dict[str, Any]) -> Image:
    url = spec.get("url") if isinstance(spec, Mapping) else spec
    if not isinstance(url, str) or not url:
        raise ParameterError(f"{where}.image_url must be {{'url': 'data:... or http(s)://...'}}")
    if url.startswith("data:"):
        mime, data = parse_data_url(url, f"{where}.image_url.url")
        return Image(mime_type=mime, data=data, extra=extra)
    if not url.startswith(("http://", "https://")):
        raise ParameterError(f"{where}.image_url.url must be a data: URL or an http(s) URL")
    return Image(url=url, extra=extra)


def _with_cache_control(parts: list[Text | Image], message: Mapping[str, Any]) -> list[Part]:
    # LiteLLM accepts cache_control on the message itself: it applies to the last part.
    marker = message.get("cache_control")
    if marker is None or not parts:
        return list(parts)
    last = parts[-1]
    return [*parts[:-1], attrs.evolve(last, extra={**last.extra, "cache_control": marker})]


def _assistant(message: Mapping[str, Any], where: str, names: dict[str, str]) -> list[Part]:
    parts: list[Part] = []
    blocks = message.get("thinking_blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
            raise ParameterTypeError(f"{where}.thinking_blocks must be a list of dicts")
        parts.extend(Thinking(block=b) for b in blocks)
    parts.extend(_parts(message.get("content"), where, images=False))
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise ParameterTypeError(f"{where}.tool_calls must be a list")
        for j, call in enumerate(calls):
            parts.append(_tool_call(call, f"{where}.tool_calls[{j}]", names))
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping):
        parts.append(_tool_call({"function": legacy}, f"{where}.function_call", names))
    return parts


def _tool_call(call: object, where: str, names: dict[str, str]) -> ToolCall:
    if not isinstance(call, Mapping):
        raise ParameterTypeError(f"{where} must be a dict")
    function = call.get("function")
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise ParameterError(f"{where} must have function.name")
    name: str = function["name"]
    raw = function.get("arguments")
    if raw is None or raw == "":
        arguments: Any = {}
    elif isinstance(raw, Mapping):
        arguments = dict(raw)
    elif isinstance(raw, str):
        try:
            arguments = json.loads(raw)
        except ValueError:
            raise ParameterError(
                f"{where}.function.arguments is not valid JSON: {raw[:60]!r}"
            ) from None
    else:
        raise ParameterTypeError(f"{where}.function.arguments must be a JSON string")
    if not isinstance(arguments, dict):
        raise ParameterError(f"{where}.function.arguments must be a JSON object")
    call_id = call.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise ParameterTypeError(f"{where}.id must be a string")
    if call_id:
        names[call_id] = name
    extra = call.get("provider_specific_fields")
    return ToolCall(
        id=call_id or None,
        name=name,
        arguments=arguments,
        extra=dict(extra) if isinstance(extra, Mapping) else {},
    )


def _tool_result(message: Mapping[str, Any], where: str, names: dict[str, str]) -> ToolResult:
    call_id = message.get("tool_call_id")
    if call_id is not None and not isinstance(call_id, str):
        raise ParameterTypeError(f"{where}.tool_call_id must be a string")
    name = message.get("name")
    if call_id and call_id in names:
        name = names[call_id]
    if not isinstance(name, str) or not name:
        if message["role"] == "tool" and not call_id:
            raise ParameterError(f"{where} (role 'tool') needs a tool_call_id")
        raise ParameterError(
            f"{where} answers tool_call_id {call_id!r}, which no earlier assistant message "
            "made (add that assistant message with its tool_calls, or give the tool's 'name')"
        )
    content = message.get("content")
    parts = tuple(_parts(content, where, images=True))
    text = (
        content
        if isinstance(content, str)
        else "".join(p.text for p in parts if isinstance(p, Text))
    )
    return ToolResult(id=call_id or None, name=name, content=parts, text=text)
