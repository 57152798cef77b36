"""Tests for ritellm._assemble.stream_chunk_builder: a stream's chunks add up to the
chat.completion a non-streaming call would return (wire-formats §2.6-2.9, §7.1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ritellm
from ritellm._assemble import stream_chunk_builder
from ritellm._types import AttrDict, ModelResponse, decode_json


def chunk(
    choices: list[dict[str, Any]],
    *,
    id: str = "chatcmpl-1",
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": 1753357673,
        "model": "gpt-4.1-2025-04-14",
        "system_fingerprint": "fp_51e1070cf2",
        "choices": choices,
        "usage": usage,
        **extra,
    }


def delta(index: int, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "logprobs": None, "finish_reason": finish}


USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 3,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

# §2.6: role chunk, three content chunks, finish chunk, include_usage chunk.
TEXT = [
    chunk([delta(0, role="assistant", content="", refusal=None)]),
    chunk([delta(0, content="Hello")]),
    chunk([delta(0, content=" there")]),
    chunk([delta(0, content="!")]),
    chunk([delta(0, "stop")]),
    chunk([], usage=USAGE),
]
TEXT_RESULT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1753357673,
    "model": "gpt-4.1-2025-04-14",
    "system_fingerprint": "fp_51e1070cf2",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
}

# §2.7, byte for byte.
_TOOL_HEAD = (
    '{"id":"chatcmpl-BwkwXxA0yAyLKZelloERJWtxKor9z","object":"chat.completion.chunk",'
    '"created":1753343173,"model":"gpt-4.1-2025-04-14","service_tier":"default",'
    '"system_fingerprint":"fp_b3f1157249","choices":'
)
_TOOL_TAIL = ',"usage":null}'


def _frag(args: str) -> str:
    return (
        '[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":'
        + json.dumps(args)
        + '}}]},"logprobs":null,"finish_reason":null}]'
    )


TOOL_EVENTS = [
    _TOOL_HEAD + '[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,'
    '"id":"call_HjeqP7YeRkoNj0de9e3U4X4B","type":"function","function":{"name":"read_file",'
    '"arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]' + _TOOL_TAIL,
    *(_TOOL_HEAD + _frag(a) + _TOOL_TAIL for a in ['{"', "path", '":"', "README", ".md", '"}']),
    _TOOL_HEAD
    + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]'
    + _TOOL_TAIL,
    _TOOL_HEAD + '[],"usage":{"prompt_tokens":60,"completion_tokens":15,"total_tokens":75,'
    '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
    '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}',
]
TOOL_EVENTS_PARSED = [json.loads(e) for e in TOOL_EVENTS]
TOOL_RESULT = {
    "id": "chatcmpl-BwkwXxA0yAyLKZelloERJWtxKor9z",
    "object": "chat.completion",
    "created": 1753343173,
    "model": "gpt-4.1-2025-04-14",
    "system_fingerprint": "fp_b3f1157249",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_HjeqP7YeRkoNj0de9e3U4X4B",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": '{"path":"README.md"}'},
                    }
                ],
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 60,
        "completion_tokens": 15,
        "total_tokens": 75,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
}


def test_text_stream() -> None:
    r = stream_chunk_builder(TEXT)
    assert r == TEXT_RESULT
    assert type(r) is ModelResponse


def test_result_has_dual_access_at_every_level() -> None:
    r = stream_chunk_builder(TEXT)
    assert r is not None
    assert r["choices"][0]["message"]["content"] == "Hello there!"
    assert r.choices[0].message.content == "Hello there!"
    assert r.usage.completion_tokens_details.reasoning_tokens == 0
    assert isinstance(r.choices[0], AttrDict)
    assert isinstance(r.choices[0].message, AttrDict)
    assert isinstance(r.usage, AttrDict)
    assert json.loads(json.dumps(r)) == TEXT_RESULT
    assert r.to_dict() == TEXT_RESULT
    assert type(r.to_dict()["choices"][0]) is dict


def test_decoded_chunks_give_the_same_result() -> None:
    decoded = [decode_json(json.dumps(c)) for c in TEXT]
    assert stream_chunk_builder(decoded) == TEXT_RESULT
    assert stream_chunk_builder(iter(TEXT)) == TEXT_RESULT


def test_input_chunks_are_not_modified() -> None:
    before = json.loads(json.dumps(TOOL_EVENTS_PARSED))
    stream_chunk_builder(TOOL_EVENTS_PARSED)
    stream_chunk_builder(TOOL_EVENTS_PARSED)
    assert before == TOOL_EVENTS_PARSED


def test_tool_call_transcript() -> None:
    r = stream_chunk_builder(TOOL_EVENTS_PARSED)
    assert r == TOOL_RESULT
    assert r is not None
    call = r.choices[0].message.tool_calls[0]
    assert call.id == "call_HjeqP7YeRkoNj0de9e3U4X4B"
    assert call.function.name == "read_file"
    assert json.loads(call.function.arguments) == {"path": "README.md"}
    # As in a non-streamed response: content is null beside tool calls.
    assert r.choices[0].message.content is None


def test_two_parallel_tool_calls() -> None:
    def call(index: int, **fn: Any) -> dict[str, Any]:
        return delta(0, tool_calls=[{"index": index, **fn}])

    chunks = [
        chunk([delta(0, role="assistant", content=None)]),
        chunk(
            [
                call(
                    0,
                    id="call_a",
                    type="function",
                    function={"name": "get_weather", "arguments": ""},
                )
            ]
        ),
        chunk([call(0, function={"arguments": '{"city":'})]),
        chunk(
            [call(1, id="call_b", type="function", function={"name": "get_time", "arguments": ""})]
        ),
        chunk([call(0, function={"arguments": '"Paris"}'})]),
        chunk([call(1, function={"arguments": '{"tz":"CET"}'})]),
        chunk([delta(0, "tool_calls")]),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert r.choices[0].message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"tz":"CET"}'},
            },
        ],
        "refusal": None,
    }
    assert r.choices[0].finish_reason == "tool_calls"
    assert "usage" not in r


def test_empty_tool_calls_list_is_no_tool_call() -> None:
    # Groq sends "tool_calls": [] in ordinary deltas (wire-formats §7.1).
    chunks = [
        chunk([delta(0, role="assistant", content="Hi", tool_calls=[])]),
        chunk([delta(0, "stop", tool_calls=[])]),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert r.choices[0].message == {"role": "assistant", "content": "Hi", "refusal": None}


def test_n2_interleaved_choices() -> None:
    def lp(token: str) -> dict[str, Any]:
        return {
            "content": [
                {"token": token, "logprob": -0.5, "bytes": list(token.encode()), "top_logprobs": []}
            ]
        }

    chunks = [
        chunk([{**delta(0, role="assistant", content=""), "logprobs": {"content": []}}]),
        chunk([{**delta(0, content="Ex"), "logprobs": lp("Ex")}]),
        chunk([{**delta(1, role="assistant", content=""), "logprobs": {"content": []}}]),
        chunk([{**delta(1, content="Tur"), "logprobs": lp("Tur")}]),
        chunk([{**delta(0, content="act"), "logprobs": lp("act")}]),
        chunk([{**delta(1, content="bo"), "logprobs": lp("bo")}]),
        chunk([delta(1, "length")]),
        chunk([delta(0, "length")]),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert [c.index for c in r.choices] == [0, 1]
    assert [c.message.content for c in r.choices] == ["Exact", "Turbo"]
    assert [c.finish_reason for c in r.choices] == ["length", "length"]
    assert [t["token"] for t in r.choices[0].logprobs.content] == ["Ex", "act"]
    assert [t["token"] for t in r.choices[1].logprobs.content] == ["Tur", "bo"]


def test_choice_order_follows_index_not_arrival() -> None:
    chunks = [
        chunk([delta(1, content="second")]),
        chunk([delta(0, content="first")]),
        chunk([delta(1, "stop"), delta(0, "stop")]),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert [(c.index, c.message.content) for c in r.choices] == [(0, "first"), (1, "second")]


GROQ_USAGE = {
    "queue_time": 0.07535312,
    "prompt_tokens": 23,
    "prompt_time": 0.006,
    "completion_tokens": 19,
    "completion_time": 0.022,
    "total_tokens": 42,
    "total_time": 0.028,
}


def test_usage_from_groq_x_groq() -> None:
    chunks = [
        chunk([delta(0, role="assistant", content="Hi")]),
        chunk(
            [delta(0, "stop")], x_groq={"id": "req_01hy8ppkajfqk987jv2vx88m9r", "usage": GROQ_USAGE}
        ),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert r.usage == GROQ_USAGE
    assert r.usage.total_tokens == 42


def test_include_usage_chunk_wins_over_x_groq() -> None:
    usage = {"prompt_tokens": 23, "completion_tokens": 19, "total_tokens": 42}
    chunks = [
        chunk([delta(0, role="assistant", content="Hi")]),
        chunk([delta(0, "stop")], x_groq={"id": "r", "usage": GROQ_USAGE}),
        chunk([], usage=usage),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert r.usage == usage


def test_usage_on_the_finish_chunk() -> None:
    # Mistral and llama.cpp put usage beside finish_reason (wire-formats §7.1).
    usage = {"completion_tokens": 1, "prompt_tokens": 43, "total_tokens": 44}
    r = stream_chunk_builder([chunk([delta(0, "length", content="a")], usage=usage)])
    assert r is not None
    assert r.usage == usage
    assert r.choices[0].finish_reason == "length"


def test_no_usage_means_no_usage_key() -> None:
    r = stream_chunk_builder(TEXT[:5])
    assert r is not None
    assert "usage" not in r
    assert r.usage is None


def test_no_finish_reason_and_no_content() -> None:
    r = stream_chunk_builder([chunk([delta(0, role="assistant", content="")])])
    assert r is not None
    assert r.choices == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "", "refusal": None},
            "logprobs": None,
            "finish_reason": None,
        }
    ]


def test_reasoning_content_is_concatenated() -> None:
    chunks = [
        chunk([delta(0, role="assistant", reasoning_content="Let me ")]),
        chunk([delta(0, reasoning_content="think.")]),
        chunk([delta(0, content="42")]),
        chunk([delta(0, "stop")]),
    ]
    r = stream_chunk_builder(chunks)
    assert r is not None
    assert r.choices[0].message == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "Let me think.",
        "refusal": None,
    }


@pytest.mark.parametrize("chunks", [[], iter([]), ()])
def test_empty_input_is_none(chunks: Any) -> None:
    assert stream_chunk_builder(chunks) is None


@pytest.mark.parametrize(
    ("bad", "name"), [("data: {}", "str"), (None, "NoneType"), ([{"choices": []}], "list")]
)
def test_non_dict_chunk_is_a_type_error(bad: Any, name: str) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        stream_chunk_builder([TEXT[0], bad])
    assert str(info.value) == f"stream_chunk_builder expects chunk dicts, got {name}"
    assert isinstance(info.value, TypeError)


def test_public_name() -> None:
    assert ritellm.stream_chunk_builder is stream_chunk_builder
    assert "stream_chunk_builder" in ritellm.__all__
    # LiteLLM's signature: messages= is accepted and ignored.
    assert stream_chunk_builder(TEXT, messages=[{"role": "user", "content": "x"}]) == TEXT_RESULT
