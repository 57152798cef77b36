"""What Bedrock's Converse API refuses, for the simulator (wire-formats §13.2): the request
body's shape, role alternation, content blocks, tool results paired with earlier tool uses,
and SigV4 ``Authorization`` headers of the right form. Pure: stdlib and attrs only.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import attrs

__all__ = ["Invalid", "Prompt", "auth_problem", "check"]

_TOP = frozenset(
    {
        "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
        "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
        "requestMetadata", "performanceConfig",
    }
)  # fmt: skip
_BLOCKS = frozenset(
    {"text", "image", "document", "video", "toolUse", "toolResult", "guardContent",
     "cachePoint", "reasoningContent", "citationsContent"}
)  # fmt: skip
_INFERENCE = frozenset({"maxTokens", "temperature", "topP", "stopSequences"})
_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=[0-9a-f]{64}"
)
_NO_TOOL_CONFIG = (
    "The toolConfig field must be defined when using toolUse and toolResult content blocks."
)


@attrs.frozen
class Invalid:
    message: str


@attrs.frozen
class Prompt:
    words: int
    last_user: str
    max_tokens: int | None


def auth_problem(headers: dict[str, str], access_key: str) -> tuple[str, str] | None:
    """(exception name, message) for a request not signed by ``access_key`` in SigV4's form
    (or carrying it as a Bedrock API key), None when it is."""
    value = headers.get("authorization")
    if value is None:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    if value == f"Bearer {access_key}":
        return None
    found = _AUTH.fullmatch(value)
    if found is None:
        return (
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'.",
        )
    signed = found["signed"].split(";")
    date = headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or not date.startswith(found["date"]):
        return "IncompleteSignatureException", "Host and x-amz-date must be signed."
    if found["service"] != "bedrock":
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: 'bedrock'. ({found['service']})",
        )
    if found["key"] != access_key:
        return (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    return None


def check(body: Any) -> Prompt | Invalid:
    if not isinstance(body, dict):
        return Invalid("Malformed input request, please reformat your input and try again.")
    extra = sorted(set(body) - _TOP)
    if extra:
        return Invalid(f"Malformed input request: extraneous key [{extra[0]}] is not permitted")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return Invalid(
            "A conversation must start with a user message. Try again with a conversation that "
            "starts with a user message."
        )
    for block in body.get("system", []):
        if not isinstance(block, dict) or not (
            isinstance(block.get("text"), str) or "cachePoint" in block
        ):
            return Invalid("The system content blocks must each hold text.")
    config = body.get("inferenceConfig", {})
    if not isinstance(config, dict) or set(config) - _INFERENCE:
        return Invalid("Malformed input request: inferenceConfig has an extraneous key")
    limit = config.get("maxTokens")
    tools = body.get("toolConfig")
    if tools is not None:
        problem = _tool_config(tools)
        if problem:
            return Invalid(problem)
    words, last_user = 0, ""
    seen: set[str] = set()  # toolUseIds of the conversation so far
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role != ("user" if i % 2 == 0 else "assistant"):
            return Invalid(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return Invalid(f"The content field in the Message object at messages.{i} is empty.")
        for block in content:
            problem = _block(block, i, role, seen)
            if problem:
                return Invalid(problem)
            if "text" in block:
                words += len(block["text"].split())
                if role == "user":
                    last_user = block["text"]
    if seen and tools is None:  # Bedrock needs the tools of a conversation that used them
        return Invalid(_NO_TOOL_CONFIG)
    return Prompt(words, last_user, limit if isinstance(limit, int) else None)


def _tool_config(tools: Any) -> str | None:
    specs = tools.get("tools") if isinstance(tools, dict) else None
    if not isinstance(specs, list) or not specs:
        return _NO_TOOL_CONFIG
    for tool in specs:
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return "Each tool needs a toolSpec with a name."
        schema = spec.get("inputSchema")
        if not isinstance(schema, dict) or not isinstance(schema.get("json"), dict):
            return "The toolSpec inputSchema must hold a JSON schema under 'json'."
    choice = tools.get("toolChoice")
    if choice is not None and (
        not isinstance(choice, dict) or set(choice) - {"auto", "any", "tool"}
    ):
        return "toolChoice must be one of auto, any or tool."
    return None


def _block(block: Any, i: int, role: str, seen: set[str]) -> str | None:
    if not isinstance(block, dict) or len(block) != 1 or not set(block) <= _BLOCKS:
        return f"Malformed content block in messages.{i}: exactly one of {sorted(_BLOCKS)}"
    if "text" in block:
        if not isinstance(block["text"], str) or not block["text"].strip():
            return f"The text field in the ContentBlock object at messages.{i} is blank."
    elif "image" in block:
        image = block["image"]
        if not isinstance(image, dict):
            return f"Invalid image block in messages.{i}"
        source = image.get("source")
        if image.get("format") not in _FORMATS or not isinstance(source, dict):
            return f"Invalid image block in messages.{i}"
        try:
            base64.b64decode(source.get("bytes", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            return f"Invalid image bytes in messages.{i}: expected base64"
    elif "toolUse" in block:
        use = block["toolUse"]
        if (
            role != "assistant"
            or not isinstance(use, dict)
            or not isinstance(use.get("input"), dict)
        ):
            return f"Invalid toolUse block in messages.{i}"
        seen.add(str(use.get("toolUseId")))
    elif "toolResult" in block:
        result = block["toolResult"]
        if (
            role != "user"
            or not isinstance(result, dict)
            or not isinstance(result.get("content"), list)
        ):
            return f"Invalid toolResult block in messages.{i}"
        if result.get("toolUseId") not in seen:
            return (
                "The toolUseId in a toolResult block doesn't match any toolUse block in the "
                "previous turn."
            )
    return None
