"""ritellm: one call shape for many LLM providers, fast and leak-free on asyncio and trio.

    r = await ritellm.acompletion(model="openai/gpt-4o-mini", messages=msgs)
    async with await ritellm.acompletion(model=m, messages=msgs, stream=True) as stream:
        async for chunk in stream: ...
    r = ritellm.completion(model=m, messages=msgs)   # blocking twin

Re-exports only; the public API is exactly ``__all__`` plus ``ritellm.sse`` and
``ritellm.testing``.
"""

from ._assemble import stream_chunk_builder
from ._blocking import CompletionStream, batch_completion, completion
from ._client import AsyncClient, acompletion
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    ImageFetchError,
    InternalServerError,
    NotFoundError,
    ParameterError,
    ParameterTypeError,
    PermissionDeniedError,
    RateLimitError,
    RiteLLMError,
    ServiceUnavailableError,
    StreamError,
    UnknownProviderError,
    UnprocessableEntityError,
)
from ._fanout import (
    CompletionResults,
    FanoutStats,
    completions_as_completed,
    gather_completions,
    race_completions,
)
from ._metadata import Latency, ResponseMetadata
from ._options import Timeout
from ._providers import PROVIDERS
from ._ratelimits import Limit, RateLimits
from ._stream import AsyncCompletionStream
from ._types import AttrDict, ModelResponse, ModelResponseStream
from ._version import __version__

__all__ = [
    "PROVIDERS",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncCompletionStream",
    "AttrDict",
    "AuthenticationError",
    "BadRequestError",
    "CompletionResults",
    "CompletionStream",
    "ConflictError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "FanoutStats",
    "ImageFetchError",
    "InternalServerError",
    "Latency",
    "Limit",
    "ModelResponse",
    "ModelResponseStream",
    "NotFoundError",
    "ParameterError",
    "ParameterTypeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimits",
    "ResponseMetadata",
    "RiteLLMError",
    "ServiceUnavailableError",
    "StreamError",
    "Timeout",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "__version__",
    "acompletion",
    "batch_completion",
    "completion",
    "completions_as_completed",
    "gather_completions",
    "race_completions",
    "stream_chunk_builder",
]
