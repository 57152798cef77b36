"""AsyncClient and acompletion: a client owns its defaults and its per-event-loop connection
pools; a call is prepared (ritellm._call) and run (ritellm._attempts). No provider branch.

Imports anyio, the pure modules and the I/O layers; never httpcore, trio or asyncio.
"""

from __future__ import annotations

import os
import random
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

import anyio.lowlevel

from ._attempts import Observer, run
from ._call import Defaults, Messages, prepare
from ._checks import check_number, check_retries, redact_url
from ._errors import ParameterError, ParameterTypeError
from ._observe import start
from ._observe._callbacks import check_loggers
from ._options import DEFAULT_MAX_RESPONSE_BYTES, RetryPolicy, Timeouts
from ._prepared import Call
from ._stream import AsyncCompletionStream
from ._types import ModelResponse

if TYPE_CHECKING:
    import ssl

    from ._call import CompletionParams
    from ._observe import Report
    from ._observe._callbacks import CustomLogger
    from ._observe._otel import Telemetry
    from ._transport import Transport

__all__ = ["AsyncClient", "acompletion", "default_client"]

# Each event loop's pools, one per client. Keyed weakly by the client: a dropped client's
# pool is collected with it (and closes its sockets: ritellm._transport._lifetime), and no
# state is keyed by id(), which a new client could inherit from a dead one.
_POOLS: anyio.lowlevel.RunVar[weakref.WeakKeyDictionary[AsyncClient, Transport] | None] = (
    anyio.lowlevel.RunVar("ritellm.pools", default=None)
)


class AsyncClient:
    """An LLM client with its own connection pools and defaults.

    Pools belong to event loops: one client works in ``asyncio.run()`` after
    ``asyncio.run()``, under ``trio.run()`` and in several threads' loops, each with its own
    connections. ``async with AsyncClient() as client:`` closes the current loop's
    connections on exit; a client is still usable afterwards (it opens new ones). A client
    that is dropped without being closed releases its pools and sockets when it is
    garbage-collected, and each loop's when that loop ends.

    Args:
        api_key, base_url: defaults for every call (per-call arguments win; then the
            provider's environment variables).
        timeout: default ``timeout=`` for calls (a number or :class:`Timeouts`).
        num_retries: default retries per call (``max_retries`` is an alias).
        max_connections: pool size per event loop; calls beyond it wait (``Timeouts.pool``).
        max_idle_connections: keep-alive connections kept open for reuse, at most, per
            event loop (default 128; 0 closes every connection after its response).
        keepalive_expiry: seconds an idle connection is kept for reuse.
        verify: verify TLS certificates (default) or an ``ssl.SSLContext`` to use.
        proxy: an HTTP proxy for every request, e.g. ``"http://user:pass@proxy:3128"``
            (https:// origins are tunnelled with CONNECT). Default: the HTTP_PROXY,
            HTTPS_PROXY, ALL_PROXY and NO_PROXY environment variables, as httpx reads them.
        trust_env: read the proxy environment variables (default); False ignores them.
        max_response_bytes: the largest response body (decompressed) read for a
            non-streaming answer or an error, default 32 MiB; a larger one raises
            APIResponseValidationError. Streams are bounded per event instead.
        max_event_bytes: the largest streamed event (or SSE line), default 1 MiB; a
            larger one raises StreamError.
        callbacks: :class:`CustomLogger` objects told of this client's calls (besides
            the global ``ritellm.callbacks``, ``success_callback`` and ``failure_callback``).
        tracer_provider, meter_provider: OpenTelemetry providers for this client's spans
            and metrics (``ritellm[otel]``), instead of the global ones the application
            configured.

    Raises:
        ParameterError / ParameterTypeError: an invalid argument (the proxy URL included).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | Timeouts | None = None,
        num_retries: int | None = None,
        max_retries: int | None = None,
        max_connections: int = 256,
        max_idle_connections: int = 128,
        keepalive_expiry: float = 30.0,
        verify: bool | ssl.SSLContext = True,
        proxy: str | None = None,
        trust_env: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_event_bytes: int = 1 << 20,
        callbacks: Sequence[CustomLogger] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        if api_key is not None and not isinstance(api_key, str):
            raise ParameterTypeError(f"api_key must be a str, not {type(api_key).__name__}")
        if base_url is not None and not isinstance(base_url, str):
            raise ParameterTypeError(f"base_url must be a str, not {type(base_url).__name__}")
        for name, value, least in (
            ("max_connections", max_connections, 1),
            ("max_idle_connections", max_idle_connections, 0),
            ("max_response_bytes", max_response_bytes, 1),
            ("max_event_bytes", max_event_bytes, 1),
        ):
            check_number(name, value, integer=True)
            if value < least:
                raise ParameterError(f"{name} must be >= {least}, got {value}")
        check_number("keepalive_expiry", keepalive_expiry)
        if not isinstance(trust_env, bool):
            raise ParameterTypeError(f"trust_env must be True or False, not {trust_env!r}")
        if proxy is not None:
            if not isinstance(proxy, str):
                raise ParameterTypeError(f"proxy must be a str, not {type(proxy).__name__}")
            # Checked now, not at the first call (stdlib only: httpcore is not imported).
            from ._transport._proxy import parse_proxy

            parse_proxy(proxy, "proxy=")
        Timeouts.coerce(timeout, stream=False)  # validate now, not at the first call
        self._callbacks: Sequence[CustomLogger] = (
            () if callbacks is None else check_loggers(callbacks, "callbacks")
        )
        self._telemetry: Telemetry | None = None
        if tracer_provider is not None or meter_provider is not None:
            from ._observe._otel import Telemetry

            self._telemetry = Telemetry(
                tracer_provider=tracer_provider, meter_provider=meter_provider
            )
        self._defaults = Defaults(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            retry=RetryPolicy(max_retries=check_retries(num_retries, max_retries, 2)),
            max_event_bytes=max_event_bytes,
        )
        self._proxy = proxy
        self._pool_args: dict[str, Any] = {
            "max_connections": max_connections,
            "max_idle_connections": max_idle_connections,
            "keepalive_expiry": keepalive_expiry,
            "verify": verify,
            "proxy": proxy,
            "max_response_bytes": max_response_bytes,
            # Read now, as httpx does: the proxy variables as they are when the client is made.
            "environ": _proxy_environ(os.environ) if trust_env and proxy is None else None,
        }
        self._rng = random.Random()

    def __repr__(self) -> str:
        # Never the key, nor a password in a URL.
        base_url = self._defaults.base_url
        shown = redact_url(base_url) if base_url is not None else None
        extra = f" proxy={redact_url(self._proxy)!r}" if self._proxy is not None else ""
        return f"<ritellm.AsyncClient base_url={shown!r}{extra}>"

    # -- pools -------------------------------------------------------------------------

    def transport(self) -> Transport:
        """This event loop's connection pool (created on first use)."""
        pools = _POOLS.get()
        if pools is None:
            pools = weakref.WeakKeyDictionary()
            _POOLS.set(pools)
        transport = pools.get(self)
        if transport is None:
            # Imported on first use: httpcore's import costs ~140 ms (it imports trio when
            # installed), and `import ritellm` must stay fast.
            from ._transport._pool import Transport

            transport = pools[self] = Transport(**self._pool_args)
        return transport

    async def aclose(self) -> None:
        """Close this event loop's connections (idempotent)."""
        pools = _POOLS.get()
        transport = pools.pop(self, None) if pools is not None else None
        if transport is not None:
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
        """Create a chat completion with this client's pools and defaults.

        Args:
            model, messages, stream, **kwargs: as for :func:`ritellm.acompletion` (per-call
                arguments win over the client's defaults).

        Returns:
            A :class:`ModelResponse`, or with ``stream=True`` an :class:`AsyncCompletionStream`.

        Raises:
            The errors of :func:`ritellm.acompletion`.
        """
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

    def _observe(self, call: Call) -> Report | None:
        """The call's report to its callbacks and spans (None: nothing observes it)."""
        return start(call, self._callbacks, self._telemetry)

    async def _run(
        self,
        call: Call,
        *,
        observer: Observer | None = None,
        report: Report | Literal["new"] | None = "new",
    ) -> ModelResponse | AsyncCompletionStream:
        """Run a prepared call; ``report``: the fan-out's, kept across its re-sends."""
        if report == "new":
            report = self._observe(call)
        if call.mock is not None:
            # mock_response=: answered here, without a pool or a connection.
            from ._mock_run import run_mock

            return await run_mock(call, report, fanout=observer is not None)
        transport = self.transport()
        return await run(call, transport, self._rng.random, observer=observer, report=report)


def _proxy_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables proxy routing reads (``*_proxy`` in any case, and CGI's marker)."""
    return {
        name: value
        for name, value in environ.items()
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD"
    }


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
            ``azure/<deployment>``, ``ollama/llama3.2``,
            ``bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0``, ...) or a bare name
            (``claude-…`` is Anthropic, ``gemini-…`` Gemini, anything else OpenAI).
        messages: OpenAI-style messages, e.g. ``[{"role": "user", "content": "Hi"}]``,
            including image parts, assistant ``tool_calls`` and ``tool`` results.
        stream: return an :class:`AsyncCompletionStream` once the first chunk arrived.
        **kwargs: ritellm's options and the request parameters:

            - ``base_url`` (alias ``api_base``), ``api_key``: default from the provider's
              environment variables; no key is required with a custom ``base_url``.
            - ``timeout``: seconds or a :class:`Timeouts`. A number bounds the whole call
              (retries included) without streaming, and the wait for the first chunk and
              for each next one with streaming.
            - ``num_retries`` (alias ``max_retries``): retries for connection errors, 408,
              409, 429 and 5xx (default 2).
            - ``fallbacks``: models (or dicts of arguments) to try in order when this one
              is unavailable (rate limits, 5xx, connection errors, unknown model).
            - ``extra_headers`` (alias ``headers``, LiteLLM's): extra HTTP request
              headers. Both may be given: they are merged, and where both name a header
              (in any case) ``extra_headers`` wins, as in LiteLLM.
            - ``mock_response``: answer without calling the provider (no I/O, no key
              needed; arguments are still validated): a str is the answer's text, a dict a
              whole chat.completion, an exception instance is raised (never retried;
              fallbacks are tried as for a real failure). With ``stream=True`` the text is
              streamed in word-sized chunks. Callbacks see a mocked call as a real one.
            - ``proxy``: an HTTP proxy URL for this call (``http://user:pass@host:port``),
              instead of the client's proxy settings (see ``AsyncClient``).
            - ``additional_params``: extra body fields as a JSON-object string or a dict;
              explicit keyword arguments win over it.
            - ``logger_fn``: called once per attempt with a dict describing the request
              (credentials redacted).
            - ``metadata``: a dict handed to callbacks (``kwargs["metadata"]``, LiteLLM's
              convention); never sent to the provider.
            - ``drop_params``: leave out parameters the provider cannot honour instead of
              raising ParameterError.
            - ``api_version``, ``azure_ad_token``: Azure's API version and Entra ID token.
            - ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``,
              ``aws_region_name``, ``aws_profile_name``: Bedrock's AWS credentials.
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
