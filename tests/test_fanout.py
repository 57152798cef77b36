"""Fan-out: gather_completions, completions_as_completed, rate limits, fallbacks, races."""

from __future__ import annotations

import copy
import json
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

pytestmark = pytest.mark.anyio


def req(i: int, **sim: Any) -> dict[str, Any]:
    """A request whose simulator reply is chosen by header (so it can differ per request)."""
    request: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": f"q{i}"}],
    }
    if sim:
        request["extra_headers"] = {"x-ritellm-sim": json.dumps(sim)}
    return request


def answer(r: Any) -> str:
    return str(r["choices"][0]["message"]["content"])


async def test_results_in_input_order(sim: Simulator, client: ritellm.AsyncClient) -> None:
    # Later requests answer sooner, so completion order is the reverse of input order.
    requests = [req(i, latency=0.01 * (5 - i)) for i in range(6)]
    with anyio.fail_after(10):
        results = await ritellm.gather_completions(requests, client=client)
    assert [answer(r).rsplit(" ", 1)[-1] for r in results] == [f"q{i}" for i in range(6)]
    assert all(isinstance(r, ritellm.ModelResponse) for r in results)


async def test_concurrency_never_exceeds_the_limit(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [req(i, latency=0.02) for i in range(40)]
    with anyio.fail_after(20):
        results = await ritellm.gather_completions(requests, max_concurrency=5, client=client)
    assert len(results) == 40
    assert sim.stats.max_in_flight == 5  # measured at the server


async def test_first_failure_cancels_the_rest_and_is_raised_itself(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [req(i, latency=5) for i in range(10)]
    requests[3] = req(3, status=400, error_message="bad prompt 3")
    with anyio.fail_after(5), pytest.raises(ritellm.BadRequestError, match="bad prompt 3"):
        await ritellm.gather_completions(requests, max_concurrency=10, client=client)
    # The slow ones were cancelled, not waited for: their connections are gone.
    with anyio.fail_after(5):
        await sim.wait_until(lambda s: s.in_flight == 0)


async def test_return_exceptions(sim: Simulator, client: ritellm.AsyncClient) -> None:
    requests = [req(i) for i in range(5)]
    requests[1] = req(1, status=404)
    requests[4] = req(4, status=401)
    results = await ritellm.gather_completions(requests, return_exceptions=True, client=client)
    assert isinstance(results[1], ritellm.NotFoundError)
    assert isinstance(results[4], ritellm.AuthenticationError)
    assert [answer(results[i]).endswith(f"q{i}") for i in (0, 2, 3)] == [True] * 3


async def test_caller_cancellation_stops_everything_promptly(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [req(i, latency=30) for i in range(50)]
    with anyio.move_on_after(5) as outer:
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await ritellm.gather_completions(requests, max_concurrency=20, client=client)

            tg.start_soon(run)
            await sim.wait_until(lambda s: s.in_flight == 20)
            started = anyio.current_time()
            tg.cancel_scope.cancel()
    assert not outer.cancelled_caught
    assert anyio.current_time() - started < 1.0  # every task finished promptly
    transport = client.transport()
    assert transport.active_connections == 0
    with anyio.fail_after(5):
        await sim.wait_until(lambda s: s.in_flight == 0)


async def test_bad_requests_fail_before_any_io(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.ParameterError, match=r"requests\[2\]"):
        await ritellm.gather_completions([req(0), req(1), {"model": "gpt-4o"}], client=client)
    with pytest.raises(ritellm.ParameterTypeError, match=r"requests\[1\]"):
        await ritellm.gather_completions([req(0), "hi"], client=client)  # type: ignore[list-item]
    with pytest.raises(ritellm.UnknownProviderError, match=r"requests\[0\]"):
        await ritellm.gather_completions([{**req(0), "model": "nope/x"}], client=client)
    with pytest.raises(ritellm.ParameterError, match="max_concurrency"):
        await ritellm.gather_completions([req(0)], max_concurrency=0, client=client)
    assert sim.requests == []


async def test_as_completed_yields_in_completion_order(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [req(0, latency=0.3), req(1, latency=0.0), req(2, latency=0.15)]
    order = []
    with anyio.fail_after(10):
        async with ritellm.completions_as_completed(requests, client=client) as results:
            async for index, item in results:
                assert isinstance(item, ritellm.ModelResponse)
                assert answer(item).endswith(f"q{index}")
                order.append(index)
    assert order == [1, 2, 0]


async def test_as_completed_applies_backpressure(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    """A consumer that stops reading stops the fan-out: ritellm never buffers without bound."""
    requests = [req(i) for i in range(100)]
    with anyio.fail_after(10):
        async with ritellm.completions_as_completed(
            requests, max_concurrency=4, client=client
        ) as results:
            async for _ in results:
                # Stall: the 4 producers fill the 4-slot buffer, then wait holding their
                # slots, so at most 4 + 4 more requests can be sent.
                with anyio.move_on_after(0.3):
                    await sim.wait_until(lambda s: s.requests > 9)
                assert sim.stats.requests <= 9
                break  # leaving the block cancels the rest
    assert sim.stats.requests <= 9
    assert client.transport().active_connections == 0


async def test_as_completed_streams_chunks_tagged_by_request(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [{**req(i, content=f"answer {i}"), "stream": True} for i in range(3)]
    chunks: dict[int, list[str]] = {0: [], 1: [], 2: []}
    finals: dict[int, str] = {}
    async with ritellm.completions_as_completed(requests, client=client) as results:
        async for index, item in results:
            if isinstance(item, ritellm.ModelResponseStream):
                assert index not in finals  # chunks come before the assembled response
                chunks[index].append(item.choices[0].delta.content or "")
            else:
                finals[index] = answer(item)
    assert finals == {0: "answer 0", 1: "answer 1", 2: "answer 2"}
    assert {i: "".join(c) for i, c in chunks.items()} == finals


async def test_as_completed_error_propagates_unwrapped(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [req(0, latency=5), req(1, status=403)]
    with anyio.fail_after(5), pytest.raises(ritellm.PermissionDeniedError):
        async with ritellm.completions_as_completed(requests, client=client) as results:
            async for _ in results:
                pass


async def test_rate_limited_server_finishes_with_zero_failures() -> None:
    # The simulator answers 429 with Retry-After beyond 40 requests/s, and states no limits
    # in headers (with them the fan-out would pace before any 429: tests/test_fanout_limits).
    async with (
        Simulator(rate_limit=40, rate_headers=False) as sim,
        ritellm.AsyncClient(base_url=sim.base_url) as c,
    ):
        seen: list[ritellm.FanoutStats] = []
        requests = [req(i) for i in range(80)]
        with anyio.fail_after(30):
            results = await ritellm.gather_completions(
                requests,
                max_concurrency=16,
                client=c,
                progress=lambda s: seen.append(copy.copy(s)),  # the live object changes
            )
        assert all(isinstance(r, ritellm.ModelResponse) for r in results)
        assert sim.stats.rate_limited > 0  # the server did push back...
        final = seen[-1]
        assert final.failed == 0  # ...and nothing failed
        assert final.done == 80
        assert final.retried == sim.stats.rate_limited
        assert min(s.concurrency for s in seen) < 16  # the limit adapted downwards
        assert final.pace is not None  # and a pace was learned from the 429s


async def test_rpm_paces_requests_below_the_server_limit() -> None:
    async with (
        Simulator(rate_limit=20) as sim,
        ritellm.AsyncClient(base_url=sim.base_url) as c,
    ):
        with anyio.fail_after(30):
            await ritellm.gather_completions([req(i) for i in range(25)], rpm=1000, client=c)
        assert sim.stats.rate_limited == 0


async def test_tpm_is_accepted_and_corrected_from_usage(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    results = await ritellm.gather_completions(
        [req(i) for i in range(5)], tpm=1_000_000, client=client
    )
    assert len(results) == 5


# -- fallbacks and races -----------------------------------------------------------------


async def test_fallbacks_on_availability_errors(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=503), Reply(status=429))
    r = await client.acompletion(
        "openai/big",
        [{"role": "user", "content": "hi"}],
        num_retries=0,
        fallbacks=["openai/medium", {"model": "openai/small", "temperature": 0}],
    )
    assert [q.json["model"] for q in sim.requests] == ["big", "medium", "small"]
    assert sim.requests[-1].json["temperature"] == 0
    assert r.choices[0].message.content


async def test_no_fallback_on_auth_or_bad_request(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    for status, error in ((401, ritellm.AuthenticationError), (400, ritellm.BadRequestError)):
        sim.script(Reply(status=status))
        with pytest.raises(error):
            await client.acompletion(
                "openai/a", [{"role": "user", "content": "hi"}], fallbacks=["openai/b"]
            )
    assert [q.json["model"] for q in sim.requests] == ["a", "a"]


async def test_all_fallbacks_failing_raises_the_last_with_the_chain(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=500), Reply(status=404))
    with pytest.raises(ritellm.NotFoundError) as info:
        await client.acompletion(
            "openai/a", [{"role": "user", "content": "hi"}], num_retries=0, fallbacks=["openai/b"]
        )
    assert isinstance(info.value.__context__, ritellm.InternalServerError)


async def test_fallback_to_another_provider_does_not_inherit_the_key(sim: Simulator) -> None:
    sim.script(Reply(status=503))
    with pytest.raises(ritellm.AuthenticationError, match="GROQ_API_KEY"):
        await ritellm.acompletion(
            "openai/a",
            [{"role": "user", "content": "hi"}],
            base_url=sim.base_url,
            api_key="sk-openai",
            fallbacks=["groq/llama"],
        )
    assert sim.requests == []  # validated before any I/O


async def test_race_first_success_wins_and_losers_are_cancelled(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    requests = [req(0, latency=30), req(1, status=500), req(2, latency=0.05)]
    with anyio.fail_after(5):
        r = await ritellm.race_completions(requests, client=client)
    assert answer(r).endswith("q2")
    with anyio.fail_after(5):
        await sim.wait_until(lambda s: s.in_flight == 0)


async def test_race_all_failing(sim: Simulator, client: ritellm.AsyncClient) -> None:
    requests = [req(0, status=401), req(1, status=400)]
    with pytest.raises(ritellm.AuthenticationError) as info:
        await ritellm.race_completions(requests, client=client)
    group = info.value.__cause__
    assert isinstance(group, ExceptionGroup)
    assert len(group.exceptions) == 2


def test_the_plain_progress_line_blanks_what_a_longer_line_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without tqdm the fan-out redraws one stderr line: a shorter text must not leave the
    tail of the longer one behind (it used to read "(limit 16))")."""
    from ritellm._fanout._engine import FanoutStats, _Progress

    stats = FanoutStats(total=100, done=0, in_flight=10, concurrency=100)
    line = _Progress(lambda s: None, stats)
    line._line(stats)
    stats.done, stats.in_flight, stats.concurrency = 100, 0, 16
    line._line(stats)
    err = capsys.readouterr().err
    first = "0/100 done, 0 failed, 0 retried, 10 in flight (limit 100)"
    second = "100/100 done, 0 failed, 0 retried, 0 in flight (limit 16)"
    assert err == "\r" + first + "\r" + second + " " * (len(first) - len(second))
