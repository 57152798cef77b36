"""``mock_response=`` (LiteLLM's option): what a mocked call answers instead of calling its
provider — a text, a whole chat.completion, or an error — as a response or as stream chunks.

Pure: standard library and ritellm's pure modules; never anyio. Running a mocked call (no
I/O: a checkpoint, the stream object, the report) is ritellm._mock_run's job.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._error_map import class_for_status
from ._errors import (
    APIError,
    ContextWindowExceededError,
    InternalServerError,
    ParameterError,
    ParameterTypeError,
    RateLimitError,
    RiteLLMError,
)
from ._providers._common import chunk, usage
from ._types import AttrDict, ModelResponse, ModelResponseStream, decode_json, retype

__all__ = ["Mock", "check_mock", "mock_chunks", "mock_error", "mock_response"]

# LiteLLM's strings that stand for an error (its mock_completion raises these three).
_NAMED: dict[str, tuple[type[APIError], int, str]] = {
    "litellm.RateLimitError": (RateLimitError, 429, "this is a mock rate limit error"),
    "litellm.ContextWindowExceededError": (
        ContextWindowExceededError,
        400,
        "this is a mock context window exceeded error",
    ),
    "litellm.InternalServerError": (
        InternalServerError,
        500,
        "this is a mock internal server error",
    ),
}

# The status an error class stands for, for a mock error made without one (a timeout or a
# connection error has none: nothing answered).
_STATUS_OF = {class_for_status(s): s for s in (400, 401, 403, 404, 409, 422, 429, 500, 503)}

# The simulator's stream tokens: each word with its trailing whitespace (leading whitespace
# sticks to the first word), so a mock streams and counts like ritellm.testing's answers.
_WORDS = re.compile(r"\s*\S+\s*|\s+")


@attrs.frozen
class Mock:
    """A checked ``mock_response``: exactly one of the three is set."""

    text: str | None = None
    response: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    """A chat.completion as plain JSON values (a copy: the caller's dict is never changed)."""
    error: BaseException | str | None = None
    """An exception instance to raise, or one of LiteLLM's error names."""


def check_mock(value: object) -> Mock | None:
    """``mock_response`` checked (None: the call is not mocked).

    Raises:
        ParameterTypeError: not a str, a dict or an exception instance (an exception class
            says to pass an instance); a dict that is not JSON.
        ParameterError: a dict without a ``choices`` list.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return Mock(error=value) if value in _NAMED else Mock(text=value)
    if isinstance(value, Mapping):
        try:
            parsed = json.loads(json.dumps(value))
        except (TypeError, ValueError) as exc:
            raise ParameterTypeError(
                f"mock_response: a dict must be a JSON-serialisable chat.completion: {exc}"
            ) from None
        if not isinstance(parsed.get("choices"), list):
            raise ParameterError(
                "mock_response: a dict must be a chat.completion with a 'choices' list, e.g. "
                '{"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}'
            )
        return Mock(response=parsed)
    if isinstance(value, type) and issubclass(value, BaseException):
        raise ParameterTypeError(
            f"mock_response takes an exception instance, not the class {value.__name__}: "
            f"e.g. mock_response={value.__name__}(...)"
        )
    if isinstance(value, Exception):
        return Mock(error=value)
    raise ParameterTypeError(
        "mock_response must be a str (the answer's text), a dict (a chat.completion) or an "
        f"exception instance, not {type(value).__name__}"
    )


def mock_error(mock: Mock, *, provider: str, model: str) -> Exception:
    """The exception a failing mock raises: a fresh one on every call (so that filling in
    provider, model and metadata never changes the caller's instance).

    ritellm's own errors are raised as copies of themselves, with the HTTP status their
    class stands for when they were made without one; LiteLLM's error names as the
    ritellm class they name; any other exception, as LiteLLM does, as an APIError (typed by
    its ``status_code`` attribute, default 500) caused by it.
    """
    error = mock.error
    assert error is not None
    if isinstance(error, str):
        cls, status, message = _NAMED[error]
        return cls(message, status_code=status, provider=provider, model=model)
    if isinstance(error, RiteLLMError):
        fresh = copy.copy(error)
        fresh.__traceback__ = None
        if isinstance(fresh, APIError) and fresh.status_code is None:
            fresh.status_code = next(
                (_STATUS_OF[k] for k in type(fresh).__mro__ if k in _STATUS_OF), None
            )
        return fresh
    assert isinstance(error, Exception)
    given = getattr(error, "status_code", None)
    status = given if type(given) is int and 400 <= given <= 599 else 500
    text = getattr(error, "text", None)
    message = text if isinstance(text, str) and text else str(error) or type(error).__name__
    wrapped = class_for_status(status)(message, status_code=status, provider=provider, model=model)
    wrapped.__cause__ = error
    return wrapped


def _words(text: str) -> list[str]:
    return _WORDS.findall(text)


def _prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Words in the messages' text, as the simulator counts a prompt."""
    count = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            count += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    count += len(part["text"].split())
    return count


def _estimate(choices: Sequence[Mapping[str, Any]], messages: Sequence[Mapping[str, Any]]) -> Any:
    completion = 0
    for choice in choices:
        message = choice.get("message")
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            completion += len(_words(content))
    return usage(_prompt_tokens(messages), completion)


def mock_response(
    mock: Mock,
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    n: object,
    id: str,
    created: int,
) -> ModelResponse:
    """The chat.completion a (non-failing) mock answers.

    A text becomes ``n`` (default 1) choices with that content and ``finish_reason="stop"``;
    a dict is returned as given, its missing ``id``, ``object``, ``created``, ``model`` and
    ``usage`` filled in. ``usage`` is an estimate counted as the simulator counts: the words
    of the messages' text for the prompt, and the answer's word-sized stream pieces.
    """
    if mock.response is not None:
        body: dict[str, Any] = dict(mock.response)
        choices = body["choices"]
    else:
        assert mock.text is not None
        count = n if type(n) is int and n > 0 else 1
        choices = [
            {
                "index": index,
                "message": {"role": "assistant", "content": mock.text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
            for index in range(count)
        ]
        body = {"choices": choices}
    body.setdefault("id", id)
    body.setdefault("object", "chat.completion")
    body.setdefault("created", created)
    body.setdefault("model", model)
    body.setdefault("system_fingerprint", None)
    if body.get("usage") is None:
        body["usage"] = _estimate(choices, messages)
    # Every object an AttrDict (r.choices[0].message.content), as a decoded response.
    return retype(decode_json(json.dumps(body)), ModelResponse)


def mock_chunks(response: ModelResponse, *, include_usage: bool) -> list[ModelResponseStream]:
    """``response`` as a stream: per choice, its content in word-sized pieces (the role with
    the first), then any reasoning, tool calls and refusal in one delta each, then a chunk
    with its finish_reason; last, with ``include_usage``, a usage chunk without choices —
    OpenAI's chunk sequence, which ``stream_chunk_builder`` assembles back."""
    # As the response has them (a dict mock's may be of any JSON type).
    id_: Any = response.get("id")
    created: Any = response.get("created")
    model: Any = response.get("model")
    out: list[ModelResponseStream] = []

    def add(delta: dict[str, Any], index: int, finish: str | None = None) -> None:
        out.append(
            chunk(
                id=id_,
                created=created,
                model=model,
                delta=AttrDict(delta),
                finish_reason=finish,
                index=index,
            )
        )

    for position, choice in enumerate(response.get("choices") or ()):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        role = message.get("role") or "assistant"
        content = message.get("content")
        pieces = _words(content) if isinstance(content, str) and content else [""]
        add({"role": role, "content": pieces[0]}, index)
        for piece in pieces[1:]:
            add({"content": piece}, index)
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            add({"reasoning_content": reasoning}, index)
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            add({"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]}, index)
        if message.get("refusal"):
            add({"refusal": message["refusal"]}, index)
        add({}, index, choice.get("finish_reason") or "stop")
    if include_usage and response.get("usage") is not None:
        out.append(
            ModelResponseStream(
                id=id_,
                object="chat.completion.chunk",
                created=created,
                model=model,
                system_fingerprint=None,
                choices=[],
                usage=response["usage"],
            )
        )
    return out
