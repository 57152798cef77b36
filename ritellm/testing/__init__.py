"""A provider simulator: a real HTTP/1.1 server on loopback that speaks OpenAI chat completions,
Anthropic Messages, Google Gemini, Azure OpenAI, Ollama and AWS Bedrock Converse, and can
script replies and faults.
Imports only stdlib, anyio, h11 and attrs.

Usage::

    from ritellm.testing import Reply, Simulator

    async with Simulator() as sim:  # binds 127.0.0.1 on a free port
        sim.script(Reply(content="Hi there!"), Reply(status=429))
        ...  # point any OpenAI client at sim.base_url
        assert sim.requests[0].json["model"] == "gpt-4o-mini"

    with Simulator.start_in_thread(api_key="sk-test") as sim:  # from blocking code
        client = openai.OpenAI(base_url=sim.base_url, api_key="sk-test")
        claude = anthropic.Anthropic(base_url=sim.url, api_key="sk-test")
        gemini = genai.Client(api_key="sk-test", http_options=HttpOptions(base_url=sim.url))
        azure = openai.AzureOpenAI(azure_endpoint=sim.url, api_key="sk-test", api_version="v")

    $ python -m ritellm.testing --port 8000

``sim.url`` is the server root; ``sim.base_url`` is OpenAI's (``sim.url + "/v1"``). Routes:

- OpenAI: ``POST /v1/chat/completions`` (and ``/chat/completions``), ``GET /v1/models``.
- Anthropic: ``POST /v1/messages`` (``x-api-key`` or Bearer; ``anthropic-version`` required).
- Gemini: ``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``
  (also under ``/v1/models/``): ``?alt=sse`` streams SSE, without it a JSON array streamed
  element by element. Auth: ``x-goog-api-key`` or ``?key=`` (a wrong key is a 400
  API_KEY_INVALID, a missing one a 403, as Google answers).
- Azure: ``POST /openai/deployments/{deployment}/chat/completions?api-version=...``
  (``api-key`` or Bearer; no ``api-version``: 404 "Resource not found"). The response's
  ``model`` is the deployment name unless ``Reply.model`` says otherwise.
- Ollama: ``POST /api/chat`` (NDJSON unless ``"stream": false``; optional Bearer auth).
- Bedrock: ``POST /model/{modelId}/converse`` and ``/converse-stream`` (AWS's binary event
  stream). Auth: a SigV4 ``Authorization`` header whose access key id is the simulator's key
  (its form and scope are checked, not its value), or the key as a Bearer API key.

Each format validates requests as strictly as the real API (a 400 in that format's shape,
with the API's wording where known) and answers auth failures, the rate limiter's 429s and
scripted statuses in its own shape; other paths get OpenAI's 404. Replies come, in order of
precedence, from the request's ``x-ritellm-sim`` header (a JSON object of `Reply` fields), the
FIFO filled by ``sim.script(...)``, then ``sim.default``. Every `Reply` field works in every
format, rendered that format's way: e.g. ``tool_calls`` become OpenAI fragments, Anthropic
``tool_use`` blocks (``toolu_`` ids, arguments streamed as ``input_json_delta``, the first one
empty) or Gemini ``functionCall`` parts (whole, all in one chunk, ids only if given), and
arguments that are not JSON reach those two as a string, so a client sees the bad value;
``reasoning`` becomes ``reasoning_content``, a signed Anthropic ``thinking`` block or Gemini
``thought`` parts; ``cached_tokens`` are prompt tokens on top of the counted prompt;
``blocked`` is Gemini's ``promptFeedback.blockReason``, OpenAI/Azure's 400 ``content_filter``
and Anthropic's ``stop_reason: "refusal"``; ``async_filter`` is Azure's trailing annotation
chunks. Finish reasons: OpenAI stop/length/tool_calls, Anthropic end_turn/max_tokens/tool_use/
refusal, Gemini STOP/MAX_TOKENS (``Reply.finish_reason`` is sent verbatim). ``role_chunk``
and ``n`` are OpenAI/Azure only; Gemini always answers one candidate.

``Simulator(rate_limit=R, rate_burst=B)`` is a token bucket of ``R`` requests per second in
bursts of up to ``B`` (default ``max(1, R)``): beyond it, the format's 429 with
``retry-after`` (and OpenAI's exact ``retry-after-ms``). Every answer states the bucket in
the format's rate-limit headers (OpenAI/Azure ``x-ratelimit-*-requests``, Anthropic
``anthropic-ratelimit-requests-*``); ``rate_headers=False`` leaves them out.

Faults (``Reply(fault=...)``) as a client sees them on the wire (``*_after`` count streamed
events, Anthropic's ``ping`` and Azure's prompt-filter chunk included):

- ``"reset"``: TCP RST after ``reset_after`` response bytes (0: before any byte).
- ``"stall"``: silence after ``stall_after`` stream events (0: right after the headers; for a
  JSON body, after the headers); the connection stays open until the client leaves.
- ``"no_response"``: the request is read and never answered.
- ``"truncate"``: stream: body ends cleanly after ``truncate_after`` events, before the end
  marker (OpenAI/Azure: no finish chunk, no ``[DONE]``; Anthropic: no ``message_stop``;
  Gemini: no ``finishReason``, and an unclosed array; Ollama: no ``done`` line; Bedrock: no
  ``messageStop``); JSON: half of the declared
  Content-Length, then FIN.
- ``"malformed"``: stream: an event with invalid JSON (Bedrock: a frame with a bad checksum)
  after ``malformed_after`` events, then
  the rest as normal; JSON: a 200 whose body is not valid JSON.
- ``"stream_error"``: stream: the format's in-band error after ``error_after`` events, then
  the body ends (OpenAI/Azure: ``data: {"error": {...server_error...}}``; Anthropic:
  ``event: error`` with ``error_type``/``error_message`` or overloaded_error/"Overloaded";
  Gemini: ``{"error": {"code": 500, ..., "status": "INTERNAL"}}``; Ollama: ``{"error": ...}``;
  Bedrock: an exception frame, ``error_type`` or modelStreamErrorException); JSON: a 200 whose body
  is that error object.
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
