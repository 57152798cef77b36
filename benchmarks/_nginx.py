"""nginx as the canned server, when it is installed: a generated nginx.conf in a temporary
directory serving the canned JSON and SSE bodies as static files.

nginx answers a POST to a static file with 405; ``error_page 405 =200 $uri`` turns that into
a 200 with the file (nginx discards the request body first, so keep-alive keeps working).
Static files are sent with a Content-Length, like the Python server's canned streams. The
other formats' streams are files at the paths their clients request (``/a{N}/v1/messages``,
``/g{N}/v1beta/models/<model>:streamGenerateContent``, ``/o{N}/api/chat`` and
``/b{N}/model/<modelId>/converse-stream``; nginx ignores the query string when it maps a URI
to a file, so the Gemini location checks ``alt=sse`` itself, and it decodes the model id's
``%3A`` into the file name's ``:``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from ._payloads import GEMINI_MODEL, anthropic_body, completion_body, gemini_body, stream_body
from ._payloads_native import BEDROCK_MODEL, bedrock_body, ollama_body

__all__ = ["Nginx", "find_nginx"]

_CONF = """\
daemon off;
# One process, no workers: the client gets the other core, and nginx need not drop
# privileges to read our temporary directory.
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    types {{ }}
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    # nginx closes a keep-alive connection after 1,000 requests by default; a benchmark of
    # 20,000 requests would then measure reconnects instead of requests.
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    tcp_nodelay on;
    sendfile on;
    etag off;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root}/www;
        location /json/ {{
            default_type application/json;
            error_page 405 =200 $uri;
        }}
        location /s {{
            default_type text/event-stream;
            error_page 405 =200 $uri;
        }}
        location /a {{
            default_type "text/event-stream; charset=utf-8";
            error_page 405 =200 $uri;
        }}
        location /g {{
            default_type text/event-stream;
            # $request_uri is the client's own request line, which the error_page redirect
            # (it drops the query string) leaves unchanged.
            if ($request_uri !~ "\\?alt=sse$") {{ return 404; }}
            error_page 405 =200 $uri;
        }}
        location /o {{
            default_type application/x-ndjson;
            error_page 405 =200 $uri;
        }}
        location /b {{
            default_type application/vnd.amazon.eventstream;
            error_page 405 =200 $uri;
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary, or None when it is not installed."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def die_with_parent() -> None:
    """``preexec_fn`` for server processes: SIGTERM them if the runner dies (Linux
    PR_SET_PDEATHSIG), so a killed benchmark never leaves a server behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux / no prctl: best effort only
        pass


def _free_port() -> int:
    # nginx cannot report a port it picked itself; the window between closing this socket
    # and nginx binding it is tiny, and start() retries if it is lost.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Nginx:
    """An nginx process serving ``/json/v1/chat/completions``, ``/s{N}/v1/...`` and the
    Anthropic (``/a{N}/...``), Gemini (``/g{N}/...``), Ollama (``/o{N}/...``) and Bedrock
    (``/b{N}/...``) streams; ``streams`` maps each wire format to its stream sizes."""

    def __init__(self, binary: str, streams: Mapping[str, Iterable[int]]) -> None:
        self._binary = binary
        self._dir = Path(tempfile.mkdtemp(prefix="ritellm-bench-nginx-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        www = self._dir / "www"
        (self._dir / "tmp").mkdir()
        files = {
            "json/v1/chat/completions": completion_body(),
            **{f"s{n}/v1/chat/completions": stream_body(n) for n in streams.get("openai", ())},
            **{f"a{n}/v1/messages": anthropic_body(n) for n in streams.get("anthropic", ())},
            **{
                f"g{n}/v1beta/models/{GEMINI_MODEL}:streamGenerateContent": gemini_body(n)
                for n in streams.get("gemini", ())
            },
            **{f"o{n}/api/chat": ollama_body(n) for n in streams.get("ollama", ())},
            **{
                f"b{n}/model/{BEDROCK_MODEL}/converse-stream": bedrock_body(n)
                for n in streams.get("bedrock", ())
            },
        }
        for name, body in files.items():
            target = www / name
            target.parent.mkdir(parents=True)
            target.write_bytes(body)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        """Start nginx and wait until it accepts connections.

        Raises:
            RuntimeError: nginx did not start (its error log is in the message).
        """
        for _ in range(5):
            self.port = _free_port()
            conf = self._dir / "nginx.conf"
            conf.write_text(_CONF.format(root=self._dir, port=self.port))
            self._proc = subprocess.Popen(
                [self._binary, "-p", str(self._dir), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # nginx logs to error.log in its directory
                preexec_fn=die_with_parent,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return
                except OSError:
                    time.sleep(0.02)
            self.stop()
        log = (self._dir / "error.log").read_text() if (self._dir / "error.log").exists() else ""
        raise RuntimeError(f"nginx did not start: {log.strip()[-500:]}")

    def stop(self) -> None:
        """Stop nginx (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def cleanup(self) -> None:
        """Stop nginx and delete its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
