"""Provider registry: model string → (provider spec, model id), credentials, translators.

Pure: standard library, attrs and the sibling translator modules only. Adding a provider is
one module in this package plus one row in ``PROVIDERS``.
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import attrs

from .._checks import redact_url
from .._errors import AuthenticationError, ErrorInfo, ParameterError, UnknownProviderError
from .._types import (
    CompletionRequest,
    Credentials,
    HttpRequest,
    Media,
    ModelResponse,
    ModelResponseStream,
)

__all__ = [
    "NO_HEADERS",
    "PROVIDERS",
    "Provider",
    "ProviderSpec",
    "StreamDecoder",
    "endpoint",
    "get_provider",
    "parse_base_url",
    "resolve",
    "resolve_credentials",
]


NO_HEADERS: Mapping[str, str] = MappingProxyType({})
"""The default ``headers`` of :meth:`Provider.stream_decoder` (a decoder made outside a
response, e.g. in a test)."""


class StreamDecoder(Protocol):
    """Turns response body bytes into chunks; any split of the bytes gives the same chunks.

    A decoder owns its format's framing (SSE for OpenAI, Azure, Anthropic and Gemini, NDJSON
    for Ollama) and
    the state needed to turn provider events into OpenAI ``chat.completion.chunk`` objects.
    It never emits a chunk with nothing in it before the first real delta (so an error
    event that precedes any content surfaces before the stream is handed to the caller).
    """

    def feed(self, data: bytes) -> list[ModelResponseStream]:
        """Chunks completed by ``data``. Raises StreamError on an in-band error (with
        ``StreamError.inband`` set) or bad data; an error found after good chunks in the
        same ``data`` is raised by the next call, after those chunks were returned."""
        ...

    def close(self) -> list[ModelResponseStream]:
        """At end of body: the last chunks, or StreamError if the stream was truncated."""
        ...

    @property
    def done(self) -> bool:
        """True once the format's end-of-stream marker was seen (nothing more will come)."""
        ...


class Provider(Protocol):
    """A sans-IO translator between ritellm's OpenAI-shaped calls and one wire format.

    Everything from the world (environment, clock, fetched media) is passed in.
    """

    spec: ProviderSpec
    # Keyword arguments of acompletion this provider reads as credentials or routing (e.g.
    # Azure's ``api_version``); they are removed from the body before translation.
    credential_params: tuple[str, ...]
    # The Content-Type(s) a streamed response comes in (the first is named in errors); a 2xx
    # in any other type is an error body or a server that ignored the request to stream.
    stream_media_types: tuple[str, ...]

    def credentials(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        options: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> Credentials:
        """Resolve where and as whom to call: arguments, then environment, then defaults.
        ``options`` holds the ``credential_params`` the caller passed (None if not).

        Raises ParameterError (no or bad base URL) or AuthenticationError (no key where one
        is required), before any I/O."""
        ...

    def media_urls(self, req: CompletionRequest) -> tuple[str, ...]:
        """http(s) URLs in the messages whose bytes must be fetched and inlined because this
        format cannot pass them by reference (empty for most providers)."""
        ...

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        """The wire-ready HTTP request for ``req``. ``media`` maps each of
        :meth:`media_urls` to its fetched bytes.

        Raises ParameterError/ParameterTypeError for messages or parameters the format
        cannot express (a parameter it cannot honour is dropped instead when
        ``req.drop_params``)."""
        ...

    def sign(self, request: HttpRequest, creds: Credentials, now: float) -> HttpRequest:
        """The request as sent at unix time ``now``, called before each attempt: with the
        signature of formats that sign each request (Bedrock's SigV4), else ``request``."""
        ...

    def parse_completion(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        req: CompletionRequest,
        now: int,
    ) -> ModelResponse:
        """A 2xx non-streaming body as a ``chat.completion`` (``now`` is the unix time for
        formats that carry no ``created``). Raises APIResponseValidationError for a body
        that is not what the format promises, or the mapped APIError for an error body
        sent with a 2xx status (e.g. ContentPolicyViolationError for a Gemini prompt
        block)."""
        ...

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
        """What an error response says, from this format's error shape (falling back to the
        OpenAI-compatible shapes, which many servers use whatever format they speak)."""
        ...

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = ...,
    ) -> StreamDecoder:
        """A fresh decoder for one streaming response body; an event (or line) larger than
        ``max_event_bytes`` is a StreamError. ``headers`` are the response's (lower-case
        names), for formats whose stream body carries no id (Bedrock's is a header)."""
        ...


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """One model-string prefix: which translator and which defaults it uses."""

    name: str
    module: str
    default_base_url: str | None = None
    key_env: tuple[str, ...] = ()
    base_env: tuple[str, ...] = ()
    # Whether a missing key is an error when the provider's own default URL is used. With a
    # custom base URL (a local server, a proxy) no key is ever required.
    key_required: bool = True


def _compat(
    name: str, base: str | None, key_env: tuple[str, ...], base_env: str, *, key: bool = True
) -> ProviderSpec:
    return ProviderSpec(
        name=name,
        module="openai",
        default_base_url=base,
        key_env=key_env,
        base_env=(base_env,),
        key_required=key,
    )


# Defaults follow LiteLLM's conventions (wire-formats §7, §8.1) so model strings carry over.
PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            name="openai",
            module="openai",
            default_base_url="https://api.openai.com/v1",
            key_env=("OPENAI_API_KEY",),
            base_env=("OPENAI_BASE_URL", "OPENAI_API_BASE"),
        ),
        ProviderSpec(
            name="anthropic",
            module="anthropic",
            default_base_url="https://api.anthropic.com",
            key_env=("ANTHROPIC_API_KEY",),
            base_env=("ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE"),
        ),
        ProviderSpec(
            name="gemini",
            module="gemini",
            default_base_url="https://generativelanguage.googleapis.com",
            key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            base_env=("GEMINI_API_BASE",),
        ),
        ProviderSpec(
            name="azure",
            module="azure",
            key_env=("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"),
            base_env=("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"),
        ),
        *(
            ProviderSpec(
                name=name,
                module="ollama",
                default_base_url="http://localhost:11434",
                key_env=("OLLAMA_API_KEY",),
                base_env=("OLLAMA_API_BASE", "OLLAMA_HOST"),
                key_required=False,
            )
            for name in ("ollama", "ollama_chat")  # LiteLLM's two prefixes, one native API
        ),
        ProviderSpec(
            name="bedrock",
            module="bedrock",
            key_env=("AWS_BEARER_TOKEN_BEDROCK",),
            base_env=("AWS_BEDROCK_RUNTIME_ENDPOINT",),
        ),
        _compat("groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",), "GROQ_API_BASE"),
        _compat(
            "together_ai",
            "https://api.together.xyz/v1",
            ("TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY"),
            "TOGETHER_AI_API_BASE",
        ),
        _compat(
            "deepseek", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",), "DEEPSEEK_API_BASE"
        ),
        _compat("mistral", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",), "MISTRAL_API_BASE"),
        _compat(
            "openrouter",
            "https://openrouter.ai/api/v1",
            ("OPENROUTER_API_KEY", "OR_API_KEY"),
            "OPENROUTER_API_BASE",
        ),
        _compat(
            "fireworks_ai",
            "https://api.fireworks.ai/inference/v1",
            ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"),
            "FIREWORKS_API_BASE",
        ),
        _compat(
            "perplexity",
            "https://api.perplexity.ai",
            ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
            "PERPLEXITY_API_BASE",
        ),
        _compat("xai", "https://api.x.ai/v1", ("XAI_API_KEY",), "XAI_API_BASE"),
        _compat("hosted_vllm", None, ("HOSTED_VLLM_API_KEY",), "HOSTED_VLLM_API_BASE", key=False),
        _compat("lm_studio", None, ("LM_STUDIO_API_KEY",), "LM_STUDIO_API_BASE", key=False),
        _compat(
            "llamafile",
            "http://127.0.0.1:8080/v1",
            ("LLAMAFILE_API_KEY",),
            "LLAMAFILE_API_BASE",
            key=False,
        ),
    )
}


# Bare model names (no prefix) as LiteLLM infers them; anything else bare is OpenAI's.
_BARE = (("claude-", "anthropic"), ("gemini-", "gemini"))


def resolve(model: str) -> tuple[ProviderSpec, str]:
    """Split a model string into its provider and the model id sent on the wire.

    ``openai/gpt-4o-mini`` → (openai, ``gpt-4o-mini``); a bare name (no ``/``) is inferred as
    LiteLLM does: ``claude-…`` → anthropic, ``gemini-…`` → gemini, anything else OpenAI;
    ``openrouter/anthropic/claude-3.5`` keeps everything after the first ``/`` as the id.

    Raises:
        UnknownProviderError: the text before the first ``/`` is not a known prefix.
        ParameterError: an empty model id.
    """
    prefix, sep, rest = model.partition("/")
    if not sep:
        for start, name in _BARE:
            if model.startswith(start):
                return PROVIDERS[name], model
        return PROVIDERS["openai"], model
    spec = PROVIDERS.get(prefix)
    if spec is None:
        raise UnknownProviderError(_unknown_prefix(prefix, model, rest))
    if not rest:
        raise ParameterError(f"Model {model!r} names a provider but no model after the '/'")
    return spec, rest


def _unknown_prefix(prefix: str, model: str, rest: str) -> str:
    import difflib  # only on this error path

    known = ", ".join(f"{name}/" for name in sorted(PROVIDERS))
    close = difflib.get_close_matches(prefix.lower(), PROVIDERS, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}/{rest}'?" if close else ""
    message = f"Unknown provider prefix {prefix!r} in model {model!r}.{hint}"
    if not rest:
        return f"{message} Supported prefixes: {known}."
    # Everything after the first '/' is the model id sent: 'openai/' + the whole string
    # would send the unknown prefix too, so say which of the two forms sends what.
    return (
        f"{message} Supported prefixes: {known}. For an OpenAI-compatible server, pass "
        f"model={'openai/' + rest!r} with base_url='http://<host>/v1' (the server gets model "
        f"{rest!r}; model={'openai/' + model!r} would send {model!r})."
    )


def resolve_credentials(
    spec: ProviderSpec,
    *,
    api_key: str | None,
    base_url: str | None,
    environ: Mapping[str, str],
    path: Callable[[str], str] | None = None,
) -> Credentials:
    """Arguments first, then the provider's environment variables, then its default URL.

    ``path`` normalises the base URL's path for providers that accept several forms (e.g.
    Anthropic's root, ``…/v1`` or ``…/v1/messages``) before it is compared with the default.

    Raises:
        ParameterError: no base URL can be found, or it is not a valid http(s) URL.
        AuthenticationError: no key for the provider's own default URL (before any I/O).
    """
    url = base_url or next((environ[v] for v in spec.base_env if environ.get(v)), None)
    url = url or spec.default_base_url
    if not url:
        names = " or ".join(spec.base_env)
        raise ParameterError(f"Provider {spec.name!r} needs base_url=... (or {names} set)")
    base, query, auth = parse_base_url(url)
    if path is not None:
        base = path(base)
    key = api_key or next((environ[v] for v in spec.key_env if environ.get(v)), None)
    if key is None and spec.key_required and base == spec.default_base_url and not auth:
        names = " or ".join(spec.key_env)
        raise AuthenticationError(
            f"No API key for provider {spec.name!r}: pass api_key=... or set {names}",
            provider=spec.name,
        )
    return Credentials(base_url=base, api_key=key, headers=auth, query=query)


def parse_base_url(url: str) -> tuple[str, str, tuple[tuple[bytes, bytes], ...]]:
    """Check a base URL and split it into what requests use: (``scheme://host[:port]/path``
    without a trailing slash, its query string, and an ``Authorization: Basic`` header from
    its userinfo, if any). Messages never show the password.

    Raises:
        ParameterError: not a string-safe http(s) URL with a host, a bad port, or a fragment.
    """
    shown = redact_url(url)
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ParameterError(f"base_url contains whitespace or control characters: {shown!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ParameterError(f"base_url must start with http:// or https://, got {shown!r}")
    if not parts.hostname:
        raise ParameterError(f"base_url has no host: {shown!r}")
    try:
        port = parts.port
    except ValueError:
        raise ParameterError(f"base_url has an invalid port: {shown!r}") from None
    if parts.fragment or url.endswith("#"):
        raise ParameterError(
            f"base_url has a fragment ('#...'), which would change the request path: {shown!r}"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    base = f"{parts.scheme.lower()}://{netloc}{parts.path}".rstrip("/")
    auth: tuple[tuple[bytes, bytes], ...] = ()
    if parts.username is not None:
        # Userinfo is sent as Basic auth (what curl and httpx do), never left in the URL.
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(pair.encode()).decode("ascii")
        auth = ((b"Authorization", b"Basic " + token.encode()),)
    return base, parts.query, auth


def endpoint(creds: Credentials, path: str, query: str = "") -> str:
    """The request URL: the base URL, ``path``, then ``query`` and the base URL's own query."""
    both = f"{query}&{creds.query}" if query and creds.query else query or creds.query
    url = creds.base_url + path
    return f"{url}?{both}" if both else url


_loaded: dict[str, Any] = {}


def get_provider(spec: ProviderSpec) -> Provider:
    """The (cached) translator instance for a spec; its module is imported on first use."""
    provider = _loaded.get(spec.name)
    if provider is None:
        module = importlib.import_module(f"{__name__}.{spec.module}")
        provider = module.make_provider(spec)
        _loaded[spec.name] = provider
    result: Provider = provider
    return result
