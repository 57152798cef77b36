"""Fan-out: many completions at once with bounded concurrency, shared rate limits (the
caller's, the provider's stated ones and those learned from its 429s), results in order or
as they finish, and first-success races. Imports anyio and the client layer only.
"""

from __future__ import annotations

from ._api import (
    CompletionResults,
    completions_as_completed,
    gather_completions,
    race_completions,
)
from ._engine import FanoutStats

__all__ = [
    "CompletionResults",
    "FanoutStats",
    "completions_as_completed",
    "gather_completions",
    "race_completions",
]
