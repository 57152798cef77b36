"""Tests for the Gemini stream decoder (ritellm._providers._gemini_stream): the wire-formats
§5.6 transcript (LF and CRLF framing) and constructed streams under every split of the bytes,
with the exact chunks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

import ritellm
from ritellm._assemble import stream_chunk_builder
from ritellm._providers import PROVIDERS
from ritellm._providers._common import call_id
from ritellm._providers.gemini import GeminiProvider, GeminiStreamDecoder
from ritellm._types import AttrDict, CompletionRequest, ModelResponseStream

PROVIDER = GeminiProvider(PROVIDERS["gemini"])
NOW = 1_750_000_000
RID = "AdVRaMmDCYekqtsPrb_-iAw"
SERVED = "gemini-2.5-flash-preview-05-20"

# wire-formats §5.6, captured (gemini-2.5-flash, curl ...:streamGenerateContent?alt=sse).
CAPTURED = [
    '{"candidates": [{"content": {"parts": [{"text": "Here you go!\\n\\n1.  **English:** Hi\\n2.  '
    '**Spanish:** Hola\\n3.  **French:** Bonjour\\n4.  **German:** Hallo\\n5.  "}],"role": '
    '"model"},"index": 0}],"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 39,'
    '"totalTokenCount": 230,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 5}],'
    '"thoughtsTokenCount": 186},"modelVersion": "models/gemini-2.5-flash-preview-05-20",'
    '"responseId": "AdVRaMmDCYekqtsPrb_-iAw"}',
    '{"candidates": [{"content": {"parts": [{"text": "**Italian:** Ciao"}],"role": "model"},'
    '"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 5,'
    '"candidatesTokenCount": 44,"totalTokenCount": 235,"promptTokensDetails": [{"modality": '
    '"TEXT","tokenCount": 5}],"thoughtsTokenCount": 186},"modelVersion": '
    '"models/gemini-2.5-flash-preview-05-20","responseId": "AdVRaMmDCYekqtsPrb_-iAw"}',
]


def sse(*events: str, crlf: bool = False) -> bytes:
    end = "\r\n" if crlf else "\n"
    return b"".join(f"data: {e}{end}{end}".encode() for e in events)


def event(
    *parts: dict[str, Any],
    finish: str | None = None,
    index: int | None = None,
    usage: dict[str, Any] | None = None,
    rid: str | None = "r-1",
    model: str | None = "gemini-2.5-flash",
    **extra: Any,
) -> str:
    cand: dict[str, Any] = {"content": {"parts": list(parts), "role": "model"}, **extra}
    if finish is not None:
        cand["finishReason"] = finish
    if index is not None:
        cand["index"] = index
    obj: dict[str, Any] = {"candidates": [cand]}
    if usage is not None:
        obj["usageMetadata"] = usage
    if model is not None:
        obj["modelVersion"] = model
    if rid is not None:
        obj["responseId"] = rid
    return json.dumps(obj)


def chunk(
    delta: dict[str, Any],
    finish: str | None = None,
    *,
    index: int = 0,
    id: str = "r-1",
    model: str = "gemini-2.5-flash",
    logprobs: Any = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": NOW,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        ],
    }


def usage_chunk(usage: dict[str, Any], *, id: str = "r-1", model: str = "gemini-2.5-flash") -> Any:
    out = chunk({}, id=id, model=model)
    out["choices"] = []
    out["usage"] = usage
    return out


def decoder(*, include_usage: bool = True, model: str = "gemini-2.5-flash") -> GeminiStreamDecoder:
    params = {"stream_options": {"include_usage": True}} if include_usage else {}
    request = CompletionRequest(model=model, messages=[], params=params, stream=True)
    return PROVIDER.stream_decoder(request, now=NOW, max_event_bytes=1 << 20)


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, one byte at a time, and every two-piece split."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def decode(pieces: list[bytes], **kwargs: Any) -> list[ModelResponseStream]:
    d = decoder(**kwargs)
    chunks: list[ModelResponseStream] = []
    for piece in pieces:
        chunks.extend(d.feed(piece))
        assert d.done is False  # Gemini has no end marker: the connection closing ends it
    chunks.extend(d.close())
    assert d.done is False
    return chunks


def assert_every_split(data: bytes, expected: list[dict[str, Any]], **kwargs: Any) -> None:
    for pieces in splits(data):
        assert decode(pieces, **kwargs) == expected, pieces


def fail(pieces: list[bytes], **kwargs: Any) -> tuple[list[ModelResponseStream], Exception]:
    d = decoder(**kwargs)
    chunks: list[ModelResponseStream] = []
    try:
        for piece in pieces:
            chunks.extend(d.feed(piece))
        chunks.extend(d.close())
    except ritellm.APIError as exc:
        return chunks, exc
    raise AssertionError("no error")


# --- the captured transcript ----------------------------------------------------------------

CAPTURED_TEXT = (
    "Here you go!\n\n1.  **English:** Hi\n2.  **Spanish:** Hola\n3.  **French:** Bonjour\n"
    "4.  **German:** Hallo\n5.  "
)
CAPTURED_USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": 230,  # 44 candidates + 186 thoughts
    "total_tokens": 235,
    "completion_tokens_details": {"reasoning_tokens": 186},
}
CAPTURED_CHUNKS = [
    chunk({"role": "assistant", "content": CAPTURED_TEXT}, id=RID, model=SERVED),
    chunk({"content": "**Italian:** Ciao"}, id=RID, model=SERVED),
    chunk({}, "stop", id=RID, model=SERVED),
    usage_chunk(CAPTURED_USAGE, id=RID, model=SERVED),
]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("include_usage", [True, False])
def test_captured_transcript_every_split(crlf: bool, include_usage: bool) -> None:
    expected = CAPTURED_CHUNKS if include_usage else CAPTURED_CHUNKS[:3]
    assert_every_split(sse(*CAPTURED, crlf=crlf), expected, include_usage=include_usage)


def test_deltas_arrive_with_their_event_finish_and_usage_at_close() -> None:
    d = decoder()
    first, second = sse(*CAPTURED, crlf=True).split(b"\r\n\r\n", 1)
    assert d.feed(first) == []
    assert d.feed(b"\r\n\r\n") == CAPTURED_CHUNKS[:1]  # the event is complete
    assert d.feed(second) == CAPTURED_CHUNKS[1:2]
    assert d.close() == CAPTURED_CHUNKS[2:]


def test_chunks_have_dual_access_and_assemble_to_the_completion() -> None:
    chunks = decode([sse(*CAPTURED)])
    assert all(type(c) is ModelResponseStream for c in chunks)
    assert chunks[0].choices[0].delta.content == CAPTURED_TEXT
    assert isinstance(chunks[0].choices[0].delta, AttrDict)
    assert chunks[3].usage.completion_tokens_details.reasoning_tokens == 186
    whole = json.loads(CAPTURED[1])
    whole["candidates"][0]["content"]["parts"][0]["text"] = CAPTURED_TEXT + "**Italian:** Ciao"
    request = CompletionRequest(model="gemini-2.5-flash", messages=[], params={})
    body = json.dumps(whole).encode()
    assert stream_chunk_builder(chunks) == PROVIDER.parse_completion(
        200, {}, body, req=request, now=NOW
    )


# --- function calls -------------------------------------------------------------------------


def test_function_call_stream() -> None:
    usage = {"promptTokenCount": 40, "candidatesTokenCount": 6, "totalTokenCount": 46}
    call = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    data = sse(
        event({"text": "Let me check."}),
        event({**call, "thoughtSignature": "CiQB"}, finish="STOP", usage=usage),
    )
    assert_every_split(
        data,
        [
            chunk({"role": "assistant", "content": "Let me check."}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call_id("r-1", 0, 0, "get_weather"),
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                            "provider_specific_fields": {"thought_signature": "CiQB"},
                        }
                    ]
                }
            ),
            chunk({}, "tool_calls"),
            usage_chunk({"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46}),
        ],
    )


def tool_delta(k: int, name: str, arguments: str, id: str | None = None) -> dict[str, Any]:
    return {
        "tool_calls": [
            {
                "index": k,
                "id": id or call_id("r-1", 0, k, name),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ]
    }


def test_parallel_function_calls_get_distinct_indices() -> None:
    data = sse(
        event(
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
        ),
        event({"functionCall": {"id": "fc-9", "name": "now"}}, finish="STOP"),
    )
    expected = [
        chunk({"role": "assistant", **tool_delta(0, "get_weather", '{"city":"Paris"}')}),
        chunk(tool_delta(1, "get_weather", '{"city":"Rome"}')),
        chunk(tool_delta(2, "now", "{}", id="fc-9")),
        chunk({}, "tool_calls"),
    ]
    assert_every_split(data, expected)
    ids = [c["choices"][0]["delta"]["tool_calls"][0]["id"] for c in expected[:3]]
    assert len(set(ids)) == 3
    whole = stream_chunk_builder(decode([data]))
    assert whole is not None
    assert [c.function.arguments for c in whole.choices[0].message.tool_calls] == [
        '{"city":"Paris"}',
        '{"city":"Rome"}',
        "{}",
    ]
    assert whole.choices[0].message.content is None
    assert whole.choices[0].finish_reason == "tool_calls"


def test_call_in_a_later_event_still_turns_stop_into_tool_calls() -> None:
    # Older models put finishReason on every event: the finish is decided at the end.
    data = sse(
        event({"text": "Sure."}, finish="STOP"),
        event({"functionCall": {"name": "f", "args": {}}}, finish="STOP"),
    )
    assert_every_split(
        data,
        [
            chunk({"role": "assistant", "content": "Sure."}),
            chunk(tool_delta(0, "f", "{}")),
            chunk({}, "tool_calls"),
        ],
    )


# --- older models, thinking, several candidates ---------------------------------------------

SAFETY = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]


@pytest.mark.parametrize(("last", "finish"), [("STOP", "stop"), ("MAX_TOKENS", "length")])
def test_old_model_finish_reason_on_every_chunk_gives_one_finish(last: str, finish: str) -> None:
    def usage(n: int) -> dict[str, Any]:
        return {"promptTokenCount": 4, "candidatesTokenCount": n, "totalTokenCount": 4 + n}

    data = sse(
        event({"text": "One"}, finish="STOP", index=0, usage=usage(1), safetyRatings=SAFETY),
        event({"text": " two"}, finish="STOP", index=0, usage=usage(2), safetyRatings=SAFETY),
        event({"text": " three"}, finish=last, index=0, usage=usage(3), safetyRatings=SAFETY),
    )
    assert_every_split(
        data,
        [
            chunk({"role": "assistant", "content": "One"}),
            chunk({"content": " two"}),
            chunk({"content": " three"}),
            chunk({}, finish),
            usage_chunk({"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}),
        ],
    )


def test_thought_parts_are_reasoning_content() -> None:
    usage = {
        "promptTokenCount": 10,
        "cachedContentTokenCount": 8,
        "toolUsePromptTokenCount": 2,
        "candidatesTokenCount": 3,
        "thoughtsTokenCount": 20,
        "totalTokenCount": 35,
    }
    data = sse(
        event({"text": "**Thinking** about it", "thought": True}),
        event({"text": "", "thought": True}, {"text": "Answer."}, {"text": ""}),
        event(finish="STOP", usage=usage),
    )
    chunks = [
        chunk({"role": "assistant", "reasoning_content": "**Thinking** about it"}),
        chunk({"content": "Answer."}),
        chunk({}, "stop"),
        usage_chunk(
            {
                "prompt_tokens": 12,
                "completion_tokens": 23,
                "total_tokens": 35,
                "prompt_tokens_details": {"cached_tokens": 8},
                "completion_tokens_details": {"reasoning_tokens": 20},
            }
        ),
    ]
    assert_every_split(data, chunks)
    whole = stream_chunk_builder(decode([data]))
    assert whole is not None
    assert whole.choices[0].message.reasoning_content == "**Thinking** about it"
    assert whole.choices[0].message.content == "Answer."


def test_several_candidates_each_get_role_and_finish() -> None:
    data = sse(
        event({"text": "A1"}),
        event({"text": "B1"}, index=1),
        event({"text": "A2"}, finish="STOP"),
        event({"text": "B2"}, index=1, finish="MAX_TOKENS"),
    )
    assert_every_split(
        data,
        [
            chunk({"role": "assistant", "content": "A1"}),
            chunk({"role": "assistant", "content": "B1"}, index=1),
            chunk({"content": "A2"}, index=0),
            chunk({"content": "B2"}, index=1),
            chunk({}, "stop", index=0),
            chunk({}, "length", index=1),
        ],
        include_usage=False,
    )


def test_finish_without_content_is_one_chunk() -> None:
    data = sse(event(finish="SAFETY", safetyRatings=SAFETY))
    assert_every_split(data, [chunk({"role": "assistant"}, "content_filter")], include_usage=False)
    # No usageMetadata was sent: no usage chunk even when asked for.
    assert_every_split(data, [chunk({"role": "assistant"}, "content_filter")])


def test_missing_response_id_and_model_version() -> None:
    first = event({"text": "Hi"}, rid=None, model=None)
    rid = "chatcmpl-" + hashlib.sha256(first.encode()).hexdigest()[:29]
    data = sse(first, event({"functionCall": {"name": "f"}}, finish="STOP", rid=None, model=None))
    chunks = [
        chunk({"role": "assistant", "content": "Hi"}, id=rid, model="gemini-2.5-pro"),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call_id(rid, 0, 0, "f"),
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ]
            },
            id=rid,
            model="gemini-2.5-pro",
        ),
        chunk({}, "tool_calls", id=rid, model="gemini-2.5-pro"),
    ]
    assert_every_split(data, chunks, model="models/gemini-2.5-pro")


def test_logprobs_ride_on_the_first_chunk_of_their_event() -> None:
    lp = {"chosenCandidates": [{"token": "Hi", "logProbability": -0.5}, {"token": "!"}]}
    data = sse(event({"text": "Hi"}, {"text": "!"}, finish="STOP", logprobsResult=lp))
    content = [
        {"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []},
        {"token": "!", "logprob": 0.0, "bytes": [33], "top_logprobs": []},
    ]
    assert_every_split(
        data,
        [
            chunk({"role": "assistant", "content": "Hi"}, logprobs={"content": content}),
            chunk({"content": "!"}),
            chunk({}, "stop"),
        ],
    )


# --- errors ---------------------------------------------------------------------------------

INTERNAL = (
    '{"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}'
)
QUOTA = json.dumps(
    {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}],
        }
    }
)


@pytest.mark.parametrize(
    ("payload", "message", "type_", "code", "status", "retry_after"),
    [
        (INTERNAL, "An internal error has occurred.", "INTERNAL", "500", 500, None),
        (
            QUOTA,
            "Resource has been exhausted (e.g. check quota).",
            "RESOURCE_EXHAUSTED",
            "429",
            429,
            7.0,
        ),
        ('{"error": {"message": "boom"}}', "boom", None, None, 500, None),
        (
            '[{"error": {"code": 503, "message": "x", "status": "UNAVAILABLE"}}]',
            "x",
            "UNAVAILABLE",
            "503",
            503,
            None,
        ),
        # No message: the error object itself is the message; a non-error code means 500.
        ('{"error": {"code": 200}}', '{"code": 200}', None, "200", 500, None),
    ],
)
def test_in_band_error(
    payload: str,
    message: str,
    type_: str | None,
    code: str | None,
    status: int,
    retry_after: float | None,
) -> None:
    for pieces in splits(sse(payload, crlf=True)):
        chunks, err = fail(pieces)
        assert chunks == []
        assert type(err) is ritellm.StreamError
        assert (err.message, err.type, err.code, err.provider) == (message, type_, code, "gemini")
        assert err.status_code is None
        assert err.retry_after == retry_after
        assert err.inband is not None
        assert err.inband.status == status
        assert err.inband.message == message
        assert err.body == json.loads(payload.strip("[]"))["error"]


def test_in_band_error_after_good_chunks_under_every_split() -> None:
    data = sse(CAPTURED[0], INTERNAL, CAPTURED[1])
    for pieces in splits(data):
        chunks, err = fail(pieces)
        assert chunks == CAPTURED_CHUNKS[:1], pieces
        assert err.inband is not None  # type: ignore[attr-defined]
        assert err.type == "INTERNAL"  # type: ignore[attr-defined]


def test_a_stored_error_is_raised_again() -> None:
    d = decoder()
    assert d.feed(sse(CAPTURED[0], INTERNAL)) == CAPTURED_CHUNKS[:1]
    with pytest.raises(ritellm.StreamError):
        d.feed(b"")
    with pytest.raises(ritellm.StreamError):
        d.close()


def test_prompt_block_in_a_stream_is_a_content_policy_error() -> None:
    feedback = {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": SAFETY}
    payload = json.dumps(
        {"promptFeedback": feedback, "usageMetadata": {"promptTokenCount": 9}, "responseId": "b"}
    )
    for pieces in splits(sse(payload)):
        chunks, err = fail(pieces)
        assert chunks == []
        assert type(err) is ritellm.ContentPolicyViolationError
        assert err.message == "Gemini blocked the prompt (blockReason PROHIBITED_CONTENT)"
        assert (err.code, err.body, err.provider) == ("PROHIBITED_CONTENT", feedback, "gemini")
        assert err.status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        sse(CAPTURED[0]),
        sse(CAPTURED[0], crlf=True) + b"data: " + CAPTURED[1].encode(),  # last event unterminated
        sse(json.dumps({"usageMetadata": {"promptTokenCount": 1}})),
    ],
)
def test_stream_without_a_finish_reason_is_truncated(data: bytes) -> None:
    for pieces in splits(data):
        d = decoder()
        for piece in pieces:
            d.feed(piece)
        with pytest.raises(ritellm.StreamError) as info:
            d.close()
        assert info.value.message == (
            "stream ended before any candidate carried a finishReason (the response was truncated)"
        )
        assert info.value.inband is None
        assert info.value.provider == "gemini"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"candidates": [', "malformed JSON in Gemini stream event: '{\"candidates\": ['"),
        ("42", "Gemini stream event is not a JSON object: '42'"),
        ("[1, 2]", "Gemini stream event is not a JSON object: '[1, 2]'"),
        (
            '{"candidates": {"0": {}}}',
            "malformed Gemini stream event (candidates is not a list of objects): "
            '\'{"candidates": {"0": {}}}\'',
        ),
        (
            '{"candidates": [{"content": {"parts": [{"text": null}]}}]}',
            "malformed Gemini stream event (a part's text is not a string): "
            '\'{"candidates": [{"content": {"parts": [{"text": null}]}}]}\'',
        ),
        (
            '{"candidates": [{"finishReason": 1}]}',
            "malformed Gemini stream event (a candidate has a malformed index or finishReason): "
            '\'{"candidates": [{"finishReason": 1}]}\'',
        ),
    ],
)
def test_malformed_events(payload: str, message: str) -> None:
    for pieces in splits(sse(CAPTURED[0], payload)):
        chunks, err = fail(pieces)
        assert chunks == CAPTURED_CHUNKS[:1]
        assert type(err) is ritellm.StreamError
        assert err.message == message
        assert err.inband is None


def test_event_larger_than_the_limit_raises() -> None:
    d = GeminiStreamDecoder("gemini", model="m", now=NOW, include_usage=False, max_event_bytes=64)
    with pytest.raises(ritellm.StreamError, match="64"):
        d.feed(sse(CAPTURED[0]))


def test_provider_stream_decoder_is_fresh_each_time() -> None:
    request = CompletionRequest(model="gemini-2.5-flash", messages=[], params={}, stream=True)
    first = PROVIDER.stream_decoder(request, now=NOW, max_event_bytes=1 << 20)
    assert first is not PROVIDER.stream_decoder(request, now=NOW, max_event_bytes=1 << 20)
    assert first.feed(sse(CAPTURED[1])) == [
        chunk({"role": "assistant", "content": "**Italian:** Ciao"}, id=RID, model=SERVED)
    ]
    assert first.close() == [chunk({}, "stop", id=RID, model=SERVED)]  # include_usage off


def test_assembled_stream_equals_the_whole_response() -> None:
    # The same answer streamed and whole: stream_chunk_builder must rebuild parse_completion's
    # result (ids of calls included). Signatures are left out: the builder's handling of
    # provider_specific_fields is the lead's change to _assemble.
    parts: list[dict[str, Any]] = [
        {"text": "Weighing it", "thought": True},
        {"text": "Two calls."},
        {"functionCall": {"name": "a", "args": {"x": [1, "é"]}}},
        {"functionCall": {"name": "b"}},
    ]
    usage = {"promptTokenCount": 3, "candidatesTokenCount": 4, "thoughtsTokenCount": 5}
    data = sse(
        event(parts[0]),
        event(parts[1], parts[2]),
        event(parts[3], finish="STOP", usage={**usage, "totalTokenCount": 12}),
    )
    whole = event(*parts, finish="STOP", usage={**usage, "totalTokenCount": 12}).encode()
    request = CompletionRequest(model="gemini-2.5-flash", messages=[], params={})
    expected = PROVIDER.parse_completion(200, {}, whole, req=request, now=NOW)
    assert expected.choices[0].finish_reason == "tool_calls"
    for pieces in splits(data):
        assert stream_chunk_builder(decode(pieces)) == expected
