"""Tests for ritellm._retry and ritellm._options: which failures are retried, how long to wait
(openai-python's policy, wire-formats §2.11-2.12) and timeout validation."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import ritellm
from ritellm._options import DEFAULT_TIMEOUT, RetryPolicy, Timeouts
from ritellm._retry import backoff, parse_retry_after, should_retry

POLICY = RetryPolicy()
# The instant "Wed, 21 Oct 2015 07:28:00 GMT" names.
DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
DATE_TS = datetime(2015, 10, 21, 7, 28, tzinfo=UTC).timestamp()


def zero() -> float:
    return 0.0


def almost_one() -> float:
    return math.nextafter(1.0, 0.0)


# --- should_retry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (529, True),
        (400, False),
        (401, False),
        (402, False),
        (403, False),
        (404, False),
        (413, False),
        (422, False),
    ],
)
def test_should_retry_by_status(status: int, expected: bool) -> None:
    assert should_retry(status, {}) is expected


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (400, "true", True),
        (401, "true", True),
        (500, "false", False),
        (429, "false", False),
        (529, "false", False),
        # Anything but exactly "true"/"false" leaves the decision to the status.
        (400, "maybe", False),
        (503, "maybe", True),
        (503, "", True),
    ],
)
def test_x_should_retry_overrides_status(status: int, header: str, expected: bool) -> None:
    assert should_retry(status, {"x-should-retry": header}) is expected


# --- parse_retry_after ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({}, 0.0, None),
        ({"retry-after-ms": "1500"}, 0.0, 1.5),
        ({"retry-after-ms": "250.5"}, 0.0, 0.2505),
        ({"retry-after-ms": "0"}, 0.0, 0.0),
        ({"retry-after": "7"}, 0.0, 7.0),
        ({"retry-after": "1.5"}, 0.0, 1.5),
        ({"retry-after": " 3 "}, 0.0, 3.0),
        ({"retry-after": "0"}, 0.0, 0.0),
        # HTTP-date: relative to the given clock, in either direction.
        ({"retry-after": DATE}, DATE_TS - 30.0, 30.0),
        ({"retry-after": DATE}, DATE_TS + 12.5, -12.5),
        ({"retry-after": "Wed, 21 Oct 2015 09:28:00 +0200"}, DATE_TS - 1.0, 1.0),
        # Negative numbers are passed through; backoff() treats them as "no hint".
        ({"retry-after": "-5"}, 0.0, -5.0),
        ({"retry-after-ms": "-100"}, 0.0, -0.1),
        # Garbage.
        ({"retry-after": "soon"}, 0.0, None),
        ({"retry-after": ""}, 0.0, None),
        ({"retry-after": "Wed, 99 Foo 2015"}, 0.0, None),
        ({"retry-after": "nan"}, 0.0, None),
        ({"retry-after": "inf"}, 0.0, None),
        ({"retry-after": "-inf"}, 0.0, None),
        ({"retry-after": "1e400"}, 0.0, None),
        ({"retry-after-ms": "nan"}, 0.0, None),
        ({"retry-after-ms": "inf"}, 0.0, None),
        ({"retry-after-ms": "soon"}, 0.0, None),
        # Precedence: milliseconds first; a useless ms value falls back to seconds.
        ({"retry-after-ms": "1000", "retry-after": "30"}, 0.0, 1.0),
        ({"retry-after-ms": "soon", "retry-after": "30"}, 0.0, 30.0),
        ({"retry-after-ms": "nan", "retry-after": "2"}, 0.0, 2.0),
        ({"retry-after-ms": "inf", "retry-after": DATE}, DATE_TS - 4.0, 4.0),
    ],
)
def test_parse_retry_after(headers: dict[str, str], now: float, expected: float | None) -> None:
    result = parse_retry_after(headers, now)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1e-9)


# --- backoff --------------------------------------------------------------------------------

NOMINAL = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.parametrize(("attempt", "nominal"), list(enumerate(NOMINAL)))
def test_backoff_nominal_without_jitter(attempt: int, nominal: float) -> None:
    assert backoff(attempt, None, zero, POLICY) == nominal


@pytest.mark.parametrize(("attempt", "nominal"), list(enumerate(NOMINAL)))
def test_backoff_full_jitter_is_three_quarters(attempt: int, nominal: float) -> None:
    delay = backoff(attempt, None, almost_one, POLICY)
    assert delay is not None
    assert 0.75 * nominal <= delay < nominal * 0.76
    assert delay == pytest.approx(0.75 * nominal, rel=1e-9)


def test_backoff_jitter_is_linear_in_rng() -> None:
    assert backoff(2, None, lambda: 0.5, POLICY) == 2.0 * (1 - 0.25 * 0.5)


def test_backoff_very_late_attempt_stays_capped() -> None:
    # max_retries is unbounded, so a "retry for a long time" policy reaches large attempt
    # numbers; the delay must stay at max_delay instead of overflowing a float.
    assert backoff(1100, None, zero, POLICY) == 8.0


@pytest.mark.parametrize("hint", [0.001, 0.644, 3.0, 59.5, 120.0])
def test_backoff_honours_server_hint_exactly(hint: float) -> None:
    # No jitter on a server hint: the server said when.
    assert backoff(0, hint, almost_one, POLICY) == hint
    assert backoff(5, hint, almost_one, POLICY) == hint


@pytest.mark.parametrize("hint", [120.001, 121.0, 3600.0, math.inf])
def test_backoff_hint_above_max_retry_after_means_stop(hint: float) -> None:
    assert backoff(0, hint, zero, POLICY) is None


@pytest.mark.parametrize("hint", [0.0, -0.5, -30.0, math.nan])
def test_backoff_non_positive_hint_falls_back_to_exponential(hint: float) -> None:
    assert backoff(0, hint, zero, POLICY) == 0.5
    assert backoff(3, hint, zero, POLICY) == 4.0


def test_backoff_follows_the_policy() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=3.0, max_retry_after=10.0)
    assert [backoff(a, None, zero, policy) for a in range(4)] == [1.0, 2.0, 3.0, 3.0]
    assert backoff(0, 10.0, zero, policy) == 10.0
    assert backoff(0, 10.5, zero, policy) is None


def test_retry_policy_defaults_match_openai_python() -> None:
    assert RetryPolicy() == RetryPolicy(
        max_retries=2, initial_delay=0.5, max_delay=8.0, max_retry_after=120.0
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        POLICY.max_retries = 5  # type: ignore[misc]
    assert attrs.evolve(POLICY, max_retries=5).max_retries == 5


# --- Timeouts --------------------------------------------------------------------------------


def test_timeout_defaults() -> None:
    t = Timeouts()
    assert (t.connect, t.read, t.write, t.pool, t.total) == (5.0, 600.0, 600.0, 600.0, None)
    assert t == DEFAULT_TIMEOUT
    assert ritellm.Timeouts is Timeouts
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        t.read = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("field", ["connect", "read", "write", "pool", "total"])
@pytest.mark.parametrize("value", [-1, -0.5, 0, 0.0, math.nan])
def test_timeout_rejects_non_positive(field: str, value: float) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        Timeouts(**{field: value})
    assert str(info.value) == f"Timeouts.{field} must be > 0 seconds, got {value!r}"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("field", ["connect", "read", "write", "pool", "total"])
@pytest.mark.parametrize(
    ("value", "type_name"), [(True, "bool"), (False, "bool"), ("5", "str"), ([1], "list")]
)
def test_timeout_rejects_wrong_types(field: str, value: object, type_name: str) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        Timeouts(**{field: value})  # type: ignore[arg-type]
    assert str(info.value) == (
        f"Timeouts.{field} must be a number of seconds or None, not {type_name}"
    )
    assert isinstance(info.value, TypeError)


def test_timeout_accepts_ints_floats_and_none() -> None:
    t = Timeouts(connect=1, read=2.5, write=None, pool=None, total=30)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (1, 2.5, None, None, 30)


@pytest.mark.parametrize("stream", [False, True])
def test_coerce_none_and_instances(stream: bool) -> None:
    assert Timeouts.coerce(None, stream=stream) is DEFAULT_TIMEOUT
    custom = Timeouts(read=3.0)
    assert Timeouts.coerce(custom, stream=stream) is custom


@pytest.mark.parametrize("value", [30, 30.0])
def test_coerce_number_non_stream_bounds_the_whole_call(value: float) -> None:
    t = Timeouts.coerce(value, stream=False)
    assert t == Timeouts(connect=30.0, read=30.0, write=30.0, pool=30.0, total=30.0)
    assert isinstance(t.total, float)


@pytest.mark.parametrize("value", [30, 30.0])
def test_coerce_number_stream_bounds_each_read(value: float) -> None:
    t = Timeouts.coerce(value, stream=True)
    assert t == Timeouts(connect=30.0, read=30.0, write=30.0, pool=30.0, total=None)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("value", "type_name"), [(True, "bool"), ("30", "str"), ({}, "dict")])
def test_coerce_rejects_wrong_types(stream: bool, value: object, type_name: str) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        Timeouts.coerce(value, stream=stream)
    assert str(info.value) == (
        f"timeout must be a number of seconds, a ritellm.Timeouts or None, not {type_name}"
    )


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("value", [-1, 0, -0.5, math.nan])
def test_coerce_rejects_non_positive(stream: bool, value: float) -> None:
    with pytest.raises(ritellm.ParameterError, match="must be > 0 seconds"):
        Timeouts.coerce(value, stream=stream)


# --- ritellm.Timeout is LiteLLM's timeout exception ----------------------------------------


def test_timeout_is_the_timeout_exception() -> None:
    assert ritellm.Timeout is ritellm.APITimeoutError
    assert issubclass(ritellm.Timeout, TimeoutError)
    err = ritellm.Timeout()
    assert str(err) == "Request timed out."
    assert str(ritellm.Timeout("read timed out", model="gpt-4o")) == "gpt-4o: read timed out"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"read": 30}, "read=..."), ({"connect": 1, "total": 9}, "connect=..., total=...")],
)
def test_timeout_called_as_a_configuration_names_the_fix(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        ritellm.Timeout(**kwargs)
    assert str(info.value) == (
        "ritellm.Timeout is the timeout exception (as in LiteLLM), not a configuration: "
        f"for per-phase timeouts pass timeout=ritellm.Timeouts({named})"
    )


@pytest.mark.parametrize("value", [ritellm.Timeout, ritellm.Timeout("30")])
def test_coerce_rejects_the_timeout_exception_by_name(value: object) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        Timeouts.coerce(value, stream=False)
    assert str(info.value) == (
        "timeout=ritellm.Timeout: ritellm.Timeout is the timeout exception (as in LiteLLM); "
        "pass seconds or ritellm.Timeouts(connect=..., read=..., ...)"
    )
