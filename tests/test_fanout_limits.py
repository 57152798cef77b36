"""Fan-out rate limits: parsing providers' rate-limit headers, pacing by them, learning a rate
from 429s alone, and the simulator's bucket; plus misuse of completions_as_completed and bugs
that must propagate instead of becoming results."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

import ritellm
from ritellm._fanout._admission import Admission, Ticket
from ritellm._fanout._learn import RateFromRefusals
from ritellm._ratelimits import (
    Limit,
    RateLimits,
    parse_go_duration,
    parse_rate_limits,
    parse_rfc3339,
)
from ritellm.testing import Simulator
from ritellm.testing.__main__ import main as simulator_main
from ritellm.testing._limits import TokenBucket, openai_headers, without_quota_headers


def req(i: int, **sim: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": f"q{i}"}],
    }
    if sim:
        request["extra_headers"] = {"x-ritellm-sim": json.dumps(sim)}
    return request


# -- header parsing (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12ms", 0.012),
        ("1s", 1.0),
        ("9.816s", 9.816),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        ("250ns", 2.5e-7),
        ("0s", 0.0),
        (" 2s ", 2.0),
        ("1.5", 1.5),  # a bare number: seconds
        ("", None),
        ("s", None),
        ("1x", None),
        ("1s2", None),
        ("-1s", None),
        ("-1", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_go_duration(text: str, seconds: float | None) -> None:
    parsed = parse_go_duration(text)
    if seconds is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(seconds)


NOON = datetime(2025, 10, 25, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-25T12:00:00Z", (NOON, 1.0)),
        ("2025-10-25t12:00:00z", (NOON, 1.0)),
        ("2025-10-25T12:00:00.250Z", (NOON + 0.25, 0.001)),
        ("2025-10-25T12:00:00.5+00:00", (NOON + 0.5, 0.1)),
        ("2025-10-25T14:00:00+02:00", (NOON, 1.0)),
        ("2025-10-25T12:00:00", None),  # no zone: not RFC 3339
        ("2025-10-25", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_rfc3339(text: str, expected: tuple[float, float] | None) -> None:
    parsed = parse_rfc3339(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert parsed[0] == pytest.approx(expected[0])
        assert parsed[1] == pytest.approx(expected[1])


OPENAI = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "200000",
    "x-ratelimit-remaining-tokens": "199970",
    "x-ratelimit-reset-tokens": "9ms",
}
ANTHROPIC = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "40",
    "anthropic-ratelimit-requests-reset": "2025-10-25T12:00:12Z",
    "anthropic-ratelimit-tokens-limit": "40000",
    "anthropic-ratelimit-tokens-remaining": "30000",
    "anthropic-ratelimit-tokens-reset": "2025-10-25T12:00:15Z",
    "anthropic-ratelimit-input-tokens-limit": "30000",  # the split ones are not used
}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            OPENAI,
            RateLimits(
                requests=Limit(limit=10000, remaining=9999, reset=0.006, resolution=0.001),
                tokens=Limit(limit=200000, remaining=199970, reset=0.009, resolution=0.001),
            ),
        ),
        (
            ANTHROPIC,
            RateLimits(
                requests=Limit(limit=50, remaining=40, reset=12.0, resolution=1.0),
                tokens=Limit(limit=40000, remaining=30000, reset=15.0, resolution=1.0),
            ),
        ),
        (  # only the requests bucket stated
            {k: v for k, v in OPENAI.items() if "requests" in k},
            RateLimits(requests=Limit(limit=10000, remaining=9999, reset=0.006, resolution=0.001)),
        ),
        (  # a bucket missing its reset is not stated
            {k: v for k, v in OPENAI.items() if k != "x-ratelimit-reset-tokens"},
            RateLimits(requests=Limit(limit=10000, remaining=9999, reset=0.006, resolution=0.001)),
        ),
        (  # Azure's -1 / 0 placeholders say nothing (wire-formats §3.4)
            {
                "x-ratelimit-limit-requests": "-1",
                "x-ratelimit-remaining-requests": "-1",
                "x-ratelimit-reset-requests": "0s",
            },
            None,
        ),
        (
            {
                "x-ratelimit-limit-requests": "0",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "0s",
            },
            None,
        ),
        (  # remaining above the limit is clamped; a reset in the past is 0
            {
                "x-ratelimit-limit-requests": "5",
                "x-ratelimit-remaining-requests": "7",
                "x-ratelimit-reset-requests": "1s",
                "anthropic-ratelimit-tokens-limit": "10",
                "anthropic-ratelimit-tokens-remaining": "3",
                "anthropic-ratelimit-tokens-reset": "2025-10-25T11:59:00Z",
            },
            RateLimits(
                requests=Limit(limit=5, remaining=5, reset=1.0, resolution=0.001),
                tokens=Limit(limit=10, remaining=3, reset=0.0, resolution=1.0),
            ),
        ),
        ({"x-ratelimit-limit-requests": "x", "x-ratelimit-remaining-requests": "1"}, None),
        ({"content-type": "application/json"}, None),
    ],
)
def test_parse_rate_limits(headers: dict[str, str], expected: RateLimits | None) -> None:
    assert parse_rate_limits(headers, now=NOON) == expected


@pytest.mark.parametrize(
    ("limit", "rate"),
    [
        (Limit(limit=60, remaining=58, reset=2.0, resolution=0.001), 1 / 2.001),
        (Limit(limit=10000, remaining=9900, reset=0.6, resolution=0.001), 99 / 0.601),
        (Limit(limit=20, remaining=0, reset=0.1, resolution=0.001), 19 / 0.101),
        (Limit(limit=50, remaining=40, reset=12.0, resolution=1.0), 9 / 13),
        (Limit(limit=1, remaining=0, reset=0.5, resolution=0.001), 1 / 0.5005),  # exact
        (Limit(limit=60, remaining=59, reset=1.0, resolution=0.001), None),  # a token or two?
        (Limit(limit=5, remaining=5, reset=0.0, resolution=0.001), None),  # full: no clue
        (Limit(limit=5, remaining=3, reset=0.0, resolution=0.001), None),
        (Limit(limit=5, remaining=3, reset=0.001, resolution=0.001), None),  # too coarse
        (Limit(limit=50, remaining=40, reset=1.0, resolution=1.0), None),
    ],
)
def test_limit_rate_floor(limit: Limit, rate: float | None) -> None:
    assert limit.rate_floor() == (None if rate is None else pytest.approx(rate))
    ceiling = limit.rate_ceiling
    if rate is not None:
        assert ceiling is not None and ceiling >= rate


def test_a_refused_request_leaves_a_bucket_of_one_anywhere() -> None:
    # Its level may be just short of a token: 1 ms to go says nothing of the rate.
    limit = Limit(limit=1, remaining=0, reset=0.002, resolution=0.001)
    assert limit.rate_floor(counted=False) is None
    assert limit.rate_floor(counted=True) == pytest.approx(1 / 0.0025)


@pytest.mark.parametrize(
    ("limit", "rate"),
    [
        (Limit(limit=60, remaining=59, reset=1.0, resolution=0.001), 1.0),
        (Limit(limit=10000, remaining=9999, reset=0.006, resolution=0.001), 1 / 0.006),
        (Limit(limit=20, remaining=0, reset=0.1, resolution=0.001), 200.0),
        (Limit(limit=5, remaining=5, reset=0.0, resolution=0.001), None),
        (Limit(limit=50, remaining=40, reset=1.0, resolution=1.0), None),
    ],
)
def test_limit_rate_ceiling(limit: Limit, rate: float | None) -> None:
    assert limit.rate_ceiling == (None if rate is None else pytest.approx(rate))


def test_simulator_headers_parse_back_to_its_bucket() -> None:
    """The simulator's own x-ratelimit-* headers give its rate back (OpenAI's reading: reset
    is when the bucket is full again); the least estimate is the one paced by."""
    bucket = TokenBucket(200, burst=20)
    rates = []
    for i in range(40):
        quota = bucket.acquire(i * 0.001)
        headers = {k.decode(): v.decode() for k, v in openai_headers(quota)}
        limits = parse_rate_limits(headers, now=0.0)
        assert limits is not None and limits.requests is not None
        assert limits.requests.limit == 20
        floor = limits.requests.rate_floor(counted=not quota.wait)
        if floor is not None:
            rates.append(floor)
    assert len(rates) > 30
    assert all(rate <= 200 for rate in rates)  # lower bounds...
    assert max(rates) == pytest.approx(200, rel=0.03)  # ...and the best is the rate


# -- learning from 429s alone (pure) -----------------------------------------------------------


def learn(rate: float, burst: float, send_rate: float, seconds: float) -> list[float]:
    """Send at ``send_rate`` to a ``rate``/``burst`` bucket, holding back after a refusal
    until its retry-after (as the fan-out does), and return the estimates after each
    refusal. Refusals come back after 1 ms; retry-after is in whole milliseconds."""
    bucket = TokenBucket(rate, burst)
    learner = RateFromRefusals()
    estimates = []
    sent = 0.0
    while sent < seconds:
        learner.sent(sent)
        quota = bucket.acquire(sent)
        following = sent + 1 / send_rate
        if quota.wait:
            retry_after = math.ceil(quota.wait * 1000) / 1000
            estimate = learner.refused(sent, sent + 0.001, retry_after)
            assert estimate is not None
            estimates.append(estimate)
            following = sent + 0.001 + retry_after  # the fan-out goes when it may
        sent = following
    return estimates


@pytest.mark.parametrize(
    ("rate", "burst"), [(2.0, 1.0), (20.0, 2.0), (200.0, 20.0), (200.0, 2.0), (50.0, 50.0)]
)
def test_refusals_teach_the_rate_from_below(rate: float, burst: float) -> None:
    estimates = learn(rate, burst, send_rate=rate * 1.5, seconds=max(3.0, 20 / rate))
    assert estimates
    # The first refusal only bounds it (one token per retry-after at most)...
    assert estimates[0] >= rate * 0.8
    # ...a long enough baseline pins it down, never above the rate by more than the noise.
    assert rate * 0.9 <= estimates[-1] <= rate * 1.01


def test_a_burst_of_refusals_in_any_order_is_not_a_rate() -> None:
    """Requests sent at the same moment reach the provider in any order: their refusals say
    nothing about a rate, however the answers interleave."""
    learner = RateFromRefusals()
    assert learner.refused(0.0002, 0.001, 0.5) == pytest.approx(2.0)  # one per retry-after
    for sent in (0.0, 0.0001, 0.0002, 0.0003):
        learner.sent(sent)
    # The one sent at 0.0001 was admitted; 0.0 and 0.0003 come back refused, their next
    # token a little later (jitter). Were 0.0001 counted as admitted between them, that
    # would be 1 request per 0.5 ms.
    assert learner.refused(0.0003, 0.0015, 0.5) == pytest.approx(2.0)
    assert learner.refused(0.0, 0.0012, 0.5) == pytest.approx(2.0)


def test_the_learner_forgets_what_it_no_longer_needs() -> None:
    learner = RateFromRefusals()
    learner.refused(0.0, 0.001, 0.5)
    assert learner.settled is False
    for i in range(100_000):  # 100 s of sending without another refusal
        learner.sent(i * 0.001)
    assert learner._sent == []  # the refusal is long past: nothing to pair it with


# -- the simulator's bucket ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst", "capacity"), [(5, None, 5.0), (0.5, None, 1.0), (200, 20, 20.0)]
)
def test_token_bucket_burst(rate: float, burst: float | None, capacity: float) -> None:
    bucket = TokenBucket(rate, burst)
    granted = sum(1 for _ in range(100) if not bucket.acquire(0.0).wait)
    assert granted == int(capacity)
    assert bucket.acquire(0.0).limit == int(capacity)


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (5, 0.5), (5, 0)])
def test_token_bucket_rejects_nonsense(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="rate_"):
        TokenBucket(rate, burst)


def test_without_quota_headers_keeps_retry_after() -> None:
    headers = [
        (b"x-ratelimit-limit-requests", b"1"),
        (b"Anthropic-RateLimit-Requests-Limit", b"1"),
        (b"retry-after", b"1"),
        (b"retry-after-ms", b"500"),
    ]
    assert without_quota_headers(headers) == [(b"retry-after", b"1"), (b"retry-after-ms", b"500")]


@pytest.mark.parametrize(
    "argv",
    [["--rate-burst", "2"], ["--rate-limit", "5", "--rate-burst", "0.5"]],
)
def test_simulator_cli_checks_the_burst(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        simulator_main(argv)
    assert info.value.code == 2


def test_simulator_burst_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="rate_burst needs a rate_limit"):
        Simulator(rate_burst=2)


@pytest.mark.anyio
async def test_simulator_without_rate_headers_still_says_when() -> None:
    async with (
        Simulator(rate_limit=1, rate_burst=1, rate_headers=False) as sim,
        ritellm.AsyncClient(base_url=sim.base_url, num_retries=0) as c,
    ):
        with anyio.fail_after(10):
            await c.acompletion("openai/m", [{"role": "user", "content": "hi"}])
            with pytest.raises(ritellm.RateLimitError) as info:
                await c.acompletion("openai/m", [{"role": "user", "content": "hi"}])
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 1
    assert info.value.headers is not None
    assert not any(name.startswith("x-ratelimit") for name in info.value.headers)
    assert (sim.stats.requests, sim.stats.rate_limited) == (2, 1)


# -- the admission controller, given headers -----------------------------------------------------


def clock() -> float:
    return anyio.current_time()


def stated(limit: int, remaining: int, reset: str) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
    }


@pytest.mark.anyio
async def test_stated_limits_pace_and_never_exceed_remaining() -> None:
    admission = Admission(16, rpm=None, tpm=None)
    first = admission._take(clock(), 0.0)
    assert admission.pace is None  # nothing known yet: no waiting
    # 60 per second, 3 left, sent just now: 3 may go at once, the 4th waits about a 60th.
    admission.observer(first)(200, stated(60, 3, "950ms"))
    pace = 57 / 0.95 * 0.99  # used / reset, 1% below
    assert admission.pace == pytest.approx(pace)
    for _ in range(3):
        assert admission._wait(clock(), 0.0) <= 0
        admission._take(clock(), 0.0)
    assert admission._wait(clock(), 0.0) == pytest.approx(1 / pace, rel=0.05)


@pytest.mark.anyio
async def test_stated_limits_count_what_was_sent_since() -> None:
    admission = Admission(16, rpm=None, tpm=None)
    tickets = [admission._take(clock(), 0.0) for _ in range(5)]
    # The first request's answer says 4 left; the 4 sent after it are not counted in that.
    admission.observer(tickets[0])(200, stated(10, 4, "600ms"))
    assert admission._wait(clock(), 0.0) > 0
    # A fresher answer (the last request's) wins; an older one arriving late is ignored.
    admission.observer(tickets[4])(200, stated(10, 8, "200ms"))
    assert admission._wait(clock(), 0.0) <= 0
    admission.observer(tickets[1])(200, stated(10, 0, "1s"))
    assert admission._wait(clock(), 0.0) <= 0


@pytest.mark.anyio
async def test_stated_token_limits_pace_by_the_estimate() -> None:
    admission = Admission(16, rpm=None, tpm=None)
    assert not admission.wants_estimates
    ticket = admission._take(clock(), 0.0)
    admission.observer(ticket)(
        200,
        {
            "x-ratelimit-limit-tokens": "6000",
            "x-ratelimit-remaining-tokens": "100",
            "x-ratelimit-reset-tokens": "59s",
        },
    )
    assert admission.wants_estimates  # from now on requests carry their token estimate
    # About 100 per second, as many at once (a second's worth); a bigger request still goes
    # when the bucket is full, and the next one waits until the debt is paid back.
    pace = 5900 / 59 * 0.99
    assert admission._wait(clock(), 500.0) <= 0
    admission._take(clock(), 500.0)
    assert admission._wait(clock(), 50.0) == pytest.approx((500 - pace + 50) / pace, rel=0.05)


@pytest.mark.anyio
async def test_a_429_holds_everyone_until_its_retry_after() -> None:
    admission = Admission(16, rpm=None, tpm=None)
    ticket = admission._take(clock(), 0.0)
    admission.rate_limited(ticket, 2.0)
    assert admission._wait(clock(), 0.0) == pytest.approx(2.0, abs=0.1)
    assert admission.limit == 8  # the first 429, before anything paced, halved it
    assert admission.pace == pytest.approx(0.5)  # at most one per retry-after so far


@pytest.mark.anyio
async def test_the_head_of_the_queue_wakes_when_the_provider_allows_more() -> None:
    """A request waiting a long time for the provider's stated bucket is woken as soon as a
    fresher answer says there is room (no sleeping through it)."""
    admission = Admission(16, rpm=None, tpm=None)
    ticket = admission._take(clock(), 0.0)
    admission.observer(ticket)(200, stated(1, 0, "60s"))  # one a minute, none left
    admitted = anyio.Event()

    async def waiter() -> None:
        await admission.admit(0.0)
        admitted.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert not admitted.is_set()
            fresh = Ticket(seq=admission.sent, sent_at=anyio.current_time(), tokens_sent=0.0)
            admission.observer(fresh)(200, stated(60, 30, "30s"))  # room after all
            await admitted.wait()


# -- pacing against the simulator ------------------------------------------------------------


@pytest.mark.anyio
async def test_a_limiter_given_headers_paces_at_the_stated_limit() -> None:
    """The first requests fit in the burst; from their answers on, the fan-out paces by the
    headers and the server never has to refuse one."""
    async with (
        Simulator(rate_limit=20, rate_burst=4) as sim,
        ritellm.AsyncClient(base_url=sim.base_url) as c,
    ):
        seen: list[ritellm.FanoutStats] = []
        with anyio.fail_after(30):
            results = await ritellm.gather_completions(
                [req(i) for i in range(40)],
                max_concurrency=4,
                client=c,
                progress=lambda s: seen.append(copy.copy(s)),
            )
    assert all(isinstance(r, ritellm.ModelResponse) for r in results)
    assert sim.stats.requests == 40
    assert sim.stats.rate_limited == 0
    assert seen[-1].pace == pytest.approx(20 * 0.99, rel=0.05)


@pytest.mark.anyio
async def test_without_headers_the_rate_is_learned_from_429s() -> None:
    async with (
        Simulator(rate_limit=20, rate_burst=2, rate_headers=False) as sim,
        ritellm.AsyncClient(base_url=sim.base_url) as c,
    ):
        seen: list[ritellm.FanoutStats] = []
        with anyio.fail_after(30):
            results = await ritellm.gather_completions(
                [req(i) for i in range(40)],
                max_concurrency=8,
                return_exceptions=True,
                client=c,
                progress=lambda s: seen.append(copy.copy(s)),
            )
    assert all(isinstance(r, ritellm.ModelResponse) for r in results)
    final = seen[-1]
    assert (final.done, final.failed) == (40, 0)
    assert final.retried == sim.stats.rate_limited
    # The first burst is refused; after that it paces instead of hammering.
    assert sim.stats.rate_limited < 20
    assert final.pace is not None and 10 <= final.pace <= 30


# -- misuse and bugs ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_as_completed_without_async_with_is_a_type_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    results = ritellm.completions_as_completed([req(0)], client=client)
    with anyio.fail_after(5):
        with pytest.raises(TypeError, match=r"async with completions_as_completed\(\.\.\.\)"):
            async for _ in results:
                pass
        with pytest.raises(TypeError, match="async with"):
            await ritellm.completions_as_completed([req(0)], client=client)
    assert sim.requests == []  # nothing ran


@pytest.mark.anyio
async def test_as_completed_is_entered_once_and_iterated_inside(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with anyio.fail_after(10):
        async with ritellm.completions_as_completed([req(0)], client=client) as results:
            with pytest.raises(RuntimeError, match="only once"):
                await results.__aenter__()
            assert [index async for index, _ in results] == [0]
        with pytest.raises(RuntimeError, match="inside the `async with`"):
            async for _ in results:
                pass


class Buggy(ritellm.AsyncClient):
    """A client whose call has a bug (not a ritellm error) for one model."""

    async def _run(self, call: Any, *, observer: Any = None, report: Any = "new") -> Any:
        if call.model == "openai/buggy":
            raise TypeError("a bug, not an API error")
        return await super()._run(call, observer=observer, report=report)


@pytest.mark.anyio
async def test_a_bug_propagates_instead_of_filling_a_slot(sim: Simulator) -> None:
    requests = [req(0), {**req(1), "model": "openai/buggy"}, req(2, status=404)]
    async with Buggy(base_url=sim.base_url) as c:
        with anyio.fail_after(10):
            with pytest.raises(TypeError, match="a bug"):
                await ritellm.gather_completions(requests, return_exceptions=True, client=c)
            with pytest.raises(TypeError, match="a bug"):
                async with ritellm.completions_as_completed(
                    requests, return_exceptions=True, client=c
                ) as results:
                    async for _ in results:
                        pass
            with pytest.raises(TypeError, match="a bug"):
                await ritellm.race_completions([{**req(0), "model": "openai/buggy"}], client=c)
            # ritellm's own errors still fill their slots.
            slots = await ritellm.gather_completions(
                [req(0), req(2, status=404)], return_exceptions=True, client=c
            )
    assert isinstance(slots[1], ritellm.NotFoundError)


@pytest.mark.anyio
async def test_a_bug_in_a_progress_callback_propagates(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    def progress(stats: ritellm.FanoutStats) -> None:
        if stats.done == 1:  # once: two at a time would be an ExceptionGroup of both
            raise TypeError("callback bug")

    with anyio.fail_after(10), pytest.raises(TypeError, match="callback bug"):
        await ritellm.gather_completions(
            [req(i) for i in range(5)], return_exceptions=True, progress=progress, client=client
        )
    with anyio.fail_after(5):
        await sim.wait_until(lambda s: s.in_flight == 0)
