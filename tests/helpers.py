"""Assertions shared by the client tests."""

from __future__ import annotations

import ritellm


def assert_pool_clean(client: ritellm.AsyncClient) -> None:
    """No response left open and every pool slot free (every client test checks this)."""
    transport = client.transport()
    assert transport.active_connections == 0, "a response was left open"
    assert transport.free_slots == transport.max_connections, "a pool slot leaked"
