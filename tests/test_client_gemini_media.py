"""Gemini end to end, images: data URLs become inlineData; http(s) image URLs are fetched by
ritellm itself, through its own transport and concurrently, from a tiny local image server
(anyio + h11), then sent inline. Failures are ImageFetchErrors raised before the model is
called. On asyncio and trio."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import h11
import pytest

import ritellm
import ritellm._media
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean
from tests.test_client_gemini import (
    MODEL,
    client,
    collect,
    complete,
    deltas,
    sim,
)

pytestmark = pytest.mark.anyio
__all__ = ["client", "sim"]  # the fixtures, shared with test_client_gemini.py

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
JPEG = b"\xff\xd8\xff\xe0 not really a jpeg but bytes all the same \xff\xd9"
BIG = bytes(range(256)) * 8  # 2048 bytes

Route = tuple[int, list[tuple[bytes, bytes]], bytes]


class ImageServer:
    """HTTP/1.1 on loopback with keep-alive: GET {path} -> the route's (status, headers, body);
    unknown paths are 404s. Counts connections so tests can see them closed."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.open_connections = 0
        self.total_connections = 0
        # Requests that wait at /gate/* until this many have arrived (concurrency proof).
        self.gate_size = 2
        self._gate = anyio.Event()
        self._gated = 0
        self._changed = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._port}{path}"

    async def __aenter__(self) -> ImageServer:
        multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self._port = multi.listeners[0].extra(anyio.abc.SocketAttribute.local_port)
        self._listener = multi
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(multi.serve, self._serve)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None and self._listener is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self._listener.aclose()

    async def wait_all_closed(self) -> None:
        while self.open_connections:
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _serve(self, stream: anyio.abc.SocketStream) -> None:
        self.open_connections += 1
        self.total_connections += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while await self._exchange(conn, stream):
                conn.start_next_cycle()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, h11.ProtocolError):
            pass  # the client went away mid-response (e.g. an image over the cap)
        finally:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            self.open_connections -= 1
            self._notify()

    async def _exchange(self, conn: h11.Connection, stream: anyio.abc.SocketStream) -> bool:
        request = await self._next(conn, stream)
        if not isinstance(request, h11.Request):
            return False  # the client closed its keep-alive connection
        while not isinstance(await self._next(conn, stream), h11.EndOfMessage):
            pass
        path = request.target.decode()
        self.requests.append((path, {k.decode(): v.decode() for k, v in request.headers}))
        if path == "/stall.png":  # never answer; notice the client leaving
            with contextlib.suppress(anyio.EndOfStream):
                while await stream.receive():
                    pass
            return False
        if path.startswith("/gate/"):
            self._gated += 1
            if self._gated == self.gate_size:
                self._gate.set()
            await self._gate.wait()
            path = path.removeprefix("/gate")
        status, headers, body = self.routes.get(
            path.split("?")[0], (404, [(b"content-type", b"text/plain")], b"no such image")
        )
        chunked = any(name == b"transfer-encoding" for name, _ in headers)
        if not chunked:
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        await stream.send(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
        for i in range(0, len(body), 256):  # several writes, so a capped read stops early
            await stream.send(conn.send(h11.Data(data=body[i : i + 256])) or b"")
        await stream.send(conn.send(h11.EndOfMessage()) or b"")
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    @staticmethod
    async def _next(conn: h11.Connection, stream: anyio.abc.SocketStream) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                conn.receive_data(await stream.receive())
            except anyio.EndOfStream:
                conn.receive_data(b"")


def png(ctype: bytes = b"image/png") -> Route:
    return (200, [(b"content-type", ctype)], PNG)


ROUTES: dict[str, Route] = {
    "/cat.png": png(),
    "/photo.jpg": (200, [(b"content-type", b"application/octet-stream")], JPEG),
    "/moved": (302, [(b"location", b"/cat.png")], b""),
    "/moved-twice": (301, [(b"location", b"/moved")], b""),
    "/loop": (307, [(b"location", b"/loop")], b""),
    "/big.png": (200, [(b"content-type", b"image/png")], BIG),
    "/big-chunked.png": (
        200,
        [(b"content-type", b"image/png"), (b"transfer-encoding", b"chunked")],
        BIG,
    ),
    "/gone.png": (500, [(b"content-type", b"text/plain")], b"oops"),
}


@pytest.fixture
async def images() -> AsyncIterator[ImageServer]:
    async with ImageServer(ROUTES) as server:
        yield server


def ask(*urls: str, text: str = "What is in these images?") -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": parts}]


def inline(mime: str, data: bytes | str) -> dict[str, Any]:
    text = data if isinstance(data, str) else base64.b64encode(data).decode()
    return {"inlineData": {"mimeType": mime, "data": text}}


async def closed(client: ritellm.AsyncClient, images: ImageServer) -> None:
    """The pool is clean, and once the client closes, so is every image-server connection."""
    assert_pool_clean(client)
    await client.aclose()
    with anyio.fail_after(5):
        await images.wait_all_closed()


# -- data URLs -----------------------------------------------------------------------------------


async def test_data_url_is_inline_data(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await complete(client, ask(f"data:image/png;base64,{PNG_B64}"))
    assert sim.requests[-1].json["contents"] == [
        {
            "role": "user",
            "parts": [{"text": "What is in these images?"}, inline("image/png", PNG_B64)],
        }
    ]


async def test_bad_data_url_fails_before_io(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await complete(client, ask("data:image/png,not-base64"))
    assert str(info.value) == (
        "messages[0].content[1].image_url.url: expected a data:<mime>;base64,... URL or an "
        "http(s) URL"
    )
    assert sim.requests == []


# -- fetched images ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_image_url_is_fetched_and_sent_inline(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer, stream: bool
) -> None:
    messages = ask(images.url("/cat.png"), images.url("/photo.jpg"))
    if stream:
        text = [d.get("content") for d, _ in deltas(await collect(client, messages))]
        assert text[0] == "Hello "
    else:
        r = await complete(client, messages)
        assert r.choices[0].finish_reason == "stop"
    assert sim.requests[-1].json["contents"][0]["parts"] == [
        {"text": "What is in these images?"},
        inline("image/png", PNG),
        inline("image/jpeg", JPEG),  # octet-stream: the type comes from the path
    ]
    assert sorted(path for path, _ in images.requests) == ["/cat.png", "/photo.jpg"]
    for _, headers in images.requests:
        assert headers["user-agent"].startswith("ritellm/")  # ritellm's own transport
        assert headers["accept"].startswith("image/")
    await closed(client, images)


async def test_images_are_fetched_concurrently(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer
) -> None:
    # /gate/* answers only once both requests are in: fetched one after the other, the
    # first would wait forever (and fail_after would fire).
    await complete(client, ask(images.url("/gate/cat.png"), images.url("/gate/photo.jpg")))
    assert sim.requests[-1].json["contents"][0]["parts"][1:] == [
        inline("image/png", PNG),
        inline("image/jpeg", JPEG),
    ]
    assert images.total_connections == 2
    await closed(client, images)


async def test_same_url_is_fetched_once_and_not_per_retry(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer
) -> None:
    url = images.url("/cat.png")
    sim.script(Reply(status=503, headers={"retry-after-ms": "1"}))
    await complete(client, ask(url, url), num_retries=1)
    assert [path for path, _ in images.requests] == ["/cat.png"]
    assert len(sim.requests) == 2
    assert sim.requests[0].json == sim.requests[1].json
    assert sim.requests[1].json["contents"][0]["parts"][1:] == [inline("image/png", PNG)] * 2
    await closed(client, images)


@pytest.mark.parametrize("path", ["/moved", "/moved-twice"])
async def test_redirects_are_followed(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer, path: str
) -> None:
    await complete(client, ask(images.url(path)))
    assert sim.requests[-1].json["contents"][0]["parts"][1] == inline("image/png", PNG)
    hops = {
        "/moved": ["/moved", "/cat.png"],
        "/moved-twice": ["/moved-twice", "/moved", "/cat.png"],
    }
    assert [p for p, _ in images.requests] == hops[path]
    await closed(client, images)


async def test_redirect_reuses_the_kept_alive_connection(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer
) -> None:
    await complete(client, ask(images.url("/moved-twice")))
    assert images.total_connections == 1
    await closed(client, images)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/missing.png", "HTTP 404"),
        ("/gone.png", "HTTP 500"),
        ("/loop", "more than 5 redirects"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_failed_fetch_is_an_image_fetch_error_and_the_model_is_not_called(
    sim: Simulator,
    client: ritellm.AsyncClient,
    images: ImageServer,
    path: str,
    why: str,
    stream: bool,
) -> None:
    url = images.url(path)
    with anyio.fail_after(10), pytest.raises(ritellm.ImageFetchError) as info:
        await client.acompletion(MODEL, ask(url + "?sig=private-token"), stream=stream)
    err = info.value
    assert isinstance(err, ritellm.BadRequestError)
    assert err.message == f"Could not fetch image {url}: {why}"  # no query string
    # The status is the image host's, in the message; status_code stays for the model's API.
    assert (err.status_code, err.provider, err.model) == (None, "gemini", MODEL)
    assert str(err) == f"{MODEL}: {err.message}"
    assert "private-token" not in str(err)
    assert sim.requests == []  # nothing reached the model
    fetches = 6 if path == "/loop" else 1  # an error is not retried
    assert len(images.requests) == fetches
    await closed(client, images)


async def refused_url() -> str:
    """An http URL on a loopback port that refuses connections."""
    with anyio.fail_after(10):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()
    return f"http://127.0.0.1:{port}/cat.png"


async def test_an_image_server_that_never_answers_times_out(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer
) -> None:
    url = images.url("/stall.png")
    with anyio.fail_after(10), pytest.raises(ritellm.ImageFetchError) as info:
        await client.acompletion(MODEL, ask(url), timeout=ritellm.Timeouts(read=0.3))
    assert info.value.message == f"Could not fetch image {url}: no complete answer within 0.3s"
    assert sim.requests == []
    await closed(client, images)


async def test_unreachable_image_host(sim: Simulator, client: ritellm.AsyncClient) -> None:
    url = await refused_url()
    with pytest.raises(ritellm.ImageFetchError) as info:
        await complete(client, ask(url))
    port = url.split(":")[2].split("/")[0]
    assert info.value.message == (
        f"Could not fetch image {url}: Connection refused by 127.0.0.1:{port} — is the server "
        "running?"
    )
    assert sim.requests == []


async def test_unreachable_image_host_error_chains_the_connection_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with pytest.raises(ritellm.ImageFetchError) as info:
        await complete(client, ask(await refused_url()))
    assert isinstance(info.value.__cause__, ritellm.APIConnectionError)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/big.png", "Image {url} is 2,048 bytes; the limit is 1,000"),  # Content-Length
        ("/big-chunked.png", "Image {url} is larger than 1,000 bytes"),  # found while reading
    ],
)
async def test_image_over_the_cap(
    sim: Simulator,
    client: ritellm.AsyncClient,
    images: ImageServer,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    message: str,
) -> None:
    monkeypatch.setattr(ritellm._media, "MAX_IMAGE_BYTES", 1000)
    url = images.url(path)
    with pytest.raises(ritellm.ImageFetchError) as info:
        await complete(client, ask(url))
    assert info.value.message == message.format(url=url)
    assert sim.requests == []
    await closed(client, images)


async def test_image_in_a_tool_result_follows_the_function_response(
    sim: Simulator, client: ritellm.AsyncClient, images: ImageServer
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "snap", "arguments": "{}"}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Take a picture."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": [
                {"type": "text", "text": "Here it is."},
                {"type": "image_url", "image_url": {"url": images.url("/cat.png")}},
            ],
        },
    ]
    await complete(client, messages)
    assert sim.requests[-1].json["contents"][-1] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "snap", "response": {"result": "Here it is."}}},
            inline("image/png", PNG),
        ],
    }
    await closed(client, images)
