"""LiteLLM's batch_completion over the real transport: one model, many conversations, errors
in their slots, the fan-out's limits (mocks included), bad input before any request, the
async twin on both loops, the blocking one from plain threads, and Ctrl-C.
(tests/test_batch_completion_models.py has the many-models pair.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator, ThreadedSimulator
from tests.helpers import assert_pool_clean

pytestmark = pytest.mark.timeout(60)

MODEL = "openai/gpt-4o-mini"
ECHO = "Hello from the ritellm simulator! You said: "


def conversations(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"q{i}"}] for i in range(n)]


def said(r: Any) -> str:
    """The last word of the simulator's echo: which conversation was answered."""
    return str(r.choices[0].message.content).rsplit(" ", 1)[-1]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(base_url=sim.base_url) as c:
        yield c
        assert_pool_clean(c)


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


# -- batch_completion ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_results_in_input_order(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with anyio.fail_after(10):
        results = await ritellm.abatch_completion(
            MODEL, conversations(8), client=client, max_tokens=50
        )
    assert [said(r) for r in results] == [f"q{i}" for i in range(8)]
    assert all(isinstance(r, ritellm.ModelResponse) for r in results)
    assert all(r.json["max_tokens"] == 50 for r in sim.requests)  # the same parameters


@pytest.mark.anyio
async def test_a_failure_stays_in_its_slot(sim: Simulator, client: ritellm.AsyncClient) -> None:
    # One at a time: the script's replies meet the requests in input order.
    sim.script(Reply(), Reply(status=400, error_message="bad prompt 1"), Reply())
    with anyio.fail_after(10):
        results = await ritellm.abatch_completion(
            MODEL, conversations(3), client=client, max_workers=1
        )
    assert [type(r) for r in results] == [
        ritellm.ModelResponse,
        ritellm.BadRequestError,
        ritellm.ModelResponse,
    ]
    assert isinstance(results[1], ritellm.BadRequestError)
    assert results[1].message == "bad prompt 1"
    assert [said(results[0]), said(results[2])] == ["q0", "q2"]


@pytest.mark.anyio
async def test_max_workers_bounds_the_requests_in_flight(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # The first three requests are held a second at the server, long enough on a loaded
    # machine for all three to be in flight together; while they are, no fourth may start.
    sim.script(*[Reply(latency=1.0)] * 3)
    with anyio.fail_after(20):
        results = await ritellm.abatch_completion(
            MODEL, conversations(10), client=client, max_workers=3
        )
    assert [said(r) for r in results] == [f"q{i}" for i in range(10)]
    assert sim.stats.max_in_flight == 3  # measured at the server


@pytest.mark.anyio
async def test_rate_limits_are_the_fanouts(sim: Simulator, client: ritellm.AsyncClient) -> None:
    # A 429 is re-sent by the fan-out's shared limiter, not put in the slot.
    sim.script(Reply(status=429, headers={"retry-after-ms": "1"}))
    with anyio.fail_after(20):
        results = await ritellm.abatch_completion(
            MODEL, conversations(3), client=client, max_workers=1
        )
    assert [said(r) for r in results] == ["q0", "q1", "q2"]
    assert len(sim.requests) == 4


@pytest.mark.anyio
async def test_streaming_requests_are_assembled(client: ritellm.AsyncClient) -> None:
    results = await ritellm.abatch_completion(MODEL, conversations(2), client=client, stream=True)
    assert [said(r) for r in results] == ["q0", "q1"]
    assert all(isinstance(r, ritellm.ModelResponse) for r in results)


@pytest.mark.anyio
async def test_mocked_batch(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with anyio.fail_after(5):
        ok = await ritellm.abatch_completion(MODEL, conversations(3), mock_response="m")
        # A mocked 429 is the answer, not a refusal to re-send (nothing was sent).
        failed = await ritellm.abatch_completion(
            MODEL, conversations(2), mock_response="litellm.RateLimitError", client=client
        )
    assert [r.choices[0].message.content for r in ok if isinstance(r, ritellm.ModelResponse)] == [
        "m",
        "m",
        "m",
    ]
    assert [type(r) for r in failed] == [ritellm.RateLimitError] * 2
    streamed = await ritellm.abatch_completion(
        MODEL, conversations(2), mock_response="a b", stream=True, client=client
    )
    assert [type(r) for r in streamed] == [ritellm.ModelResponse] * 2
    assert all(r.choices[0].message.content == "a b" for r in streamed)  # type: ignore[union-attr]
    assert sim.stats.requests == 0


@pytest.mark.anyio
async def test_a_mocked_batch_is_paced_and_reported_as_a_real_one(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Mocks run on the fan-out like every request (as gather_completions runs them): a
    # rate-limited pipeline tested with mocks keeps its pacing, max_workers and progress.
    seen: list[tuple[int, int, int, float | None]] = []

    def progress(s: ritellm.FanoutStats) -> None:
        seen.append((s.total, s.done, s.in_flight, s.pace))

    started = anyio.current_time()
    with anyio.fail_after(10):
        results = await ritellm.abatch_completion(
            MODEL,
            conversations(2),
            mock_response="m",
            rpm=60,  # one request a second: the second waits ~1 s
            max_workers=1,
            progress=progress,
            client=client,
        )
    assert anyio.current_time() - started >= 0.9
    assert [r.choices[0].message.content for r in results] == ["m", "m"]  # type: ignore[union-attr]
    assert seen == [(2, 1, 0, 1.0), (2, 2, 0, 1.0)]
    assert sim.stats.requests == 0


@pytest.mark.anyio
async def test_the_empty_batch(client: ritellm.AsyncClient) -> None:
    assert await ritellm.abatch_completion(MODEL, [], client=client) == []


FLAT = (
    "batch_completion: messages must be a list of conversations, one per request (a list of "
    "message lists), e.g. messages=[[{'role': 'user', 'content': 'Hi'}], "
    "[{'role': 'user', 'content': 'Bye'}]]; {got}. For one conversation call completion()"
)


@pytest.mark.parametrize(
    ("args", "kwargs", "cls", "message", "notes"),
    [
        (
            (MODEL,),
            {"messages": [{"role": "user", "content": "Hi"}]},
            ritellm.ParameterError,
            FLAT.replace("{got}", "got one flat list of messages"),
            None,
        ),
        (
            (MODEL, [[{"role": "user", "content": "a"}], {"role": "user", "content": "b"}]),
            {},
            ritellm.ParameterError,
            FLAT.replace("{got}", "messages[1] is a message, not a list of messages"),
            None,
        ),
        (
            (MODEL, "Hi"),
            {},
            ritellm.ParameterTypeError,
            FLAT.replace("{got}", "got a str"),
            None,
        ),
        (
            (MODEL, [[{"role": "user", "content": "a"}], []]),
            {},
            ritellm.ParameterError,
            "messages must contain at least one message",
            ["batch_completion: in messages[1]"],
        ),
        (
            ([{"model": MODEL, "messages": []}],),
            {},
            ritellm.ParameterTypeError,
            "batch_completion: model must be a model string, not list: batch_completion(model, "
            "messages=[conversation, ...]) sends one request per conversation (for a list of "
            "acompletion keyword dicts, use gather_completions)",
            None,
        ),
        (
            (MODEL, [[{"role": "user", "content": "a"}]]),
            {"max_workers": 0},
            ritellm.ParameterError,
            "max_workers must be >= 1, got 0",
            None,
        ),
        (
            (MODEL, [[{"role": "user", "content": "a"}]]),
            {"max_workers": "8"},
            ritellm.ParameterTypeError,
            "max_workers must be an integer",
            None,
        ),
        (
            (MODEL, [[{"role": "user", "content": "a"}]]),
            {"temperature": "hot"},
            ritellm.ParameterTypeError,
            # Every request's parameter: its error blames no conversation.
            "temperature must be a number, not str",
            None,
        ),
    ],
)
def test_bad_input(
    tsim: ThreadedSimulator,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cls: type[Exception],
    message: str,
    notes: list[str] | None,
) -> None:
    def in_a_loop(*args: Any, **kwargs: Any) -> Any:
        return anyio.run(partial(ritellm.abatch_completion, *args, **kwargs))

    for run in (ritellm.batch_completion, in_a_loop):
        with pytest.raises(cls) as info:
            run(*args, base_url=tsim.base_url, **kwargs)
        assert type(info.value) is cls
        assert str(info.value) == message
        assert getattr(info.value, "__notes__", None) == notes
    assert tsim.stats.requests == 0


NO_KEY = "openai: No API key for provider 'openai': pass api_key=... or set OPENAI_API_KEY"


def test_a_missing_key_reads_as_itself() -> None:
    # A client-wide problem: the error itself, attributes and all, blaming no conversation.
    def in_a_loop(*args: Any, **kwargs: Any) -> Any:
        return anyio.run(partial(ritellm.abatch_completion, *args, **kwargs))

    for run in (ritellm.batch_completion, in_a_loop):
        with pytest.raises(ritellm.AuthenticationError) as info:
            run(MODEL, conversations(2))
        assert type(info.value) is ritellm.AuthenticationError
        assert str(info.value) == NO_KEY
        assert (info.value.provider, info.value.status_code) == ("openai", None)
        assert getattr(info.value, "__notes__", None) is None


def test_blocking_batch_from_plain_threads(tsim: ThreadedSimulator) -> None:
    out: dict[int, list[str]] = {}

    def work(t: int) -> None:
        msgs = [[{"role": "user", "content": f"t{t}q{i}"}] for i in range(5)]
        results = ritellm.batch_completion(MODEL, msgs, base_url=tsim.base_url, max_workers=2)
        out[t] = [said(r) for r in results]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert out == {t: [f"t{t}q{i}" for i in range(5)] for t in range(3)}
    assert tsim.stats.requests == 15


_CTRL_C_CHILD = r"""
import threading
import ritellm
from ritellm.testing import Reply, Simulator

with Simulator.start_in_thread(default=Reply(latency=60)) as sim:
    def announce():  # tell the parent once every request is being answered (an event)
        sim._portal.call(sim.simulator.wait_until, lambda s: s.in_flight == 3)
        print("in flight", flush=True)
    threading.Thread(target=announce, daemon=True).start()
    msgs = [[{"role": "user", "content": f"q{i}"}] for i in range(3)]
    try:
        ritellm.batch_completion("openai/gpt-4o", msgs, base_url=sim.base_url, timeout=120)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    sim._portal.call(sim.simulator.wait_until, lambda s: s.in_flight == 0)
    print("all cancelled", flush=True)
"""


def test_ctrl_c_cancels_every_request() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_CHILD], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "in flight\n"
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.stdout.readline() == "interrupted\n"
            # Well before the 60 s answers (a loose bound: a loaded machine may be slow).
            assert time.monotonic() - sent < 20
            assert proc.stdout.readline() == "all cancelled\n"  # the server saw all 3 leave
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
