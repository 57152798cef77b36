"""The ``ritellm`` command: ``ritellm chat`` streams a reply to the terminal.

Argument parsing and printing only; the work is done by the public async API.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["main"]

DEFAULT_MODEL = "openai/gpt-4o-mini"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ritellm", description="A fast, leak-free LLM client (asyncio and trio)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser(
        "chat",
        help="send one prompt and stream the reply",
        description=(
            "Send one prompt and stream the reply as it arrives. With no API key and no "
            "base URL configured (no --api-key/--base-url, no OPENAI_API_KEY/OPENAI_BASE_URL), "
            "it answers from ritellm's bundled provider simulator and says so on stderr."
        ),
    )
    chat.add_argument("prompt", help="the user message ('-' reads it from stdin)")
    chat.add_argument("--model", "-m", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    chat.add_argument("--base-url", help="API base URL, e.g. http://127.0.0.1:8080/v1")
    chat.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--temperature", type=float)
    chat.add_argument("--timeout", type=float, help="seconds (per chunk while streaming)")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument(
        "--simulator", action="store_true", help="always answer from the bundled simulator"
    )
    chat.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    return parser


def _needs_simulator(args: argparse.Namespace) -> bool:
    if args.simulator:
        return True
    if args.base_url or args.api_key:
        return False
    if "/" in args.model and not args.model.startswith("openai/"):
        return False  # other providers: let ritellm report their missing key
    env = os.environ
    return not any(env.get(v) for v in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"))


async def _chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    import ritellm

    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages.append({"role": "user", "content": prompt})
    kwargs: dict[str, Any] = {
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "timeout": args.timeout,
        "api_key": args.api_key,
        "base_url": args.base_url,
    }

    async def run() -> None:
        if args.no_stream:
            response = await ritellm.acompletion(args.model, messages, **kwargs)
            out.write((response.choices[0].message.content or "") + "\n")
            return
        async with await ritellm.acompletion(args.model, messages, stream=True, **kwargs) as stream:
            async for chunk in stream:
                for choice in chunk.choices or ():
                    text = (choice.delta or {}).get("content")
                    if text:
                        out.write(text)
                        out.flush()
        out.write("\n")

    if not _needs_simulator(args):
        await run()
        return
    from ritellm.testing import Simulator

    async with Simulator() as sim:
        err.write(
            f"ritellm: no API key or base URL configured; answering from the bundled "
            f"simulator at {sim.base_url}\n"
        )
        kwargs["base_url"] = sim.base_url
        await run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ritellm`` command. Returns the exit status."""
    args = _parser().parse_args(argv)
    import anyio

    import ritellm

    try:
        anyio.run(_chat, args, sys.stdout, sys.stderr, backend=args.backend)
    except ritellm.RiteLLMError as exc:
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
