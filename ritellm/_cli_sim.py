"""When ``ritellm chat`` and ``ritellm batch`` answer from the bundled simulator, and the notice
that says so and why: one rule and one wording for both commands.

Imports the provider registry and, only when it is used, ``ritellm.testing``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TextIO

from ._errors import RiteLLMError
from ._providers import resolve

if TYPE_CHECKING:
    from .testing import Simulator

__all__ = ["DEFAULT_MODEL", "simulator_base", "simulator_reason", "start_simulator"]

DEFAULT_MODEL = "openai/gpt-4o-mini"


def simulator_reason(
    model: str,
    *,
    requested: bool,
    api_key: str | None,
    base_url: str | None,
    environ: Mapping[str, str],
) -> str | None:
    """Why a request for ``model`` is answered by the bundled simulator; None to call the API.

    ``--simulator`` always is. Otherwise only OpenAI's models (the default model is one)
    fall back, and only when no key and no base URL is given or set in the environment:
    any other provider reports its own missing key, so nobody is answered by a simulator
    when they meant to reach, say, Anthropic.

    Args:
        model: the model string of the request.
        requested: ``--simulator`` was given.
        api_key: ``--api-key`` (or the request's own ``api_key``), if any.
        base_url: ``--base-url`` (or the request's own), if any.
        environ: the environment to look up the provider's variables in.

    Returns:
        The reason, worded to follow ``ritellm:`` in the notice, or None.
    """
    if requested:
        return "--simulator given"
    if api_key or base_url:
        return None
    try:
        spec, _ = resolve(model)
    except RiteLLMError:
        return None  # the call itself reports the bad model string
    if spec.name != "openai":
        return None
    if any(environ.get(name) for name in (*spec.key_env, *spec.base_env)):
        return None
    keys = " or ".join(spec.key_env)
    return f"no API key found for openai (set {keys}, or pass --api-key or --base-url)"


def simulator_base(sim: Simulator, model: str) -> str:
    """The simulator's base URL for ``model``'s wire format: OpenAI's is served under /v1,
    the others on their native paths from the server root.

    Args:
        sim: the running simulator.
        model: the model string of the request.

    Raises:
        UnknownProviderError / ParameterError: a bad model string.
    """
    spec, _ = resolve(model)
    return sim.base_url if spec.module == "openai" else sim.url


@asynccontextmanager
async def start_simulator(
    reason: str | None, model: str, err: TextIO
) -> AsyncIterator[Simulator | None]:
    """Run the bundled simulator for the block if ``reason`` says so, announcing it on
    ``err`` (``ritellm: <reason>; answering from the bundled simulator at <url>``); yields
    None without one.

    Args:
        reason: what :func:`simulator_reason` said for the command's model.
        model: the command's model, whose base URL the notice shows.
        err: where the notice goes (stderr).
    """
    if reason is None:
        yield None
        return
    from .testing import Simulator

    async with Simulator() as sim:
        url = simulator_base(sim, model)
        err.write(f"ritellm: {reason}; answering from the bundled simulator at {url}\n")
        err.flush()
        yield sim
