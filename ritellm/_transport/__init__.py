"""The HTTP/1.1 transport: ritellm's connection pools (per event loop) and their lifetime, the
HTTP/1.1 exchange (h11 over httpcore's public network backend), proxies (forwarding and
CONNECT tunnels) and content decoding. The ONLY package that imports httpcore (and, apart
from the simulator, h11); knows nothing of providers.

Its modules are imported on first use (httpcore's import costs ~140 ms): import
``ritellm._transport._pool`` for :class:`Transport`; the names below are resolved lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._pool import Transport
    from ._response import Response

__all__ = ["Response", "Transport"]


def __getattr__(name: str) -> Any:
    if name == "Transport":
        from ._pool import Transport

        return Transport
    if name == "Response":
        from ._response import Response

        return Response
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
