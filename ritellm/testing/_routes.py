"""The simulator's route table: exact paths first (a dict lookup: the benchmarks' hot path), then
the patterned routes; OpenAI's shape answers paths no route serves.
Pure: this package's format modules only.
"""

from __future__ import annotations

import re

from . import _anthropic, _azure, _bedrock, _gemini, _ollama, _openai
from ._wire import Endpoint

__all__ = ["FALLBACK", "PATTERNS", "ROUTES", "match"]

ROUTES: dict[str, Endpoint] = {**_openai.ROUTES, **_anthropic.ROUTES, **_ollama.ROUTES}
PATTERNS: tuple[tuple[re.Pattern[str], Endpoint], ...] = (
    *_gemini.PATTERNS,
    *_azure.PATTERNS,
    *_bedrock.PATTERNS,
)
FALLBACK: Endpoint = _openai.CHAT


def match(path: str) -> Endpoint | None:
    """The patterned route serving ``path``, if any (after the exact lookup missed)."""
    for pattern, endpoint in PATTERNS:
        if pattern.fullmatch(path):
            return endpoint
    return None
