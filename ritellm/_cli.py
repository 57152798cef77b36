"""The ``ritellm`` command: ``ritellm chat`` streams a reply to the terminal, ``ritellm batch``
runs a JSONL file of requests (``_cli_batch``).

Argument parsing and printing only; the work is done by the public async API.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ._cli_batch import (
    CommandError,
    add_batch_parser,
    check_batch_args,
    positive_float,
    positive_int,
    run_batch_command,
)
from ._cli_ray import add_ray_arguments, ray_missing, ray_send, ray_stderr
from ._cli_sim import DEFAULT_MODEL, simulator_base, simulator_reason, start_simulator
from ._errors import AuthenticationError, RiteLLMError
from ._version import __version__

__all__ = ["main", "stop_notice"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ritellm",
        description="A fast, leak-free LLM client (asyncio and trio).",
        epilog="Run 'ritellm COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"ritellm {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    chat = commands.add_parser(
        "chat",
        help="send one prompt and stream the reply",
        description=(
            "Send one prompt and stream the reply as it arrives. For an OpenAI model (the "
            "default) with no API key and no base URL configured (no --api-key/--base-url, "
            "no OPENAI_API_KEY/OPENAI_BASE_URL/OPENAI_API_BASE), it answers from ritellm's "
            "bundled provider simulator and says so on stderr. A reply cut short by "
            "--max-tokens or by the provider's content filter is noted on stderr."
        ),
    )
    chat.add_argument("prompt", metavar="PROMPT", help="the user message ('-' reads it from stdin)")
    chat.add_argument(
        "--model", "-m", default=DEFAULT_MODEL, help=f"model string (default {DEFAULT_MODEL})"
    )
    chat.add_argument("--base-url", help="API base URL, e.g. http://127.0.0.1:8080/v1")
    chat.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    chat.add_argument("--api-version", help="Azure's API version (default: AZURE_API_VERSION)")
    chat.add_argument("--system", help="a system message sent before the prompt")
    chat.add_argument(
        "--max-tokens", type=positive_int, metavar="N", help="stop the answer after N tokens"
    )
    chat.add_argument(
        "--temperature", type=float, metavar="T", help="sampling temperature, e.g. 0.2"
    )
    chat.add_argument(
        "--timeout", type=positive_float, metavar="SECONDS", help="per chunk while streaming"
    )
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument(
        "--simulator", action="store_true", help="always answer from the bundled simulator"
    )
    chat.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="default asyncio"
    )
    add_ray_arguments(add_batch_parser(commands))
    return parser


def stop_notice(finish_reason: str | None, max_tokens: int | None) -> str | None:
    """What ``chat`` says on stderr about how the answer ended, or None for a normal end.

    Args:
        finish_reason: the answer's ``finish_reason``.
        max_tokens: ``--max-tokens``, if given.
    """
    if finish_reason == "length":
        if max_tokens is not None:
            return f"[stopped: the answer reached --max-tokens {max_tokens}]"
        return "[stopped: the answer reached the model's output limit; raise it with --max-tokens]"
    if finish_reason == "content_filter":
        return "[stopped: the provider's content filter withheld the rest of the answer]"
    return None


def _read_prompt(args: argparse.Namespace, err: TextIO) -> str:
    if args.prompt != "-":
        return str(args.prompt)
    if sys.stdin.isatty():
        err.write("ritellm: reading the prompt from stdin; end it with Ctrl-D\n")
        err.flush()
    return sys.stdin.read().rstrip("\n")  # `echo ... |` ends the prompt with a newline


async def _chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._client import acompletion

    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": _read_prompt(args, err)})
    kwargs: dict[str, Any] = {
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "timeout": args.timeout,
        "api_key": args.api_key,
        "base_url": args.base_url,
    }
    if args.api_version is not None:
        kwargs["api_version"] = args.api_version

    async def run() -> str | None:
        """Print the answer; returns its finish reason."""
        if args.no_stream:
            response = await acompletion(args.model, messages, **kwargs)
            choice = response.choices[0]
            out.write((choice.message.content or "") + "\n")
            return choice.finish_reason  # type: ignore[no-any-return]
        finish: str | None = None
        async with await acompletion(args.model, messages, stream=True, **kwargs) as stream:
            async for chunk in stream:
                for choice in chunk.choices or ():
                    text = (choice.delta or {}).get("content")
                    if text:
                        out.write(text)
                        out.flush()
                    finish = choice.finish_reason or finish
        out.write("\n")
        return finish

    reason = simulator_reason(
        args.model,
        requested=args.simulator,
        api_key=args.api_key,
        base_url=args.base_url,
        environ=os.environ,
    )
    async with start_simulator(reason, args.model, err) as sim:
        if sim is not None:
            kwargs["base_url"] = simulator_base(sim, args.model)
        finish = await run()
    out.flush()
    notice = stop_notice(finish, args.max_tokens)
    if notice is not None:
        err.write(notice + "\n")
    return 0


async def _command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "chat":
        return await _chat(args, out, err)
    send = ray_send(args) if args.ray is not None else None
    return await run_batch_command(args, err, send=send)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ritellm`` command.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 after an error (or failed batch lines), 2 for a
        usage error, 130 after Ctrl-C.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, a usage error: argparse has printed it
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    out, err = sys.stdout, sys.stderr
    if args.command is None:
        parser.print_help(err)
        return 2
    if args.backend == "trio" and importlib.util.find_spec("trio") is None:
        err.write("error: --backend trio needs the trio package: pip install trio\n")
        return 2
    if args.command == "batch" and (problem := ray_missing(args)):
        err.write(f"error: {problem}\n")
        return 2
    if args.command == "batch" and args.ray is not None:
        with ray_stderr(err) as err:
            return _run(args, out, err)
    return _run(args, out, err)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import anyio

    try:
        if args.command == "batch":
            check_batch_args(args)
        status: int = anyio.run(_command, args, out, err, backend=args.backend)
    except CommandError as exc:
        err.write(f"error: {exc}\n")
        return 1
    except RiteLLMError as exc:
        err.write(f"error: {type(exc).__name__}: {exc}\n")
        if isinstance(exc, AuthenticationError) and exc.status_code is None:
            err.write("ritellm: pass --api-key, or add --simulator to try the bundled simulator\n")
        return 1
    except OSError as exc:  # the output not writable, a disk full, ...
        where = f"{exc.filename}: " if exc.filename else ""
        err.write(f"error: {where}{exc.strerror or exc}\n")
        return 1
    except KeyboardInterrupt:
        if args.command == "batch":  # the progress line, if any, has ended its line
            err.write("interrupted; rerun the same command to resume\n")
        else:
            err.write("\ninterrupted\n")
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
