"""ritellm's benchmark suite: client-process CPU per request / per chunk against a local
canned server (nginx when installed, else a small Python server), compared with a minimal
httpcore "floor" and the clients users would otherwise pick.

Run it with ``python -m benchmarks`` (``--quick`` for a smoke test). Not part of the tests.
"""
