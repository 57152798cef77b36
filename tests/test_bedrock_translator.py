"""Tests for the AWS Bedrock Converse translator (ritellm._providers.bedrock and its response and
stream modules): credentials and regions, URLs, SigV4 signing against botocore, request bodies
for every mapping and refusal, Converse responses and AWS errors (wire-formats §13.3, §13.5), and
ConverseStream's binary event stream (§13.4) decoded under every split of the bytes."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import botocore.auth  # type: ignore[import-untyped, unused-ignore]
import botocore.credentials  # type: ignore[import-untyped, unused-ignore]
import pytest
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped, unused-ignore]

import ritellm
from ritellm import _aws_credentials
from ritellm._error_map import error_from_response
from ritellm._errors import ErrorInfo
from ritellm._providers import PROVIDERS, get_provider, resolve
from ritellm._providers._bedrock_stream import BedrockStreamDecoder
from ritellm._providers._sigv4 import AwsCredentials
from ritellm._providers.bedrock import BedrockProvider
from ritellm._types import AttrDict, CompletionRequest, Credentials, HttpRequest, Media
from ritellm._version import __version__
from ritellm.testing._eventstream import encode_frame, event_frame, exception_frame

SPEC = PROVIDERS["bedrock"]
PROVIDER = BedrockProvider(SPEC)
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=="
BEARER = "ABSKQmVkcm9ja0FQSUtleS1DANARY0123456789"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
)
US_EAST = "https://bedrock-runtime.us-east-1.amazonaws.com"
HI: list[Any] = [{"role": "user", "content": "Hi"}]
HI_WIRE = [{"role": "user", "content": [{"text": "Hi"}]}]
NOW = 1_760_000_000
PNG = "iVBORw0KGgo="  # base64 of the PNG signature
NO_CREDENTIALS = (
    "No AWS credentials for bedrock: pass aws_access_key_id=... and aws_secret_access_key=... "
    "(or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), pass api_key=... with a Bedrock API "
    "key (or set AWS_BEARER_TOKEN_BEDROCK), or install ritellm[aws] to use profiles, SSO and "
    "instance roles"
)
NO_REGION = (
    "bedrock needs an AWS region: pass aws_region_name=... or set AWS_REGION "
    "(or give base_url=... of a regional endpoint)"
)


def credentials(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    environ: dict[str, str] | None = None,
    **options: Any,
) -> Credentials:
    return PROVIDER.credentials(
        api_key=api_key, base_url=base_url, options=options, environ=environ or {}
    )


CREDS = credentials(aws_access_key_id=AK, aws_secret_access_key=SK, aws_region_name="us-east-1")


def make(
    messages: list[Any] | None = None,
    *,
    model: str = MODEL,
    stream: bool = False,
    drop: bool = False,
    **params: Any,
) -> CompletionRequest:
    return CompletionRequest(
        model=model,
        messages=HI if messages is None else messages,
        params=params,
        stream=stream,
        drop_params=drop,
    )


def build(
    messages: list[Any] | None = None,
    *,
    media: dict[str, Media] | None = None,
    creds: Credentials = CREDS,
    **kwargs: Any,
) -> HttpRequest:
    return PROVIDER.build_request(make(messages, **kwargs), creds, media or {})


def body(messages: list[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(build(messages, **kwargs).body)
    return decoded


def sent(**kwargs: Any) -> dict[str, Any]:
    """The body fields besides the messages (which must be HI)."""
    out = body(**kwargs)
    assert out.pop("messages") == HI_WIRE
    return out


@pytest.fixture
def no_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if ritellm[aws] were not installed: the credential chain is not available."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "botocore" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.fixture
def aws_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """botocore sees only files written here: no AWS variable, no ~/.aws, no instance role;
    and no session cached by an earlier test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(name)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(_aws_credentials, "_sessions", {})
    return tmp_path


# --- registry ---------------------------------------------------------------------------------


def test_registry_routes_bedrock_models_here() -> None:
    assert resolve(f"bedrock/{MODEL}") == (SPEC, MODEL)
    assert resolve(f"bedrock/{ARN}") == (SPEC, ARN)
    provider = get_provider(SPEC)
    assert isinstance(provider, BedrockProvider)
    assert provider.credential_params == (
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "aws_profile_name",
    )
    assert provider.stream_media_types == ("application/vnd.amazon.eventstream",)


# --- credentials and regions --------------------------------------------------------------------


def test_key_pair_from_the_arguments() -> None:
    creds = credentials(
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        aws_session_token=TOKEN,
        aws_region_name="eu-west-3",
    )
    assert creds.base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert creds.api_key is None
    assert creds.signing == AwsCredentials(AK, SK, TOKEN)
    assert creds.extra == {"region": "eu-west-3"}
    assert (creds.headers, creds.query, creds.resolve) == ((), "", None)


def test_key_pair_and_region_from_the_environment() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": AK,
        "AWS_SECRET_ACCESS_KEY": SK,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "ap-south-1",
    }
    creds = credentials(environ=environ)
    assert creds.signing == AwsCredentials(AK, SK, TOKEN)
    assert creds.extra == {"region": "us-west-2"}  # AWS_REGION before AWS_DEFAULT_REGION
    assert creds.base_url == "https://bedrock-runtime.us-west-2.amazonaws.com"
    del environ["AWS_REGION"], environ["AWS_SESSION_TOKEN"]
    creds = credentials(environ=environ)
    assert creds.signing == AwsCredentials(AK, SK, None)
    assert creds.extra == {"region": "ap-south-1"}
    # The arguments win over the environment, and are never mixed with it.
    creds = credentials(
        environ={**environ, "AWS_SESSION_TOKEN": TOKEN},
        aws_access_key_id="AKIDARG",
        aws_secret_access_key="arg-secret",
        aws_region_name="eu-central-1",
    )
    assert creds.signing == AwsCredentials("AKIDARG", "arg-secret", None)
    assert creds.extra == {"region": "eu-central-1"}


@pytest.mark.parametrize(
    ("options", "environ", "message"),
    [
        (
            {"aws_access_key_id": AK},
            {},
            "bedrock needs both aws_access_key_id and aws_secret_access_key (got only "
            "aws_access_key_id)",
        ),
        (
            {"aws_secret_access_key": SK, "aws_session_token": TOKEN},
            {"AWS_ACCESS_KEY_ID": AK},  # never completed from the environment
            "bedrock needs both aws_access_key_id and aws_secret_access_key (got only "
            "aws_secret_access_key)",
        ),
        (
            {},
            {"AWS_SECRET_ACCESS_KEY": SK, "AWS_REGION": "us-east-1"},
            "bedrock needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (got only "
            "AWS_SECRET_ACCESS_KEY)",
        ),
    ],
)
def test_half_a_key_pair_is_refused(
    options: dict[str, str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        credentials(environ={"AWS_REGION": "us-east-1", **environ}, **options)
    assert str(info.value) == message


def test_no_region_is_refused_before_any_io() -> None:
    # A signature is scoped to a region, and AWS's endpoint is named by one.
    with pytest.raises(ritellm.ParameterError) as info:
        credentials(aws_access_key_id=AK, aws_secret_access_key=SK)
    assert str(info.value) == NO_REGION
    with pytest.raises(ritellm.ParameterError) as info:
        credentials(
            base_url="http://127.0.0.1:8000", aws_access_key_id=AK, aws_secret_access_key=SK
        )
    assert str(info.value) == NO_REGION
    with pytest.raises(ritellm.ParameterError) as info:
        credentials(api_key=BEARER)
    assert str(info.value) == NO_REGION
    # A bearer key for an endpoint of the caller's own needs none.
    creds = credentials(api_key=BEARER, base_url="http://127.0.0.1:8000")
    assert (creds.base_url, creds.api_key, creds.extra) == ("http://127.0.0.1:8000", BEARER, {})


@pytest.mark.parametrize(
    ("base_url", "region", "root"),
    [
        (US_EAST, "us-east-1", US_EAST),
        (
            "https://bedrock-runtime.eu-west-3.amazonaws.com/",
            "eu-west-3",
            "https://bedrock-runtime.eu-west-3.amazonaws.com",
        ),
        (
            "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
            "us-gov-west-1",
            "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
        ),
        (
            "https://vpce-0123456789abcdef0-abcdefgh.bedrock-runtime.ap-southeast-2.vpce"
            ".amazonaws.com",
            "ap-southeast-2",
            "https://vpce-0123456789abcdef0-abcdefgh.bedrock-runtime.ap-southeast-2.vpce"
            ".amazonaws.com",
        ),
        (
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
            "cn-north-1",
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
        ),
    ],
)
def test_region_from_a_regional_base_url(base_url: str, region: str, root: str) -> None:
    keys: dict[str, Any] = {"aws_access_key_id": AK, "aws_secret_access_key": SK}
    creds = credentials(base_url=base_url, **keys)
    assert (creds.base_url, creds.extra) == (root, {"region": region})
    # The endpoint's region beats the environment's default one (a signature scoped to
    # another region is refused there); an explicit aws_region_name is the caller's word.
    creds = credentials(base_url=base_url, environ={"AWS_REGION": "sa-east-1"}, **keys)
    assert creds.extra == {"region": region}
    creds = credentials(base_url=base_url, aws_region_name="sa-east-1", **keys)
    assert creds.extra == {"region": "sa-east-1"}
    # From the environment's endpoint variable too.
    environ = {"AWS_BEDROCK_RUNTIME_ENDPOINT": base_url}
    assert credentials(environ=environ, **keys).extra == {"region": region}


def test_a_host_that_only_mentions_bedrock_gives_no_region() -> None:
    for base_url in (
        "https://proxy.example/bedrock-runtime.us-east-1.amazonaws.com",
        "https://bedrock-runtime.us-east-1.amazonaws.com.evil.example",
    ):
        with pytest.raises(ritellm.ParameterError) as info:
            credentials(base_url=base_url, aws_access_key_id=AK, aws_secret_access_key=SK)
        assert str(info.value) == NO_REGION


def test_default_urls() -> None:
    keys: dict[str, Any] = {"aws_access_key_id": AK, "aws_secret_access_key": SK}
    assert credentials(aws_region_name="us-east-1", **keys).base_url == US_EAST
    cn = credentials(aws_region_name="cn-northwest-1", **keys).base_url
    assert cn == "https://bedrock-runtime.cn-northwest-1.amazonaws.com.cn"
    # A custom base URL keeps its path and query.
    creds = credentials(
        base_url="https://gw.example/bedrock/?tenant=7", aws_region_name="us-east-1", **keys
    )
    assert (creds.base_url, creds.query) == ("https://gw.example/bedrock", "tenant=7")
    assert build(creds=creds).url == f"https://gw.example/bedrock/model/{quote(MODEL)}/converse" + (
        "?tenant=7"
    )


def test_bedrock_api_key_is_a_bearer_token_and_nothing_is_signed() -> None:
    for creds in (
        credentials(api_key=BEARER, aws_region_name="us-east-1"),
        credentials(environ={"AWS_BEARER_TOKEN_BEDROCK": BEARER, "AWS_REGION": "us-east-1"}),
        # The API key wins over a key pair at the same level (botocore's choice as well).
        credentials(
            api_key=BEARER,
            aws_access_key_id=AK,
            aws_secret_access_key=SK,
            aws_region_name="us-east-1",
        ),
        credentials(
            environ={
                "AWS_BEARER_TOKEN_BEDROCK": BEARER,
                "AWS_ACCESS_KEY_ID": AK,
                "AWS_SECRET_ACCESS_KEY": SK,
                "AWS_REGION": "us-east-1",
            }
        ),
    ):
        assert (creds.api_key, creds.signing, creds.base_url) == (BEARER, None, US_EAST)
        request = build(creds=creds)
        assert (b"Authorization", f"Bearer {BEARER}".encode()) in request.headers
        assert PROVIDER.sign(request, creds, NOW) is request


def test_key_pair_in_the_arguments_beats_an_api_key_in_the_environment() -> None:
    creds = credentials(
        environ={"AWS_BEARER_TOKEN_BEDROCK": BEARER, "AWS_REGION": "us-east-1"},
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
    )
    assert (creds.api_key, creds.signing) == (None, AwsCredentials(AK, SK, None))


@pytest.mark.usefixtures("no_botocore")
@pytest.mark.parametrize("base_url", [None, US_EAST])
def test_no_credentials_for_aws_is_an_authentication_error(base_url: str | None) -> None:
    with pytest.raises(ritellm.AuthenticationError) as info:
        credentials(base_url=base_url, aws_region_name="us-east-1")
    assert type(info.value) is ritellm.AuthenticationError
    assert info.value.message == NO_CREDENTIALS
    assert info.value.provider == "bedrock"
    # A profile needs botocore: without it, the same advice.
    with pytest.raises(ritellm.AuthenticationError) as info:
        credentials(aws_profile_name="dev", aws_region_name="us-east-1")
    assert info.value.message == NO_CREDENTIALS


@pytest.mark.usefixtures("no_botocore")
def test_a_custom_endpoint_without_credentials_is_unsigned() -> None:
    creds = credentials(base_url="http://127.0.0.1:8123", aws_region_name="us-east-1")
    assert (creds.api_key, creds.signing, creds.resolve) == (None, None, None)
    request = build(creds=creds)
    assert PROVIDER.sign(request, creds, NOW) is request
    assert not any(name.lower() == b"authorization" for name, _ in request.headers)


@pytest.mark.usefixtures("no_botocore")
def test_user_info_in_the_base_url_is_basic_auth_and_cannot_be_mixed_with_aws_auth() -> None:
    creds = credentials(base_url="http://u:p@127.0.0.1:8123", aws_region_name="us-east-1")
    assert build(creds=creds).headers[-1] == (b"Authorization", b"Basic dTpw")
    with pytest.raises(ritellm.ParameterError) as info:
        credentials(
            base_url="http://u:p@127.0.0.1:8123",
            aws_region_name="us-east-1",
            aws_access_key_id=AK,
            aws_secret_access_key=SK,
        )
    assert str(info.value) == (
        "bedrock: base_url has a user:password, which would be sent as Authorization: Basic, "
        "but the request is already authorized by its SigV4 signature: remove it from base_url"
    )
    with pytest.raises(ritellm.ParameterError) as info:
        credentials(base_url="http://u:p@127.0.0.1:8123", aws_region_name="x-1", api_key="k")
    assert "already authorized by its Bedrock API key" in str(info.value)


@pytest.mark.parametrize("name", [*PROVIDER.credential_params])
def test_credential_options_must_be_strings(name: str) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        credentials(**{name: cast(Any, 42)})
    assert str(info.value) == f"{name} must be a str"


def test_credentials_never_show_secrets() -> None:
    for creds in (
        credentials(
            aws_access_key_id=AK,
            aws_secret_access_key=SK,
            aws_session_token=TOKEN,
            aws_region_name="us-east-1",
        ),
        credentials(api_key=BEARER, aws_region_name="us-east-1"),
    ):
        shown = repr(creds) + str(creds)
        for secret in (SK, TOKEN, BEARER):
            assert secret not in shown
    assert repr(AwsCredentials(AK, SK, TOKEN)) == f"AwsCredentials(access_key_id={AK!r})"


# --- botocore's credential chain ------------------------------------------------------------------


def test_the_chain_signs_with_a_profile(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (aws_home / "credentials").write_text(
        f"[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = {SK}\n"
        f"aws_session_token = {TOKEN}\n"
    )
    (aws_home / "config").write_text("[profile dev]\nregion = eu-north-1\n")
    # A profile named in the arguments wins over keys in the environment.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    pending = credentials(aws_profile_name="dev", environ=dict(os.environ))
    assert pending.resolve is not None
    assert pending.signing is None
    creds = pending.resolve()  # blocking: ritellm runs it in a worker thread
    assert creds.signing == AwsCredentials("AKIDPROFILE", SK, TOKEN)
    assert creds.extra == {"region": "eu-north-1"}
    assert creds.base_url == "https://bedrock-runtime.eu-north-1.amazonaws.com"
    assert creds.resolve is None
    # AWS_PROFILE names it as well, once the environment holds no keys; an explicit region
    # wins over the profile's.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    pending = credentials(environ={"AWS_PROFILE": "dev"}, aws_region_name="us-east-2")
    assert pending.resolve is not None
    creds = pending.resolve()
    assert (creds.signing.access_key_id, creds.extra) == ("AKIDPROFILE", {"region": "us-east-2"})


def test_the_chain_finding_nothing(aws_home: Path) -> None:
    pending = credentials(aws_region_name="us-east-1")
    assert pending.resolve is not None
    with pytest.raises(ritellm.AuthenticationError) as info:
        pending.resolve()
    assert info.value.message == NO_CREDENTIALS
    # A custom endpoint is then called unsigned.
    pending = credentials(base_url="http://127.0.0.1:9", aws_region_name="us-east-1")
    assert pending.resolve is not None
    creds = pending.resolve()
    assert (creds.base_url, creds.signing, creds.api_key) == ("http://127.0.0.1:9", None, None)
    assert creds.extra == {"region": "us-east-1"}
    pending = credentials(base_url="http://127.0.0.1:9")  # unsigned: no region needed
    assert pending.resolve is not None
    assert (pending.resolve().signing, pending.resolve().extra) == (None, {})
    # No region anywhere: said once the chain has looked.
    pending = credentials()
    assert pending.resolve is not None
    with pytest.raises(ritellm.ParameterError) as refused:
        pending.resolve()
    assert str(refused.value) == NO_REGION


def test_the_chain_failing(aws_home: Path) -> None:
    pending = credentials(aws_profile_name="nope", aws_region_name="us-east-1")
    assert pending.resolve is not None
    with pytest.raises(ritellm.AuthenticationError) as info:
        pending.resolve()
    assert info.value.message == (
        "AWS credential chain failed (ProfileNotFound): The config profile (nope) could not be "
        "found"
    )
    assert info.value.provider == "bedrock"


def test_the_chain_sees_a_new_credentials_file(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (aws_home / "credentials").write_text(
        f"[p]\naws_access_key_id = AKIDONE\naws_secret_access_key = {SK}\n"
    )
    first = credentials(aws_profile_name="p", aws_region_name="us-east-1").resolve
    assert first is not None
    assert first().signing.access_key_id == "AKIDONE"
    other = tmp_path / "other"
    other.write_text(f"[p]\naws_access_key_id = AKIDTWO\naws_secret_access_key = {SK}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(other))
    second = credentials(aws_profile_name="p", aws_region_name="us-east-1").resolve
    assert second is not None
    assert second().signing.access_key_id == "AKIDTWO"


# --- URL and headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "segment"),
    [
        (MODEL, "anthropic.claude-3-5-sonnet-20240620-v1%3A0"),
        (
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "us.anthropic.claude-3-7-sonnet-20250219-v1%3A0",
        ),
        (
            ARN,
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
            "us.anthropic.claude-3-5-sonnet-20240620-v1%3A0",
        ),
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1%3A0"),
        ("a model?#&", "a%20model%3F%23%26"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_url_holds_the_model_id_as_one_segment(model: str, segment: str, stream: bool) -> None:
    request = build(model=model, stream=stream)
    action = "converse-stream" if stream else "converse"
    assert request.url == f"{US_EAST}/model/{segment}/{action}"
    assert request.method == b"POST"
    assert request.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/vnd.amazon.eventstream" if stream else b"application/json"),
        (b"User-Agent", f"ritellm/{__version__}".encode()),
    ]


def test_stream_body_equals_the_non_stream_body() -> None:
    kwargs: dict[str, Any] = {"temperature": 0.5, "stream_options": {"include_usage": True}}
    assert build(stream=True, **kwargs).body == build(**kwargs).body
    assert "stream" not in body(stream=True, **kwargs)


# --- SigV4 ----------------------------------------------------------------------------------------


SIGNED_AT = datetime.datetime(2025, 10, 9, 8, 7, 6, tzinfo=datetime.UTC)


@pytest.fixture
def frozen_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    # SigV4Auth.add_auth reads the clock through botocore.auth.get_current_datetime (naive UTC).
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda remove_tzinfo=True: SIGNED_AT.replace(tzinfo=None) if remove_tzinfo else SIGNED_AT,
    )


def botocore_headers(request: HttpRequest, creds: AwsCredentials, region: str) -> dict[str, str]:
    oracle = AWSRequest(method=request.method.decode(), url=request.url, data=request.body)
    for name, value in request.headers:
        oracle.headers[name.decode()] = value.decode()
    botocore_creds = botocore.credentials.Credentials(
        creds.access_key_id, creds.secret_access_key, creds.session_token
    )
    botocore.auth.SigV4Auth(botocore_creds, "bedrock", region).add_auth(oracle)
    return dict(oracle.headers.items())


@pytest.mark.usefixtures("frozen_botocore")
@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("model", [MODEL, ARN])
@pytest.mark.parametrize("stream", [False, True])
def test_sign_equals_botocore(token: str | None, model: str, stream: bool) -> None:
    creds = credentials(
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        aws_session_token=token,
        aws_region_name="eu-west-3",
    )
    request = build(
        [{"role": "user", "content": "héllo ✓"}], model=model, stream=stream, creds=creds
    )
    signed = PROVIDER.sign(request, creds, SIGNED_AT.timestamp())
    assert (signed.method, signed.url, signed.body) == (request.method, request.url, request.body)
    assert signed.headers[: len(request.headers)] == request.headers
    added = dict(signed.headers[len(request.headers) :])
    names = [b"X-Amz-Date", *([b"X-Amz-Security-Token"] if token else []), b"Authorization"]
    assert list(added) == names
    expected = botocore_headers(request, AwsCredentials(AK, SK, token), "eu-west-3")
    assert added[b"X-Amz-Date"] == b"20251009T080706Z" == expected["X-Amz-Date"].encode()
    assert added[b"Authorization"].decode() == expected["Authorization"]
    assert added[b"Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={AK}/20251009/eu-west-3/bedrock/aws4_request, ".encode()
    )
    signed_headers = "accept;content-type;host;x-amz-date" + (
        ";x-amz-security-token" if token else ""
    )
    assert f"SignedHeaders={signed_headers},".encode() in added[b"Authorization"]
    if token:
        assert added[b"X-Amz-Security-Token"] == TOKEN.encode()
        assert expected["X-Amz-Security-Token"] == TOKEN
    assert (
        request.headers
        == build(
            model=model,
            stream=stream,
            creds=creds,
            messages=[{"role": "user", "content": "héllo ✓"}],
        ).headers
    )  # signing added to a copy


def test_each_signature_carries_its_time() -> None:
    request = build()
    one = dict(PROVIDER.sign(request, CREDS, SIGNED_AT.timestamp()).headers)
    two = dict(PROVIDER.sign(request, CREDS, SIGNED_AT.timestamp() + 1).headers)
    assert one[b"X-Amz-Date"] == b"20251009T080706Z"
    assert two[b"X-Amz-Date"] == b"20251009T080707Z"
    assert one[b"Authorization"] != two[b"Authorization"]


@pytest.mark.parametrize("name", [b"Authorization", b"X-Amz-Date", b"x-amz-security-token"])
def test_a_header_only_the_signer_sets_is_refused(name: bytes) -> None:
    request = build()
    request = HttpRequest(
        method=request.method,
        url=request.url,
        headers=[*request.headers, (name, b"caller's own")],
        body=request.body,
    )
    with pytest.raises(ritellm.ParameterError) as info:
        PROVIDER.sign(request, CREDS, NOW)
    assert str(info.value) == (
        f"bedrock cannot sign this request: header {name.decode()!r} is set by the signer"
    )


# --- request bodies -----------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_SPEC = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
}


def test_golden_request_of_wire_formats_13_2() -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": '{"temp": 21}'},
    ]
    http = build(
        messages,
        max_tokens=512,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        tools=[WEATHER],
        tool_choice="auto",
        top_k=40,
    )
    assert http.body == (
        b'{"messages":[{"role":"user","content":[{"text":"Hi"},{"image":{"format":"png",'
        b'"source":{"bytes":"iVBORw0KGgo="}}}]},{"role":"assistant","content":[{"toolUse":'
        b'{"toolUseId":"t1","name":"get_weather","input":{"city":"Paris"}}}]},{"role":"user",'
        b'"content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"temp":21}}],'
        b'"status":"success"}}]}],"system":[{"text":"You are terse."}],"inferenceConfig":'
        b'{"maxTokens":512,"temperature":0.2,"topP":0.9,"stopSequences":["END"]},"toolConfig":'
        b'{"tools":[{"toolSpec":{"name":"get_weather","description":"Current weather",'
        b'"inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},'
        b'"required":["city"]}}}}],"toolChoice":{"auto":{}}},"additionalModelRequestFields":'
        b'{"top_k":40}}'
    )


def test_system_and_developer_messages_become_system_blocks() -> None:
    out = body(
        [
            {"role": "system", "content": "One."},
            {"role": "developer", "content": [{"type": "text", "text": "Two."}]},
            {"role": "system", "content": ""},
            *HI,
        ]
    )
    assert out == {"messages": HI_WIRE, "system": [{"text": "One."}, {"text": "Two."}]}
    # Converse's own system blocks (e.g. with a cachePoint) win.
    native = [{"text": "Mine."}, {"cachePoint": {"type": "default"}}]
    assert sent(system=native) == {"system": native}


def test_images_inline_fetched_and_refused() -> None:
    url = "https://img.example/cat.jpg"
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                {"type": "image_url", "image_url": f"data:image/JPG;base64,{PNG}"},
                {"type": "image_url", "image_url": {"url": f"data:image/webp;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{PNG}"}},
                {"type": "text", "text": "Which?"},
            ],
        }
    ]
    assert PROVIDER.media_urls(make(messages)) == (url,)
    assert PROVIDER.media_urls(make()) == ()
    media = {url: Media(mime_type="image/jpeg; charset=binary", data="/9j/4AAQ")}
    assert body(messages, media=media)["messages"] == [
        {
            "role": "user",
            "content": [
                {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
                {"image": {"format": "jpeg", "source": {"bytes": PNG}}},
                {"image": {"format": "webp", "source": {"bytes": PNG}}},
                {"image": {"format": "gif", "source": {"bytes": PNG}}},
                {"text": "Which?"},
            ],
        }
    ]
    with pytest.raises(ritellm.ParameterError) as info:
        body(messages)
    assert str(info.value) == (
        f"image URL {url!r} was not fetched: Bedrock takes images only as bytes, so every URL "
        "media_urls() returns must be in media"
    )
    svg = [{"role": "user", "content": [{"type": "image_url", "image_url": url}]}]
    with pytest.raises(ritellm.ParameterError) as info:
        body(svg, media={url: Media(mime_type="image/svg+xml", data="PHN2Zz4=")})
    assert str(info.value) == "bedrock takes png, jpeg, gif or webp images, not 'image/svg+xml'"
    bmp = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": "data:image/bmp;base64,Qk0="}],
        }
    ]
    with pytest.raises(ritellm.ParameterError) as info:
        body(bmp)
    assert str(info.value) == "bedrock takes png, jpeg, gif or webp images, not 'image/bmp'"


def tool_turns(*results: dict[str, Any], then: str | None = None) -> list[dict[str, Any]]:
    calls = [
        {
            "id": "tooluse_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "tooluse_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    out: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather and time?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": calls},
        *results,
    ]
    if then is not None:
        out.append({"role": "user", "content": then})
    return out


def test_tool_calls_and_results_pair_by_id() -> None:
    url = "https://img.example/map.png"
    messages = tool_turns(
        {"role": "tool", "tool_call_id": "tooluse_1", "content": '{"temp": 21, "sky": "clear"}'},
        {
            "role": "tool",
            "tool_call_id": "tooluse_2",
            "content": [
                {"type": "text", "text": "12:00 "},
                {"type": "text", "text": "CET"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        },
        then="Thanks!",
    )
    assert PROVIDER.media_urls(make(messages)) == (url,)
    out = body(messages, media={url: Media(mime_type="image/png", data=PNG)})
    assert out["messages"] == [
        {"role": "user", "content": [{"text": "Weather and time?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Checking."},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {"toolUse": {"toolUseId": "tooluse_2", "name": "get_time", "input": {}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_1",
                        "content": [{"json": {"temp": 21, "sky": "clear"}}],
                        "status": "success",
                    }
                },
                {
                    "toolResult": {
                        "toolUseId": "tooluse_2",
                        "content": [
                            {"text": "12:00 CET"},
                            {"image": {"format": "png", "source": {"bytes": PNG}}},
                        ],
                        "status": "success",
                    }
                },
                {"text": "Thanks!"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("content", "wire"),
    [
        ('{"temp": 21}', [{"json": {"temp": 21}}]),
        ("[1, 2]", [{"text": "[1, 2]"}]),  # only objects are Converse json documents
        ("21", [{"text": "21"}]),
        ("sunny", [{"text": "sunny"}]),
        ("", [{"text": ""}]),
        (
            [{"type": "text", "text": '{"a": '}, {"type": "text", "text": "1}"}],
            [{"json": {"a": 1}}],
        ),
    ],
)
def test_tool_result_content(content: Any, wire: list[Any]) -> None:
    messages = tool_turns(
        {"role": "tool", "tool_call_id": "tooluse_1", "content": content},
        {"role": "tool", "tool_call_id": "tooluse_2", "content": "noon"},
    )
    result = body(messages)["messages"][2]["content"][0]["toolResult"]
    assert result == {"toolUseId": "tooluse_1", "content": wire, "status": "success"}


def test_tool_calls_and_results_need_ids() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    with pytest.raises(ritellm.ParameterError) as info:
        body([*HI, {"role": "assistant", "tool_calls": [call]}])
    assert str(info.value) == (
        "a tool call has no id: Bedrock matches each toolResult to its toolUse by id"
    )
    with pytest.raises(ritellm.ParameterError) as info:
        body([*HI, {"role": "function", "name": "f", "content": "42"}])
    assert str(info.value) == (
        "the result of tool 'f' has no tool_call_id: Bedrock matches each toolResult to its "
        "toolUse by id"
    )


def test_thinking_blocks_go_back_as_reasoning_content() -> None:
    messages = [
        *HI,
        {
            "role": "assistant",
            "content": "Hello!",
            "reasoning_content": "The user greets me.",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "The user greets me.", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="},
                {"type": "thinking", "thinking": "No signature."},
                {"type": "something_else", "x": 1},
            ],
        },
        {"role": "user", "content": "Bye"},
    ]
    assert body(messages)["messages"][1] == {
        "role": "assistant",
        "content": [
            {
                "reasoningContent": {
                    "reasoningText": {"text": "The user greets me.", "signature": "c2ln"}
                }
            },
            {"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}},
            {"reasoningContent": {"reasoningText": {"text": "No signature."}}},
            {"text": "Hello!"},
        ],
    }


def test_blank_text_is_left_out_and_an_empty_conversation_refused() -> None:
    out = body(
        [{"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "x"}]}]
    )
    assert out["messages"] == [{"role": "user", "content": [{"text": "x"}]}]
    with pytest.raises(ritellm.ParameterError) as info:
        body([{"role": "system", "content": "Only a system prompt."}])
    assert str(info.value) == "messages has no user or assistant content for bedrock"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {}),
        ({"max_tokens": 100}, {"inferenceConfig": {"maxTokens": 100}}),
        (
            {"max_completion_tokens": 200, "max_tokens": 100},
            {"inferenceConfig": {"maxTokens": 200}},
        ),
        ({"temperature": 0}, {"inferenceConfig": {"temperature": 0}}),
        ({"top_p": 0.25}, {"inferenceConfig": {"topP": 0.25}}),
        ({"stop": "END"}, {"inferenceConfig": {"stopSequences": ["END"]}}),
        ({"stop": ["a", "b"]}, {"inferenceConfig": {"stopSequences": ["a", "b"]}}),
        ({"top_k": 5}, {"additionalModelRequestFields": {"top_k": 5}}),
        ({"n": 1, "parallel_tool_calls": True, "response_format": {"type": "text"}}, {}),
        ({"stream_options": {"include_usage": True}}, {}),
        # The caller's own Converse fields are merged over the mapped ones.
        (
            {"max_tokens": 100, "temperature": 1, "inferenceConfig": {"maxTokens": 7, "topP": 0.5}},
            {"inferenceConfig": {"maxTokens": 7, "temperature": 1, "topP": 0.5}},
        ),
        (
            {"tools": [WEATHER], "tool_choice": "auto", "toolConfig": {"toolChoice": {"any": {}}}},
            {"toolConfig": {"tools": [WEATHER_SPEC], "toolChoice": {"any": {}}}},
        ),
        (
            {"top_k": 5, "additionalModelRequestFields": {"top_k": 9, "anthropic_beta": ["x"]}},
            {"additionalModelRequestFields": {"top_k": 9, "anthropic_beta": ["x"]}},
        ),
        ({"inferenceConfig": {}}, {}),
        # Converse fields ritellm does not map travel as given.
        (
            {
                "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
                "requestMetadata": {"team": "a"},
                "performanceConfig": {"latency": "optimized"},
                "additionalModelResponseFieldPaths": ["/stop_sequence"],
            },
            {
                "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
                "requestMetadata": {"team": "a"},
                "performanceConfig": {"latency": "optimized"},
                "additionalModelResponseFieldPaths": ["/stop_sequence"],
            },
        ),
    ],
)
def test_parameter_mapping(params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sent(**params) == expected


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_tools_and_tool_choice(choice: Any, wire: dict[str, Any]) -> None:
    bare = {"type": "function", "function": {"name": "ping"}}
    assert sent(tools=[WEATHER, bare], tool_choice=choice) == {
        "toolConfig": {
            "tools": [
                WEATHER_SPEC,
                {
                    "toolSpec": {
                        "name": "ping",
                        "inputSchema": {"json": {"type": "object", "properties": {}}},
                    }
                },
            ],
            "toolChoice": wire,
        }
    }


def test_tool_choice_none_has_no_converse_equivalent() -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        sent(tools=[WEATHER], tool_choice="none")
    assert str(info.value) == (
        "bedrock does not support the parameter 'tool_choice': remove it, or pass "
        "drop_params=True to drop parameters a provider cannot honour"
    )
    assert sent(tools=[WEATHER], tool_choice="none", drop=True) == {
        "toolConfig": {"tools": [WEATHER_SPEC]}
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"reasoning_effort": "low"},
            {
                "inferenceConfig": {"maxTokens": 1024 + 4096},
                "additionalModelRequestFields": {
                    "thinking": {"type": "enabled", "budget_tokens": 1024}
                },
            },
        ),
        (
            {"reasoning_effort": "high", "max_tokens": 5000, "top_k": 3},
            {
                "inferenceConfig": {"maxTokens": 5000},
                "additionalModelRequestFields": {
                    "top_k": 3,
                    "thinking": {"type": "enabled", "budget_tokens": 4096},
                },
            },
        ),
        (
            {"reasoning_effort": "medium", "inferenceConfig": {"maxTokens": 3000}},
            {
                "inferenceConfig": {"maxTokens": 3000},
                "additionalModelRequestFields": {
                    "thinking": {"type": "enabled", "budget_tokens": 2048}
                },
            },
        ),
        (
            {"reasoning_effort": "xhigh", "inferenceConfig": {"temperature": 1}},
            {
                "inferenceConfig": {"maxTokens": 8192 + 4096, "temperature": 1},
                "additionalModelRequestFields": {
                    "thinking": {"type": "enabled", "budget_tokens": 8192}
                },
            },
        ),
        ({"reasoning_effort": "none"}, {}),
    ],
)
def test_reasoning_effort_on_claude_is_a_thinking_budget(
    params: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert sent(**params) == expected
    # Inference profiles and ARNs of Claude models too.
    assert sent(model="us.anthropic.claude-sonnet-4-20250514-v1:0", **params) == expected
    assert sent(model=ARN, **params) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"reasoning_effort": "medium", "max_tokens": 2048},
            "max_tokens=2048 leaves no room for the answer: Claude counts thinking against "
            "maxTokens, and reasoning_effort='medium' is a 2048-token thinking budget, so "
            "max_tokens must be greater than 2048 (or leave it out to get 6144)",
        ),
        (
            {"reasoning_effort": "low", "max_completion_tokens": 100},
            "max_completion_tokens=100 leaves no room for the answer: Claude counts thinking "
            "against maxTokens, and reasoning_effort='low' is a 1024-token thinking budget, so "
            "max_completion_tokens must be greater than 1024 (or leave it out to get 5120)",
        ),
        (
            {"reasoning_effort": "high", "max_tokens": 9000, "inferenceConfig": {"maxTokens": 10}},
            "inferenceConfig.maxTokens=10 leaves no room for the answer: Claude counts thinking "
            "against maxTokens, and reasoning_effort='high' is a 4096-token thinking budget, so "
            "inferenceConfig.maxTokens must be greater than 4096 (or leave it out to get 8192)",
        ),
        (
            {"reasoning_effort": "maximum"},
            "reasoning_effort must be one of 'none', 'minimal', 'low', 'medium', 'high', "
            "'xhigh', got 'maximum'",
        ),
    ],
)
def test_reasoning_effort_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        sent(**params)
    assert str(info.value) == message


def test_reasoning_effort_on_other_models_is_refused_or_dropped() -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        sent(model="amazon.nova-pro-v1:0", reasoning_effort="low")
    assert str(info.value) == (
        "bedrock does not support the parameter 'reasoning_effort': remove it, or pass "
        "drop_params=True to drop parameters a provider cannot honour"
    )
    assert sent(model="amazon.nova-pro-v1:0", reasoning_effort="low", drop=True) == {}


UNSUPPORTED = [
    ("n", 2),
    ("seed", 1),
    ("presence_penalty", 0.5),
    ("frequency_penalty", 0.5),
    ("logit_bias", {"1": 1}),
    ("logprobs", True),
    ("top_logprobs", 2),
    ("user", "u-1"),
    ("store", True),
    ("modalities", ["text"]),
    ("audio", {"voice": "alloy"}),
    ("prediction", {"type": "content", "content": "x"}),
    ("service_tier", "auto"),
    ("web_search_options", {}),
    ("verbosity", "low"),
    ("prompt_cache_key", "k"),
    ("safety_identifier", "s"),
    ("metadata", {"a": "b"}),
    ("functions", [{"name": "f"}]),
    ("function_call", "auto"),
    ("response_format", {"type": "json_object"}),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
    ("parallel_tool_calls", False),
]


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_unsupported_parameters_refused_or_dropped(name: str, value: Any) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        body(**{name: value})
    assert str(info.value) == (
        f"bedrock does not support the parameter {name!r}: remove it, or pass "
        "drop_params=True to drop parameters a provider cannot honour"
    )
    assert body(drop=True, top_k=2, **{name: value}) == {
        "messages": HI_WIRE,
        "additionalModelRequestFields": {"top_k": 2},
    }


@pytest.mark.parametrize(
    ("params", "cls", "message"),
    [
        (
            {"inferenceConfig": [1]},
            ritellm.ParameterTypeError,
            "inferenceConfig must be a dict (Converse's inferenceConfig)",
        ),
        (
            {"toolConfig": "x"},
            ritellm.ParameterTypeError,
            "toolConfig must be a dict (Converse's toolConfig)",
        ),
        (
            {"additionalModelRequestFields": 1},
            ritellm.ParameterTypeError,
            "additionalModelRequestFields must be a dict (Converse's additionalModelRequestFields)",
        ),
        ({"stop": 3}, ritellm.ParameterTypeError, "stop must be a string or a list of strings"),
        ({"max_tokens": "5"}, ritellm.ParameterTypeError, "max_tokens must be an integer, not str"),
        (
            {"tool_choice": "sometimes"},
            ritellm.ParameterError,
            "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', "
            "'function': {'name': ...}}",
        ),
        (
            {"tools": [{"type": "web_search"}]},
            ritellm.ParameterError,
            "tools[0] has type 'web_search'; only 'function'",
        ),
        (
            {"response_format": {"type": "yaml"}},
            ritellm.ParameterError,
            "response_format has unknown type 'yaml'",
        ),
    ],
)
def test_parameter_errors(params: dict[str, Any], cls: type[Exception], message: str) -> None:
    with pytest.raises(cls) as info:
        body(**params)
    assert type(info.value) is cls
    assert str(info.value) == message


# --- responses (§13.3) ----------------------------------------------------------------------------

HEADERS = {"content-type": "application/json", "x-amzn-requestid": "6f1c6d2e-req"}


def parse(obj: Any, *, headers: dict[str, str] | None = None, model: str = MODEL) -> Any:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return PROVIDER.parse_completion(
        200, HEADERS if headers is None else headers, raw, req=make(model=model), now=NOW
    )


def plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def assert_attr_dicts(value: Any) -> None:
    if isinstance(value, dict):
        assert isinstance(value, AttrDict), value
        for item in value.values():
            assert_attr_dicts(item)
    elif isinstance(value, list):
        for item in value:
            assert_attr_dicts(item)


RESPONSE_13_3 = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"text": "Hello"},
                {"toolUse": {"toolUseId": "t2", "name": "get_weather", "input": {"city": "Rome"}}},
            ],
        }
    },
    "stopReason": "tool_use",
    "usage": {
        "inputTokens": 25,
        "outputTokens": 12,
        "totalTokens": 37,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    },
    "metrics": {"latencyMs": 412},
}


def test_parse_the_response_of_wire_formats_13_3() -> None:
    r = parse(RESPONSE_13_3)
    assert isinstance(r, ritellm.ModelResponse)
    assert_attr_dicts(r)
    assert plain(r) == {
        "id": "chatcmpl-6f1c6d2e-req",
        "object": "chat.completion",
        "created": NOW,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello",
                    "tool_calls": [
                        {
                            "id": "t2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                        }
                    ],
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 25,
            "completion_tokens": 12,
            "total_tokens": 37,
            "prompt_tokens_details": {"cached_tokens": 0},
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_without_a_request_id_the_id_comes_from_the_body() -> None:
    raw = json.dumps(RESPONSE_13_3).encode()
    one = parse(raw, headers={})
    assert one.id == parse(raw, headers={}).id
    assert one.id.startswith("chatcmpl-") and len(one.id) == len("chatcmpl-") + 24
    assert one.id != parse(raw.replace(b"Hello", b"Hi"), headers={}).id


def message(content: list[Any], stop: Any = "end_turn", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"output": {"message": {"role": "assistant", "content": content}}}
    if stop is not None:
        out["stopReason"] = stop
    out.update(fields)
    return out


@pytest.mark.parametrize(
    ("stop", "calls", "finish"),
    [
        ("end_turn", False, "stop"),
        ("stop_sequence", False, "stop"),
        ("max_tokens", False, "length"),
        ("model_context_window_exceeded", False, "length"),
        ("tool_use", True, "tool_calls"),
        ("guardrail_intervened", False, "content_filter"),
        ("content_filtered", False, "content_filter"),
        ("something_new", False, "stop"),
        ("something_new", True, "tool_calls"),
        (None, False, "stop"),
        (None, True, "tool_calls"),
    ],
)
def test_stop_reasons(stop: Any, calls: bool, finish: str) -> None:
    content: list[Any] = [{"text": "x"}]
    if calls:
        content.append({"toolUse": {"toolUseId": "t", "name": "f", "input": {}}})
    assert parse(message(content, stop)).choices[0].finish_reason == finish


def test_usage_with_cache_reads_and_writes() -> None:
    usage = {
        "inputTokens": 10,
        "outputTokens": 4,
        "totalTokens": 114,
        "cacheReadInputTokens": 80,
        "cacheWriteInputTokens": 20,
    }
    # inputTokens excludes the cache (as in Anthropic's API): the prompt is all three.
    assert plain(parse(message([{"text": "x"}], usage=usage)).usage) == {
        "prompt_tokens": 110,
        "completion_tokens": 4,
        "total_tokens": 114,
        "prompt_tokens_details": {"cached_tokens": 80},
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 80,
    }
    bare = {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}
    assert plain(parse(message([{"text": "x"}], usage=bare)).usage) == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
    }
    assert "usage" not in parse(message([{"text": "x"}]))


def test_reasoning_content_and_tool_calls_without_input() -> None:
    r = parse(
        message(
            [
                {"reasoningContent": {"reasoningText": {"text": "Let me ", "signature": "c2ln"}}},
                {"reasoningContent": {"redactedContent": "cmVk"}},
                {"reasoningContent": {"reasoningText": {"text": "think."}}},
                {"text": "A"},
                {"image": {"format": "png", "source": {"bytes": PNG}}},
                {"text": "B"},
                {"toolUse": {"toolUseId": "t1", "name": "now", "input": {}}},
                {"toolUse": {"toolUseId": "t2", "name": "later"}},
            ],
            "tool_use",
        )
    )
    assert plain(r.choices[0].message) == {
        "role": "assistant",
        "content": "AB",
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "now", "arguments": "{}"}},
            {"id": "t2", "type": "function", "function": {"name": "later", "arguments": "{}"}},
        ],
        "reasoning_content": "Let me think.",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "Let me ", "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "cmVk"},
            {"type": "thinking", "thinking": "think."},
        ],
        "refusal": None,
    }
    only_calls = parse(message([{"toolUse": {"toolUseId": "t", "name": "f", "input": {"a": [1]}}}]))
    assert only_calls.choices[0].message.content is None
    assert only_calls.choices[0].message.tool_calls[0].function.arguments == '{"a":[1]}'
    assert parse(message([])).choices[0].message.content == ""


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (b"", "response with an empty body (application/json)"),
        (b"<html>", "response with a body that is not JSON (application/json)"),
        (b"[1]", "response is not a Bedrock Converse response"),
        (b'{"output": {}}', "response is not a Bedrock Converse response"),
        (
            b'{"output": {"message": {"content": [1]}}}',
            "response is not a Bedrock Converse response",
        ),
        (
            b'{"output": {"message": {"role": "assistant", "content": "x"}}}',
            "response is not a Bedrock Converse response",
        ),
    ],
)
def test_invalid_bodies(raw: bytes, what: str) -> None:
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        parse(raw)
    assert type(info.value) is ritellm.APIResponseValidationError
    assert info.value.message.startswith(what)
    assert (info.value.status_code, info.value.provider) == (200, "bedrock")


@pytest.mark.parametrize(
    ("headers", "raw", "cls", "status", "kind"),
    [
        (
            {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/"},
            b'{"message": "Too many requests, please wait before trying again."}',
            ritellm.RateLimitError,
            429,
            "ThrottlingException",
        ),
        (
            {},
            b'{"__type": "com.amazon.coral.service#ServiceUnavailableException", "message": "x"}',
            ritellm.ServiceUnavailableError,
            503,
            "ServiceUnavailableException",
        ),
        ({}, b'{"message": "Something broke."}', ritellm.InternalServerError, 500, None),
    ],
)
def test_an_error_body_with_a_2xx_status_is_its_http_twin(
    headers: dict[str, str], raw: bytes, cls: type[ritellm.APIError], status: int, kind: str | None
) -> None:
    with pytest.raises(ritellm.APIError) as info:
        parse(raw, headers=headers)
    assert type(info.value) is cls
    assert (info.value.status_code, info.value.type) == (status, kind)
    assert info.value.message == json.loads(raw)["message"]
    assert info.value.provider == "bedrock"
    # parse_error names the same twin (a 2xx stream answered with a JSON error).
    assert PROVIDER.parse_error(200, headers, raw).status == (status if kind else None)
    assert PROVIDER.parse_error(status, headers, raw).status is None


# --- AWS errors (§13.5) -------------------------------------------------------------------------


def aws_error(name: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-amzn-requestid": "req-1",
        "x-amzn-errortype": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/",
    }


ERRORS = [
    (
        400,
        "ValidationException",
        "Malformed input request, please reformat your input.",
        ritellm.BadRequestError,
        None,
    ),
    (
        400,
        "ValidationException",
        "Input is too long for requested model.",
        ritellm.ContextWindowExceededError,
        "context_window",
    ),
    (
        400,
        "ValidationException",
        "The model returned the following errors: prompt is too long: 215000 tokens > 200000 "
        "maximum",
        ritellm.ContextWindowExceededError,
        "context_window",
    ),
    (
        403,
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
        ritellm.PermissionDeniedError,
        None,
    ),
    (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        ritellm.AuthenticationError,
        "authentication",
    ),
    (
        403,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided.",
        ritellm.AuthenticationError,
        "authentication",
    ),
    (
        403,
        "ExpiredTokenException",
        "The security token included in the request is expired",
        ritellm.AuthenticationError,
        "authentication",
    ),
    (
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
        ritellm.AuthenticationError,
        "authentication",
    ),
    (
        404,
        "ResourceNotFoundException",
        "The requested resource could not be found.",
        ritellm.NotFoundError,
        None,
    ),
    (
        408,
        "ModelTimeoutException",
        "Model has timed out in processing the request.",
        ritellm.APITimeoutError,
        None,
    ),
    (424, "ModelErrorException", "The model returned an error.", ritellm.APIError, None),
    (
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
        ritellm.RateLimitError,
        None,
    ),
    (429, "ModelNotReadyException", "Model is not ready.", ritellm.RateLimitError, None),
    (
        500,
        "InternalServerException",
        "The server encountered an internal error.",
        ritellm.InternalServerError,
        None,
    ),
    (
        503,
        "ServiceUnavailableException",
        "Bedrock is unable to process your request.",
        ritellm.ServiceUnavailableError,
        None,
    ),
]


@pytest.mark.parametrize(("status", "name", "text", "cls", "kind"), ERRORS)
def test_aws_errors(
    status: int, name: str, text: str, cls: type[ritellm.APIError], kind: str | None
) -> None:
    raw = json.dumps({"message": text}).encode()
    headers = aws_error(name)
    info = PROVIDER.parse_error(status, headers, raw)
    assert (info.message, info.type, info.code, info.param, info.body, info.kind) == (
        text,
        name,
        None,
        None,
        {"message": text},
        kind,
    )
    err = error_from_response(status, headers, raw, info=info, provider="bedrock")
    assert type(err) is cls
    assert (err.message, err.type, err.status_code) == (text, name, status)
    # The same error named by the body's __type only, as AWS's JSON protocols also do.
    typed = json.dumps({"__type": f"com.amazon.bedrock#{name}", "Message": text}).encode()
    info = PROVIDER.parse_error(status, {}, typed)
    assert (info.message, info.type, info.kind) == (text, name, kind)
    assert type(error_from_response(status, {}, typed, info=info)) is cls


@pytest.mark.parametrize(
    ("headers", "raw", "expected"),
    [
        ({"x-amzn-errortype": "ThrottlingException"}, b"", (None, "ThrottlingException", "")),
        (
            {"x-amzn-errortype": "ThrottlingException"},
            b"slow down",
            ("slow down", "ThrottlingException", "slow down"),
        ),
        (
            {},
            b'{"code": "ThrottlingException", "message": "m"}',
            ("m", "ThrottlingException", {"code": "ThrottlingException", "message": "m"}),
        ),
        (
            {},
            b'{"__type": "ValidationException:http://internal.amazon.com/coral/x", "message": "m"}',
            (
                "m",
                "ValidationException",
                {
                    "__type": "ValidationException:http://internal.amazon.com/coral/x",
                    "message": "m",
                },
            ),
        ),
        # Not AWS's shape: the OpenAI-compatible parser (a proxy in front of Bedrock).
        (
            {},
            b'{"error": {"message": "bad", "type": "invalid_request_error"}}',
            ("bad", "invalid_request_error", {"message": "bad", "type": "invalid_request_error"}),
        ),
        ({}, b"upstream connect error", ("upstream connect error", None, "upstream connect error")),
        ({}, b"", (None, None, "")),
    ],
)
def test_parse_error_shapes(headers: dict[str, str], raw: bytes, expected: tuple[Any, ...]) -> None:
    info = PROVIDER.parse_error(400, headers, raw)
    assert (info.message, info.type, info.body) == expected


# --- ConverseStream (§13.4) ---------------------------------------------------------------------

STREAM_ID = "chatcmpl-6f1c6d2e-req"
SIGNATURE = "RXJyb3JTaWduYXR1cmU="


def delta(index: int, value: dict[str, Any]) -> bytes:
    return event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": value})


def start(index: int, tool_id: str, name: str) -> bytes:
    use = {"toolUseId": tool_id, "name": name}
    return event_frame("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": use}})


def stop(index: int) -> bytes:
    return event_frame("contentBlockStop", {"contentBlockIndex": index})


USAGE = {
    "inputTokens": 25,
    "outputTokens": 12,
    "totalTokens": 45,
    "cacheReadInputTokens": 3,
    "cacheWriteInputTokens": 5,
}
FRAMES = [
    event_frame("messageStart", {"role": "assistant"}),
    delta(0, {"reasoningContent": {"text": "Let me "}}),
    delta(0, {"reasoningContent": {"text": "think."}}),
    delta(0, {"reasoningContent": {"signature": SIGNATURE}}),
    stop(0),
    delta(1, {"text": "Checking "}),
    delta(1, {"text": ""}),
    delta(1, {"text": "both."}),
    stop(1),
    start(2, "tooluse_a", "get_weather"),
    delta(2, {"toolUse": {"input": '{"city":'}}),
    delta(2, {"toolUse": {"input": '"Rome"}'}}),
    stop(2),
    start(3, "tooluse_b", "get_time"),
    delta(3, {"toolUse": {"input": '{"tz":"Europe/Rome"'}}),
    delta(3, {"toolUse": {"input": "}"}}),
    stop(3),
    start(4, "tooluse_c", "list_cities"),
    stop(4),
    event_frame("messageStop", {"stopReason": "tool_use"}),
    event_frame("metadata", {"usage": USAGE, "metrics": {"latencyMs": 380}}),
]
TRANSCRIPT = b"".join(FRAMES)


def chunk(finish: str | None = None, **delta: Any) -> dict[str, Any]:
    return {
        "id": STREAM_ID,
        "object": "chat.completion.chunk",
        "created": NOW,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def call(index: int, **fields: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **fields}]}


def tool_start(index: int, tool_id: str, name: str) -> dict[str, Any]:
    function = {"name": name, "arguments": ""}
    return call(index, id=tool_id, type="function", function=function)


def args(index: int, text: str) -> dict[str, Any]:
    return call(index, function={"arguments": text})


CHUNKS = [
    chunk(
        role="assistant",
        reasoning_content="Let me ",
        thinking_blocks=[{"index": 0, "type": "thinking", "thinking": "Let me "}],
    ),
    chunk(
        reasoning_content="think.",
        thinking_blocks=[{"index": 0, "type": "thinking", "thinking": "think."}],
    ),
    chunk(thinking_blocks=[{"index": 0, "type": "thinking", "signature": SIGNATURE}]),
    chunk(content="Checking "),
    chunk(content="both."),
    chunk(**tool_start(0, "tooluse_a", "get_weather")),
    chunk(**args(0, '{"city":')),
    chunk(**args(0, '"Rome"}')),
    chunk(**tool_start(1, "tooluse_b", "get_time")),
    chunk(**args(1, '{"tz":"Europe/Rome"')),
    chunk(**args(1, "}")),
    chunk(**tool_start(2, "tooluse_c", "list_cities")),
    chunk(**args(2, "{}")),  # a call without input still gets OpenAI's "{}"
    chunk("tool_calls"),
]
USAGE_CHUNK = {
    **chunk(),
    "choices": [],
    "usage": {
        "prompt_tokens": 33,
        "completion_tokens": 12,
        "total_tokens": 45,
        "prompt_tokens_details": {"cached_tokens": 3},
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 3,
    },
}
# The same answer, not streamed.
WHOLE = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {
                    "reasoningContent": {
                        "reasoningText": {"text": "Let me think.", "signature": SIGNATURE}
                    }
                },
                {"text": "Checking both."},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_a",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "tooluse_b",
                        "name": "get_time",
                        "input": {"tz": "Europe/Rome"},
                    }
                },
                {"toolUse": {"toolUseId": "tooluse_c", "name": "list_cities", "input": {}}},
            ],
        }
    },
    "stopReason": "tool_use",
    "usage": USAGE,
    "metrics": {"latencyMs": 412},
}


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, one byte at a time, and every two-piece split."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def decoder(*, include_usage: bool = False, max_event_bytes: int = 1 << 20) -> BedrockStreamDecoder:
    return BedrockStreamDecoder(
        "bedrock",
        id=STREAM_ID,
        model=MODEL,
        created=NOW,
        include_usage=include_usage,
        max_event_bytes=max_event_bytes,
    )


def decode(pieces: list[bytes], *, include_usage: bool = False) -> list[Any]:
    dec = decoder(include_usage=include_usage)
    chunks: list[Any] = []
    for piece in pieces:
        chunks.extend(dec.feed(piece))
    chunks.extend(dec.close())
    return chunks


def until_error(pieces: list[bytes], **kwargs: Any) -> tuple[list[Any], ritellm.StreamError]:
    dec = decoder(**kwargs)
    chunks: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        for piece in pieces:
            chunks.extend(dec.feed(piece))
        chunks.extend(dec.close())
    assert type(info.value) is ritellm.StreamError
    return chunks, info.value


@pytest.mark.parametrize("include_usage", [False, True])
def test_stream_transcript_under_every_split(include_usage: bool) -> None:
    expected = [*CHUNKS, USAGE_CHUNK] if include_usage else CHUNKS
    for pieces in splits(TRANSCRIPT):
        assert decode(pieces, include_usage=include_usage) == expected, pieces


def test_the_stream_is_done_at_metadata_its_last_event() -> None:
    dec = decoder()
    assert dec.feed(b"".join(FRAMES[:-2])) == CHUNKS[:-1]
    assert not dec.done
    assert dec.feed(FRAMES[-2]) == CHUNKS[-1:]
    assert not dec.done  # the usage is still to come
    assert dec.feed(FRAMES[-1]) == []
    assert dec.done  # the rest of the body may be dropped
    # metadata without messageStop ends nothing: the close finds the stream truncated.
    dec = decoder()
    dec.feed(b"".join(FRAMES[:8]) + FRAMES[-1])
    assert not dec.done
    with pytest.raises(ritellm.StreamError) as info:
        dec.close()
    assert info.value.message == "stream ended before messageStop (the response was truncated)"


def test_stream_chunks_are_attr_dicts_and_rebuild_the_whole_response() -> None:
    chunks = decode([TRANSCRIPT], include_usage=True)
    assert all(isinstance(c, ritellm.ModelResponseStream) for c in chunks)
    for c in chunks:
        assert_attr_dicts(c["choices"])
        assert_attr_dicts(c.get("usage"))
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert plain(rebuilt) == plain(parse(WHOLE))


def test_stream_provider_builds_the_decoder() -> None:
    req = make(stream=True, stream_options={"include_usage": True})
    one = PROVIDER.stream_decoder(req, now=NOW, max_event_bytes=1 << 20)
    two = PROVIDER.stream_decoder(req, now=NOW, max_event_bytes=1 << 20)
    first = one.feed(TRANSCRIPT) + one.close()
    assert first[-1]["usage"]["prompt_tokens"] == 33
    ids = {c["id"] for c in first}
    assert len(ids) == 1
    assert ids.pop().startswith("chatcmpl-")
    # Each stream gets its own id.
    assert two.feed(TRANSCRIPT)[0]["id"] != first[0]["id"]
    assert (
        "usage"
        not in PROVIDER.stream_decoder(make(stream=True), now=NOW, max_event_bytes=1 << 20).feed(
            TRANSCRIPT
        )[-1]
    )


def test_stream_redacted_reasoning_and_text_without_a_block_start() -> None:
    frames = [
        event_frame("messageStart", {"role": "assistant"}),
        delta(0, {"reasoningContent": {"redactedContent": "cmVk"}}),
        stop(0),
        delta(1, {"text": "Hi"}),
        stop(1),
        event_frame("messageStop", {"stopReason": "max_tokens"}),
    ]
    assert decode([b"".join(frames)]) == [
        chunk(
            role="assistant",
            thinking_blocks=[{"type": "redacted_thinking", "data": "cmVk", "index": 0}],
        ),
        chunk(content="Hi"),
        chunk("length"),
    ]


def test_stream_with_nothing_said_still_finishes() -> None:
    frames = [
        event_frame("messageStart", {"role": "assistant"}),
        event_frame("messageStop", {"stopReason": "end_turn"}),
        event_frame("metadata", {"usage": {"inputTokens": 1, "outputTokens": 0, "totalTokens": 1}}),
    ]
    assert decode([b"".join(frames)], include_usage=True) == [
        chunk("stop", role="assistant"),
        {
            **chunk(),
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
        },
    ]


EXCEPTIONS = [
    ("throttlingException", "ThrottlingException", 429),
    ("validationException", "ValidationException", 400),
    ("internalServerException", "InternalServerException", 500),
    ("serviceUnavailableException", "ServiceUnavailableException", 503),
    ("modelStreamErrorException", "ModelStreamErrorException", None),
]


@pytest.mark.parametrize(("wire", "name", "twin"), EXCEPTIONS)
def test_exception_frames_are_in_band_errors_with_an_http_twin(
    wire: str, name: str, twin: int | None
) -> None:
    text = f"{name} happened."
    data = FRAMES[0] + exception_frame(wire, text)
    for pieces in splits(data):
        chunks, err = until_error(pieces)
        assert chunks == []
        assert err.message == text
        assert (err.type, err.provider, err.body) == (name, "bedrock", {"message": text})
        assert err.inband is not None
        assert (err.inband.message, err.inband.type, err.inband.status) == (text, name, twin)


@pytest.mark.parametrize(("wire", "name", "twin"), EXCEPTIONS)
def test_an_error_after_chunks_comes_after_those_chunks(
    wire: str, name: str, twin: int | None
) -> None:
    data = b"".join(FRAMES[:8]) + exception_frame(wire, "late") + FRAMES[-2]
    for pieces in splits(data):
        chunks, err = until_error(pieces)
        assert chunks == CHUNKS[:5]
        assert (err.message, err.type) == ("late", name)


def test_an_error_message_type_frame() -> None:
    headers = {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "Boom"}
    chunks, err = until_error([FRAMES[0] + encode_frame(headers, b"")])
    assert chunks == []
    assert (err.message, err.type, err.inband and err.inband.status) == (
        "Boom",
        "InternalFailure",
        500,
    )


def test_a_stream_without_message_stop_was_truncated() -> None:
    data = b"".join(FRAMES[:8])
    for pieces in splits(data):
        chunks, err = until_error(pieces)
        assert chunks == CHUNKS[:5]
        assert err.message == "stream ended before messageStop (the response was truncated)"
        assert err.inband is None


def test_a_stream_cut_inside_a_frame() -> None:
    cut = FRAMES[5][:-7]
    chunks, err = until_error([b"".join(FRAMES[:5]) + cut])
    assert chunks == CHUNKS[:3]
    assert err.message == (
        f"event stream truncated: it ended {len(cut)} bytes into a {len(FRAMES[5])}-byte frame"
    )
    chunks, err = until_error([b"".join(FRAMES[:5]) + cut[:5]])
    assert err.message == "event stream truncated: it ended 5 bytes into a 12-byte prelude"


def test_a_corrupted_checksum() -> None:
    bad = bytearray(FRAMES[5])
    bad[-1] ^= 0x5A
    stored = struct.unpack(">I", bytes(bad[-4:]))[0]
    computed = zlib.crc32(bytes(bad[:-4]))
    message = (
        f"event stream message CRC mismatch: expected 0x{stored:08x}, computed 0x{computed:08x}"
    )
    data = b"".join(FRAMES[:5]) + bytes(bad) + b"".join(FRAMES[6:])
    for pieces in splits(data):
        chunks, err = until_error(pieces)
        assert chunks == CHUNKS[:3]
        assert (err.message, err.inband) == (message, None)


def test_a_frame_over_max_event_bytes() -> None:
    big = delta(0, {"text": "x" * 500})
    chunks, err = until_error([FRAMES[0] + delta(0, {"text": "ok"}) + big], max_event_bytes=200)
    assert chunks == [chunk(role="assistant", content="ok")]
    assert err.message == f"event stream frame of {len(big)} bytes exceeds the limit of 200 bytes"


def test_frames_that_are_not_bedrock_events() -> None:
    odd = encode_frame({":message-type": "weird", ":event-type": "x"}, b'{"a":1}')
    chunks, err = until_error([FRAMES[0] + odd])
    assert chunks == []
    assert err.message == (
        "event stream frame with :message-type 'weird', neither an event nor an exception: "
        "'{\"a\":1}'"
    )
    assert err.inband is None
    untyped = encode_frame({}, b"")
    _, err = until_error([untyped])
    assert err.message == (
        "event stream frame with :message-type None, neither an event nor an exception: ''"
    )
    _, err = until_error([event_frame("contentBlockDelta", b'{"delta": ')])
    assert err.message == "malformed JSON in contentBlockDelta event: '{\"delta\":'"
    _, err = until_error([event_frame("metadata", b"[1]")])
    assert err.message == "metadata event is not a JSON object: '[1]'"
    _, err = until_error([event_frame("contentBlockDelta", {"contentBlockIndex": 0})])
    assert err.message == ("contentBlockDelta without a delta object: '{\"contentBlockIndex\":0}'")
    _, err = until_error([delta(7, {"toolUse": {"input": "{}"}})])
    assert err.message == (
        "toolUse delta for a block that was never started: "
        '\'{"contentBlockIndex":7,"delta":{"toolUse":{"input":"{}"}}}\''
    )


def test_unknown_events_are_ignored() -> None:
    frames = [
        event_frame("messageStart", {"role": "assistant"}),
        event_frame("somethingNew", {"x": 1}),
        delta(0, {"citation": {"x": 1}}),
        delta(0, {"text": "Hi"}),
        event_frame("messageStop", {"stopReason": "end_turn"}),
    ]
    assert decode([b"".join(frames)]) == [chunk(role="assistant", content="Hi"), chunk("stop")]


def test_error_info_for_an_in_band_error_can_be_typed() -> None:
    # What _prime builds from an in-band error before any chunk: its twin's class.
    _, err = until_error([exception_frame("throttlingException", "Slow down")])
    assert err.inband is not None
    info: ErrorInfo = err.inband
    raised = error_from_response(info.status or 0, {}, b"", info=info, provider="bedrock")
    assert type(raised) is ritellm.RateLimitError
    assert raised.message == "Slow down"
