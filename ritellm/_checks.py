"""Checks of single argument values (messages, headers, numbers, retries, extra body
parameters): a typed ParameterError or ParameterTypeError with a clear message, before I/O.

Pure: standard library and ritellm's error tree only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ParameterError, ParameterTypeError

__all__ = [
    "check_additional",
    "check_headers",
    "check_key",
    "check_messages",
    "check_number",
    "check_retries",
    "redact_url",
]

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def check_messages(messages: object) -> list[Mapping[str, Any]]:
    """OpenAI-style messages: a non-empty list of dicts, each with a str role."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ParameterTypeError(
            "messages must be a list of dicts like {'role': 'user', 'content': '...'}, "
            f"not {type(messages).__name__}"
        )
    if not messages:
        raise ParameterError("messages must contain at least one message")
    checked: list[Mapping[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ParameterTypeError(
                f"messages[{i}] must be a dict with 'role' and 'content', "
                f"not {type(message).__name__}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise ParameterError(f"messages[{i}] has no 'role' (got {role!r})")
        checked.append(message if isinstance(message, dict) else dict(message))
    return checked


def check_additional(value: object) -> dict[str, Any]:
    """``additional_params``: a JSON object given as text or a dict, as a new dict."""
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ParameterError(f"additional_params is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ParameterError(
                f"additional_params must be a JSON object, got {type(parsed).__name__}"
            )
        return parsed
    if isinstance(value, Mapping):
        return dict(value)
    raise ParameterTypeError(
        f"additional_params must be a JSON object string or a dict, not {type(value).__name__}"
    )


# Framing and hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112 §6): the transport owns them, and
# a caller's Content-Length or Transfer-Encoding next to ours is the request-smuggling shape.
_RESERVED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "keep-alive"}
)
# RFC 9110 §5.5: a field value is visible ASCII, SP, HTAB and obs-text (0x80-0xFF), with no
# whitespace at either end. Everything else below 0x20, and DEL, is refused.
_CONTROLS = frozenset(chr(c) for c in (*range(0x20), 0x7F)) - {"\t"}


def check_headers(headers: object, argument: str = "extra_headers") -> list[tuple[bytes, bytes]]:
    """``extra_headers`` as wire-ready (name, value) pairs, checked by RFC 9110's rules.

    ``argument`` is the parameter's name in messages (``headers`` is LiteLLM's alias).

    Raises:
        ParameterTypeError: not a dict of str to str.
        ParameterError: an invalid name, a framing or hop-by-hop field, or an invalid value;
            the message names the header and never quotes its value (it may be a key).
    """
    if not isinstance(headers, Mapping):
        raise ParameterTypeError(f"{argument} must be a dict of str to str")
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ParameterTypeError(f"{argument} must be a dict of str to str")
        if not name or not _TOKEN_CHARS.issuperset(name):
            raise ParameterError(f"{argument}: {name!r} is not a valid header name")
        lowered = name.lower()
        if lowered in _RESERVED or lowered.startswith("proxy-"):
            raise ParameterError(
                f"{argument}: {name!r} is a framing or hop-by-hop field that ritellm's "
                "transport sets itself; it cannot be given (a proxy is configured with proxy=)"
            )
        if not _CONTROLS.isdisjoint(value):
            raise ParameterError(
                f"{argument}: the value of {name!r} contains a control character (CR, LF, "
                "NUL, ...); check for a stray newline"
            )
        if value != value.strip(" \t"):
            raise ParameterError(
                f"{argument}: the value of {name!r} has leading or trailing whitespace"
            )
        try:
            out.append((name.encode("ascii"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise ParameterError(f"{argument}: the value of {name!r} is not Latin-1 text") from None
    return out


def check_key(api_key: str | None) -> None:
    """An API key that can be sent in a header."""
    # A key is sent in a header: control characters would corrupt the request. The message
    # must not quote the key.
    if api_key is not None and (not api_key.isprintable() or api_key != api_key.strip()):
        raise ParameterError(
            "api_key contains whitespace or control characters (check for a stray newline)"
        )


def check_number(name: str, value: object, *, integer: bool = False) -> None:
    """Raise ParameterTypeError unless ``value`` is a number (an int with ``integer``)."""
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ParameterTypeError(f"{name} must be {kind}, not {type(value).__name__}")


def check_retries(num_retries: object, max_retries: object, default: int) -> int:
    """``num_retries`` / ``max_retries`` (aliases) as a checked count."""
    if num_retries is not None and max_retries is not None and num_retries != max_retries:
        raise ParameterError("num_retries and max_retries are aliases; pass only one")
    name, value = (
        ("num_retries", num_retries) if num_retries is not None else ("max_retries", max_retries)
    )
    if value is None:
        return default
    check_number(name, value, integer=True)
    assert isinstance(value, int)
    if value < 0:
        raise ParameterError(f"{name} must be >= 0, got {value}")
    return value


def redact_url(url: str) -> str:
    """``url`` with any password in its userinfo replaced by ``***`` (for reprs, logs and
    errors); a URL without userinfo is returned as it is."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}{slash}{tail}"
