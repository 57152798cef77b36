"""Shared fixtures: both event loops, a simulator per test, and a client whose pool must be
clean when the test ends."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import ritellm
from ritellm.testing import Simulator
from tests.helpers import assert_pool_clean

# Every async test in the suite runs once on asyncio and once on trio.
BACKENDS = [pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's real keys or base URLs."""
    for name in list(os.environ):
        if (
            name.endswith(("_API_KEY", "_API_BASE", "_BASE_URL"))
            or name.startswith("OPENAI_")
            or name.lower().endswith("_proxy")  # ritellm honours HTTP_PROXY & co, as httpx does
        ):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    """A client aimed at the simulator; asserts afterwards that no connection or pool slot
    is still held (every test checks for leaks)."""
    async with ritellm.AsyncClient(base_url=sim.base_url) as c:
        yield c
        assert_pool_clean(c)


def open_fds() -> int:
    """Open file descriptors of this process (Linux)."""
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def fd_check() -> Iterator[None]:
    before = open_fds()
    yield
    assert open_fds() <= before, "file descriptors leaked"
