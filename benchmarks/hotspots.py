"""Where does a client spend its time? Runs one benchmark scenario in this process under
cProfile (against the same servers as the suite) and prints the top functions by own time,
in µs per request or per chunk.

    python -m benchmarks.hotspots seq                    # ritellm, 2,000 sequential requests
    python -m benchmarks.hotspots stream --client floor  # the floor, for comparison
    python -m benchmarks.hotspots conc --n 5000 --top 40
    python -m benchmarks.hotspots anthropic              # ritellm on an Anthropic stream
    python -m benchmarks.hotspots bedrock --client boto3 # boto3 on a Bedrock event stream

cProfile inflates every Python call by a similar amount, so read the numbers as shares and
rankings; the suite (``python -m benchmarks``) gives the true totals.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys

from ._nginx import find_nginx
from ._plan import CLIENTS, SCENARIOS
from ._servers import Servers, sizes_needed
from ._worker import run

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Profile one (scenario, client) and print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hotspots")
    parser.add_argument("scenario", choices=[s.key for s in SCENARIOS if s.kind != "rss"])
    parser.add_argument("--client", default="ritellm", choices=list(CLIENTS))
    parser.add_argument("--n", type=int, default=None, help="override the scenario's size")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumtime"))
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    args = parser.parse_args(argv)
    sc = next(s for s in SCENARIOS if s.key == args.scenario)
    client = CLIENTS[args.client]
    size = sc.size(args.client, quick=False)
    n = args.n or size.n
    kind = args.server if args.server != "auto" else ("nginx" if find_nginx() else "python")
    streams, drips = sizes_needed([(sc, n)])
    with Servers(kind, streams, drips, 200.0) as servers:
        base, pids = servers.base(sc, n)
        spec = {
            "client": client.family,
            "backend": client.backend,
            "wire": sc.wire,
            "scenario": sc.kind,
            "base": base,
            "n": n,
            "repeat": 1,
            "concurrency": sc.concurrency,
            "server_pids": pids,
        }
        profiler = cProfile.Profile()
        result = run(spec, profiler)
    items = result["items"]
    per = "request" if sc.kind in ("seq", "conc") else "chunk"
    print(
        f"{args.client} {sc.key}: {items} {per}s, {result['cpu_s'] / items * 1e6:.1f} µs CPU/"
        f"{per} under cProfile (timed section only, warm-up excluded)"
    )
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
