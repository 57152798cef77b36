"""AsyncClient and acompletion: a client owns its defaults and its per-event-loop connection
pools; a call is prepared (ritellm._call) and run (ritellm._attempts). No provider branch.

Imports anyio, the pure modules and the I/O layers; never httpcore, trio or asyncio.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

import anyio.lowlevel

from ._attempts import Observer, run
from ._call import Call, Defaults, Messages, prepare
from ._checks import check_number, check_retries
from ._errors import ParameterError, ParameterTypeError
from ._options import RetryPolicy, Timeout
from ._stream import AsyncCompletionStream
from ._types import ModelResponse

if TYPE_CHECKING:
    import ssl

    from ._call import CompletionParams
    from ._transport import Transport

__all__ = ["AsyncClient", "acompletion", "default_client"]


class AsyncClient:
    """An LLM client with its own connection pools and defaults.

    Pools belong to event loops: one client works in ``asyncio.run()`` after
    ``asyncio.run()``, under ``trio.run()`` and in several threads' loops, each with its own
    connections. ``async with AsyncClient() as client:`` closes the current loop's
    connections on exit; a client is still usable afterwards (it opens new ones).

    Args:
        api_key, base_url: defaults for every call (per-call arguments win; then the
            provider's environment variables).
        timeout: default ``timeout=`` for calls (a number or :class:`Timeout`).
        num_retries: default retries per call (``max_retries`` is an alias).
        max_connections: pool size per event loop; calls beyond it wait (``Timeout.pool``).
        keepalive_expiry: seconds an idle connection is kept for reuse.
        verify: verify TLS certificates (default) or an ``ssl.SSLContext`` to use.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | Timeout | None = None,
        num_retries: int | None = None,
        max_retries: int | None = None,
        max_connections: int = 256,
        keepalive_expiry: float = 30.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        if api_key is not None and not isinstance(api_key, str):
            raise ParameterTypeError(f"api_key must be a str, not {type(api_key).__name__}")
        if base_url is not None and not isinstance(base_url, str):
            raise ParameterTypeError(f"base_url must be a str, not {type(base_url).__name__}")
        check_number("max_connections", max_connections, integer=True)
        if max_connections < 1:
            raise ParameterError("max_connections must be >= 1")
        Timeout.coerce(timeout, stream=False)  # validate now, not at the first call
        self._defaults = Defaults(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            retry=RetryPolicy(max_retries=check_retries(num_retries, max_retries, 2)),
        )
        self._pool_args: dict[str, Any] = {
            "max_connections": max_connections,
            "keepalive_expiry": keepalive_expiry,
            "verify": verify,
        }
        self._transports: anyio.lowlevel.RunVar[Transport | None] = anyio.lowlevel.RunVar(
            f"ritellm.transport.{id(self):x}", default=None
        )
        self._rng = random.Random()

    def __repr__(self) -> str:
        # Never show the key.
        return f"<ritellm.AsyncClient base_url={self._defaults.base_url!r}>"

    # -- pools -------------------------------------------------------------------------

    def transport(self) -> Transport:
        """This event loop's connection pool (created on first use)."""
        transport = self._transports.get()
        if transport is None:
            # Imported on first use: httpcore's import costs ~140 ms (it imports trio when
            # installed), and `import ritellm` must stay fast.
            from ._transport import Transport

            transport = Transport(**self._pool_args)
            self._transports.set(transport)
        return transport

    async def aclose(self) -> None:
        """Close this event loop's connections (idempotent)."""
        transport = self._transports.get()
        if transport is not None:
            self._transports.set(None)
            await transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the call ----------------------------------------------------------------------

    @overload
    async def acompletion(
        self,
        model: str,
        messages: Messages,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[CompletionParams],
    ) -> ModelResponse: ...

    @overload
    async def acompletion(
        self,
        model: str,
        messages: Messages,
        *,
        stream: Literal[True],
        **kwargs: Unpack[CompletionParams],
    ) -> AsyncCompletionStream: ...

    @overload
    async def acompletion(
        self, model: str, messages: Messages, *, stream: bool, **kwargs: Unpack[CompletionParams]
    ) -> ModelResponse | AsyncCompletionStream: ...

    async def acompletion(
        self, model: str, messages: Messages, *, stream: bool = False, **kwargs: Any
    ) -> ModelResponse | AsyncCompletionStream:
        """Create a chat completion; see :func:`ritellm.acompletion`."""
        return await self._run(self._prepare(model, messages, stream, kwargs))

    def _prepare(
        self, model: object, messages: object, stream: object, kwargs: Mapping[str, Any]
    ) -> Call:
        """Validate everything and build the wire request; no I/O."""
        return prepare(model, messages, stream, kwargs, self._defaults, os.environ)

    def _prepare_kwargs(self, model: object, messages: object, kwargs: Mapping[str, Any]) -> Call:
        """:meth:`_prepare` from one ``acompletion`` keyword dict (fan-out requests)."""
        rest = dict(kwargs)
        stream = rest.pop("stream", False)
        return self._prepare(model, messages, False if stream is None else stream, rest)

    async def _run(
        self, call: Call, *, observer: Observer | None = None
    ) -> ModelResponse | AsyncCompletionStream:
        return await run(call, self.transport(), self._rng.random, observer=observer)


_default_client: AsyncClient | None = None


def default_client() -> AsyncClient:
    """The client behind the module-level functions (pools per event loop)."""
    global _default_client
    if _default_client is None:
        _default_client = AsyncClient()
    return _default_client


@overload
async def acompletion(
    model: str,
    messages: Messages,
    *,
    stream: Literal[False] = ...,
    **kwargs: Unpack[CompletionParams],
) -> ModelResponse: ...


@overload
async def acompletion(
    model: str, messages: Messages, *, stream: Literal[True], **kwargs: Unpack[CompletionParams]
) -> AsyncCompletionStream: ...


@overload
async def acompletion(
    model: str, messages: Messages, *, stream: bool, **kwargs: Unpack[CompletionParams]
) -> ModelResponse | AsyncCompletionStream: ...


async def acompletion(
    model: str, messages: Messages, *, stream: bool = False, **kwargs: Any
) -> ModelResponse | AsyncCompletionStream:
    """Create a chat completion with any supported provider (OpenAI's response shape).

    Args:
        model: ``"provider/model"`` (see ``ritellm.PROVIDERS``: ``openai/gpt-4o-mini``,
            ``anthropic/claude-sonnet-4-5``, ``gemini/gemini-2.5-flash``,
            ``azure/<deployment>``, ...) or a bare name (``claude-…`` is Anthropic,
            ``gemini-…`` Gemini, anything else OpenAI).
        messages: OpenAI-style messages, e.g. ``[{"role": "user", "content": "Hi"}]``,
            including image parts, assistant ``tool_calls`` and ``tool`` results.
        stream: return an :class:`AsyncCompletionStream` once the first chunk arrived.
        **kwargs: ritellm's options and the request parameters:

            - ``base_url`` (alias ``api_base``), ``api_key``: default from the provider's
              environment variables; no key is required with a custom ``base_url``.
            - ``timeout``: seconds or a :class:`Timeout`. A number bounds the whole call
              (retries included) without streaming, and the wait for the first chunk and
              for each next one with streaming.
            - ``num_retries`` (alias ``max_retries``): retries for connection errors, 408,
              409, 429 and 5xx (default 2).
            - ``fallbacks``: models (or dicts of arguments) to try in order when this one
              is unavailable (rate limits, 5xx, connection errors, unknown model).
            - ``extra_headers``: extra HTTP request headers.
            - ``additional_params``: extra body fields as a JSON-object string or a dict;
              explicit keyword arguments win over it.
            - ``logger_fn``: called once per attempt with a dict describing the request
              (credentials redacted).
            - ``drop_params``: leave out parameters the provider cannot honour instead of
              raising ParameterError.
            - ``api_version``, ``azure_ad_token``: Azure's API version and Entra ID token.
            - Request parameters in OpenAI's vocabulary (temperature, max_tokens, top_p,
              stop, n, seed, user, tools, tool_choice, parallel_tool_calls,
              response_format — a dict or a Pydantic model class —, reasoning_effort,
              stream_options, ...), translated for the provider; None means "not set".
              Any other keyword goes into the provider's native body unchanged.

    Returns:
        A :class:`ModelResponse` (dict with attribute access), or with ``stream=True`` an
        :class:`AsyncCompletionStream`.

    Raises:
        ParameterError / ParameterTypeError / UnknownProviderError: bad arguments (no I/O).
        AuthenticationError: no key for the provider's default URL, or HTTP 401.
        APIError subclasses: the provider answered with an error, or the call failed.
    """
    return await default_client().acompletion(model, messages, stream=stream, **kwargs)
