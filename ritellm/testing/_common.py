"""What the simulator's provider formats share: the echo answer, word-ish tokens, tool-call
normalisation, SSE framing, the raw-body/HTML/empty replies and small error-text helpers.
Pure: stdlib, attrs and this package's pure modules; no anyio, sockets or clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import attrs

from ._replies import Reply
from ._wire import REASONS, Plan, dumps

__all__ = [
    "JSON",
    "SSE",
    "Answer",
    "Tool",
    "answer",
    "answer_of",
    "answer_text",
    "arguments_value",
    "echo",
    "frame",
    "json_str",
    "mask",
    "pad",
    "prelude",
    "reply_headers",
    "signature",
    "split",
    "text_of",
    "tools",
]

JSON = b"application/json"
SSE = b"text/event-stream; charset=utf-8"
# Cap the echo so the default answer stays short whatever the prompt size.
_ECHO_WORDS = 24
_ECHO_CHARS = 160
_HTML = (
    "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1>"
    "</center>\r\n<hr><center>ritellm-simulator</center>\r\n</body>\r\n</html>\r\n"
)
_ARGUMENT_CHARS = 8  # tool arguments stream in 8-character fragments unless chunk_size is set


def echo(last_user: str) -> str:
    """The default answer: a fixed greeting that quotes the start of the last user message."""
    words = last_user.split()
    quoted = " ".join(words[:_ECHO_WORDS])[:_ECHO_CHARS]
    return "Hello from the ritellm simulator!" + (f" You said: {quoted}" if quoted else "")


# Each word with its trailing whitespace; leading whitespace sticks to the first word.
_WORDS = re.compile(r"\s*\S+\s*|\s+")


@lru_cache(maxsize=1024)
def split(text: str, chunk_size: int | None) -> tuple[str, ...]:
    """Stream tokens: ``chunk_size`` characters, or word-ish tokens (cached: replies and
    prompts repeat, so the tokenizer runs once per distinct text, not per request)."""
    if chunk_size is not None:
        return tuple(text[i : i + chunk_size] for i in range(0, len(text), chunk_size))
    return tuple(_WORDS.findall(text))


def pad(token: str, event_size: int | None) -> str:
    """``Reply.event_size``: over-pad a streamed text token so its event is at least that big."""
    return token if event_size is None else token.ljust(event_size)


def text_of(content: object) -> str:
    """The text of a message's content: a string, or the ``text`` of each part/block."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


# (id, name, arguments as JSON text): hashable, so rendered answers can be cached.
Tool = tuple[str, str, str]


def tools(calls: list[dict[str, Any]], prefix: str | None) -> tuple[Tool, ...]:
    """Normalise ``Reply.tool_calls``: arguments become JSON text, and a call without an id
    gets a deterministic ``prefix`` + 24 hex digits (``prefix=None``: the id stays "")."""
    out = []
    for i, call in enumerate(calls):
        args = call.get("arguments", "")
        args = args if isinstance(args, str) else json.dumps(args)
        call_id = call.get("id")
        if not isinstance(call_id, str):
            call_id = ""
            if prefix is not None:
                digest = hashlib.sha1(f"{i}:{call['name']}:{args}".encode()).hexdigest()
                call_id = f"{prefix}{digest[:24]}"
        out.append((call_id, call["name"], args))
    return tuple(out)


def arguments_value(args: str) -> object:
    """Tool arguments for formats that carry them as a JSON value (Anthropic ``input``, Gemini
    ``args``): the parsed text, ``{}`` for no arguments, and the raw string when it is not
    JSON (so a client sees the bad value instead of a silently repaired one)."""
    if not args:
        return {}
    try:
        return json.loads(args)
    except ValueError:
        return args


def signature(thinking: str) -> str:
    """A deterministic stand-in for the opaque signature of an Anthropic thinking block."""
    digest = hashlib.sha256(thinking.encode()).digest()
    return base64.b64encode(b"ritellm-sim/" + digest).decode()


@attrs.frozen
class Answer:
    """A reply's answer, format-neutral: what to say, think and call, and what it costs."""

    text: str | None
    """The answer text after the limit; None when the reply only calls tools."""
    tokens: tuple[str, ...]
    """``text`` as stream tokens."""
    thinking: tuple[str, ...]
    """``Reply.reasoning`` as stream tokens (empty: no thinking)."""
    tools: tuple[Tool, ...]
    arguments: tuple[tuple[str, ...], ...]
    """Each call's arguments as stream fragments."""
    cut: bool
    """The output limit cut the text."""
    output_tokens: int
    thinking_tokens: int


@lru_cache(maxsize=256)
def answer_of(
    text: str | None,
    chunk_size: int | None,
    limit: int | None,
    reasoning: str | None,
    calls: tuple[Tool, ...],
) -> Answer:
    """The :class:`Answer` for these reply values (cached: replies repeat)."""
    tokens = split(text, chunk_size) if text is not None else ()
    cut = limit is not None and len(tokens) > limit
    if cut:
        tokens = tokens[:limit]
    thinking = split(reasoning, chunk_size) if reasoning else ()
    arguments = tuple(split(args, chunk_size or _ARGUMENT_CHARS) for _, _, args in calls)
    output = len(tokens) + len(thinking) + sum(len(a) + 1 for a in arguments)
    return Answer(
        text="".join(tokens) if text is not None else None,
        tokens=tokens,
        thinking=thinking,
        tools=calls,
        arguments=arguments,
        cut=cut,
        output_tokens=output,
        thinking_tokens=len(thinking),
    )


def answer_text(reply: Reply, calls: tuple[Tool, ...], last_user: str) -> str | None:
    """What ``reply`` says: its content, else (when it calls no tools) the echo."""
    text = reply.content
    return echo(last_user) if text is None and not calls else text


def answer(
    reply: Reply, last_user: str, limit: int | None, id_prefix: str | None, *, speak: bool = True
) -> Answer:
    """What ``reply`` answers, cut to ``limit`` text tokens: :func:`answer_text`, or with
    ``speak=False`` (a refusal) only ``Reply.content``. Tool calls without an id get
    ``id_prefix`` ids (see :func:`tools`)."""
    calls = tools(reply.tool_calls, id_prefix) if reply.tool_calls else ()
    text = answer_text(reply, calls, last_user) if speak else reply.content
    return answer_of(text, reply.chunk_size, limit, reply.reasoning, calls)


def frame(
    payloads: Sequence[bytes], reply: Reply, names: Sequence[bytes] | None = None
) -> list[bytes]:
    """SSE framing: ``[event: <name>]`` + ``data: <payload>`` + blank line per payload, with the
    reply's toggles (CRLF, keep-alive comments, one payload split over two ``data:`` lines)."""
    eol = b"\r\n" if reply.crlf else b"\n"
    head, tail = b"data: ", eol + eol
    if names is None and not (reply.split_data_lines or reply.keepalive_comments):
        return [head + p + tail for p in payloads]
    out = []
    for i, p in enumerate(payloads):
        event = b"event: " + names[i] + eol if names is not None else b""
        cut = p.find(b",") + 1 if reply.split_data_lines and p.startswith(b"{") else 0
        # Split after the first member: joined with "\n" the JSON is still valid (§1.1).
        if cut:
            event += head + p[:cut] + eol + head + p[cut:] + tail
        else:
            event += head + p + tail
        out.append(b": keep-alive" + eol + eol + event if reply.keepalive_comments and i else event)
    return out


json_str: Callable[[str], bytes] = lru_cache(maxsize=256)(dumps)


def reply_headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    """``Reply.headers`` as wire headers."""
    return [(k.encode(), v.encode()) for k, v in reply.headers.items()]


def prelude(
    reply: Reply, headers: Sequence[tuple[bytes, bytes]], extra: Sequence[tuple[bytes, bytes]]
) -> Plan | None:
    """The answers every format gives the same way: the ``html`` and ``empty`` faults and a
    raw ``Reply.body``; None when the reply needs the format's own rendering."""
    if reply.fault is None and reply.body is None:  # the usual case, first: a hot path
        return None
    if reply.fault == "html":
        status = reply.status if reply.status >= 400 else 502
        page = _HTML.format(status=f"{status} {REASONS.get(status, b'').decode()}".rstrip())
        ctype = (reply.content_type or "text/html").encode()
        return Plan(status, [(b"content-type", ctype), *extra], body=page.encode(), reply=reply)
    if reply.fault == "empty":
        return Plan(200, [(b"content-type", JSON), *headers, *extra], body=b"", reply=reply)
    if reply.body is not None:
        body = reply.body
        raw = dumps(body) if isinstance(body, dict) else body
        raw = raw.encode() if isinstance(raw, str) else raw
        ctype = (reply.content_type or "application/json").encode()
        return Plan(reply.status, [(b"content-type", ctype), *headers, *extra], raw, None, reply)
    return None


def mask(key: str) -> str:
    """A key as error messages may show it: a few characters, never a usable key."""
    return f"{key[:3]}***{key[-2:]}" if len(key) >= 10 else "***"
