"""AWS event stream framing: the client's decoder (ritellm._providers._eventstream) and the
simulator's encoder (ritellm.testing._eventstream) against frames built here from the spec,
against each other, and against botocore's EventStreamBuffer as the oracle."""

from __future__ import annotations

import ast
import random
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.eventstream import (  # type: ignore[import-untyped]
    ChecksumMismatch,
    EventStreamBuffer,
)

import ritellm.testing._eventstream as encoder_module
from ritellm._providers._eventstream import EventStreamDecoder, EventStreamError, Frame
from ritellm.testing._eventstream import HeaderValue, encode_frame, event_frame, exception_frame


def build(
    block: bytes,
    payload: bytes,
    *,
    total: int | None = None,
    hlen: int | None = None,
    prelude_crc: int | None = None,
) -> bytes:
    """A frame straight from the spec, independent of both implementations; the keywords
    override a field (the CRCs are still computed over whatever was written)."""
    total = 16 + len(block) + len(payload) if total is None else total
    prelude = struct.pack(">II", total, len(block) if hlen is None else hlen)
    crc = zlib.crc32(prelude) if prelude_crc is None else prelude_crc
    body = prelude + struct.pack(">I", crc) + block + payload
    return body + struct.pack(">I", zlib.crc32(body))


def string(name: str, value: str) -> bytes:
    """A type-7 header, by hand."""
    raw = value.encode()
    return bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, byte by byte, and every split into two pieces."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def decode(chunks: list[bytes], max_frame_bytes: int = 1 << 20) -> list[Frame]:
    decoder = EventStreamDecoder(max_frame_bytes)
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    decoder.close()
    return frames


def outcome(chunks: list[bytes]) -> tuple[list[Frame], str]:
    """The frames delivered before the error, and the error's message."""
    decoder = EventStreamDecoder()
    frames: list[Frame] = []
    try:
        for chunk in chunks:
            frames += decoder.feed(chunk)
        decoder.close()
    except EventStreamError as exc:
        return frames, str(exc)
    raise AssertionError("no error")


def oracle(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    """botocore's reading of ``data``."""
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), bytes(m.payload)) for m in buffer]


def plain(frames: list[Frame]) -> list[tuple[dict[str, object], bytes]]:
    return [(dict(f.headers), f.payload) for f in frames]


UUID = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
# One header of each of the ten value types: its bytes by hand, and its decoded value.
ALL_TYPES: dict[str, tuple[bytes, object]] = {
    "true": (b"\x04true\x00", True),
    "false": (b"\x05false\x01", False),
    "byte": (b"\x04byte\x02\xfb", -5),
    "short": (b"\x05short\x03\xfe\xd4", -300),
    "int": (b"\x03int\x04" + struct.pack(">i", -70_000), -70_000),
    "long": (b"\x04long\x05" + struct.pack(">q", -(2**40)), -(2**40)),
    "bytes": (b"\x05bytes\x06\x00\x03\x00\xff\x10", b"\x00\xff\x10"),
    "string": (string("string", "héllo ✓"), "héllo ✓"),
    "timestamp": (b"\x09timestamp\x08" + struct.pack(">q", 1_700_000_000_123), 1_700_000_000_123),
    "uuid": (b"\x04uuid\x09" + UUID.bytes, UUID.bytes),
}
ALL_TYPES_BLOCK = b"".join(raw for raw, _ in ALL_TYPES.values())
BEDROCK_HEADERS = {
    ":event-type": "contentBlockDelta",
    ":content-type": "application/json",
    ":message-type": "event",
}
BEDROCK_BLOCK = b"".join(string(k, v) for k, v in BEDROCK_HEADERS.items())
DELTA = b'{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcd"}'

KNOWN: dict[str, tuple[bytes, Mapping[str, object], bytes]] = {
    "all-types": (
        build(ALL_TYPES_BLOCK, b"payload"),
        {name: value for name, (_, value) in ALL_TYPES.items()},
        b"payload",
    ),
    "bedrock-delta": (build(BEDROCK_BLOCK, DELTA), BEDROCK_HEADERS, DELTA),
    "empty-payload": (build(BEDROCK_BLOCK, b""), BEDROCK_HEADERS, b""),
    "no-headers": (build(b"", b"\x00\x01 raw"), {}, b"\x00\x01 raw"),
    # AWS's "empty message" test vector, literally.
    "empty": (bytes.fromhex("000000100000000005c248eb7d98c8ff"), {}, b""),
}


@pytest.mark.parametrize(("data", "headers", "payload"), KNOWN.values(), ids=KNOWN.keys())
def test_known_frames(data: bytes, headers: Mapping[str, object], payload: bytes) -> None:
    assert oracle(data) == [(headers, payload)]
    for chunks in splits(data):
        assert plain(decode(chunks)) == [(headers, payload)]


def test_known_frames_in_one_stream() -> None:
    data = b"".join(frame for frame, _, _ in KNOWN.values())
    expected = [(headers, payload) for _, headers, payload in KNOWN.values()]
    assert oracle(data) == expected
    for chunks in splits(data):
        assert plain(decode(chunks)) == expected


def test_frame_is_immutable() -> None:
    (frame,) = decode([build(BEDROCK_BLOCK, DELTA)])
    assert frame == Frame(BEDROCK_HEADERS, DELTA)
    with pytest.raises(TypeError):
        frame.headers[":event-type"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        frame.payload = b""  # type: ignore[misc]


# --- the encoder ---------------------------------------------------------------------------


def test_encoder_matches_the_spec() -> None:
    assert encode_frame({}, b"") == bytes.fromhex("000000100000000005c248eb7d98c8ff")
    assert encode_frame(BEDROCK_HEADERS, DELTA) == build(BEDROCK_BLOCK, DELTA)
    headers: dict[str, HeaderValue] = {
        "true": True,
        "false": False,
        "int": -70_000,
        "long": -(2**40),
        "bytes": b"\x00\xff\x10",
        "string": "héllo ✓",
        "timestamp": datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        "uuid": UUID,
    }
    block = b"".join(raw for name, (raw, _) in ALL_TYPES.items() if name in headers)
    assert encode_frame(headers, b"payload") == build(block, b"payload")


def test_event_and_exception_frames() -> None:
    assert event_frame("contentBlockDelta", DELTA) == build(BEDROCK_BLOCK, DELTA)
    payload = {"contentBlockIndex": 0, "delta": {"text": "Hello"}, "p": "abcd"}
    assert event_frame("contentBlockDelta", payload) == build(BEDROCK_BLOCK, DELTA)
    block = (
        string(":exception-type", "throttlingException")
        + string(":content-type", "application/json")
        + string(":message-type", "exception")
    )
    frame = exception_frame("throttlingException", 'Too many "requests" ✓')
    assert frame == build(block, '{"message":"Too many \\"requests\\" ✓"}'.encode())


ENCODED = [
    event_frame("messageStart", {"role": "assistant"}),
    event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Grüße, 世界"}}),
    event_frame("messageStop", b""),
    exception_frame("modelStreamErrorException", "the model stopped"),
    encode_frame({":message-type": "error", ":error-code": "E", ":error-message": "bad"}, b""),
    encode_frame({"n": 2**40, "ts": datetime(2024, 1, 1, tzinfo=UTC), "id": UUID}, b"\x00"),
    encode_frame({}, b"x" * 5000),
]


def test_encoder_output_decodes_the_same_everywhere() -> None:
    data = b"".join(ENCODED)
    expected = oracle(data)
    assert len(expected) == len(ENCODED)
    assert expected[1] == (
        BEDROCK_HEADERS,
        '{"contentBlockIndex":0,"delta":{"text":"Grüße, 世界"}}'.encode(),
    )
    assert expected[5][0] == {"n": 2**40, "ts": 1_704_067_200_000, "id": UUID.bytes}
    for chunks in splits(data):
        assert plain(decode(chunks)) == expected


def test_encoder_refuses_what_cannot_be_framed() -> None:
    with pytest.raises(ValueError, match="a header name is limited to 255 bytes, got 256"):
        encode_frame({"x" * 256: "v"}, b"")
    with pytest.raises(ValueError, match="a header value is limited to 65535 bytes, got 65536"):
        encode_frame({"x": b"v" * 65536}, b"")
    with pytest.raises(ValueError, match="a timestamp header needs an aware datetime"):
        encode_frame({"x": datetime(2024, 1, 1)}, b"")


def test_encoder_does_not_use_the_decoder() -> None:
    tree = ast.parse(Path(encoder_module.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the encoder imports nothing from ritellm"
            assert not (node.module or "").startswith("ritellm")
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("ritellm") for a in node.names)


# --- errors --------------------------------------------------------------------------------

GOOD = build(BEDROCK_BLOCK, DELTA)
BAD_PRELUDE = build(b"", b"abc", prelude_crc=0x12345678)
CORRUPT = bytearray(GOOD)
CORRUPT[-6] ^= 0x01  # a payload byte
STORED_CRC = struct.unpack(">I", GOOD[-4:])[0]
COMPUTED_CRC = zlib.crc32(bytes(CORRUPT[:-4]))

ERRORS = [
    pytest.param(
        BAD_PRELUDE,
        "event stream prelude CRC mismatch: expected 0x12345678, "
        f"computed 0x{zlib.crc32(BAD_PRELUDE[:8]):08x}",
        id="prelude-crc",
    ),
    pytest.param(
        bytes(CORRUPT),
        "event stream message CRC mismatch: "
        f"expected 0x{STORED_CRC:08x}, computed 0x{COMPUTED_CRC:08x}",
        id="message-crc",
    ),
    pytest.param(
        build(b"", b"", total=15),
        "event stream frame length 15 is below the minimum of 16",
        id="too-short",
    ),
    pytest.param(
        build(b"\x01a\x00", b"xy", hlen=6),
        "event stream headers length 6 does not fit in a frame of 21 bytes",
        id="headers-length",
    ),
    pytest.param(
        build(b"\x01a\x0a", b""),
        "event stream header 'a' has unknown value type 10",
        id="unknown-type",
    ),
    pytest.param(
        build(b"\x01a\x07\x00\x05ab", b""),
        "event stream headers overrun their length of 7 bytes",
        id="value-overrun",
    ),
    pytest.param(
        build(b"\x01a\x04\x00\x00", b""),
        "event stream headers overrun their length of 5 bytes",
        id="number-overrun",
    ),
    pytest.param(
        build(b"\x05ab", b""),
        "event stream headers overrun their length of 3 bytes",
        id="name-overrun",
    ),
    pytest.param(
        build(b"\x01a", b""),
        "event stream headers overrun their length of 2 bytes",
        id="no-value-type",
    ),
    pytest.param(
        build(b"\x01a\x00\x01a\x01", b""),
        "event stream header 'a' appears twice",
        id="duplicate",
    ),
    pytest.param(
        build(b"\x01a\x07\x00\x02\xc3\x28", b""),
        "event stream header name or value is not valid UTF-8",
        id="utf-8",
    ),
    pytest.param(
        GOOD[:-1],
        f"event stream truncated: it ended {len(GOOD) - 1} bytes into a {len(GOOD)}-byte frame",
        id="truncated-body",
    ),
    pytest.param(
        GOOD[:5],
        "event stream truncated: it ended 5 bytes into a 12-byte prelude",
        id="truncated-prelude",
    ),
]


@pytest.mark.parametrize(("bad", "message"), ERRORS)
def test_errors_after_a_good_frame_for_every_split(bad: bytes, message: str) -> None:
    """The good frame is delivered, then the same error, whatever the split."""
    data = GOOD + bad
    for chunks in splits(data):
        assert outcome(chunks) == (decode([GOOD]), message)


@pytest.mark.parametrize(("bad", "message"), ERRORS)
def test_an_error_is_terminal(bad: bytes, message: str) -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError) as first:
        decoder.feed(bad)
        decoder.close()
    assert str(first.value) == message
    for call in (lambda: decoder.feed(GOOD), decoder.close, lambda: decoder.feed(b"")):
        with pytest.raises(EventStreamError) as again:
            call()
        assert str(again.value) == message


@pytest.mark.parametrize("bad", [BAD_PRELUDE, bytes(CORRUPT)], ids=["prelude", "message"])
def test_botocore_computes_the_same_crcs(bad: bytes) -> None:
    with pytest.raises(ChecksumMismatch) as boto:
        oracle(bad)
    with pytest.raises(EventStreamError) as ours:
        decode([bad])
    # "Checksum mismatch: expected 0x..., calculated 0x..." vs "...: expected 0x..., computed 0x..."
    assert str(boto.value).split(": ")[1] == str(ours.value).split(": ")[1].replace(
        "computed", "calculated"
    )


def test_an_error_after_frames_in_the_same_read_waits_for_the_next_call() -> None:
    decoder = EventStreamDecoder()
    assert plain(decoder.feed(GOOD + GOOD + BAD_PRELUDE + GOOD)) == plain(decode([GOOD, GOOD]))
    with pytest.raises(EventStreamError, match="prelude CRC mismatch"):
        decoder.feed(GOOD)


def test_a_frame_over_the_limit_is_refused_from_its_prelude() -> None:
    big = build(b"", b"x" * 85)  # 101 bytes
    decoder = EventStreamDecoder(max_frame_bytes=100)
    with pytest.raises(EventStreamError) as exc:
        decoder.feed(big[:12])
    assert str(exc.value) == "event stream frame of 101 bytes exceeds the limit of 100 bytes"
    assert plain(decode([build(b"", b"x" * 84)], max_frame_bytes=100)) == [({}, b"x" * 84)]
    # A 4 GiB length is refused before any of its body arrives.
    huge = struct.pack(">II", 0xFFFFFFFF, 0)
    with pytest.raises(EventStreamError, match="frame of 4294967295 bytes exceeds the limit"):
        EventStreamDecoder().feed(huge + struct.pack(">I", zlib.crc32(huge)))


def test_headers_over_128_kib_are_refused_from_the_prelude() -> None:
    prelude = struct.pack(">II", 200_000, 131_073)
    decoder = EventStreamDecoder(max_frame_bytes=1 << 24)
    with pytest.raises(EventStreamError) as exc:
        decoder.feed(prelude + struct.pack(">I", zlib.crc32(prelude)))
    assert str(exc.value) == "event stream headers length 131073 exceeds the limit of 131072 bytes"


def test_max_frame_bytes_must_fit_a_frame() -> None:
    with pytest.raises(ValueError, match="max_frame_bytes must be at least 16, got 15"):
        EventStreamDecoder(max_frame_bytes=15)
    assert decode([encode_frame({}, b"")], max_frame_bytes=16) == [Frame({}, b"")]


# --- streams -------------------------------------------------------------------------------


def test_many_frames_in_random_reads() -> None:
    rng = random.Random(20240601)
    expected: list[tuple[dict[str, object], bytes]] = []
    for i in range(400):
        kind = rng.choice(["contentBlockDelta", "contentBlockStart", "metadata"])
        headers: Mapping[str, object] = {**BEDROCK_HEADERS, ":event-type": kind}
        if i % 50 == 7:
            headers = {"seq": i, "flag": i % 2 == 0, "blob": rng.randbytes(rng.randrange(40))}
        payload = rng.randbytes(rng.choice([0, 1, 80, 300, 6000]))
        expected.append((dict(headers), payload))
    data = b"".join(build(encoded_block(h), p) for h, p in expected)
    assert oracle(data) == expected
    for _ in range(20):
        chunks, pos = [], 0
        while pos < len(data):
            step = rng.choice([1, 7, 100, 4096, 20_000])
            chunks.append(data[pos : pos + step])
            pos += step
        assert plain(decode(chunks)) == expected


def encoded_block(headers: Mapping[str, object]) -> bytes:
    """The header block for the random stream, by hand (strings, int32, bools, bytes)."""
    out = b""
    for name, value in headers.items():
        out += bytes([len(name)]) + name.encode()
        if isinstance(value, bool):
            out += b"\x00" if value else b"\x01"
        elif isinstance(value, int):
            out += b"\x04" + struct.pack(">i", value)
        elif isinstance(value, bytes):
            out += b"\x06" + struct.pack(">H", len(value)) + value
        else:
            assert isinstance(value, str)
            out += b"\x07" + struct.pack(">H", len(value.encode())) + value.encode()
    return out
