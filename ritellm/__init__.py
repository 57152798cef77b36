"""ritellm: one call shape for many LLM providers, fast and leak-free on asyncio and trio.

    r = await ritellm.acompletion(model="openai/gpt-4o-mini", messages=msgs)
    async with await ritellm.acompletion(model=m, messages=msgs, stream=True) as stream:
        async for chunk in stream: ...
    r = ritellm.completion(model=m, messages=msgs)   # blocking twin

Re-exports only; the public API is exactly ``__all__`` plus ``ritellm.sse`` and
``ritellm.testing``.
"""

from typing import Any

from ._assemble import stream_chunk_builder
from ._batch import abatch_completion, batch_completion
from ._batch_models import (
    abatch_completion_models,
    abatch_completion_models_all_responses,
    batch_completion_models,
    batch_completion_models_all_responses,
)
from ._blocking import CompletionStream, completion, flush_callbacks
from ._client import AsyncClient, acompletion
from ._cost import completion_cost, cost_per_token, register_model
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CallCancelled,
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
from ._observe import aflush_callbacks
from ._observe._callbacks import CustomLogger
from ._options import Timeouts
from ._providers import PROVIDERS
from ._ratelimits import Limit, RateLimits
from ._stream import AsyncCompletionStream
from ._types import AttrDict, ModelResponse, ModelResponseStream
from ._version import __version__

# LiteLLM's name for its timeout exception: `except ritellm.Timeout:` catches every timeout.
Timeout = APITimeoutError

# LiteLLM's callback registries, read at every call (assign a new list or append to it):
# functions fn(kwargs, completion_response, start_time, end_time), and CustomLogger objects.
success_callback: list[Any] = []
failure_callback: list[Any] = []
callbacks: list[Any] = []

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
    "CallCancelled",
    "CompletionResults",
    "CompletionStream",
    "ConflictError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "CustomLogger",
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
    "Timeouts",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "__version__",
    "abatch_completion",
    "abatch_completion_models",
    "abatch_completion_models_all_responses",
    "acompletion",
    "aflush_callbacks",
    "batch_completion",
    "batch_completion_models",
    "batch_completion_models_all_responses",
    "callbacks",
    "completion",
    "completion_cost",
    "completions_as_completed",
    "cost_per_token",
    "failure_callback",
    "flush_callbacks",
    "gather_completions",
    "race_completions",
    "register_model",
    "stream_chunk_builder",
    "success_callback",
]
