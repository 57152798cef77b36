"""Pool lifetime and the idle-connection check: a dropped client releases its sockets, every
expired idle connection is closed, idle connections are capped, and the check that an idle
connection is still open works without select.poll and above descriptor 1023. On asyncio and
trio against the simulator; server-side connection counts and fd counts tell what is open."""

from __future__ import annotations

import gc
import os
import select
import weakref
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

from .conftest import open_fds
from .helpers import assert_pool_clean

pytestmark = pytest.mark.anyio

MSGS = [{"role": "user", "content": "Hello!"}]


async def burst(client: ritellm.AsyncClient, sim: Simulator, n: int) -> None:
    """``n`` requests in flight together, so that each needs its own connection."""
    sim.script(*[Reply(latency=0.05)] * n)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(client.acompletion, "gpt-4o", MSGS)


async def test_a_dropped_client_releases_its_sockets_before_the_loop_ends(
    sim: Simulator,
) -> None:
    fds_before = open_fds()

    async def use_and_drop() -> weakref.ref[ritellm.AsyncClient]:
        client = ritellm.AsyncClient(base_url=sim.base_url)
        await burst(client, sim, 3)
        assert client.transport().idle_connections == 3
        return weakref.ref(client)

    ref = await use_and_drop()
    gc.collect()
    assert ref() is None
    with anyio.fail_after(5):  # closed on the loop, soon, not when it ends
        await sim.wait_until(lambda s: s.open_connections == 0)
    assert open_fds() <= fds_before


async def test_a_dropped_client_with_an_open_stream_keeps_it_working(sim: Simulator) -> None:
    client = ritellm.AsyncClient(base_url=sim.base_url)
    stream = await client.acompletion("gpt-4o", MSGS, stream=True)
    del client
    gc.collect()
    async with stream:  # the pool lives as long as a response needs it
        assert [c async for c in stream]
    del stream
    gc.collect()
    with anyio.fail_after(5):
        await sim.wait_until(lambda s: s.open_connections == 0)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_stream_left_open_is_closed_when_its_loop_ends(backend: str) -> None:
    """A stream never read nor closed can't be read once its event loop has ended: the
    loop's end closes its connection too, with the idle ones (no socket outlives the run)."""
    kept: list[ritellm.AsyncCompletionStream] = []

    async def main(base_url: str) -> None:
        client = ritellm.AsyncClient(base_url=base_url)
        await client.acompletion("gpt-4o", MSGS)  # an idle connection, and ...
        kept.append(await client.acompletion("gpt-4o", MSGS, stream=True))  # ... a lent one

    with Simulator.start_in_thread() as sim:
        fds_before = open_fds()
        anyio.run(main, sim.base_url, backend=backend)
        sim.wait_until(lambda s: s.open_connections == 0, timeout=5)
        assert open_fds() <= fds_before
        kept.clear()
        gc.collect()  # the stream's own finalizer finds its connection closed already


async def test_every_expired_idle_connection_is_closed(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url, keepalive_expiry=0.2) as client:
        await burst(client, sim, 4)
        assert sim.stats.open_connections == 4
        with anyio.fail_after(5):
            await anyio.sleep(0.3)  # every idle connection's keep-alive time passes
        await client.acompletion("gpt-4o", MSGS)
        # The four expired ones are closed, not only the one that would have been reused.
        with anyio.fail_after(5):
            await sim.wait_until(lambda s: s.open_connections == 1)
        assert client.transport().idle_connections == 1
        assert_pool_clean(client)


@pytest.mark.parametrize("cap", [0, 2])
async def test_idle_connections_are_capped(sim: Simulator, cap: int) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url, max_idle_connections=cap) as client:
        await burst(client, sim, 5)
        assert client.transport().idle_connections == cap
        with anyio.fail_after(5):
            await sim.wait_until(lambda s: s.open_connections == cap)
        assert_pool_clean(client)


async def test_the_default_idle_cap_keeps_a_burst(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await burst(client, sim, 6)
    assert client.transport().idle_connections == 6


@pytest.fixture
def high_descriptors() -> Iterator[None]:
    """Occupy every descriptor below 1030, so that new sockets get numbers above
    FD_SETSIZE (1024), which select.select() cannot watch."""
    held: list[int] = []
    base = os.open(os.devnull, os.O_RDONLY)
    try:
        while (fd := os.dup(base)) < 1030:
            held.append(fd)
        held.append(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)
        os.close(base)


async def server_closes_the_idle_connection_then_call(
    sim: Simulator, client: ritellm.AsyncClient
) -> list[dict[str, Any]]:
    await client.acompletion("gpt-4o", MSGS)
    await anyio.wait_all_tasks_blocked()  # the server is back waiting for a request
    assert await sim.drop_idle_connections() == 1
    logged: list[dict[str, Any]] = []
    r = await client.acompletion("gpt-4o", MSGS, num_retries=0, logger_fn=logged.append)
    assert r.choices[0].message.content
    return logged


async def test_the_idle_check_works_without_select_poll(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(select, "poll")  # as on Windows
    async with ritellm.AsyncClient(base_url=sim.base_url) as client:
        logged = await server_closes_the_idle_connection_then_call(sim, client)
        assert len(logged) == 1  # found closed before sending: no attempt spent
        assert sim.stats.total_connections == 2
        assert_pool_clean(client)


@pytest.mark.usefixtures("high_descriptors")
async def test_the_idle_check_works_above_descriptor_1023(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url) as client:
        await client.acompletion("gpt-4o", MSGS)
        (conn,) = next(iter(client.transport()._idle.values()))
        assert conn.stream.get_extra_info("socket").fileno() > 1024
        logged = await server_closes_the_idle_connection_then_call(sim, client)
        assert len(logged) == 1
        assert sim.stats.total_connections == 2
        assert_pool_clean(client)
