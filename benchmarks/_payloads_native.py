"""Canned stream bodies in the two native formats that are not SSE: Ollama's NDJSON chat stream
(wire-formats §6.3) and Bedrock's ConverseStream, binary ``application/vnd.amazon.eventstream``
frames (§13.4); and the model names and AWS identity the clients use with them.

The same stream as every other format's: ``n`` content chunks of one WORD-length token each,
cycling through the same 1,000 tokens, so "sum of delta lengths == n * len(WORD)" proves that
a client read every chunk. Pure: standard library only, except that the Bedrock frames are
made with the simulator's encoder (``ritellm.testing._eventstream``, itself standard library
only and checked against botocore), imported when a Bedrock body is first built.
"""

from __future__ import annotations

import json
import random

__all__ = [
    "AWS_ACCESS_KEY_ID",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "BEDROCK_MODEL",
    "OLLAMA_MODEL",
    "bedrock_body",
    "bedrock_events",
    "ollama_body",
    "ollama_lines",
]

OLLAMA_MODEL = "llama3.2"
# A model id with a ':' as Bedrock's have: it travels percent-encoded as one path segment.
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
# Static credentials: ritellm and boto3 sign every request with them (SigV4), as in production;
# the benchmark server does not check signatures.
AWS_ACCESS_KEY_ID = "AKIABENCHMARK0000000"
AWS_SECRET_ACCESS_KEY = "benchmark/secret/0000000000000000000000000"
AWS_REGION = "us-east-1"

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _tokens() -> list[str]:
    return [f" t{i:03d}" for i in range(1000)]  # as _payloads' streams: len == len(WORD)


# -- Ollama /api/chat, NDJSON (wire-formats §6.3) ---------------------------------------------

_OLLAMA_PROMPT_TOKENS = 26
_OLLAMA_START_NS = (19 * 3600 + 22 * 60 + 45) * 10**9 + 385406455  # 19:22:45.385406455
_OLLAMA_STEP_NS = 21_000_000  # one token every 21 ms


def _stamp(ns: int) -> str:
    """``created_at`` as Ollama writes it (RFC 3339, nanoseconds), one stamp per line."""
    seconds, frac = divmod(ns, 10**9)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"2025-08-04T{hours % 24:02d}:{minutes:02d}:{seconds:02d}.{frac:09d}Z"


def ollama_lines(n: int) -> list[bytes]:
    """The lines of an Ollama chat stream with ``n`` content lines, one token each:
    ``{"model", "created_at", "message": {"role": "assistant", "content": <token>}, "done":
    false}``, then the ``done`` line (empty content, ``done_reason``, the durations and
    counts). Each line ends with ``\\n``; no SSE framing, no sentinel.

    ``created_at`` advances with each line, so lines are built one by one; cached by the
    callers (the servers build each body once)."""
    tokens = _tokens()
    lines = [
        _dumps(
            {
                "model": OLLAMA_MODEL,
                "created_at": _stamp(_OLLAMA_START_NS + i * _OLLAMA_STEP_NS),
                "message": {"role": "assistant", "content": tokens[i % 1000]},
                "done": False,
            }
        ).encode()
        + b"\n"
        for i in range(n)
    ]
    done = {
        "model": OLLAMA_MODEL,
        "created_at": _stamp(_OLLAMA_START_NS + n * _OLLAMA_STEP_NS),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 4883583458 + n * _OLLAMA_STEP_NS,
        "load_duration": 1334875,
        "prompt_eval_count": _OLLAMA_PROMPT_TOKENS,
        "prompt_eval_duration": 342546000,
        "eval_count": n,
        "eval_duration": n * _OLLAMA_STEP_NS,
    }
    return [*lines, _dumps(done).encode() + b"\n"]


def ollama_body(n: int) -> bytes:
    """The whole body of a canned Ollama stream of ``n`` content lines."""
    return b"".join(ollama_lines(n))


# -- Bedrock ConverseStream, application/vnd.amazon.eventstream (wire-formats §13.4) -----------

_BEDROCK_INPUT_TOKENS = 9
# Bedrock pads each text delta with a "p" field, a prefix of this alphabet of random length,
# so that the frame's size does not give the token's away.
_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def bedrock_events(n: int) -> list[bytes]:
    """The frames of a ConverseStream with ``n`` text deltas, in the order Bedrock sends them:
    messageStart, n contentBlockDelta (``{"contentBlockIndex": 0, "delta": {"text": <token>},
    "p": <padding>}``; a text block has no start event), contentBlockStop, messageStop
    (``end_turn``), metadata (usage and latency). Every frame carries the ``:event-type``,
    ``:content-type`` and ``:message-type`` headers and both CRCs."""
    from ritellm.testing._eventstream import event_frame

    rng = random.Random(4379)  # the same padding in every body, every run
    deltas = [
        event_frame(
            "contentBlockDelta",
            {
                "contentBlockIndex": 0,
                "delta": {"text": token},
                "p": _PAD[: rng.randint(1, len(_PAD))],
            },
        )
        for token in _tokens()
    ]
    usage = {
        "inputTokens": _BEDROCK_INPUT_TOKENS,
        "outputTokens": n,
        "totalTokens": _BEDROCK_INPUT_TOKENS + n,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }
    return [
        event_frame("messageStart", {"role": "assistant"}),
        *(deltas[i % 1000] for i in range(n)),
        event_frame("contentBlockStop", {"contentBlockIndex": 0}),
        event_frame("messageStop", {"stopReason": "end_turn"}),
        event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 380}}),
    ]


def bedrock_body(n: int) -> bytes:
    """The whole body of a canned ConverseStream of ``n`` text deltas."""
    return b"".join(bedrock_events(n))
