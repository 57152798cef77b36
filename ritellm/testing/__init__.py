"""A provider simulator: a real HTTP/1.1 server on loopback that speaks OpenAI's chat-completions
wire format and can script replies and faults. Imports only stdlib, anyio, h11 and attrs.

Usage::

    from ritellm.testing import Reply, Simulator

    async with Simulator() as sim:  # binds 127.0.0.1 on a free port
        sim.script(Reply(content="Hi there!"), Reply(status=429))
        ...  # point any OpenAI client at sim.base_url
        assert sim.requests[0].json["model"] == "gpt-4o-mini"

    with Simulator.start_in_thread(api_key="sk-test") as sim:  # from blocking code
        client = openai.OpenAI(base_url=sim.base_url, api_key="sk-test")

    $ python -m ritellm.testing --port 8000

Routes: ``POST /v1/chat/completions`` (and ``/chat/completions``), ``GET /v1/models``.
Replies come, in order of precedence, from the request's ``x-ritellm-sim`` header (a JSON
object of `Reply` fields), the FIFO filled by ``sim.script(...)``, then ``sim.default``.

Faults (``Reply(fault=...)``) as a client sees them on the wire:

- ``"reset"``: TCP RST after ``reset_after`` response bytes (0: before any byte).
- ``"stall"``: silence after ``stall_after`` stream events (0: right after the headers; for a
  JSON body, after the headers); the connection stays open until the client leaves.
- ``"no_response"``: the request is read and never answered.
- ``"truncate"``: stream: body ends cleanly after ``truncate_after`` events, with no finish
  chunk and no ``[DONE]``; JSON: half of the declared Content-Length, then FIN.
- ``"malformed"``: stream: an event with invalid JSON after ``malformed_after`` events, then
  the rest as normal; JSON: a 200 whose body is not valid JSON.
- ``"stream_error"``: stream: ``data: {"error": {...server_error...}}`` after ``error_after``
  events, then the body ends (no ``[DONE]``); JSON: a 200 whose body is that error object.
- ``"html"``: an HTML error page (``status`` if >= 400, else 502), Content-Type text/html.
- ``"empty"``: 200, ``Content-Length: 0``, Content-Type application/json.
- ``"close"``: a normal answer, then the server closes the connection (no Connection: close).
- ``"drip"``: the body is written one byte per write, ``delay`` (default 1 ms) apart.
"""

from ._replies import FAULTS, Fault, RecordedRequest, Reply
from ._server import Simulator, SimulatorStats
from ._thread import ThreadedSimulator

__all__ = [
    "FAULTS",
    "Fault",
    "RecordedRequest",
    "Reply",
    "Simulator",
    "SimulatorStats",
    "ThreadedSimulator",
]
