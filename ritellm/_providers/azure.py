"""Azure OpenAI: OpenAI's Chat Completions format on deployment-scoped URLs with an
``api-version``, ``api-key`` (or Entra ID bearer) auth, and content-filter annotations
(wire-formats §3). Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._errors import AuthenticationError, ParameterError, ParameterTypeError
from .._types import (
    CompletionRequest,
    Credentials,
    HttpRequest,
    Media,
    ModelResponseStream,
)
from . import NO_HEADERS, ProviderSpec, endpoint, parse_base_url
from .openai import OpenAIProvider, OpenAIStreamDecoder

__all__ = ["AzureProvider", "AzureStreamDecoder", "make_provider"]

_VERSION_ENV = ("AZURE_API_VERSION", "OPENAI_API_VERSION")
_TOKEN_ENV = ("AZURE_AD_TOKEN", "AZURE_OPENAI_AD_TOKEN")


def _option(
    options: Mapping[str, Any], name: str, environ: Mapping[str, str], env: tuple[str, ...]
) -> str | None:
    value = options.get(name)
    if value is not None and not isinstance(value, str):
        raise ParameterTypeError(f"{name} must be a str, not {type(value).__name__}")
    return value or next((environ[n] for n in env if environ.get(n)), None)


def _root(url: str) -> str:
    """The resource endpoint, whichever form the base URL was given in: the endpoint
    itself, ``…/openai``, or a deployment URL (the deployment comes from the model string)."""
    url = url.rstrip("/").removesuffix("/chat/completions")
    head, sep, _ = url.partition("/openai/deployments/")
    if sep:
        return head
    return url.removesuffix("/openai")


class AzureProvider(OpenAIProvider):
    """``POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V``."""

    credential_params = ("api_version", "azure_ad_token")

    def credentials(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        options: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> Credentials:
        spec = self.spec
        url = base_url or next((environ[v] for v in spec.base_env if environ.get(v)), None)
        if not url:
            raise ParameterError(
                "azure/ needs the resource endpoint: pass base_url='https://<resource>."
                "openai.azure.com' (or api_base=) or set AZURE_API_BASE"
            )
        base, query, auth = parse_base_url(url)
        version = _option(options, "api_version", environ, _VERSION_ENV)
        token = _option(options, "azure_ad_token", environ, _TOKEN_ENV)
        if not version:
            raise ParameterError(
                "azure/ needs an API version: pass api_version='2024-10-21' (for example) or "
                "set AZURE_API_VERSION"
            )
        key = api_key or next((environ[v] for v in spec.key_env if environ.get(v)), None)
        if key or token:
            extra = {"api_version": version} if key else {"api_version": version, "auth": "bearer"}
            return Credentials(
                base_url=_root(base), api_key=key or token, headers=auth, query=query, extra=extra
            )
        raise AuthenticationError(
            "No credentials for provider 'azure': pass api_key=... or azure_ad_token=..., or "
            "set AZURE_API_KEY (or AZURE_OPENAI_API_KEY) or AZURE_AD_TOKEN",
            provider=spec.name,
        )

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        version = creds.extra["api_version"]
        path = f"/openai/deployments/{quote(req.model, safe='')}/chat/completions"
        url = endpoint(creds, path, f"api-version={quote(version, safe='')}")
        return self._request(req, creds, url)

    def _auth(self, creds: Credentials) -> tuple[bytes, bytes]:
        assert creds.api_key is not None
        if creds.extra.get("auth") == "bearer":
            return (b"Authorization", b"Bearer " + creds.api_key.encode())
        return (b"api-key", creds.api_key.encode())

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> AzureStreamDecoder:
        return AzureStreamDecoder(self.spec.name, max_event_bytes=max_event_bytes)


class AzureStreamDecoder(OpenAIStreamDecoder):
    """OpenAI's decoder, minus Azure's annotation chunks (wire-formats §3.3): the prompt-filter
    chunk (empty ``choices``, no usage, blank id) and asynchronous-filter chunks (a choice
    without ``delta``) never reach code that reads ``chunk.choices[0].delta``. The prompt
    filter results ride on the next chunk as ``prompt_filter_results``."""

    __slots__ = ("_prompt_filter",)

    def __init__(self, provider: str, *, max_event_bytes: int = 1 << 20) -> None:
        super().__init__(provider, max_event_bytes=max_event_bytes)
        self._prompt_filter: Any = None

    def _chunks(self, events: list[Any]) -> list[ModelResponseStream]:
        return [c for c in super()._chunks(events) if self._keep(c)]

    def _keep(self, chunk: ModelResponseStream) -> bool:
        choices = chunk.get("choices")
        if choices:
            kept = [c for c in choices if "delta" in c]
            if not kept:
                return False
            if len(kept) != len(choices):
                chunk["choices"] = kept
        elif chunk.get("usage") is None:
            filters = chunk.get("prompt_filter_results") or chunk.get("prompt_annotations")
            if filters is not None:
                self._prompt_filter = filters
            return False
        if self._prompt_filter is not None:
            chunk["prompt_filter_results"] = self._prompt_filter
            self._prompt_filter = None
        return True


def make_provider(spec: ProviderSpec) -> AzureProvider:
    """Registry hook: the translator for ``spec``."""
    return AzureProvider(spec)
