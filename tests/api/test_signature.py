"""Gateway signature (SPEC 2.1): the samples' shapes pass, every fault is refused clearly."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duanxin.api.signature import (
    DEFAULT_WINDOW,
    MISMATCH,
    SignatureError,
    SignatureFault,
    check_signature,
    format_http_date,
    parse_authorization,
    sign_headers,
    verify_request,
)

NOW = datetime(2018, 3, 19, 12, 8, 40, tzinfo=UTC)
SECRET_ID = "AKIDi6qE41WgJ9w8h4h9zq68Vq24d1beIuN0qIwU"
SECRET_KEY = "s3cr3t-key"
KEYS = {SECRET_ID: SECRET_KEY}


def sample_sign(key: str, date: str, source: str, digest: str = "sha1") -> str:
    """The published Python sample's signing code, verbatim in substance."""
    sign_str = f"x-date: {date}\nx-source: {source}"
    mac = hmac.new(key.encode("utf-8"), sign_str.encode("utf-8"), getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode("utf-8")


def sample_headers(
    *, date: str = "Mon, 19 Mar 2018 12:08:40 GMT", algorithm: str = "hmac-sha1"
) -> dict[str, str]:
    digest = "sha256" if algorithm.endswith("256") else "sha1"
    sign = sample_sign(SECRET_KEY, date, "market", digest)
    auth = (
        f'hmac id="{SECRET_ID}", algorithm="{algorithm}", headers="x-date x-source", '
        f'signature="{sign}"'
    )
    return {"X-Source": "market", "X-Date": date, "Authorization": auth}


def refused(headers: dict[str, str], now: datetime = NOW) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        verify_request(headers, KEYS.get, now, DEFAULT_WINDOW)
    return info.value


def test_sample_sha1_passes() -> None:
    assert verify_request(sample_headers(), KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


def test_sha256_passes() -> None:
    headers = sample_headers(algorithm="hmac-sha256")
    assert verify_request(headers, KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


def test_header_lookup_is_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in sample_headers().items()}
    assert verify_request(headers, KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID
    headers = {k.upper(): v for k, v in sample_headers().items()}
    assert verify_request(headers, KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


@pytest.mark.parametrize("algorithm", ["hmac-sha1", "hmac-sha256"])
@pytest.mark.parametrize("names", [("x-date", "x-source"), ("date", "source"), ("x-date",)])
def test_sign_headers_round_trip(algorithm: str, names: tuple[str, ...]) -> None:
    headers = sign_headers(SECRET_ID, SECRET_KEY, now=NOW, algorithm=algorithm, headers=names)
    assert verify_request(headers, KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


def test_sign_headers_matches_the_published_sample() -> None:
    headers = sign_headers(SECRET_ID, SECRET_KEY, now=NOW)
    assert headers == sample_headers()


def test_sign_headers_refuses_what_it_cannot_fill() -> None:
    with pytest.raises(ValueError):
        sign_headers(SECRET_ID, SECRET_KEY, now=NOW, headers=("host",))
    with pytest.raises(ValueError):
        sign_headers(SECRET_ID, SECRET_KEY, now=NOW, algorithm="hmac-md5")


def test_curl_sample_shape_with_date_source() -> None:
    date = "Mon, 19 Mar 2018 12:08:40 GMT"
    mac = hmac.new(SECRET_KEY.encode(), f"date: {date}\nsource: source".encode(), hashlib.sha1)
    sign = base64.b64encode(mac.digest()).decode()
    auth = (
        f'hmac id = "{SECRET_ID}", algorithm = "hmac-sha1", headers = "date source", '
        f"signature = {sign}"
    )
    headers = {"Source": "source", "Date": date, "Authorization": auth}
    assert verify_request(headers, KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


def test_curl_sample_authorization_parses_exactly() -> None:
    parsed = parse_authorization(
        'hmac id = "AKIDi6qE41WgJ9w8h4h9zq68Vq24d1beIuN0qIwU", algorithm = "hmac-sha1", '
        'headers = "date source", signature = yMCxXNytW5nvVGNZ8aBtRxmiLJ4='
    )
    assert parsed.secret_id == SECRET_ID
    assert parsed.algorithm == "hmac-sha1"
    assert parsed.headers == ("date", "source")
    assert parsed.signature == "yMCxXNytW5nvVGNZ8aBtRxmiLJ4="


@pytest.mark.parametrize(
    "value",
    [
        'hmac id="a",algorithm="hmac-sha1",headers="x-date x-source",signature="c2ln"',
        "HMAC id=a, algorithm=HMAC-SHA1, headers=x-date x-source, signature=c2ln",
        "id='a', algorithm='hmac-sha1', headers='x-date x-source', signature='c2ln'",
        ' hmac  ID = "a" ,  Algorithm="hmac-sha1" , headers = "x-date x-source" , '
        'signature = "c2ln" , extra="ignored" ',
    ],
)
def test_lenient_parsing(value: str) -> None:
    parsed = parse_authorization(value)
    assert (parsed.secret_id, parsed.algorithm) == ("a", "hmac-sha1")
    assert parsed.headers == ("x-date", "x-source")
    assert parsed.signature == "c2ln"


def test_tampered_signature_refused() -> None:
    headers = sample_headers()
    headers["Authorization"] = headers["Authorization"].replace('signature="', 'signature="A')
    error = refused(headers)
    assert error.fault is SignatureFault.BAD_SIGNATURE
    assert str(error) == MISMATCH


def test_tampered_source_refused() -> None:
    headers = sample_headers()
    headers["X-Source"] = "elsewhere"
    assert refused(headers).fault is SignatureFault.BAD_SIGNATURE


def test_wrong_key_refused() -> None:
    with pytest.raises(SignatureError) as info:
        verify_request(sample_headers(), {SECRET_ID: "other-key"}.get, NOW, DEFAULT_WINDOW)
    assert info.value.fault is SignatureFault.BAD_SIGNATURE
    assert SECRET_KEY not in str(info.value) and "other-key" not in str(info.value)


@pytest.mark.parametrize("offset", [timedelta(minutes=16), timedelta(minutes=-16)])
def test_stale_date_refused_both_directions(offset: timedelta) -> None:
    error = refused(sample_headers(), now=NOW + offset)
    assert error.fault is SignatureFault.EXPIRED
    assert "window" in str(error)


@pytest.mark.parametrize("offset", [timedelta(minutes=15), timedelta(minutes=-15)])
def test_window_edges_pass(offset: timedelta) -> None:
    assert verify_request(sample_headers(), KEYS.get, NOW + offset, DEFAULT_WINDOW) == SECRET_ID


def test_window_is_configurable() -> None:
    with pytest.raises(SignatureError):
        later = NOW + timedelta(seconds=61)
        verify_request(sample_headers(), KEYS.get, later, timedelta(minutes=1))


def test_naive_now_is_utc() -> None:
    assert verify_request(sample_headers(), KEYS.get, NOW.replace(tzinfo=None), DEFAULT_WINDOW)


def test_unknown_secret_id_refused() -> None:
    with pytest.raises(SignatureError) as info:
        verify_request(sample_headers(), lambda _id: None, NOW, DEFAULT_WINDOW)
    assert info.value.fault is SignatureFault.UNKNOWN_ID
    assert str(info.value) == MISMATCH


def _reason(headers: dict[str, str], lookup: Callable[[str], str | None], now: datetime) -> str:
    with pytest.raises(SignatureError) as info:
        verify_request(headers, lookup, now, DEFAULT_WINDOW)
    return str(info.value)


@pytest.mark.parametrize(
    ("change", "later"),
    [
        (None, timedelta(0)),  # a well-formed request: only the key decides
        (None, timedelta(minutes=20)),  # stale as well
        ("x-date", timedelta(0)),  # an unparsable date
        ("x-source", timedelta(0)),  # a listed header absent
    ],
)
def test_unknown_secret_id_answered_like_a_wrong_key(change: str | None, later: timedelta) -> None:
    """No oracle: whatever else is wrong, an unknown SecretId gets the answer a known one
    with the wrong key gets."""
    headers = sample_headers()
    if change == "x-date":
        headers["X-Date"] = "yesterday"
    elif change == "x-source":
        del headers["X-Source"]
    unknown = _reason(headers, lambda _id: None, NOW + later)
    wrong_key = _reason(headers, {SECRET_ID: "other-key"}.get, NOW + later)
    assert unknown == wrong_key


def test_missing_authorization_refused() -> None:
    headers = sample_headers()
    del headers["Authorization"]
    error = refused(headers)
    assert error.fault is SignatureFault.MISSING_HEADER
    assert str(error) == "missing Authorization header"


def test_listed_header_absent_refused() -> None:
    headers = sample_headers()
    del headers["X-Source"]
    error = refused(headers)
    assert error.fault is SignatureFault.MISSING_HEADER
    assert "x-source" in str(error)


def test_unsupported_algorithm_refused() -> None:
    headers = sample_headers()
    headers["Authorization"] = headers["Authorization"].replace("hmac-sha1", "hmac-md5")
    error = refused(headers)
    assert error.fault is SignatureFault.UNSUPPORTED_ALGORITHM
    assert "hmac-md5" in str(error)


@pytest.mark.parametrize("missing", ["id", "algorithm", "headers", "signature"])
def test_missing_parameter_refused(missing: str) -> None:
    params = {"id": "a", "algorithm": "hmac-sha1", "headers": "x-date", "signature": "c2ln"}
    del params[missing]
    value = "hmac " + ", ".join(f'{k}="{v}"' for k, v in params.items())
    with pytest.raises(SignatureError, match=f"missing {missing}") as info:
        parse_authorization(value)
    assert info.value.fault is SignatureFault.MALFORMED


@pytest.mark.parametrize(
    "value",
    ["Bearer abc.def", "hmac garbage", 'hmac id="a", id="b"', "hmac =x", "x" * 5000],
)
def test_malformed_authorization_refused(value: str) -> None:
    with pytest.raises(SignatureError) as info:
        parse_authorization(value)
    assert info.value.fault is SignatureFault.MALFORMED


def test_unsigned_date_refused() -> None:
    headers = sign_headers(SECRET_ID, SECRET_KEY, now=NOW, headers=("x-source",))
    error = refused(headers)
    assert error.fault is SignatureFault.BAD_DATE


def test_unparseable_date_refused() -> None:
    headers = sample_headers(date="yesterday at noon")
    error = refused(headers)
    assert error.fault is SignatureFault.BAD_DATE


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 19 Mar 2018 12:08:40 GMT",  # Python, Go, Java, C#, Node
        "Mon, 19 Mar 2018 12:08:40 UTC",  # PHP gmdate('T') on some builds
        "Mon, 19 Mar 2018 12:08:40 +0000",
        "Monday, 19-Mar-18 12:08:40 GMT",  # RFC 850
    ],
)
def test_date_spellings_accepted(date: str) -> None:
    assert verify_request(sample_headers(date=date), KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


def test_split_verification_for_async_lookups() -> None:
    headers = sample_headers()
    parsed = parse_authorization(headers["Authorization"])
    assert parsed.secret_id == SECRET_ID
    check_signature(parsed, headers, SECRET_KEY, NOW, DEFAULT_WINDOW)


def test_latin1_decoded_header_values_verify() -> None:
    # ASGI servers decode header bytes as latin-1; a UTF-8 source must still verify.
    source = "市场"
    date = format_http_date(NOW)
    mac = hmac.new(SECRET_KEY.encode(), f"x-date: {date}\nx-source: {source}".encode(), "sha1")
    auth = (
        f'hmac id="{SECRET_ID}", algorithm="hmac-sha1", headers="x-date x-source", '
        f'signature="{base64.b64encode(mac.digest()).decode()}"'
    )
    wire = source.encode("utf-8").decode("latin-1")
    headers = {"x-date": date, "x-source": wire, "authorization": auth}
    assert verify_request(headers, KEYS.get, NOW, DEFAULT_WINDOW) == SECRET_ID


def test_format_http_date() -> None:
    assert format_http_date(NOW) == "Mon, 19 Mar 2018 12:08:40 GMT"
    assert format_http_date(NOW.replace(tzinfo=None)) == "Mon, 19 Mar 2018 12:08:40 GMT"


header_text = st.one_of(st.text(st.characters(codec="latin-1"), max_size=200), st.text(max_size=50))
auth_text = st.one_of(
    header_text,
    st.builds(
        lambda a, b, c, d: f"hmac id={a}, algorithm={b}, headers={c}, signature={d}",
        header_text,
        st.sampled_from(["hmac-sha1", "hmac-sha256", "HMAC-SHA1", "x"]),
        st.sampled_from(["x-date x-source", "date source", "date", "", "x-date x-date"]),
        header_text,
    ),
)


@given(
    authorization=auth_text,
    date=st.one_of(header_text, st.just("Mon, 19 Mar 2018 12:08:40 GMT")),
    source=header_text,
    extra=st.dictionaries(header_text, header_text, max_size=3),
)
def test_arbitrary_headers_only_raise_signature_error(
    authorization: str, date: str, source: str, extra: dict[str, str]
) -> None:
    headers = {**extra, "Authorization": authorization, "X-Date": date, "Date": date}
    headers["X-Source"] = source
    try:
        verify_request(headers, lambda _id: SECRET_KEY, NOW, DEFAULT_WINDOW)
    except SignatureError as error:
        assert error.reason
        assert SECRET_KEY not in error.reason


@given(st.text(max_size=300))
def test_parse_authorization_only_raises_signature_error(value: str) -> None:
    with contextlib.suppress(SignatureError):
        parse_authorization(value)
