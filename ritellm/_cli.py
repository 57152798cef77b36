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
    chat.add_argument("--api-version", help="Azure's API version (default: AZURE_API_VERSION)")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--temperature", type=float)
    chat.add_argument("--timeout", type=float, help="seconds (per chunk while streaming)")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument(
        "--simulator", action="store_true", help="always answer from the bundled simulator"
    )
    chat.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")

    batch = commands.add_parser(
        "batch",
        help="run a JSONL file of requests concurrently, resumably",
        description=(
            "Read one request per line of INPUT (a JSON object with 'messages', an optional "
            "'id' and any acompletion parameters, 'model' included), run them concurrently "
            "and append one result per line to OUTPUT, tagged with the input's id (or its "
            "line number). Each result is flushed as it finishes: after an interrupt "
            "(Ctrl-C, a crash, kill -9) rerun the same command and it skips finished lines, "
            "redoes a torn last line and loses nothing. Failed requests are written as "
            "error lines and do not stop the batch."
        ),
    )
    batch.add_argument("input", help="requests, one JSON object per line")
    batch.add_argument("-o", "--output", required=True, help="results (appended to)")
    batch.add_argument("--model", "-m", help="model for lines that don't name one")
    batch.add_argument("--concurrency", "-c", type=int, default=16)
    batch.add_argument("--base-url", help="API base URL")
    batch.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    batch.add_argument("--rpm", type=float, help="requests per minute, shared")
    batch.add_argument("--tpm", type=float, help="tokens per minute, shared")
    batch.add_argument("--timeout", type=float, help="seconds per request")
    batch.add_argument("--retries", type=int, help="retries per request (default 2)")
    batch.add_argument(
        "--retry-errors", action="store_true", help="also redo lines recorded as errors"
    )
    batch.add_argument("--fsync", action="store_true", help="fsync after every line")
    batch.add_argument("--no-progress", action="store_true", help="don't show progress")
    batch.add_argument("--simulator", action="store_true", help="answer from the bundled simulator")
    batch.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
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
    if args.api_version is not None:
        kwargs["api_version"] = args.api_version

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
        kwargs["base_url"] = _simulator_base(sim, args.model)
        err.write(
            f"ritellm: no API key or base URL configured; answering from the bundled "
            f"simulator at {kwargs['base_url']}\n"
        )
        await run()


def _simulator_base(sim: Any, model: str) -> str:
    """The simulator serves OpenAI's format under /v1 and the others on their native paths
    from the server root."""
    from ._providers import resolve

    spec, _ = resolve(model)
    return str(sim.base_url if spec.module == "openai" else sim.url)


async def _batch(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    from ._batchjob import run_batch

    defaults: dict[str, Any] = {}
    for name, value in (
        ("base_url", args.base_url),
        ("api_key", args.api_key),
        ("timeout", args.timeout),
        ("num_retries", args.retries),
    ):
        if value is not None:
            defaults[name] = value

    async def run() -> None:
        summary = await run_batch(
            args.input,
            args.output,
            model=args.model,
            concurrency=args.concurrency,
            defaults=defaults,
            rpm=args.rpm,
            tpm=args.tpm,
            retry_errors=args.retry_errors,
            progress=not args.no_progress,
            fsync=args.fsync,
        )
        err.write(f"ritellm batch: {summary.line()}\n")

    if not args.simulator:
        await run()
        return
    from ritellm.testing import Simulator

    async with Simulator() as sim:
        err.write(f"ritellm: answering from the bundled simulator at {sim.base_url}\n")
        defaults["base_url"] = sim.base_url
        await run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ritellm`` command. Returns the exit status."""
    args = _parser().parse_args(argv)
    import anyio

    import ritellm

    command = _chat if args.command == "chat" else _batch
    try:
        anyio.run(command, args, sys.stdout, sys.stderr, backend=args.backend)
    except ritellm.RiteLLMError as exc:
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    except OSError as exc:  # input file missing, output not writable, ...
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        hint = "; rerun the same command to resume" if args.command == "batch" else ""
        sys.stderr.write(f"\ninterrupted{hint}\n")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
