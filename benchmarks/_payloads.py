"""Canned wire bytes shared by every server: a chat.completion JSON body and SSE streams in
OpenAI's, Anthropic's and Gemini's formats. Pure: standard library only, so the server process
imports nothing from ritellm.

Sizes mirror what each provider sends (OpenAI: a ~230-byte chunk event and a ~500-byte
completion; Anthropic: a 120-byte ``content_block_delta`` event; Gemini: a ~350-byte
GenerateContentResponse per chunk) so that JSON and SSE parsing costs are representative, not
flattered by tiny bodies.
"""

from __future__ import annotations

import json

__all__ = [
    "ANTHROPIC_MODEL",
    "COMPLETION_CONTENT",
    "GEMINI_MODEL",
    "MESSAGES",
    "MODEL",
    "WORD",
    "anthropic_body",
    "anthropic_events",
    "chunk_event",
    "completion_body",
    "gemini_body",
    "gemini_events",
    "stream_body",
    "stream_events",
]

MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-6"
GEMINI_MODEL = "gemini-2.5-flash"  # also part of the Gemini route's path (nginx's file name)
MESSAGES = [{"role": "user", "content": "Say hello and tell me a short story."}]
# Every streamed content chunk carries a token of this length, so "sum of delta lengths ==
# N * len(WORD)" proves that a client really read every chunk. The tokens cycle through 1,000
# distinct values: LiteLLM aborts a stream that repeats one chunk too often.
WORD = " t000"
COMPLETION_CONTENT = (
    "Hello! Once upon a time, a small benchmark measured a client against the floor of its "
    "own stack, and the numbers told the truth."
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_ID = "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
_CREATED = 1741569952
_WIRE_MODEL = "gpt-4o-mini-2024-07-18"


def completion_body() -> bytes:
    """A non-streaming ``chat.completion`` body whose message content is COMPLETION_CONTENT."""
    return _dumps(
        {
            "id": _ID,
            "object": "chat.completion",
            "created": _CREATED,
            "model": _WIRE_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": COMPLETION_CONTENT,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 19,
                "completion_tokens": 28,
                "total_tokens": 47,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_06737a9306",
        }
    ).encode()


def chunk_event(delta: dict[str, str], finish_reason: str | None = None) -> bytes:
    """One ``data: {chat.completion.chunk}\\n\\n`` SSE event."""
    obj = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": _WIRE_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    return b"data: " + _dumps(obj).encode() + b"\n\n"


def stream_events(n: int) -> list[bytes]:
    """The events of a stream with ``n`` content chunks: a role chunk, n content chunks,
    a finish chunk and ``[DONE]`` (what OpenAI sends, minus the optional usage chunk)."""
    tokens = [chunk_event({"content": token}) for token in _tokens()]
    return [
        chunk_event({"role": "assistant", "content": ""}),
        *(tokens[i % 1000] for i in range(n)),
        chunk_event({}, "stop"),
        b"data: [DONE]\n\n",
    ]


def stream_body(n: int) -> bytes:
    """The whole body of a canned stream of ``n`` content chunks."""
    return b"".join(stream_events(n))


def _tokens() -> list[str]:
    return [f" t{i:03d}" for i in range(1000)]


# -- Anthropic Messages (wire-formats §4.4-§4.5) ---------------------------------------------

_ANTHROPIC_ID = "msg_01Pvyf26bY17RcjmWfJsXGBn"
_ANTHROPIC_WIRE_MODEL = "claude-sonnet-4-6"
_ANTHROPIC_INPUT_TOKENS = 18


def _anthropic_event(name: str, obj: object) -> bytes:
    """``event: <name>`` / ``data: <json>`` / blank line: every Anthropic event has both."""
    return b"event: %s\ndata: %s\n\n" % (name.encode(), _dumps(obj).encode())


def _anthropic_usage(output_tokens: int) -> dict[str, object]:
    return {
        "input_tokens": _ANTHROPIC_INPUT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def anthropic_events(n: int) -> list[bytes]:
    """The events of a Messages stream with ``n`` text deltas, in the order the API sends
    them: message_start, content_block_start, ping, n content_block_delta (text_delta, one
    token each), content_block_stop, message_delta (stop reason, cumulative usage),
    message_stop. No ``[DONE]``: the body simply ends."""
    message: dict[str, object] = {
        "id": _ANTHROPIC_ID,
        "type": "message",
        "role": "assistant",
        "model": _ANTHROPIC_WIRE_MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": _ANTHROPIC_INPUT_TOKENS,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 1,
            "service_tier": "standard",
        },
    }
    deltas = [
        _anthropic_event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": token},
            },
        )
        for token in _tokens()
    ]
    return [
        _anthropic_event("message_start", {"type": "message_start", "message": message}),
        _anthropic_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',  # byte for byte as captured (§4.5)
        *(deltas[i % 1000] for i in range(n)),
        _anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": _anthropic_usage(n),
            },
        ),
        _anthropic_event("message_stop", {"type": "message_stop"}),
    ]


def anthropic_body(n: int) -> bytes:
    """The whole body of a canned Anthropic stream of ``n`` text deltas."""
    return b"".join(anthropic_events(n))


# -- Gemini streamGenerateContent?alt=sse (wire-formats §5.6) --------------------------------

_GEMINI_RESPONSE_ID = "AdVRaMmDCYekqtsPrb_-iAw"
_GEMINI_PROMPT_TOKENS = 9
_GEMINI_THOUGHTS_TOKENS = 658  # gemini-2.5-flash thinks by default; counted on every chunk
# The captured transcript's own spacing: ": " after keys, none after commas.
_gemini_dumps = json.JSONEncoder(separators=(",", ": "), ensure_ascii=False).encode


def _gemini_event(token: str, produced: int, finish: bool) -> bytes:
    candidate: dict[str, object] = {"content": {"parts": [{"text": token}], "role": "model"}}
    if finish:
        candidate["finishReason"] = "STOP"
    candidate["index"] = 0
    obj = {
        "candidates": [candidate],
        "usageMetadata": {  # cumulative, repeated on every chunk
            "promptTokenCount": _GEMINI_PROMPT_TOKENS,
            "candidatesTokenCount": produced,
            "totalTokenCount": _GEMINI_PROMPT_TOKENS + produced + _GEMINI_THOUGHTS_TOKENS,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": _GEMINI_PROMPT_TOKENS}],
            "thoughtsTokenCount": _GEMINI_THOUGHTS_TOKENS,
        },
        "modelVersion": GEMINI_MODEL,
        "responseId": _GEMINI_RESPONSE_ID,
    }
    # Gemini's native SSE separates events with CRLF (wire-formats §5.6).
    return b"data: " + _gemini_dumps(obj).encode() + b"\r\n\r\n"


def gemini_events(n: int) -> list[bytes]:
    """The events of a Gemini stream with ``n`` chunks, one token each: every event a whole
    GenerateContentResponse (candidates/content/parts/role, cumulative usageMetadata,
    modelVersion, responseId), ``finishReason: "STOP"`` on the last one, no ``[DONE]``.

    usageMetadata counts grow with each chunk, so events are built per chunk; cached by the
    callers (the servers build each body once)."""
    tokens = _tokens()
    return [_gemini_event(tokens[i % 1000], i + 1, i == n - 1) for i in range(n)]


def gemini_body(n: int) -> bytes:
    """The whole body of a canned Gemini stream of ``n`` chunks."""
    return b"".join(gemini_events(n))
