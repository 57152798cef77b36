"""Canned wire bytes shared by every server: a chat.completion JSON body and OpenAI-shaped SSE
streams. Pure: standard library only, so the server process imports nothing from ritellm.

Sizes mirror what OpenAI sends (a ~230-byte chunk event, a ~500-byte completion) so that JSON
and SSE parsing costs are representative, not flattered by tiny bodies.
"""

from __future__ import annotations

import json

__all__ = [
    "COMPLETION_CONTENT",
    "MESSAGES",
    "MODEL",
    "WORD",
    "chunk_event",
    "completion_body",
    "stream_body",
    "stream_events",
]

MODEL = "gpt-4o-mini"
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
    tokens = [chunk_event({"content": f" t{i:03d}"}) for i in range(1000)]
    return [
        chunk_event({"role": "assistant", "content": ""}),
        *(tokens[i % 1000] for i in range(n)),
        chunk_event({}, "stop"),
        b"data: [DONE]\n\n",
    ]


def stream_body(n: int) -> bytes:
    """The whole body of a canned stream of ``n`` content chunks."""
    return b"".join(stream_events(n))
