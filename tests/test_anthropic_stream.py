"""Tests for the Anthropic stream decoder (ritellm._providers._anthropic_stream) on the
wire-formats §4.5-§4.9 transcripts, under every split of the bytes, with exact chunk lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import ritellm
from ritellm._providers import PROVIDERS
from ritellm._providers._anthropic_stream import AnthropicStreamDecoder
from ritellm._providers.anthropic import AnthropicProvider
from ritellm._types import AttrDict, CompletionRequest, ModelResponseStream

NOW = 1_760_000_000
FALLBACK_MODEL = "claude-requested"


def event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


def stream(*events: tuple[str, str]) -> bytes:
    return b"".join(event(name, data) for name, data in events)


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, one byte at a time, and every two-piece split."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def decoder(*, include_usage: bool = False, **kwargs: Any) -> AnthropicStreamDecoder:
    return AnthropicStreamDecoder(
        "anthropic", model=FALLBACK_MODEL, created=NOW, include_usage=include_usage, **kwargs
    )


def decode(pieces: list[bytes], *, include_usage: bool = False) -> list[ModelResponseStream]:
    dec = decoder(include_usage=include_usage)
    chunks: list[ModelResponseStream] = []
    for piece in pieces:
        chunks.extend(dec.feed(piece))
    assert dec.done
    chunks.extend(dec.close())
    return chunks


def assert_every_split(data: bytes, expected: list[Any], *, include_usage: bool = False) -> None:
    for pieces in splits(data):
        assert decode(pieces, include_usage=include_usage) == expected, pieces


def decode_until_error(
    pieces: list[bytes],
) -> tuple[list[ModelResponseStream], ritellm.StreamError]:
    dec = decoder()
    chunks: list[ModelResponseStream] = []
    try:
        for piece in pieces:
            chunks.extend(dec.feed(piece))
        chunks.extend(dec.close())
    except ritellm.StreamError as exc:
        return chunks, exc
    raise AssertionError("no StreamError")


class Expect:
    """Builds the chunks a transcript must decode to."""

    def __init__(self, id: str, model: str) -> None:
        self.id = id
        self.model = model

    def __call__(self, finish: str | None = None, **delta: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": NOW,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def usage(self, **usage: Any) -> dict[str, Any]:
        out = self(None)
        out["choices"] = []
        out["usage"] = usage
        return out


# --- §4.5: text -----------------------------------------------------------------------------

START_45 = (
    "message_start",
    '{"type":"message_start","message":{"id":"msg_01Pvyf26bY17RcjmWfJsXGBn","type":"message",'
    '"role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,'
    '"stop_sequence":null,"usage":{"input_tokens":18,"cache_creation_input_tokens":0,'
    '"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}',
)
TEXT_BLOCK = (
    "content_block_start",
    '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
)
PING = ("ping", '{"type": "ping"}')
HELLO = (
    "content_block_delta",
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}',
)
HELP = (
    "content_block_delta",
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    '"text":"! How can I help?"}}',
)
STOP_0 = ("content_block_stop", '{"type":"content_block_stop","index":0}')
DELTA_45 = (
    "message_delta",
    '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    '"usage":{"output_tokens":12}}',
)
MESSAGE_STOP = ("message_stop", '{"type":"message_stop"}')
EVENTS_45 = [START_45, TEXT_BLOCK, PING, HELLO, HELP, STOP_0, DELTA_45, MESSAGE_STOP]
TEXT_45 = stream(*EVENTS_45)
E45 = Expect("msg_01Pvyf26bY17RcjmWfJsXGBn", "claude-sonnet-4-20250514")
CHUNKS_45 = [
    E45(role="assistant", content="Hello"),
    E45(content="! How can I help?"),
    E45("stop"),
]
USAGE_45 = E45.usage(
    prompt_tokens=18,
    completion_tokens=12,
    total_tokens=30,
    prompt_tokens_details={"cached_tokens": 0},
    cache_creation_input_tokens=0,
    cache_read_input_tokens=0,
)


def test_text_transcript_4_5_under_every_split() -> None:
    assert_every_split(TEXT_45, CHUNKS_45)


def test_text_transcript_4_5_with_usage_under_every_split() -> None:
    assert_every_split(TEXT_45, [*CHUNKS_45, USAGE_45], include_usage=True)


def test_chunks_are_typed_with_attribute_access_at_every_level() -> None:
    chunks = decode([TEXT_45], include_usage=True)
    assert all(type(c) is ModelResponseStream for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == "Hello"
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 0
    json.dumps(chunks)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            assert isinstance(value, AttrDict)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(chunks)


def test_provider_stream_decoder_reads_include_usage() -> None:
    provider = AnthropicProvider(PROVIDERS["anthropic"])
    for options, expected in (
        ({"stream_options": {"include_usage": True}}, [*CHUNKS_45, USAGE_45]),
        ({"stream_options": {"include_usage": False}}, CHUNKS_45),
        ({}, CHUNKS_45),
    ):
        req = CompletionRequest(model="claude-x", messages=[], params=options, stream=True)
        dec = provider.stream_decoder(req, now=NOW, max_event_bytes=1 << 20)
        assert dec.feed(TEXT_45) + dec.close() == expected
        assert provider.stream_decoder(req, now=NOW, max_event_bytes=1 << 20) is not dec


def test_done_only_at_message_stop() -> None:
    dec = decoder()
    head, tail = TEXT_45.split(b"event: message_stop")
    assert dec.feed(head) == CHUNKS_45[:2]
    assert dec.done is False
    assert dec.feed(b"event: message_stop" + tail) == CHUNKS_45[2:]
    assert dec.done is True
    assert dec.close() == []


def test_events_after_message_stop_are_ignored() -> None:
    late = [HELLO, ("error", '{"type":"error","error":{"type":"api_error","message":"x"}}')]
    assert_every_split(stream(*EVENTS_45, *late) + b"data: {bad\n\n", CHUNKS_45)


# --- §4.6: text then tool use ---------------------------------------------------------------

EVENTS_46 = [
    (
        "message_start",
        '{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message",'
        '"role":"assistant","model":"claude-opus-4-1-20250805","stop_sequence":null,'
        '"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}',
    ),
    TEXT_BLOCK,
    PING,
    (
        "content_block_delta",
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
        '"text":"Okay, let\'s check the weather for San Francisco, CA:"}}',
    ),
    STOP_0,
    (
        "content_block_start",
        '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use",'
        '"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}',
    ),
    (
        "content_block_delta",
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
        '"partial_json":""}}',
    ),
    (
        "content_block_delta",
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
        '"partial_json":"{\\"location\\":"}}',
    ),
    (
        "content_block_delta",
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
        '"partial_json":" \\"San Francisco, CA\\""}}',
    ),
    (
        "content_block_delta",
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
        '"partial_json":", \\"unit\\": \\"fahrenheit\\"}"}}',
    ),
    ("content_block_stop", '{"type":"content_block_stop","index":1}'),
    (
        "message_delta",
        '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
        '"usage":{"output_tokens":89}}',
    ),
    MESSAGE_STOP,
]
E46 = Expect("msg_014p7gG3wDgGV9EUtLvnow3U", "claude-opus-4-1-20250805")


def fragment(index: int, arguments: str) -> dict[str, Any]:
    return {"index": index, "function": {"arguments": arguments}}


def first_fragment(index: int, id: str, name: str, arguments: str = "") -> dict[str, Any]:
    function = {"name": name, "arguments": arguments}
    return {"index": index, "id": id, "type": "function", "function": function}


CHUNKS_46 = [
    E46(role="assistant", content="Okay, let's check the weather for San Francisco, CA:"),
    E46(tool_calls=[first_fragment(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")]),
    E46(tool_calls=[fragment(0, '{"location":')]),
    E46(tool_calls=[fragment(0, ' "San Francisco, CA"')]),
    E46(tool_calls=[fragment(0, ', "unit": "fahrenheit"}')]),
    E46("tool_calls"),
]


def test_tool_transcript_4_6_under_every_split() -> None:
    data = stream(*EVENTS_46)
    assert_every_split(data, CHUNKS_46)
    usage = E46.usage(prompt_tokens=472, completion_tokens=89, total_tokens=561)
    assert_every_split(data, [*CHUNKS_46, usage], include_usage=True)
    arguments = "".join(
        call["function"]["arguments"]
        for chunk in CHUNKS_46
        for call in chunk["choices"][0]["delta"].get("tool_calls", ())
    )
    assert json.loads(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}


def tool_block(index: int, id: str, name: str) -> tuple[str, str]:
    block = {"type": "tool_use", "id": id, "name": name, "input": {}}
    return (
        "content_block_start",
        json.dumps({"type": "content_block_start", "index": index, "content_block": block}),
    )


def json_delta(index: int, partial: str) -> tuple[str, str]:
    delta = {"type": "input_json_delta", "partial_json": partial}
    return (
        "content_block_delta",
        json.dumps({"type": "content_block_delta", "index": index, "delta": delta}),
    )


def block_stop(index: int) -> tuple[str, str]:
    return ("content_block_stop", json.dumps({"type": "content_block_stop", "index": index}))


def message_delta(stop_reason: str | None, **usage: Any) -> tuple[str, str]:
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    return ("message_delta", json.dumps({"type": "message_delta", "delta": delta, "usage": usage}))


START = (
    "message_start",
    '{"type":"message_start","message":{"id":"msg_X","type":"message","role":"assistant",'
    '"model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,'
    '"usage":{"input_tokens":3,"cache_creation_input_tokens":4,"cache_read_input_tokens":5,'
    '"output_tokens":1}}}',
)
EX = Expect("msg_X", "claude-haiku-4-5")


def test_tool_calls_keep_stable_indexes_and_empty_arguments_become_braces() -> None:
    data = stream(
        START,
        tool_block(0, "toolu_a", "now"),
        json_delta(0, ""),
        block_stop(0),
        tool_block(1, "toolu_b", "add"),
        json_delta(1, '{"a": 1'),
        tool_block(2, "toolu_c", "noop"),  # interleaved blocks keep their own index
        json_delta(1, ', "b": 2}'),
        block_stop(2),
        block_stop(1),
        message_delta("tool_use", output_tokens=30),
        MESSAGE_STOP,
    )
    assert_every_split(
        data,
        [
            EX(role="assistant", tool_calls=[first_fragment(0, "toolu_a", "now")]),
            EX(tool_calls=[fragment(0, "{}")]),
            EX(tool_calls=[first_fragment(1, "toolu_b", "add")]),
            EX(tool_calls=[fragment(1, '{"a": 1')]),
            EX(tool_calls=[first_fragment(2, "toolu_c", "noop")]),
            EX(tool_calls=[fragment(1, ', "b": 2}')]),
            EX(tool_calls=[fragment(2, "{}")]),
            EX("tool_calls"),
        ],
    )


def test_tool_block_never_stopped_still_gets_braces_at_message_stop() -> None:
    data = stream(START, tool_block(3, "toolu_z", "z"), message_delta("tool_use"), MESSAGE_STOP)
    assert_every_split(
        data,
        [
            EX(role="assistant", tool_calls=[first_fragment(0, "toolu_z", "z")]),
            EX(tool_calls=[fragment(0, "{}")]),
            EX("tool_calls"),
        ],
    )


def test_tool_block_whose_start_carries_the_whole_input() -> None:
    block = {"type": "tool_use", "id": "t", "name": "n", "input": {"q": "é"}}
    start = json.dumps({"type": "content_block_start", "index": 0, "content_block": block})
    data = stream(START, ("content_block_start", start), block_stop(0), MESSAGE_STOP)
    assert decode([data]) == [
        EX(role="assistant", tool_calls=[first_fragment(0, "t", "n", '{"q":"é"}')]),
        EX("stop"),
    ]


# --- §4.7: extended thinking ----------------------------------------------------------------

SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."
EVENTS_47 = [
    START,
    (
        "content_block_start",
        '{"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", '
        '"thinking": ""}}',
    ),
    (
        "content_block_delta",
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", '
        '"thinking": "Let me solve this step by step:\\n\\n1. First break down 27 * 453"}}',
    ),
    (
        "content_block_delta",
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", '
        f'"signature": "{SIGNATURE}"}}}}',
    ),
    ("content_block_stop", '{"type": "content_block_stop", "index": 0}'),
    (
        "content_block_start",
        '{"type": "content_block_start", "index": 1, "content_block": {"type": "text", '
        '"text": ""}}',
    ),
    (
        "content_block_delta",
        '{"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", '
        '"text": "27 * 453 = 12,231"}}',
    ),
    ("content_block_stop", '{"type": "content_block_stop", "index": 1}'),
    (
        "message_delta",
        '{"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, '
        '"usage": {"output_tokens": 240, "output_tokens_details": {"thinking_tokens": 200}}}',
    ),
    ("message_stop", '{"type": "message_stop"              }'),
]
THOUGHT = "Let me solve this step by step:\n\n1. First break down 27 * 453"


def test_thinking_transcript_4_7_under_every_split() -> None:
    thinking = {"index": 0, "type": "thinking", "thinking": THOUGHT}
    signature = {"index": 0, "type": "thinking", "signature": SIGNATURE}
    chunks = [
        EX(role="assistant", reasoning_content=THOUGHT, thinking_blocks=[thinking]),
        EX(thinking_blocks=[signature]),
        EX(content="27 * 453 = 12,231"),
        EX("stop"),
        EX.usage(
            prompt_tokens=3 + 4 + 5,
            completion_tokens=240,
            total_tokens=252,
            prompt_tokens_details={"cached_tokens": 5},
            completion_tokens_details={"reasoning_tokens": 200},
            cache_creation_input_tokens=4,
            cache_read_input_tokens=5,
        ),
    ]
    assert_every_split(stream(*EVENTS_47), chunks, include_usage=True)


def test_redacted_and_several_thinking_blocks_are_numbered_in_order() -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
    thinking = {"type": "thinking", "thinking": "", "signature": ""}
    data = stream(
        START,
        (
            "content_block_start",
            json.dumps({"type": "content_block_start", "index": 0, "content_block": redacted}),
        ),
        block_stop(0),
        (
            "content_block_start",
            json.dumps({"type": "content_block_start", "index": 1, "content_block": thinking}),
        ),
        (
            "content_block_delta",
            '{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":""}}',
        ),
        (
            "content_block_delta",
            '{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"Hm"}}',
        ),
        # A delta of the wrong kind for its block is ignored.
        json_delta(1, '{"x":1}'),
        (
            "content_block_delta",
            '{"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"S"}}',
        ),
        block_stop(1),
        MESSAGE_STOP,
    )
    assert_every_split(
        data,
        [
            EX(role="assistant", thinking_blocks=[{"index": 0, **redacted}]),
            EX(
                reasoning_content="Hm",
                thinking_blocks=[{"index": 1, "type": "thinking", "thinking": "Hm"}],
            ),
            EX(thinking_blocks=[{"index": 1, "type": "thinking", "signature": "S"}]),
            EX("stop"),
        ],
    )


# --- usage ----------------------------------------------------------------------------------


def test_last_message_delta_overrides_input_fields_and_nulls_do_not() -> None:
    data = stream(
        START,
        TEXT_BLOCK,
        HELLO,
        STOP_0,
        message_delta(None, output_tokens=5, input_tokens=None),
        message_delta(
            "max_tokens",
            output_tokens=9,
            cache_read_input_tokens=50,
            cache_creation_input_tokens=None,
            server_tool_use={"web_search_requests": 1},
        ),
        MESSAGE_STOP,
    )
    usage = EX.usage(
        prompt_tokens=3 + 4 + 50,
        completion_tokens=9,
        total_tokens=66,
        prompt_tokens_details={"cached_tokens": 50},
        cache_creation_input_tokens=4,
        cache_read_input_tokens=50,
    )
    assert_every_split(
        data,
        [EX(role="assistant", content="Hello"), EX("length"), usage],
        include_usage=True,
    )


def test_empty_answer_finish_chunk_carries_the_role() -> None:
    data = stream(START_45, message_delta("refusal", output_tokens=0), MESSAGE_STOP)
    assert decode([data]) == [E45("content_filter", role="assistant")]


# --- §4.9: errors in the stream -------------------------------------------------------------

OVERLOADED = (
    "error",
    '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
)


def test_mid_stream_overloaded_error_of_4_9() -> None:
    for pieces in splits(event(*OVERLOADED)):
        chunks, err = decode_until_error(pieces)
        assert chunks == []
        assert type(err) is ritellm.StreamError
        assert (err.message, err.type, err.provider) == (
            "Overloaded",
            "overloaded_error",
            "anthropic",
        )
        assert err.status_code is None
        assert err.body == {"type": "overloaded_error", "message": "Overloaded"}
        assert err.inband is not None
        assert err.inband.status == 529
        assert (err.inband.message, err.inband.type) == ("Overloaded", "overloaded_error")


def test_captured_failure_yields_no_chunk_before_the_error() -> None:
    # message_start -> content_block_start -> ping -> error, then the connection closed.
    api_error = (
        "error",
        '{"type": "error", "error": {"type": "api_error", "message": "Overloaded"}}',
    )
    data = stream(START_45, TEXT_BLOCK, PING, api_error)
    for pieces in splits(data):
        chunks, err = decode_until_error(pieces)
        assert chunks == []
        assert (err.message, err.type) == ("Overloaded", "api_error")
        assert err.inband is not None
        assert err.inband.status == 500


def test_error_after_chunks_is_raised_after_they_are_delivered() -> None:
    data = stream(START_45, TEXT_BLOCK, PING, HELLO, HELP, OVERLOADED)
    for pieces in splits(data):
        chunks, err = decode_until_error(pieces)
        assert chunks == CHUNKS_45[:2], pieces
        assert err.type == "overloaded_error"
    dec = decoder()
    assert dec.feed(data) == CHUNKS_45[:2]
    with pytest.raises(ritellm.StreamError, match="Overloaded"):
        dec.feed(b"")
    with pytest.raises(ritellm.StreamError, match="Overloaded"):
        dec.close()


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("invalid_request_error", 400),
        ("authentication_error", 401),
        ("billing_error", 402),
        ("permission_error", 403),
        ("not_found_error", 404),
        ("request_too_large", 413),
        ("rate_limit_error", 429),
        ("api_error", 500),
        ("timeout_error", 504),
        ("overloaded_error", 529),
        ("brand_new_error", 500),
    ],
)
def test_inband_error_status_is_the_http_twin(kind: str, status: int) -> None:
    data = json.dumps({"type": "error", "error": {"type": kind, "message": "m"}})
    _, err = decode_until_error([event("error", data)])
    assert err.inband is not None
    assert (err.inband.status, err.type, err.message) == (status, kind, "m")


@pytest.mark.parametrize(
    ("raw", "message", "kind", "status"),
    [
        # No SSE event name (data lines only): the JSON's type decides.
        (
            b'data: {"type":"error","error":{"type":"rate_limit_error","message":"slow"}}\n\n',
            "slow",
            "rate_limit_error",
            429,
        ),
        # An OpenAI-shaped error from a proxy in front of Anthropic.
        (b'data: {"error":{"message":"gateway","code":"502"}}\n\n', "gateway", None, 502),
        (b"event: error\ndata: {}\n\n", "An error occurred during streaming", None, 500),
        (b"event: error\ndata:\n\n", "An error occurred during streaming", None, 500),
    ],
)
def test_error_shapes(raw: bytes, message: str, kind: str | None, status: int) -> None:
    _, err = decode_until_error([stream(START_45, TEXT_BLOCK, HELLO) + raw])
    assert (err.message, err.type) == (message, kind)
    assert err.inband is not None
    assert err.inband.status == status


# --- truncation and malformed data ----------------------------------------------------------


@pytest.mark.parametrize("cut", range(len(EVENTS_45)))
def test_stream_ending_before_message_stop_is_truncated(cut: int) -> None:
    data = stream(*EVENTS_45[:cut])
    expected = CHUNKS_45[: max(0, min(cut - 3, 2))]  # HELLO and HELP are events 3 and 4
    # An unfinished last event (no blank line) is discarded, as SSE says.
    for tail in (b"", b'event: message_stop\ndata: {"type":"message_stop"}\n'):
        dec = decoder()
        assert dec.feed(data + tail) == expected
        assert dec.done is False
        with pytest.raises(ritellm.StreamError, match="truncated") as info:
            dec.close()
        assert info.value.provider == "anthropic"
        assert info.value.inband is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"event: content_block_delta\ndata: {bad json\n\n",
            "malformed JSON in stream event: '{bad json'",
        ),
        (b"data: [1, 2]\n\n", "stream event is not a JSON object: '[1, 2]'"),
        (b'data: "text"\n\n', "stream event is not a JSON object: '\"text\"'"),
        (
            event(
                "content_block_delta",
                '{"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"x"}}',
            ),
            "content_block_delta for a block that was never started",
        ),
        (
            event("content_block_delta", '{"type":"content_block_delta","index":0,"delta":"x"}'),
            "content_block_delta without a delta object",
        ),
        (
            event(
                "content_block_start",
                '{"type":"content_block_start","index":"1","content_block":{}}',
            ),
            "content_block_start without an integer index",
        ),
        (
            event(
                "content_block_start", '{"type":"content_block_start","index":1,"content_block":[]}'
            ),
            "content_block_start without a content_block object",
        ),
    ],
)
def test_malformed_events(raw: bytes, message: str) -> None:
    for pieces in splits(stream(START_45, TEXT_BLOCK, HELLO) + raw):
        chunks, err = decode_until_error(pieces)
        assert chunks == CHUNKS_45[:1]
        assert err.message.startswith(message), err.message
        assert err.inband is None


def test_event_larger_than_max_event_bytes_raises() -> None:
    dec = decoder(max_event_bytes=64)
    with pytest.raises(ritellm.StreamError, match="max_line_bytes=64"):
        dec.feed(event(*HELLO))


# --- tolerance ------------------------------------------------------------------------------


def test_whitespace_crlf_comments_missing_types_and_unknown_events() -> None:
    data = (
        b'\xef\xbb\xbfevent: message_start\r\ndata: {"message": {"id": "msg_X", "model": '
        b'"claude-haiku-4-5", "usage": {"input_tokens": 3}}}\r\n\r\n'  # type from the event
        b": keep-alive comment\n\n"
        b"event: ping\ndata:\n\n"
        b'data: {"type":"content_block_start","index":0,\n'  # one JSON over two data lines
        b'data: "content_block":{"type":"text","text":"Hi"}}\n\n'
        b'event: content_block_delta\ndata:   {"type" : "content_block_delta" , "index" : 0 , '
        b'"delta" : {"type":"text_delta","text":" there"}}       \n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"citations_delta","citation":{"cited_text":"x"}}}\n\n'
        b'event: shiny_new_event\ndata: {"type":"shiny_new_event","whatever":[1]}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
        b'"content_block":{"type":"web_search_tool_result","content":[]}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
        b'"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n'
        b'data: {"type":"content_block_stop","index":0}\n\n'
        b'data: {"type":"content_block_stop","index":99}\n\n'
        b'event: message_delta\ndata: {"delta":{"stop_reason":"stop_sequence"},'
        b'"usage":{"output_tokens":2}}\n\n'
        b"event: message_stop\ndata: {}\n\n"
    )
    assert_every_split(
        data,
        [
            EX(role="assistant", content="Hi"),
            EX(content=" there"),
            EX("stop"),
            EX.usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
        ],
        include_usage=True,
    )


def test_stream_without_message_start_uses_fallbacks() -> None:
    data = stream(TEXT_BLOCK, HELLO, MESSAGE_STOP)
    fallback = Expect("", FALLBACK_MODEL)
    assert decode([data]) == [fallback(role="assistant", content="Hello"), fallback("stop")]


def test_multibyte_text_split_anywhere() -> None:
    text = "héllo 🌍 wörld"
    delta = json.dumps(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        ensure_ascii=False,
    )
    data = stream(START, TEXT_BLOCK, ("content_block_delta", delta), MESSAGE_STOP)
    assert_every_split(data, [EX(role="assistant", content=text), EX("stop")])


def test_message_start_without_a_message_object_is_ignored() -> None:
    data = stream(("message_start", '{"type":"message_start","message":null}'), TEXT_BLOCK, HELLO)
    fallback = Expect("", FALLBACK_MODEL)
    assert decode([data + event(*MESSAGE_STOP)]) == [
        fallback(role="assistant", content="Hello"),
        fallback("stop"),
    ]


def test_stop_reason_from_message_start_when_no_message_delta_sets_one() -> None:
    start = START[1].replace('"stop_reason":null', '"stop_reason":"max_tokens"')
    data = stream(("message_start", start), TEXT_BLOCK, HELLO, message_delta(None), MESSAGE_STOP)
    assert decode([data]) == [EX(role="assistant", content="Hello"), EX("length")]
