"""Fetch the images a provider needs inline (e.g. Gemini, which cannot take an http(s) image
URL by reference) through ritellm's own transport: asynchronously, size-capped, redirects
followed, with a clear ImageFetchError on failure.

I/O layer: anyio and ritellm's transport; never httpcore directly, trio or asyncio.
"""

from __future__ import annotations

import base64
import math
import mimetypes
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import anyio
import anyio.lowlevel

from ._errors import APIError, ImageFetchError, ParameterError
from ._options import Timeouts
from ._types import HttpRequest, Media
from ._version import __version__

if TYPE_CHECKING:
    from ._transport import Response, Transport

__all__ = ["MAX_IMAGE_BYTES", "fetch_media"]

# Gemini's inline data limit is 20 MB for the whole request; one image may not exceed it.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = [(b"Accept", b"image/*,*/*;q=0.8"), (b"User-Agent", f"ritellm/{__version__}".encode())]


async def fetch_media(
    urls: tuple[str, ...], transport: Transport, timeout: Timeouts, *, proxy: str | None = None
) -> dict[str, Media]:
    """Fetch every URL concurrently; the first failure cancels the rest and is raised.

    ``proxy`` is the call's own proxy, if any (else the client's proxy settings apply).

    Raises:
        ImageFetchError: a URL answered with an error, redirected too often, is larger than
            MAX_IMAGE_BYTES or could not be reached (the cause is chained).
    """
    found: dict[str, Media] = {}

    async def one(url: str) -> None:
        # The transport applies no read deadline of its own (callers do): one per image,
        # over its redirects, headers and body, so a server that stalls cannot hang the call.
        limit = timeout.read
        with anyio.CancelScope(
            deadline=math.inf if limit is None else anyio.current_time() + limit
        ) as scope:
            found[url] = await _fetch(url, transport, timeout, proxy)
        if scope.cancelled_caught:
            await anyio.lowlevel.checkpoint_if_cancelled()  # a caller's cancellation wins
            raise ImageFetchError(
                f"Could not fetch image {_shown(url)}: no complete answer within {limit:g}s"
            )

    try:
        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(one, url)
    except ExceptionGroup as group:  # one failure cancelled the others: raise it as itself
        errors = [e for e in group.exceptions if isinstance(e, ImageFetchError)]
        if len(errors) == len(group.exceptions):
            raise errors[0] from errors[0].__cause__
        raise
    return found


def _shown(url: str) -> str:
    """The URL for messages: without its query or fragment, where tokens live."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


async def _fetch(url: str, transport: Transport, timeout: Timeouts, proxy: str | None) -> Media:
    where = _shown(url)
    target = url
    for _ in range(_MAX_REDIRECTS + 1):
        request = HttpRequest(method=b"GET", url=target, headers=list(_HEADERS), body=b"")
        try:
            response = await transport.send(request, timeout, proxy)
        except APIError as exc:
            raise ImageFetchError(f"Could not fetch image {where}: {exc.message}") from exc
        except ParameterError as exc:  # a URL that is not valid HTTP
            raise ImageFetchError(f"Could not fetch image {where}: {exc}") from exc
        try:
            if response.status in _REDIRECTS and "location" in response.headers:
                target = urljoin(target, response.headers["location"])
                await _discard(response)
                continue
            if response.status >= 300:
                # No status_code: the error is about the image host, not the model's API.
                raise ImageFetchError(f"Could not fetch image {where}: HTTP {response.status}")
            mime = response.headers.get("content-type", "").split(";")[0].strip()
            if not mime or mime in ("application/octet-stream", "binary/octet-stream"):
                mime = mimetypes.guess_type(urlsplit(target).path)[0] or "image/jpeg"
            data = await _read_capped(response, where)
            return Media(mime_type=mime, data=base64.b64encode(data).decode("ascii"))
        finally:
            await response.aclose()
    raise ImageFetchError(f"Could not fetch image {where}: more than {_MAX_REDIRECTS} redirects")


async def _discard(response: Response) -> None:
    """Read and drop a redirect's (small) body so that its connection can be reused."""
    left = 64 * 1024
    try:
        while left > 0 and (data := await response.receive()):
            left -= len(data)
    except APIError:
        pass  # the connection is closed instead of reused; the redirect still stands


async def _read_capped(response: Response, where: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise ImageFetchError(
            f"Image {where} is {int(declared):,} bytes; the limit is {MAX_IMAGE_BYTES:,}"
        )
    parts: list[bytes] = []
    size = 0
    try:
        while data := await response.receive():
            size += len(data)
            if size > MAX_IMAGE_BYTES:
                raise ImageFetchError(f"Image {where} is larger than {MAX_IMAGE_BYTES:,} bytes")
            parts.append(data)
    except APIError as exc:
        if isinstance(exc, ImageFetchError):
            raise
        raise ImageFetchError(f"Could not fetch image {where}: {exc.message}") from exc
    return b"".join(parts)
