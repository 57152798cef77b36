"""Tests for ritellm._providers._sigv4: botocore's SigV4 signer is the oracle on the same
inputs, plus AWS's published known answers, the refusals and the redaction of secrets."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import attrs
import botocore.auth  # type: ignore[import-untyped, unused-ignore]
import botocore.credentials  # type: ignore[import-untyped, unused-ignore]
import botocore.session  # type: ignore[import-untyped, unused-ignore]
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse  # type: ignore[import-untyped, unused-ignore]

from ritellm._providers._sigv4 import AwsCredentials, redact_authorization, sign

NOW = datetime.datetime(2024, 6, 20, 12, 34, 56, 789, tzinfo=datetime.UTC)
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=="
BR = "https://bedrock-runtime.us-east-1.amazonaws.com"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PROFILE = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
)
JSON = [("Content-Type", "application/json")]
BODY = b'{"messages":[{"role":"user","content":[{"text":"h\xc3\xa9llo"}]}]}'


def segment(value: str) -> str:
    """A path segment as a client must send it: everything but the unreserved set encoded."""
    return quote(value, safe="")


@attrs.frozen
class Case:
    """A request, signed by both signers; botocore gets ``oracle_url`` and ``params`` when
    set (the query as decoded parameters, which botocore encodes canonically itself)."""

    url: str
    method: str = "POST"
    headers: list[tuple[str, str]] = attrs.field(factory=lambda: list(JSON))
    body: bytes = BODY
    token: str | None = None
    region: str = "us-east-1"
    service: str = "bedrock"
    oracle_url: str | None = None
    params: list[tuple[str, str]] | None = None


CASES = {
    "converse": Case(f"{BR}/model/{segment(MODEL)}/converse"),
    "converse-stream": Case(
        f"{BR}/model/{segment(MODEL)}/converse-stream",
        headers=[*JSON, ("Accept", "application/vnd.amazon.eventstream")],
    ),
    "inference-profile-arn": Case(f"{BR}/model/{segment(PROFILE)}/converse"),
    "invoke-model": Case(
        f"{BR}/model/{segment(MODEL)}/invoke", headers=[*JSON, ("Accept", "application/json")]
    ),
    "session-token": Case(f"{BR}/model/{segment(MODEL)}/converse", token=TOKEN),
    "empty-body-post": Case(f"{BR}/model/x/converse", body=b""),
    "empty-body-get": Case(f"{BR}/", method="GET", headers=[], body=b""),
    "lowercase-method": Case(f"{BR}/model/x/converse", method="post"),
    "query-unsorted": Case(f"{BR}/model/x/converse?b=2&a=1&C=3&_=4"),
    "query-repeated": Case(f"{BR}/model/x/converse?a=2&a=1&a=10&a="),
    "query-empty-value-and-bare-name": Case(f"{BR}/model/x/converse?empty=&flag&z=1"),
    "query-canonical-encoding": Case(
        f"{BR}/model/x/converse?k=a%20b%2Fc%3Ad&%C3%A9t%C3%A9=%E2%9C%93&t=~-_.&p=%2B"
    ),
    # The same query written loosely: botocore gets it as parameters and encodes them itself.
    "query-loose-encoding": Case(
        f"{BR}/model/x/converse?k=a%20b/c:d&%c3%a9t%c3%a9=\u2713&t=%7E-_.&p=%2b",
        oracle_url=f"{BR}/model/x/converse",
        params=[("k", "a b/c:d"), ("été", "\u2713"), ("t", "~-_."), ("p", "+")],
    ),
    "unicode-path-encoded": Case(f"{BR}/model/{segment('modèle-ü')}/converse"),
    "unicode-path-raw": Case(f"{BR}/model/modèle-ü/converse"),
    "dot-segments-and-double-slashes": Case(f"{BR}/model/./a//b/../x/converse"),
    "trailing-slash": Case(f"{BR}/model/x/"),
    "odd-header-spacing-and-case": Case(
        f"{BR}/model/x/converse",
        headers=[
            ("content-TYPE", "application/json"),
            ("X-Custom", "  a   b "),
            ("X-Tabs", "a\t\tb\t"),
            ("X-Dup", "1"),
            ("x-dup", " 2  3 "),
            ("X-Amz-Meta", ""),
        ],
    ),
    "unsigned-headers-skipped": Case(
        f"{BR}/model/x/converse",
        headers=[
            *JSON,
            ("User-Agent", "ritellm/1.0"),
            ("Expect", "100-continue"),
            ("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ],
    ),
    "explicit-host-header": Case(
        f"{BR}/model/x/converse", headers=[*JSON, ("Host", "bedrock.example.com")]
    ),
    "content-sha256-given": Case(
        f"{BR}/model/x/converse", headers=[*JSON, ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")]
    ),
    "uppercase-host-and-default-port": Case(
        "https://BEDROCK-RUNTIME.us-east-1.amazonaws.com:443/model/x/converse"
    ),
    "non-default-port": Case(f"{BR}:8443/model/{segment(MODEL)}/converse"),
    "http-local-server": Case("http://127.0.0.1:8123/model/x/converse"),
    "http-default-port": Case("http://localhost:80/model/x/converse"),
    "http-ipv6-userinfo": Case("http://user:pw@[::1]:8123/model/x/converse"),
    "vpc-endpoint": Case(
        "https://vpce-0123456789abcdef0-abcdefgh.bedrock-runtime.eu-west-3.vpce.amazonaws.com"
        f"/model/{segment(PROFILE)}/converse",
        region="eu-west-3",
        token=TOKEN,
    ),
    "other-region": Case(
        "https://bedrock-runtime.ap-southeast-2.amazonaws.com/model/x/converse",
        region="ap-southeast-2",
    ),
    "other-service": Case(
        "https://sts.amazonaws.com/?Version=2011-06-15&Action=GetCallerIdentity",
        headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
        body=b"",
        service="sts",
    ),
}


@pytest.fixture
def frozen_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    # SigV4Auth.add_auth reads the clock through botocore.compat.get_current_datetime, which
    # botocore.auth imports by name: it returns naive UTC.
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda remove_tzinfo=True: NOW.replace(tzinfo=None) if remove_tzinfo else NOW,
    )


def botocore_sign(case: Case) -> dict[str, str]:
    """What botocore sets on the same request: every header after signing."""
    request = AWSRequest(
        method=case.method, url=case.oracle_url or case.url, data=case.body, params=case.params
    )
    for name, value in case.headers:
        request.headers[name] = value  # appends: a repeated name stays repeated
    creds = botocore.credentials.Credentials(AK, SK, case.token)
    botocore.auth.SigV4Auth(creds, case.service, case.region).add_auth(request)
    return dict(request.headers.items())


def ours(case: Case) -> list[tuple[bytes, bytes]]:
    return sign(
        case.method.encode(),
        case.url,
        [(name.encode(), value.encode()) for name, value in case.headers],
        case.body,
        credentials=AwsCredentials(AK, SK, case.token),
        region=case.region,
        service=case.service,
        now=NOW,
    )


@pytest.mark.usefixtures("frozen_botocore")
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_matches_botocore(case: Case) -> None:
    expected = botocore_sign(case)
    added = ours(case)
    wanted = ["X-Amz-Date", *(["X-Amz-Security-Token"] if case.token else []), "Authorization"]
    assert [name.decode() for name, _ in added] == wanted
    got = {name.decode(): value.decode() for name, value in added}
    for name in wanted:
        assert got[name] == expected[name], name
    # botocore's non-S3 signer adds no X-Amz-Content-SHA256, and neither do we.
    given = {name.lower() for name, _ in case.headers}
    assert ("x-amz-content-sha256" in given) == ("X-Amz-Content-SHA256" in expected)


def test_bedrock_path_is_encoded_twice() -> None:
    # The ARN goes out as one segment (%3A, %2F) and is signed encoded once more (%253A,
    # %252F): the authorization differs from signing the once-encoded path.
    url = f"{BR}/model/{segment(PROFILE)}/converse"
    assert "%3A" in url and "%2F" in url
    twice = f"{BR}/model/{segment(segment(PROFILE))}/converse"
    auth = dict(ours(Case(url)))[b"Authorization"]
    assert auth != dict(ours(Case(twice)))[b"Authorization"]


@pytest.mark.usefixtures("frozen_botocore")
def test_matches_a_real_botocore_client_converse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The request a real bedrock-runtime client sends for an inference-profile ARN: the URL
    # encoding it uses, and the headers it signs, are what ours must reproduce. The machine's
    # AWS settings (an endpoint URL, a profile) must not reach the client.
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        aws_session_token=TOKEN,
    )
    sent: list[AWSRequest] = []

    class Raw:
        def stream(self, **_: object) -> Iterator[bytes]:
            yield b"{}"

    def capture(request: AWSRequest, **_: object) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, Raw())

    client.meta.events.register("before-send", capture)
    try:
        client.converse(modelId=PROFILE, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    finally:
        client.close()
    request = sent[0]
    assert request.url == f"{BR}/model/{segment(PROFILE)}/converse"
    sent_headers = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    auth = sent_headers["Authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    own = {"host", "x-amz-date", "x-amz-security-token"}
    headers = [
        (name.encode(), value.encode())
        for name, value in sent_headers.items()
        if name.lower() in signed and name.lower() not in own
    ]
    added = dict(
        sign(
            request.method.encode(),
            request.url,
            headers,
            request.body,
            credentials=AwsCredentials(AK, SK, TOKEN),
            region="us-east-1",
            service="bedrock",
            now=NOW,
        )
    )
    assert added[b"Authorization"].decode() == auth
    assert added[b"X-Amz-Security-Token"].decode() == sent_headers["X-Amz-Security-Token"]
    assert signed == ["content-type", "host", "x-amz-date", "x-amz-security-token"]
    assert "X-Amz-Content-SHA256" not in sent_headers


# AWS's published answers (the SigV4 test suite's get-vanilla and
# get-vanilla-query-order-key-case, and the IAM User Guide's ListUsers example).
KAT_NOW = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC)
KAT_KEY = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.mark.parametrize(
    ("url", "service", "headers", "signed", "signature"),
    [
        (
            "https://example.amazonaws.com/",
            "service",
            [],
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "service",
            [],
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
            "iam",
            [(b"Content-Type", b"application/x-www-form-urlencoded; charset=utf-8")],
            "content-type;host;x-amz-date",
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        ),
    ],
    ids=["get-vanilla", "get-vanilla-query-order-key-case", "iam-list-users"],
)
def test_published_known_answers(
    url: str, service: str, headers: list[tuple[bytes, bytes]], signed: str, signature: str
) -> None:
    added = sign(
        b"GET", url, headers, b"", credentials=KAT_KEY, region="us-east-1", service=service,
        now=KAT_NOW,
    )  # fmt: skip
    assert added == [
        (b"X-Amz-Date", b"20150830T123600Z"),
        (
            b"Authorization",
            f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/{service}/aws4_request,"
            f" SignedHeaders={signed}, Signature={signature}".encode(),
        ),
    ]


def sign_with(
    url: str = f"{BR}/model/x/converse",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = BODY,
    *,
    credentials: AwsCredentials | None = None,
    now: datetime.datetime = NOW,
) -> list[tuple[bytes, bytes]]:
    return sign(
        b"POST",
        url,
        [(b"Content-Type", b"application/json")] if headers is None else headers,
        body,
        credentials=credentials or AwsCredentials(AK, SK),
        region="us-east-1",
        service="bedrock",
        now=now,
    )


def test_clock_is_read_as_utc() -> None:
    local = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=-7)))
    assert local.day == 20 and local.hour == 5
    assert sign_with(now=local) == sign_with(now=NOW)
    # Sub-second precision is dropped; the date in the scope is the UTC date.
    late = datetime.datetime(
        2024, 6, 20, 23, 30, tzinfo=datetime.timezone(-datetime.timedelta(hours=2))
    )
    added = dict(sign_with(now=late))
    assert added[b"X-Amz-Date"] == b"20240621T013000Z"
    assert b"/20240621/us-east-1/bedrock/aws4_request" in added[b"Authorization"]
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_with(now=NOW.replace(tzinfo=None))


def test_payload_hash_is_of_the_exact_body() -> None:
    assert sign_with(body=BODY) == sign_with(body=BODY)
    assert sign_with(body=BODY) != sign_with(body=BODY + b" ")
    assert sign_with(body=b"") != sign_with(body=b" ")


@pytest.mark.parametrize(
    "name", [b"Authorization", b"x-amz-date", b"X-Amz-Security-Token", b"Date"]
)
def test_signer_headers_are_refused_without_their_value(name: bytes) -> None:
    with pytest.raises(ValueError, match="set by the signer") as info:
        sign_with(headers=[(name, b"s3cr3t-value")])
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("url", ["/model/x/converse", "https://host:99999/model"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (urllib's own message for the bad port)
        sign_with(url)


def test_inputs_are_not_modified() -> None:
    headers = [(b"Content-Type", b"application/json")]
    sign_with(headers=headers, credentials=AwsCredentials(AK, SK, TOKEN))
    assert headers == [(b"Content-Type", b"application/json")]


def test_credentials_repr_hides_secrets() -> None:
    creds = AwsCredentials(AK, SK, TOKEN)
    for text in (repr(creds), str(creds)):
        assert AK in text
        assert SK not in text and TOKEN not in text
        assert "secret" not in text and "token" not in text
    assert SK not in repr(AwsCredentials(AK, SK))
    assert creds == AwsCredentials(AK, SK, TOKEN)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        creds.secret_access_key = "x"  # type: ignore[misc]


def test_redact_authorization() -> None:
    added = dict(ours(Case(f"{BR}/model/x/converse", token=TOKEN)))
    value = added[b"Authorization"].decode()
    signature = value.rsplit("Signature=", 1)[1]
    assert len(signature) == 64
    redacted = redact_authorization(value)
    assert signature not in redacted
    assert redacted == value.replace(signature, "***")
    assert redacted.startswith(f"AWS4-HMAC-SHA256 Credential={AK}/20240620/us-east-1/bedrock/")
    # A truncated or reordered value still loses its signature; anything else is unchanged.
    assert redact_authorization("Signature=abc, SignedHeaders=host") == (
        "Signature=***, SignedHeaders=host"
    )
    assert redact_authorization("Bearer xyz") == "Bearer xyz"
