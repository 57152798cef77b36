"""AWS Signature Version 4 (SigV4): the headers that sign a request for an AWS service such as
Bedrock Runtime, computed from the request, the credentials and a clock reading passed in.

The steps are those of AWS's "Create a signed AWS API request" (IAM User Guide,
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):

1. the canonical request: method, canonical URI, canonical query string, canonical headers,
   signed header names and the SHA-256 of the payload;
2. the SHA-256 of the canonical request;
3. the string to sign: algorithm, timestamp, credential scope and that hash;
4. the signing key, derived from the secret by HMAC over date, region, service and
   ``aws4_request``;
5. the signature, the HMAC of the string to sign with that key;
6. the ``Authorization`` header that carries it.

Where the spec leaves a choice to the SDK, the rules are botocore's ``SigV4Auth`` (the non-S3
signer), so the header is byte-identical to botocore's for the same request: tests/test_sigv4.py
checks that against botocore itself.

Pure: standard library and attrs only.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Sequence
from urllib.parse import quote, unquote_to_bytes, urlsplit

import attrs

__all__ = ["AwsCredentials", "redact_authorization", "sign"]

_ALGORITHM = "AWS4-HMAC-SHA256"
# botocore.auth.SIGNED_HEADERS_BLACKLIST: hop-by-hop fields, and fields that the HTTP client,
# a proxy or a tracer may add or rewrite after signing, which would break the signature.
# fmt: off
_UNSIGNED = frozenset({
    b"baggage", b"connection", b"expect", b"keep-alive", b"proxy-authenticate",
    b"proxy-authorization", b"te", b"traceparent", b"tracestate", b"trailer",
    b"transfer-encoding", b"upgrade", b"user-agent", b"x-amzn-trace-id",
})
# fmt: on
# The signer's own fields. botocore replaces a caller's copy; we only add headers, so a copy
# would go out next to ours (and be signed with it): refused instead. (botocore answers a Date
# header by rewriting it rather than adding X-Amz-Date, which adding cannot do either.)
_OWN = frozenset({b"authorization", b"x-amz-date", b"x-amz-security-token", b"date"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SIGNATURE = re.compile(r"(Signature=)[^,\s]*")


@attrs.frozen
class AwsCredentials:
    """An access key pair, with the session token of temporary credentials (STS, SSO, an
    instance role). ``repr`` shows only the access key id: the rest are secrets."""

    access_key_id: str
    secret_access_key: str = attrs.field(repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)


def sign(
    method: bytes,
    url: str,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    *,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime.datetime,
) -> list[tuple[bytes, bytes]]:
    """The headers that sign this request with SigV4, to send along with ``headers``.

    Args:
        method: the HTTP method, e.g. ``b"POST"``.
        url: the URL as it will be sent: its path and query percent-encoded (a Bedrock model
            id is one path segment, so its ``:`` and ``/`` are ``%3A`` and ``%2F``).
        headers: every header that will be sent except the transport's unsigned ones; the
            Host header is signed from ``url`` when absent, as the transport sends it.
        body: the exact body bytes.
        credentials: the keys to sign with.
        region: the signing region, e.g. ``"us-east-1"``.
        service: the signing name, ``"bedrock"`` for Bedrock Runtime.
        now: the current time, timezone-aware (AWS refuses a clock more than 5 minutes off).

    Returns:
        ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session token) and ``Authorization``.

    Raises:
        ValueError: a naive ``now``, a URL without a host or with an invalid port, or
            ``headers`` holding a header that only the signer sets (the message names it,
            never its value).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    stamp = now.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    added = [(b"X-Amz-Date", stamp.encode())]
    if credentials.session_token:  # botocore sends no token header for an empty token
        added.append((b"X-Amz-Security-Token", credentials.session_token.encode()))

    fields: dict[bytes, list[bytes]] = {}
    payload_hash: bytes | None = None
    for name, value in headers:
        lname = name.strip().lower()
        if lname in _OWN:
            raise ValueError(f"header {name.decode('latin-1')!r} is set by the signer")
        if lname == b"x-amz-content-sha256" and payload_hash is None:
            # Stands for the body's hash, as in botocore: e.g. UNSIGNED-PAYLOAD.
            payload_hash = value
        if lname not in _UNSIGNED:
            fields.setdefault(lname, []).append(value)
    for name, value in added:
        fields[name.lower()] = [value]
    parts = urlsplit(url)
    if b"host" not in fields:
        fields[b"host"] = [_host(parts.scheme, parts.hostname, parts.port)]

    # Step 1. Repeated fields are joined with commas; values are trimmed and their inner runs
    # of whitespace collapsed to one space (the spec's Trimall).
    names = sorted(fields)
    signed = b";".join(names)
    canonical = b"\n".join(
        [
            method.upper(),
            _canonical_uri(parts.path).encode(),
            _canonical_query(parts.query).encode(),
            b"".join(
                b"%s:%s\n" % (n, b",".join(b" ".join(v.split()) for v in fields[n])) for n in names
            ),
            signed,
            payload_hash if payload_hash is not None else hashlib.sha256(body).hexdigest().encode(),
        ]
    )
    # Steps 2-5. The signing key is derived anew for every request: it takes four HMACs
    # (microseconds), and a cache of it would keep secret material alive in module state.
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}"
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    # Step 6.
    authorization = (
        f"{_ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed.decode()}, Signature={signature}"
    )
    return [*added, (b"Authorization", authorization.encode())]


def redact_authorization(value: str) -> str:
    """An Authorization header value fit for logs and errors: its signature replaced by
    ``***`` (the access key id and scope stay: they identify the key, they do not grant it)."""
    return _SIGNATURE.sub(r"\1***", value)


def _host(scheme: str, hostname: str | None, port: int | None) -> bytes:
    """The Host value ritellm's transport sends for this URL: lowercase host (IPv6 in
    brackets), no userinfo, the port only when not the scheme's default, IDNA-encoded."""
    if not hostname:
        raise ValueError("the URL has no host")
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return host.encode("idna")


def _canonical_uri(path: str) -> str:
    """The path as services other than S3 canonicalise it: dot segments and empty segments
    removed (RFC 3986 §5.2.4, plus AWS's rule for ``//``), then URI-encoded once more, so a
    ``%3A`` already in the path is signed as ``%253A``."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normal = "/" + "/".join(segments)
    if segments and path.endswith("/"):
        normal += "/"
    return quote(normal, safe="/~")


def _canonical_query(query: str) -> str:
    """Each name and value decoded and re-encoded with only RFC 3986's unreserved characters
    left as they are, sorted by name then value. This is what the service computes whatever
    encoding the URL used; botocore signs the URL's query as it is, which is the same string
    for a canonically encoded query (as its serializers write, and as callers should).
    A ``+`` is a literal plus (RFC 3986), not form encoding's space."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode(component: str) -> str:
    """A query name or value, percent-decoded to bytes (any bytes: not necessarily UTF-8)
    and encoded again, upper-case hex, with only the unreserved characters left."""
    return quote(unquote_to_bytes(component), safe="-_.~")
