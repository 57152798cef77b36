"""``python -m ritellm.testing``: serve the simulator until Ctrl-C (exit code 0, no traceback).
Imports anyio and this package only; never trio or asyncio.
"""

from __future__ import annotations

import argparse
import signal
import sys

import anyio

from ._server import Simulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ritellm.testing",
        description=(
            "Serve a local simulator of the OpenAI, Anthropic, Gemini and Azure OpenAI APIs for "
            "tests and demos."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port, 0 = any free one")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument(
        "--rate-burst",
        type=float,
        default=None,
        help="most requests accepted at once (default: max(1, --rate-limit))",
    )
    parser.add_argument(
        "--no-rate-headers",
        dest="rate_headers",
        action="store_false",
        help="send no x-ratelimit-* / anthropic-ratelimit-* headers, only retry-after",
    )
    parser.add_argument(
        "--api-key", default=None, help="require this key (in each format's own header)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop to use"
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    async with Simulator(
        args.host,
        args.port,
        api_key=args.api_key,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        rate_headers=args.rate_headers,
        latency=args.latency,
        record_requests=False,  # a long-running server must not grow without bound
    ) as sim:
        # Signals are received as messages so shutdown runs the normal cleanup path.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            # The first line's URL is what scripts parse (the OpenAI base URL); keep it first.
            print(f"ritellm simulator: OpenAI base URL {sim.base_url}", flush=True)
            print(f"  Anthropic base URL {sim.url}  (anthropic.Anthropic(base_url=...))")
            print(f"  Gemini base URL    {sim.url}  (genai HttpOptions(base_url=...))")
            print(f"  Azure endpoint     {sim.url}  (openai.AzureOpenAI(azure_endpoint=...))")
            print("Press Ctrl-C to stop.", flush=True)
            async for _ in signals:
                break


def main(argv: list[str] | None = None) -> int:
    """Run the simulator CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.rate_limit is not None and args.rate_limit <= 0:
        _parser().error("--rate-limit must be > 0")
    if args.rate_burst is not None and (args.rate_limit is None or args.rate_burst < 1):
        _parser().error("--rate-burst must be >= 1 and needs --rate-limit")
    try:
        anyio.run(_serve, args, backend=args.backend)
    except KeyboardInterrupt:  # Ctrl-C before the signal receiver was installed
        pass
    except OSError as exc:
        print(
            f"ritellm simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
