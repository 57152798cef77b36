"""AWS credentials for Bedrock: an access key pair or a Bedrock API key from the arguments or
the environment, the signing region, and, when ``ritellm[aws]`` is installed and none were
given, botocore's credential chain (environment, shared config and credentials files, SSO, web
identity, container and instance roles). The chain is blocking I/O: it only ever runs in a
worker thread (``Credentials.resolve``), and only it imports botocore.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ._errors import AuthenticationError, ParameterError, ParameterTypeError
from ._providers import parse_base_url
from ._providers._sigv4 import AwsCredentials
from ._types import Credentials

__all__ = ["CREDENTIAL_PARAMS", "bedrock_credentials", "resolver"]

_ARGUMENTS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_ENVIRONMENT = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
CREDENTIAL_PARAMS = (*_ARGUMENTS, "aws_region_name", "aws_profile_name")
# A Bedrock Runtime endpoint of AWS's (regional, FIPS, a VPC endpoint): its region.
_HOST = re.compile(
    r"(?:[a-z0-9-]+\.)?bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?"
)
_NO_CREDENTIALS = (
    "No AWS credentials for bedrock: pass aws_access_key_id=... and aws_secret_access_key=... "
    "(or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), pass api_key=... with a Bedrock API "
    "key (or set AWS_BEARER_TOKEN_BEDROCK), or install ritellm[aws] to use profiles, SSO and "
    "instance roles"
)

_lock = threading.Lock()
# (profile, config file, credentials file) -> botocore session, which caches the credentials
# (and refreshes temporary ones). The files are part of the key: a session reads their paths
# once, so one made before AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE changed would keep
# answering from the old files.
_sessions: dict[tuple[str | None, str | None, str | None], Any] = {}


def bedrock_credentials(
    *,
    api_key: str | None,
    base_url: str | None,
    options: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Credentials:
    """Bedrock's credentials (``Provider.credentials``), without I/O: complete, or with a
    ``resolve`` that completes them through botocore's chain.

    Arguments come before the environment; at each level a Bedrock API key (a bearer token)
    before a key pair, as botocore prefers ``AWS_BEARER_TOKEN_BEDROCK`` too. A profile named
    in the arguments is what the caller asked for: the environment's keys do not replace it.

    Raises:
        ParameterError / ParameterTypeError: half a key pair, no region, a non-str option.
        AuthenticationError: no credentials for one of AWS's own endpoints.
    """
    for name in CREDENTIAL_PARAMS:
        if options.get(name) is not None and not isinstance(options[name], str):
            raise ParameterTypeError(f"{name} must be a str")
    url = base_url or environ.get("AWS_BEDROCK_RUNTIME_ENDPOINT")
    base, query, auth = parse_base_url(url) if url else ("", "", ())
    found = _HOST.fullmatch(urlsplit(base).hostname or "") if url else None
    served = found.group(1) if found else None
    # The region an AWS endpoint serves beats the environment's default region: a signature
    # scoped to another region is always refused there.
    region = (
        options.get("aws_region_name")
        or served
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
    )
    profile = options.get("aws_profile_name")
    key = api_key or None
    pair = None if key else _key_pair(options, _ARGUMENTS)
    if key is None and pair is None and not profile:
        key = environ.get("AWS_BEARER_TOKEN_BEDROCK") or None
        pair = None if key else _key_pair(environ, _ENVIRONMENT)
    if auth and (key or pair):
        raise ParameterError(
            "bedrock: base_url has a user:password, which would be sent as Authorization: "
            "Basic, but the request is already authorized by its "
            f"{'Bedrock API key' if key else 'SigV4 signature'}: remove it from base_url"
        )
    # Unsigned requests go only to an endpoint of the caller's own (a proxy, a test server):
    # AWS's own endpoints refuse them.
    custom = bool(url) and served is None

    def complete(pair: AwsCredentials | None, region: str | None) -> Credentials:
        # The region names AWS's endpoint and scopes a signature: a bearer key or an unsigned
        # request to a base_url of the caller's own needs none.
        if not region and (pair is not None or not base):
            raise ParameterError(
                "bedrock needs an AWS region: pass aws_region_name=... or set AWS_REGION "
                "(or give base_url=... of a regional endpoint)"
            )
        if key is None and pair is None and not custom:
            raise AuthenticationError(_NO_CREDENTIALS, provider="bedrock")
        root = base
        if not root:
            domain = "amazonaws.com.cn" if str(region).startswith("cn-") else "amazonaws.com"
            root = f"https://bedrock-runtime.{region}.{domain}"
        return Credentials(
            base_url=root,
            api_key=key,
            headers=auth,
            query=query,
            extra={"region": region} if region else {},
            signing=None if key else pair,
        )

    if key is None and pair is None and not auth:
        chain = resolver(profile or environ.get("AWS_PROFILE"), region, complete)
        if chain is not None:
            # Completed off the event loop (files, SSO caches, instance metadata).
            return Credentials(base_url=base or "https://bedrock-runtime", resolve=chain)
    return complete(pair, region)


def _key_pair(source: Mapping[str, Any], names: tuple[str, ...]) -> AwsCredentials | None:
    """An access key pair (and session token) read from ``names`` of ``source``."""
    given = [source.get(name) or None for name in names]
    if given[0] is None and given[1] is None:
        return None
    if given[0] is None or given[1] is None:
        raise ParameterError(
            f"bedrock needs both {names[0]} and {names[1]} (got only {names[0 if given[0] else 1]})"
        )
    return AwsCredentials(given[0], given[1], given[2])


def resolver(
    profile: str | None,
    region: str | None,
    complete: Callable[[AwsCredentials | None, str | None], Credentials],
) -> Callable[[], Credentials] | None:
    """A blocking function completing the credentials through botocore, or None when botocore
    is not installed (found without importing it: that costs ~100 ms)."""
    if importlib.util.find_spec("botocore") is None:
        return None

    def resolve() -> Credentials:
        try:
            session = _session(profile)
            found = session.get_credentials()
            pair = None
            if found is not None:
                frozen = found.get_frozen_credentials()
                pair = AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None)
            where = region or session.get_config_variable("region")
        except Exception as exc:  # botocore's own errors: a profile or SSO cache problem
            raise AuthenticationError(
                f"AWS credential chain failed ({type(exc).__name__}): {exc}", provider="bedrock"
            ) from None
        return complete(pair, where)

    return resolve


def _session(profile: str | None) -> Any:
    key = (
        profile,
        os.environ.get("AWS_CONFIG_FILE"),
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE"),
    )
    with _lock:
        session = _sessions.get(key)
        if session is None:
            import botocore.session  # type: ignore[import-untyped, unused-ignore]

            session = botocore.session.Session(profile=profile)
            _sessions[key] = session
        return session
