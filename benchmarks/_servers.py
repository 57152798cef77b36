"""The runner's side of the servers: the environment every subprocess gets, which canned
bodies a plan needs, and starting/stopping the canned server (nginx, else the Python one)
and the Python paced/hold server. Imports no client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ._nginx import Nginx, die_with_parent, find_nginx
from ._plan import Scenario

__all__ = ["ROOT", "Servers", "env", "sizes_needed"]

ROOT = Path(__file__).resolve().parent.parent  # the repository: `benchmarks` imports from here

# Bytecode for every subprocess goes to one private directory, written on first import:
# with PYTHONDONTWRITEBYTECODE set (as in many containers) an editable ritellm would be
# recompiled from source by every `python -c "import ritellm"`, which no installed package
# pays; and the repository stays free of __pycache__ directories we did not ask for.
_PYCACHE = Path(tempfile.gettempdir()) / f"ritellm-bench-pycache-{os.getuid()}"
# Variables through which a client could be sent elsewhere or change mode (a base URL, a key,
# Vertex AI instead of the Gemini API, an AWS profile, OLLAMA_HOST): the clients must talk to
# our server and nothing else.
_FOREIGN_PREFIXES = ("OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_", "AWS_", "OLLAMA_")
# Wire formats whose canned streams the servers build besides OpenAI's.
_OTHER_WIRES = ("anthropic", "gemini", "ollama", "bedrock")


def env() -> dict[str, str]:
    """The environment of every server, worker and import-timing subprocess."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    out["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
    # LiteLLM fetches its model price list from GitHub at import unless told not to: a
    # benchmark must not depend on (or wait for) the network.
    out["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    for name in list(out):
        if name.startswith(_FOREIGN_PREFIXES) or name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            del out[name]
    out["NO_PROXY"] = out["no_proxy"] = "127.0.0.1,localhost"
    # No AWS config or credentials files either: a profile there could set boto3's retries,
    # endpoint or region behind the benchmark's back.
    out["AWS_CONFIG_FILE"] = out["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return out


def sizes_needed(jobs: Iterable[tuple[Scenario, int]]) -> tuple[dict[str, set[int]], set[int]]:
    """The canned stream sizes per wire format and the drip-fed sizes that (scenario, n)
    jobs need (OpenAI's always includes 200, the size the 32-stream scenario uses)."""
    streams: dict[str, set[int]] = {"openai": {200}, **{wire: set() for wire in _OTHER_WIRES}}
    drips: set[int] = set()
    for sc, n in jobs:
        if sc.route.startswith("drip"):
            drips.add(n)
        elif "{n}" in sc.route and sc.server == "canned":
            streams[sc.wire].add(n)
    return streams, drips


class Servers:
    """The canned server (nginx, else the Python one) and the Python paced/hold server."""

    def __init__(
        self, kind: str, streams: dict[str, set[int]], drips: set[int], gap_us: float
    ) -> None:
        self.kind = kind
        self._nginx: Nginx | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._streams = {wire: sorted(sizes) for wire, sizes in streams.items()}
        self._drips = sorted(drips)
        self._gap_us = gap_us
        self.ports: dict[str, int] = {}

    def __enter__(self) -> Servers:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _sizes(self, wire: str) -> str:
        return ",".join(map(str, self._streams.get(wire, [])))

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks._server",
                "--streams",
                self._sizes("openai"),
                *(arg for wire in _OTHER_WIRES for arg in (f"--{wire}", self._sizes(wire))),
                "--drips",
                ",".join(map(str, self._drips)),
                "--drip-gap-us",
                str(self._gap_us),
            ],
            cwd=ROOT,
            env=env(),
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the Python benchmark server did not start")
        self.ports = json.loads(line)
        if self.kind == "nginx":
            binary = find_nginx()
            assert binary is not None
            self._nginx = Nginx(binary, self._streams)
            self._nginx.start()

    def __exit__(self, *exc: object) -> None:
        if self._nginx is not None:
            self._nginx.cleanup()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def base(self, sc: Scenario, n: int) -> tuple[str, list[int]]:
        """The base URL for a scenario at size n, and the pids serving it: ``/{route}/v1``
        for OpenAI's format, the route's root for the others (their clients append
        ``/v1/messages``, ``/v1beta/models/...``, ``/api/chat`` or ``/model/...``)."""
        route = sc.route.format(n=n)
        path = f"/{route}/v1" if sc.wire == "openai" else f"/{route}"
        assert self._proc is not None
        if sc.server == "canned" and self._nginx is not None:
            return f"http://127.0.0.1:{self._nginx.port}{path}", [self._nginx.pid]
        port = self.ports["canned" if sc.server in ("canned", "hold") else "paced"]
        return f"http://127.0.0.1:{port}{path}", [self._proc.pid]
