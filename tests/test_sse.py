"""Tests for ritellm.sse: exact events per the WHATWG event-stream rules, under every split."""

from __future__ import annotations

import ast
import itertools
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ritellm.sse
from ritellm.sse import ServerSentEvent, SSEDecodeError, SSEDecoder

E = ServerSentEvent


def decode_chunks(chunks: list[bytes], max_line_bytes: int = 1 << 20) -> list[ServerSentEvent]:
    """Feed ``chunks`` to a fresh decoder and return every event, close() included."""
    decoder = SSEDecoder(max_line_bytes=max_line_bytes)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, byte by byte, every two-piece split, and some seeded random splits."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]
    rng = random.Random(1234 + len(data))
    for _ in range(8):
        if len(data) < 2:
            break
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) // 2, 12)))
        bounds = [0, *cuts, len(data)]
        yield [data[a:b] for a, b in itertools.pairwise(bounds)]


def assert_every_split(data: bytes, expected: list[ServerSentEvent]) -> None:
    for chunks in splits(data):
        assert decode_chunks(chunks) == expected, chunks


OPENAI_STREAM = (
    b'data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1718000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
    b'"finish_reason":null}]}\n\n'
    b": keep-alive\n\n"
    b'data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1718000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Caf\xc3\xa9"},'
    b'"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1718000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" \xf0\x9f\x98\x80"},'
    b'"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1718000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)

ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_01","role":"assistant","content":[]}}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n'
    b"\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n'
    b"\n"
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n'
    b"\n"
)


def _openai_events() -> list[ServerSentEvent]:
    lines = [line for line in OPENAI_STREAM.split(b"\n") if line.startswith(b"data: ")]
    return [E(data=line[6:].decode()) for line in lines]


def _anthropic_events() -> list[ServerSentEvent]:
    blocks = ANTHROPIC_STREAM.decode().split("\n\n")[:-1]
    events = []
    for block in blocks:
        event_line, data_line = block.split("\n")
        events.append(E(event_line[len("event: ") :], data_line[len("data: ") :]))
    return events


CASES = [
    # --- basics
    pytest.param(b"data: hello\n\n", [E("message", "hello")], id="single"),
    pytest.param(b"data: a\n\ndata: b\n\n", [E(data="a"), E(data="b")], id="multiple"),
    pytest.param(b"data: a\ndata: b\ndata: c\n\n", [E(data="a\nb\nc")], id="multi-line-data"),
    pytest.param(b"", [], id="empty-stream"),
    pytest.param(b"data:x\n\n", [E(data="x")], id="no-space"),
    pytest.param(b"data: x\n\n", [E(data="x")], id="one-space-removed"),
    pytest.param(b"data:  x\n\n", [E(data=" x")], id="only-one-space-removed"),
    pytest.param(b"data:\tx\n\n", [E(data="\tx")], id="tab-kept"),
    pytest.param(b"data: x \n\n", [E(data="x ")], id="trailing-space-kept"),
    pytest.param(b"data: a: b\n\n", [E(data="a: b")], id="colon-in-value"),
    pytest.param(b"data::x\n\n", [E(data=":x")], id="only-first-colon-splits"),
    pytest.param(b"data: \n\n", [E(data="")], id="empty-value-dispatches"),
    pytest.param(b"data: a\n\ndata:\ndata:\n\n", [E(data="a"), E(data="\n")], id="empty-lines"),
    pytest.param(b"data: a\x00b\n\n", [E(data="a\x00b")], id="nul-in-data"),
    # --- event type
    pytest.param(
        b"event: foo\ndata: 1\n\ndata: 2\n\n",
        [E("foo", "1"), E("message", "2")],
        id="event-type-reset-per-event",
    ),
    pytest.param(b"event: a\nevent: b\ndata: x\n\n", [E("b", "x")], id="event-type-last-wins"),
    pytest.param(b"event:\ndata: x\n\n", [E("message", "x")], id="empty-event-type-is-message"),
    pytest.param(b"data: x\nevent: late\n\n", [E("late", "x")], id="event-after-data"),
    pytest.param(b"event: foo\n\n", [], id="event-without-data-dispatches-nothing"),
    pytest.param(
        b"event: foo\n\ndata: x\n\n",
        [E("message", "x")],
        id="event-type-reset-by-empty-dispatch",
    ),
    # --- id
    pytest.param(
        b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n",
        [E(data="a", id="1"), E(data="b", id="1"), E(data="c", id="2")],
        id="id-persists",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
        id="id-with-nul-ignored",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid:\ndata: b\n\ndata: c\n\n",
        [E(data="a", id="1"), E(data="b", id=""), E(data="c", id="")],
        id="empty-id-resets-to-empty-string",
    ),
    pytest.param(b"id\ndata: x\n\n", [E(data="x", id="")], id="id-without-colon"),
    pytest.param(b"id: 7\n\ndata: x\n\n", [E(data="x", id="7")], id="id-in-dataless-block"),
    pytest.param(b"data: x\nid: 9\n\n", [E(data="x", id="9")], id="id-after-data"),
    pytest.param(b"id:  2\ndata: x\n\n", [E(data="x", id=" 2")], id="id-only-one-space-removed"),
    # --- retry
    pytest.param(
        b"retry: 3000\ndata: a\n\ndata: b\n\n",
        [E(data="a", retry=3000), E(data="b", retry=3000)],
        id="retry-persists",
    ),
    pytest.param(b"retry: 30s\ndata: a\n\n", [E(data="a")], id="retry-non-digits-ignored"),
    pytest.param(
        b"retry: 100\n\nretry: abc\ndata: x\n\nretry: 200\ndata: y\n\n",
        [E(data="x", retry=100), E(data="y", retry=200)],
        id="retry-bad-keeps-previous",
    ),
    pytest.param(b"retry: 007\ndata: x\n\n", [E(data="x", retry=7)], id="retry-leading-zeros"),
    pytest.param(b"retry:\ndata: x\n\n", [E(data="x")], id="retry-empty-ignored"),
    pytest.param(b"retry\ndata: x\n\n", [E(data="x")], id="retry-no-colon-ignored"),
    pytest.param(b"retry: -1\ndata: x\n\n", [E(data="x")], id="retry-negative-ignored"),
    pytest.param(b"retry:  5\ndata: x\n\n", [E(data="x")], id="retry-two-spaces-ignored"),
    pytest.param(b"retry: 5 \ndata: x\n\n", [E(data="x")], id="retry-trailing-space-ignored"),
    pytest.param(b"retry: 1_0\ndata: x\n\n", [E(data="x")], id="retry-underscore-ignored"),
    pytest.param(
        "retry: \u0661\u0662\ndata: x\n\n".encode(), [E(data="x")], id="retry-non-ascii-digits"
    ),
    # --- comments, unknown fields, lines without a colon
    pytest.param(b": keep-alive\n\ndata: a\n\n", [E(data="a")], id="comment-keep-alive"),
    pytest.param(
        b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {}\n\n",
        [E(data="{}")],
        id="comment-openrouter",
    ),
    pytest.param(b":\n:data: x\n\n", [], id="comment-only-colon"),
    pytest.param(b"data: a\n: note\ndata: b\n\n", [E(data="a\nb")], id="comment-inside-block"),
    pytest.param(b"foo: bar\ndata: a\n\n", [E(data="a")], id="unknown-field-ignored"),
    pytest.param(b"Data: x\nEVENT: y\n\n", [], id="field-names-case-sensitive"),
    pytest.param(b" data: x\n\n", [], id="leading-space-in-name"),
    pytest.param(b"data\n\n", [E(data="")], id="data-without-colon"),
    pytest.param(b"data\ndata\n\n", [E(data="\n")], id="two-data-without-colon"),
    pytest.param(b"event\ndata: x\n\n", [E("message", "x")], id="event-without-colon"),
    pytest.param(b"\n\n\n", [], id="blank-lines-only"),
    # --- line endings
    pytest.param(b"data: a\rdata: b\r\r", [E(data="a\nb")], id="cr"),
    pytest.param(b"data: a\r\ndata: b\r\n\r\n", [E(data="a\nb")], id="crlf"),
    pytest.param(
        b"data: a\r\n\rdata: b\n\r\ndata: c\r\rdata: d\n\n",
        [E(data="a"), E(data="b"), E(data="c"), E(data="d")],
        id="mixed-endings",
    ),
    pytest.param(b"data: a\r\r\n", [E(data="a")], id="cr-then-crlf"),
    pytest.param(b"data: a\n\r", [E(data="a")], id="lf-then-cr"),
    pytest.param(b"data: a\r\n\r\n\r\n\r\n", [E(data="a")], id="extra-crlf-blank-lines"),
    # --- BOM
    pytest.param(b"\xef\xbb\xbfdata: a\n\n", [E(data="a")], id="bom-stripped"),
    pytest.param(
        b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n",
        [E(data="b")],
        id="second-bom-is-part-of-field-name",
    ),
    pytest.param(b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [E(data="a")], id="bom-only-at-start"),
    pytest.param(b"data: \xef\xbb\xbfx\n\n", [E(data="\ufeffx")], id="bom-in-value-kept"),
    pytest.param(b"\xef\xbb\xbf\r\ndata: x\r\n\r\n", [E(data="x")], id="bom-then-crlf"),
    pytest.param(b"\xef\xbb\xbf", [], id="bom-only"),
    pytest.param(b"\xef\xbbdata: x\n\n", [], id="partial-bom-is-invalid-utf8"),
    pytest.param(b"\xef\n\ndata: x\n\n", [E(data="x")], id="bom-first-byte-then-lf"),
    # --- UTF-8
    pytest.param(
        b"data: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n\n",
        [E(data="café € 😀")],
        id="multibyte",
    ),
    pytest.param(b"data: a\xffb\n\n", [E(data="a\ufffdb")], id="invalid-byte-replaced"),
    pytest.param(
        b"data: \xe2\x82\ndata: x\n\n", [E(data="\ufffd\nx")], id="truncated-sequence-per-line"
    ),
    pytest.param(b"data: \xf0\x9f\x98\n\n", [E(data="\ufffd")], id="truncated-4-byte"),
    pytest.param(b"data: \xed\xa0\x80\n\n", [E(data="\ufffd\ufffd\ufffd")], id="surrogate-bytes"),
    pytest.param(
        b"event: \xc3\ndata: x\nid: \xff\n\n",
        [E("\ufffd", "x", "\ufffd")],
        id="invalid-utf8-in-event-and-id",
    ),
    pytest.param(b"dat\xc3\xa1: x\n\n", [], id="non-ascii-field-name"),
    # --- end of input
    pytest.param(b"data: a\n\ndata: b\n", [E(data="a")], id="unterminated-block-discarded"),
    pytest.param(b"data: a\n\ndata: b", [E(data="a")], id="unterminated-line-discarded"),
    pytest.param(b"data: a\n\ndata: b\r", [E(data="a")], id="unterminated-block-after-cr"),
    pytest.param(b"data: a\n", [], id="single-unterminated-block"),
    # --- provider shapes
    pytest.param(b"data: [DONE]\n\n", [E(data="[DONE]")], id="openai-done"),
    pytest.param(
        b'data: {"a":\ndata: [1, 2]}\n\n', [E(data='{"a":\n[1, 2]}')], id="json-over-two-lines"
    ),
    pytest.param(
        b'event: content_block_delta\ndata: {"type":"content_block_delta"}\n\n',
        [E("content_block_delta", '{"type":"content_block_delta"}')],
        id="anthropic-delta",
    ),
    pytest.param(OPENAI_STREAM, _openai_events(), id="openai-stream"),
    pytest.param(ANTHROPIC_STREAM, _anthropic_events(), id="anthropic-stream"),
    pytest.param(OPENAI_STREAM.replace(b"\n", b"\r\n"), _openai_events(), id="openai-stream-crlf"),
]


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_table_every_split(data: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode_chunks([data]) == expected
    assert_every_split(data, expected)


def test_captured_streams_decode_as_json() -> None:
    events = decode_chunks([OPENAI_STREAM])
    assert events[-1] == E(data="[DONE]")
    deltas = [json.loads(e.data)["choices"][0]["delta"] for e in events[:-1]]
    assert "".join(d.get("content", "") for d in deltas) == "Café 😀"
    kinds = [e.event for e in decode_chunks([ANTHROPIC_STREAM])]
    assert kinds == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_stop",
    ]
    (event,) = decode_chunks([b'data: {"a":\ndata: [1, 2]}\n\n'])
    assert json.loads(event.data) == {"a": [1, 2]}


def test_feed_returns_events_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [E(data="a")]
    assert decoder.feed(b"data: b\r") == []
    assert decoder.feed(b"\r") == [E(data="b")]
    assert decoder.feed(b"\n") == []  # a lone LF: another (empty) line, nothing to dispatch
    assert decoder.feed(b"data: c\r\n\r") == [E(data="c")]
    assert decoder.close() == []


def test_state_properties() -> None:
    decoder = SSEDecoder()
    assert decoder.last_event_id is None
    assert decoder.retry is None
    decoder.feed(b"id: 5\nretry: 10\n")
    # The reconnection time applies at once; the ID only once the block ends.
    assert decoder.retry == 10
    assert decoder.last_event_id is None
    decoder.feed(b"\n")
    assert decoder.last_event_id == "5"
    decoder.feed(b"id: 6\ndata: x\n")  # unfinished block: not yet the last event ID
    assert decoder.last_event_id == "5"
    decoder.close()
    assert decoder.last_event_id == "5"


def test_event_record() -> None:
    event = E()
    assert (event.event, event.data, event.id, event.retry) == ("message", "", None, None)
    assert repr(E("x", "y", "1", 5)) == "ServerSentEvent(event='x', data='y', id='1', retry=5)"
    assert E("x", "y") == E(event="x", data="y")
    assert E("x", "y") != E("x", "z")
    assert hash(E("x", "y")) == hash(E("x", "y"))
    with pytest.raises(AttributeError):
        event.data = "z"  # type: ignore[misc]


def test_feed_after_close_raises() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\n")
    assert decoder.close() == []
    assert decoder.close() == []  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        decoder.feed(b"data: b\n\n")
    with pytest.raises(RuntimeError, match="after close"):
        decoder.feed(b"")


def test_invalid_limit() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        SSEDecoder(max_line_bytes=0)


# --- limits


def test_never_ending_line_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=100)
    assert decoder.feed(b"data: " + b"x" * 94) == []  # exactly 100 bytes buffered: fine
    with pytest.raises(SSEDecodeError, match=r"max_line_bytes=100\b.*101 bytes"):
        decoder.feed(b"x")
    with pytest.raises(RuntimeError, match="SSEDecodeError"):
        decoder.feed(b"\n\n")


def test_never_ending_line_raises_byte_by_byte() -> None:
    decoder = SSEDecoder(max_line_bytes=50)
    data = b"data: " + b"y" * 100
    for i in range(50):
        decoder.feed(data[i : i + 1])
    with pytest.raises(SSEDecodeError, match="max_line_bytes=50"):
        decoder.feed(data[50:51])


def test_complete_overlong_line_raises() -> None:
    # A comment, so that only the line limit (not the event data limit) applies.
    data = b"data: ok\n\n: " + b"x" * 200 + b"\n\n"
    for chunks in splits(data):
        with pytest.raises(SSEDecodeError, match="line longer than max_line_bytes=100"):
            decode_chunks(chunks, max_line_bytes=100)


def test_line_at_limit_is_fine() -> None:
    data = b"data: " + b"x" * 94 + b"\r\n\r\n"  # the line is exactly 100 bytes
    for chunks in splits(data):
        assert decode_chunks(chunks, max_line_bytes=100) == [E(data="x" * 94)]


def test_long_line_under_default_limit_in_small_chunks() -> None:
    payload = b"z" * 900_000
    data = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(0, len(data), 1024):  # linear: pieces are joined once, at the line end
        events.extend(decoder.feed(data[i : i + 1024]))
    assert events == [E(data=payload.decode())]


@pytest.mark.parametrize("line", [b"data: 123456789\n", b"data:123456789\n"])
def test_never_ending_event_raises(line: bytes) -> None:
    # Each line adds 9 bytes of value plus one LF to the data buffer.
    decoder = SSEDecoder(max_line_bytes=100)
    assert decoder.feed(line * 10) == []  # 100 bytes of data: fine
    with pytest.raises(SSEDecodeError, match=r"event data .*max_line_bytes=100\b.*110 bytes"):
        decoder.feed(line)
    with pytest.raises(RuntimeError):
        decoder.feed(b"\n")


def test_event_data_at_limit_is_fine_and_resets() -> None:
    data = b"data:123456789\n" * 10 + b"\n"
    expected = [E(data="\n".join(["123456789"] * 10))]
    assert decode_chunks([data * 3], max_line_bytes=100) == expected * 3
    for chunks in splits(data):
        assert decode_chunks(chunks, max_line_bytes=100) == expected


def test_huge_retry_is_ignored_not_raised() -> None:
    data = b"retry: " + b"9" * 50_000 + b"\ndata: x\n\nretry: " + b"0" * 50_000 + b"42\n\n"
    decoder = SSEDecoder()
    assert decoder.feed(data) == [E(data="x")]
    assert decoder.retry == 42


# --- cross-check against a direct, slow transcription of the spec


def reference_decode(data: bytes) -> list[ServerSentEvent]:
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece has no terminator
    events: list[ServerSentEvent] = []
    data_buf, type_buf, last_id = "", "", None
    retry: int | None = None
    for line in lines:
        if line == "":
            if data_buf == "":
                type_buf = ""
                continue
            events.append(E(type_buf or "message", data_buf[:-1], last_id, retry))
            data_buf, type_buf = "", ""
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            type_buf = value
        elif field == "data":
            data_buf += value + "\n"
        elif field == "id":
            if "\x00" not in value:
                last_id = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


def test_matches_reference_on_random_streams() -> None:
    rng = random.Random(20240601)
    tokens = [
        b"data",
        b"event",
        b"id",
        b"retry",
        b"Data",
        b":",
        b": ",
        b" ",
        b"x",
        b"42",
        b"\n",
        b"\n",
        b"\r",
        b"\r\n",
        b"\x00",
        b"\xef\xbb\xbf",
        b"\xc3\xa9",
        b"\xe2\x82",
        b"\xff",
        b"\xf0\x9f\x98\x80",
    ]
    for _ in range(400):
        data = b"".join(rng.choice(tokens) for _ in range(rng.randrange(1, 30)))
        if rng.random() < 0.2:
            data = b"\xef\xbb\xbf" + data
        expected = reference_decode(data)
        assert decode_chunks([data]) == expected, data
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data), 4)))
        bounds = [0, *cuts, len(data)]
        assert decode_chunks([data[a:b] for a, b in itertools.pairwise(bounds)]) == expected, data


def test_module_is_pure() -> None:
    source = Path(ritellm.sse.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith))
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in sys.stdlib_module_names | {"__future__"}, name
    docstring = ast.get_docstring(tree, clean=False)
    assert docstring is not None
    assert 1 <= len(docstring.strip().splitlines()) <= 3
