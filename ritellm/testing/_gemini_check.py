"""Gemini ``generateContent`` request validation for the simulator: unknown names (as protobuf
JSON rejects them, camelCase and snake_case both accepted), part kinds, roles and the function
call/response turn rules, with the API's 400 messages where known (wire-formats §5.2).
Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from ._common import text_of

__all__ = ["Invalid", "Prompt", "check"]


def _names(text: str) -> dict[str, str]:
    """Every JSON spelling protobuf accepts (lowerCamelCase and snake_case) -> snake_case."""
    out = {}
    for snake in text.split():
        head, *rest = snake.split("_")
        out[snake] = out[head + "".join(w.title() for w in rest)] = snake
    return out


_REQUEST = _names(
    "model contents system_instruction tools tool_config safety_settings generation_config "
    "cached_content labels service_tier store"
)
_GENERATION = _names(
    "temperature top_p top_k candidate_count max_output_tokens stop_sequences response_logprobs "
    "logprobs presence_penalty frequency_penalty seed response_mime_type response_schema "
    "response_json_schema response_modalities media_resolution speech_config thinking_config "
    "image_config enable_enhanced_civic_answers"
)
_THINKING = _names("include_thoughts thinking_budget thinking_level")
_CONTENT = _names("role parts")
_PART = _names(
    "text inline_data file_data function_call function_response executable_code "
    "code_execution_result tool_call tool_response thought thought_signature video_metadata "
    "part_metadata media_resolution"
)
# The part's ``data`` oneof: exactly one of these.
_DATA = frozenset(
    _names(
        "text inline_data file_data function_call function_response executable_code "
        "code_execution_result tool_call tool_response"
    ).values()
)
_CALL = _names("id name args")
_RESPONSE = _names("id name response will_continue scheduling parts")
_TOOL = _names(
    "function_declarations code_execution google_search google_search_retrieval url_context "
    "file_search computer_use google_maps retrieval enterprise_web_search mcp_servers"
)
_DECLARATION = _names(
    "name description parameters parameters_json_schema response response_json_schema behavior"
)
_FUNCTION_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}")
# Typed scalars checked, by snake_case path suffix -> (proto type, accepted Python types).
_INT = (int,)
_NUMBER = (int, float)
_SCALARS: dict[str, tuple[str, tuple[type, ...]]] = {
    "max_output_tokens": ("TYPE_INT32", _INT),
    "candidate_count": ("TYPE_INT32", _INT),
    "top_k": ("TYPE_INT32", _INT),
    "thinking_budget": ("TYPE_INT32", _INT),
    "seed": ("TYPE_INT32", _INT),
    "temperature": ("TYPE_FLOAT", _NUMBER),
    "top_p": ("TYPE_FLOAT", _NUMBER),
}


@attrs.frozen
class Prompt:
    """What a valid request tells the simulator's answer."""

    words: int
    last_user: str
    max_output_tokens: int | None


@attrs.frozen
class Invalid:
    """A 400 INVALID_ARGUMENT: the message, and BadRequest field violations (field or None,
    description) when the problem was in the JSON itself."""

    message: str
    violations: tuple[tuple[str | None, str], ...] = ()


class _Bad(Exception):
    """Internal: the first semantic problem found."""


def _unknown(obj: Mapping[str, Any], names: Mapping[str, str], at: str, out: list[Any]) -> None:
    for key in obj:
        if key not in names:
            where = f" at '{at}'" if at else ""
            out.append(
                (
                    at or None,
                    f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                    "Cannot find field.",
                )
            )


def _field(obj: Mapping[str, Any], snake: str, names: Mapping[str, str]) -> Any:
    """A field by its snake_case name, whichever spelling the request used."""
    for key, value in obj.items():
        if names.get(key) == snake:
            return value
    return None


def _typed(value: object, path: str, out: list[Any]) -> None:
    name = path.rsplit(".", 1)[-1]
    if value is None or name not in _SCALARS:
        return
    proto, kinds = _SCALARS[name]
    if not isinstance(value, kinds) or isinstance(value, bool):
        text = f"Invalid value at '{path}' ({proto}), {json.dumps(value)}"
        out.append((path, text))


def _scan(req: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """Every unknown name and mistyped scalar, as the API lists them all in one 400."""
    out: list[tuple[str | None, str]] = []
    _unknown(req, _REQUEST, "", out)
    config = _field(req, "generation_config", _REQUEST)
    if isinstance(config, dict):
        _unknown(config, _GENERATION, "generation_config", out)
        for key, value in config.items():
            _typed(value, f"generation_config.{_GENERATION.get(key, key)}", out)
        thinking = _field(config, "thinking_config", _GENERATION)
        if isinstance(thinking, dict):
            _unknown(thinking, _THINKING, "generation_config.thinking_config", out)
            budget = _field(thinking, "thinking_budget", _THINKING)
            _typed(budget, "generation_config.thinking_config.thinking_budget", out)
    turns = [("contents", i, c) for i, c in enumerate(_list(_field(req, "contents", _REQUEST)))]
    system = _field(req, "system_instruction", _REQUEST)
    if isinstance(system, dict):
        turns.append(("system_instruction", -1, system))
    for where, i, content in turns:
        at = where if i < 0 else f"{where}[{i}]"
        if not isinstance(content, dict):
            continue
        _unknown(content, _CONTENT, at, out)
        for j, part in enumerate(_list(_field(content, "parts", _CONTENT))):
            if isinstance(part, dict):
                _unknown(part, _PART, f"{at}.parts[{j}]", out)
                for snake, names in (("function_call", _CALL), ("function_response", _RESPONSE)):
                    inner = _field(part, snake, _PART)
                    if isinstance(inner, dict):
                        _unknown(inner, names, f"{at}.parts[{j}].{snake}", out)
    for k, tool in enumerate(_list(_field(req, "tools", _REQUEST))):
        if isinstance(tool, dict):
            _unknown(tool, _TOOL, f"tools[{k}]", out)
            for d, decl in enumerate(_list(_field(tool, "function_declarations", _TOOL))):
                if isinstance(decl, dict):
                    _unknown(decl, _DECLARATION, f"tools[{k}].function_declarations[{d}]", out)
    return out


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _parts(content: Mapping[str, Any], at: str) -> list[tuple[str, dict[str, Any]]]:
    """The turn's parts as (data kind, part); raises on a turn or part with no data."""
    parts = _field(content, "parts", _CONTENT)
    if not isinstance(parts, list) or not parts:
        raise _Bad(f"* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n")
    out = []
    for j, part in enumerate(parts):
        kinds = [_PART[k] for k in part if _PART.get(k) in _DATA] if isinstance(part, dict) else []
        if len(kinds) != 1:
            raise _Bad(
                f"* GenerateContentRequest.{at}.parts[{j}].data: required oneof field 'data' must "
                "have one initialized field\n"
            )
        out.append((kinds[0], part))
    return out


def _turns(contents: object) -> tuple[int, str]:
    """The conversation rules; returns the prompt's word count and the last user turn's text."""
    if not isinstance(contents, list) or not contents:
        raise _Bad("* GenerateContentRequest.contents: contents is not specified\n")
    words, last_user = 0, ""
    calls_before: int | None = None  # function calls of the turn just before, if any
    previous = ""
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise _Bad(
                f"Invalid value at 'contents[{i}]' (type.googleapis.com/Content), "
                + (json.dumps(content))
            )
        role = _field(content, "role", _CONTENT) or "user"  # a lone prompt may omit it
        if role not in ("user", "model"):
            raise _Bad("Please use a valid role: user, model.")
        parts = _parts(content, f"contents[{i}]")
        kinds = [kind for kind, _ in parts]
        calls, responses = kinds.count("function_call"), kinds.count("function_response")
        if (calls and role != "model") or (responses and role != "user"):
            wanted = "model" if calls and role != "model" else "user"
            kind = "function_call" if wanted == "model" else "function_response"
            raise _Bad(
                f"* GenerateContentRequest.contents[{i}].parts: {kind} parts are only allowed in "
                f'a "{wanted}" turn.\n'
            )
        if responses:
            if not calls_before:
                raise _Bad(
                    "Please ensure that function response turn comes immediately after a "
                    "function call turn."
                )
            if responses != calls_before:
                raise _Bad(
                    "Please ensure that the number of function response parts is equal to the "
                    "number of function call parts of the function call turn."
                )
        if calls and previous not in ("user", "response"):
            raise _Bad(
                "Please ensure that function call turn comes immediately after a user turn or "
                "after a function response turn."
            )
        calls_before = calls or None
        previous = "response" if responses else role
        text = text_of([part for _, part in parts])
        words += len(text.split())
        if role == "user":
            last_user = text
    return words, last_user


def _declarations(tools: object) -> None:
    for k, tool in enumerate(_list(tools)):
        for d, decl in enumerate(_list(_field(tool, "function_declarations", _TOOL))):
            at = f"* GenerateContentRequest.tools[{k}].function_declarations[{d}]"
            name = _field(decl, "name", _DECLARATION)
            if not name:
                raise _Bad(f"{at}.name: Name cannot be empty.\n")
            if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
                raise _Bad(
                    f"{at}.name: Invalid function name. Must start with a letter or an "
                    "underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), "
                    "colons (:), or dashes (-), with a maximum length of 64.\n"
                )
            if (
                _field(decl, "parameters", _DECLARATION) is not None
                and _field(decl, "parameters_json_schema", _DECLARATION) is not None
            ):
                raise _Bad(
                    f"{at}.parameters_json_schema: parameters and parameters_json_schema cannot "
                    "both be set.\n"
                )


def check(req: object) -> Prompt | Invalid:
    """Validate a ``generateContent`` body like the API does.

    Args:
        req: the parsed JSON body (None when it was not JSON).

    Returns:
        What the answer needs to know, or the 400 to send.
    """
    if not isinstance(req, dict):
        return Invalid("Invalid JSON payload received. Expected a JSON object.")
    found = _scan(req)
    if found:
        return Invalid("\n".join(text for _, text in found), tuple(found))
    try:
        words, last_user = _turns(_field(req, "contents", _REQUEST))
        system = _field(req, "system_instruction", _REQUEST)
        if system is not None:
            if not isinstance(system, dict):
                raise _Bad("Invalid value at 'system_instruction' (type.googleapis.com/Content)")
            words += len(text_of([p for _, p in _parts(system, "system_instruction")]).split())
        _declarations(_field(req, "tools", _REQUEST))
    except _Bad as exc:
        return Invalid(str(exc))
    config = _field(req, "generation_config", _REQUEST)
    limit = _field(config, "max_output_tokens", _GENERATION) if isinstance(config, dict) else None
    return Prompt(words=max(1, words), last_user=last_user, max_output_tokens=limit)
