"""Tests for ritellm._types: response values are real dicts with attribute access at every
level, and survive json, copy and pickle."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import attrs
import pytest

import ritellm
from ritellm._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    HttpRequest,
    ModelResponse,
    ModelResponseStream,
    decode_json,
    retype,
)

BODY = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": '{"path":"a"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "list_dir", "arguments": "{}"},
                    },
                ],
            },
            "logprobs": {"content": [{"token": "x", "top_logprobs": [{"token": "y"}]}]},
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    "matrix": [[{"deep": 1}]],
}
RAW = json.dumps(BODY).encode()


def response() -> ModelResponse:
    r = retype(decode_json(RAW), ModelResponse)
    assert isinstance(r, ModelResponse)
    return r


def test_decoded_body_equals_plain_dict() -> None:
    r = response()
    assert r == BODY
    assert r == BODY
    assert isinstance(r, dict)
    assert type(r) is ModelResponse
    assert json.loads(json.dumps(r)) == BODY
    assert json.dumps(r, sort_keys=True) == json.dumps(BODY, sort_keys=True)


def test_attribute_access_at_every_level() -> None:
    r = response()
    assert r.id == "chatcmpl-abc"
    assert r.choices[0].index == 0
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content is None
    assert r.choices[0].message.tool_calls[1].function.name == "list_dir"
    assert r.choices[0].logprobs.content[0].top_logprobs[0].token == "y"
    assert r.usage.total_tokens == 12
    assert r.matrix[0][0].deep == 1


def test_every_nested_object_is_an_attrdict() -> None:
    def walk(value: Any) -> int:
        if isinstance(value, dict):
            assert isinstance(value, AttrDict), value
            return 1 + sum(walk(v) for v in value.values())
        if isinstance(value, list):
            return sum(walk(v) for v in value)
        return 0

    assert walk(response()) == 12


def test_dict_behaviour() -> None:
    r = response()
    assert r["choices"][0]["message"]["tool_calls"][0]["id"] == "call_1"
    assert r.get("usage") == BODY["usage"]
    assert r.get("missing") is None
    assert r.get("missing", 3) == 3
    assert "usage" in r
    assert "missing" not in r
    assert list(r) == list(BODY)
    assert len(r) == len(BODY)
    with pytest.raises(KeyError):
        r["missing"]


def test_absent_schema_fields_are_none() -> None:
    r = response()
    message = r.choices[0].message
    # Optional fields of OpenAI's schema, absent: None, as the SDK's optional fields are.
    assert "function_call" not in message
    assert message.function_call is None
    assert "reasoning_content" not in message
    assert message.reasoning_content is None
    assert AttrDict().service_tier is None
    assert AttrDict().usage is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("choises", "'ModelResponse' object has no attribute 'choises'; did you mean 'choices'?"),
        ("json", "'ModelResponse' object has no attribute 'json'; use model_dump_json()"),
        ("text", "'ModelResponse' object has no attribute 'text'; use choices[0].message.content"),
        ("missing", "'ModelResponse' object has no attribute 'missing'"),
    ],
)
def test_any_other_missing_attribute_is_an_attribute_error(name: str, message: str) -> None:
    r = response()
    with pytest.raises(AttributeError) as info:
        getattr(r, name)
    assert str(info.value) == message
    assert not hasattr(r, name)


def test_a_typo_in_a_nested_object_names_its_keys() -> None:
    message = response().choices[0].message
    with pytest.raises(AttributeError, match="did you mean 'content'"):
        message.contnet  # noqa: B018
    with pytest.raises(AttributeError):
        message.__wrapped__  # noqa: B018
    assert not hasattr(message, "__missing_dunder__")


def test_dict_methods_win_over_keys() -> None:
    r = AttrDict({"items": 1, "get": 2})
    assert callable(r.items)
    assert callable(r.get)
    assert r["items"] == 1


def test_setting_and_deleting_attributes_edits_keys() -> None:
    r = response()
    r.extra = {"a": 1}
    assert r["extra"] == {"a": 1}
    r.choices[0].message.content = "now text"
    assert r["choices"][0]["message"]["content"] == "now text"
    del r.extra
    assert "extra" not in r
    with pytest.raises(AttributeError):
        del r.extra


def test_deepcopy() -> None:
    r = response()
    c = copy.deepcopy(r)
    assert c == r
    assert type(c) is ModelResponse
    assert type(c.choices[0].message) is AttrDict
    assert c.choices[0] is not r.choices[0]
    c.choices[0].message.role = "user"
    assert r.choices[0].message.role == "assistant"
    shallow = copy.copy(r)
    assert type(shallow) is ModelResponse
    assert shallow.choices is r.choices


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle(protocol: int) -> None:
    r = response()
    p = pickle.loads(pickle.dumps(r, protocol=protocol))
    assert p == r
    assert type(p) is ModelResponse
    assert type(p.choices[0].message.tool_calls[0].function) is AttrDict
    assert p.choices[0].message.tool_calls[0].function.name == "read_file"


def test_repr() -> None:
    assert repr(AttrDict()) == "AttrDict({})"
    assert repr(ModelResponse({"a": AttrDict({"b": [1]})})) == (
        "ModelResponse({'a': AttrDict({'b': [1]})})"
    )
    assert repr(ModelResponseStream({"id": "x"})) == "ModelResponseStream({'id': 'x'})"


def test_to_dict_returns_plain_values() -> None:
    r = response()
    plain = r.to_dict()
    assert plain == BODY
    assert type(plain) is dict
    assert type(plain["choices"][0]) is dict
    assert type(plain["choices"][0]["message"]["tool_calls"][0]["function"]) is dict
    assert type(plain["matrix"][0][0]) is dict
    plain["usage"]["total_tokens"] = 0
    assert r.usage.total_tokens == 12
    assert r.model_dump() == BODY


def test_model_dump_json() -> None:
    r = ModelResponse({"content": "héllo", "n": [1, None]})
    assert r.model_dump_json() == '{"content":"héllo","n":[1,null]}'


def test_dir_lists_keys() -> None:
    r = response()
    names = dir(r)
    assert "choices" in names
    assert "usage" in names
    assert "to_dict" in names


def test_no_instance_dict() -> None:
    # Slots-only dict subclasses: no per-instance __dict__ on the streaming hot path.
    r = response()
    assert not hasattr(r, "__dict__")
    assert r.__class__ is ModelResponse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": {"b": 1}}', {"a": {"b": 1}}),
        (b'{"a": [1, {"c": null}]}', {"a": [1, {"c": None}]}),
        ('"\\u00e9"', "é"),
        ("[]", []),
        (bytearray(b"{}"), {}),
    ],
)
def test_decode_json(text: str | bytes, expected: Any) -> None:
    assert decode_json(text) == expected


@pytest.mark.parametrize("bad", [b"", b"{", b"\xff", "nope", b'{"a":1}x'])
def test_decode_json_errors_are_value_errors(bad: str | bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError or UnicodeDecodeError
        decode_json(bad)


def test_retype_keeps_identity() -> None:
    d = decode_json('{"x": 1}')
    out = retype(d, ModelResponseStream)
    assert out is d
    assert type(out) is ModelResponseStream


def test_public_classes() -> None:
    assert ritellm.AttrDict is AttrDict
    assert ritellm.ModelResponse is ModelResponse
    assert ritellm.ModelResponseStream is ModelResponseStream
    assert issubclass(ModelResponse, AttrDict)
    assert issubclass(ModelResponseStream, AttrDict)


def test_wire_values_are_frozen() -> None:
    c = Credentials(base_url="http://h/v1", api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(c)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.api_key = "x"  # type: ignore[misc]
    req = CompletionRequest(model="m", messages=[], params={})
    assert req.stream is False
    http = HttpRequest(method=b"POST", url="http://h/v1", headers=[], body=b"")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        http.body = b"x"  # type: ignore[misc]
