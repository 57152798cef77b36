"""Provider registry: model string → (provider spec, model id), credentials, translators.

Pure: standard library, attrs and the sibling translator modules only. Adding a provider is
one module in this package plus one row in ``PROVIDERS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from .._errors import AuthenticationError, ParameterError, UnknownProviderError
from .._types import CompletionRequest, Credentials, HttpRequest, ModelResponse, ModelResponseStream

__all__ = [
    "PROVIDERS",
    "Provider",
    "ProviderSpec",
    "StreamDecoder",
    "get_provider",
    "resolve",
    "resolve_credentials",
]


class StreamDecoder(Protocol):
    """Turns response body bytes into chunks; any split of the bytes gives the same chunks."""

    def feed(self, data: bytes) -> list[ModelResponseStream]:
        """Chunks completed by ``data``. Raises StreamError on an in-band error or bad data."""
        ...

    def close(self) -> list[ModelResponseStream]:
        """At end of body: the last chunks, or StreamError if the stream was truncated."""
        ...

    @property
    def done(self) -> bool:
        """True once the format's end-of-stream marker was seen (nothing more will come)."""
        ...


class Provider(Protocol):
    """A sans-IO translator between ritellm's OpenAI-shaped calls and one wire format."""

    spec: ProviderSpec

    def build_request(self, req: CompletionRequest, creds: Credentials) -> HttpRequest:
        """The wire-ready HTTP request for ``req``."""
        ...

    def parse_completion(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> ModelResponse:
        """A 2xx non-streaming body as a ModelResponse (APIResponseValidationError if not)."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one streaming response body."""
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


def resolve(model: str) -> tuple[ProviderSpec, str]:
    """Split a model string into its provider and the model id sent on the wire.

    ``openai/gpt-4o-mini`` → (openai, ``gpt-4o-mini``); a bare ``gpt-3.5-turbo`` (no ``/``)
    uses the OpenAI wire format; ``openrouter/anthropic/claude-3.5`` keeps everything after the
    first ``/`` as the id.

    Raises:
        UnknownProviderError: the text before the first ``/`` is not a known prefix.
        ParameterError: an empty model id.
    """
    prefix, sep, rest = model.partition("/")
    if not sep:
        return PROVIDERS["openai"], model
    spec = PROVIDERS.get(prefix)
    if spec is None:
        known = ", ".join(f"{name}/" for name in sorted(PROVIDERS))
        raise UnknownProviderError(
            f"Unknown provider prefix {prefix!r} in model {model!r}. Supported prefixes: "
            f"{known}. For any other OpenAI-compatible server use "
            f"'openai/{model}' with base_url=..."
        )
    if not rest:
        raise ParameterError(f"Model {model!r} names a provider but no model after the '/'")
    return spec, rest


def resolve_credentials(
    spec: ProviderSpec,
    *,
    api_key: str | None,
    base_url: str | None,
    environ: Mapping[str, str],
) -> Credentials:
    """Arguments first, then the provider's environment variables, then its default URL.

    Raises:
        ParameterError: no base URL can be found, or it is not an http(s) URL.
        AuthenticationError: no key for the provider's own default URL (before any I/O).
    """
    url = base_url or next((environ[v] for v in spec.base_env if environ.get(v)), None)
    url = url or spec.default_base_url
    if not url:
        names = " or ".join(spec.base_env)
        raise ParameterError(f"Provider {spec.name!r} needs base_url=... (or {names} set)")
    if not url.startswith(("http://", "https://")):
        raise ParameterError(f"base_url must start with http:// or https://, got {url!r}")
    url = url.rstrip("/")
    key = api_key or next((environ[v] for v in spec.key_env if environ.get(v)), None)
    if key is None and spec.key_required and url == spec.default_base_url:
        names = " or ".join(spec.key_env)
        raise AuthenticationError(
            f"No API key for provider {spec.name!r}: pass api_key=... or set {names}",
            provider=spec.name,
        )
    return Credentials(base_url=url, api_key=key)


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
