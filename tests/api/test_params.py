"""Request parameters (SPEC 2, 2.4-2.8, 5): every published shape is read, bad input is a
ParamError with the right status, never anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from duanxin.api.params import (
    MobileEntry,
    ParamError,
    TooManyNumbers,
    check_action,
    check_content,
    check_extno,
    check_idempotency_key,
    check_rt,
    clamp_size,
    mo_size,
    parse_mobiles,
    parse_params,
    parse_sendtime,
    plausible_mobile,
    report_size,
    require,
)

FORM = "application/x-www-form-urlencoded"


def error(call: object, *args: object, **kwargs: object) -> ParamError:
    assert callable(call)
    with pytest.raises(ParamError) as info:
        call(*args, **kwargs)
    return info.value


# -- bodies ------------------------------------------------------------------------------


def test_form_body_as_the_samples_send_it() -> None:
    body = b"account=&action=mo&password=&rt=json&szie=1000"
    assert parse_params(body, FORM, "") == {
        "account": "",
        "action": "mo",
        "password": "",
        "rt": "json",
        "szie": "1000",
    }


def test_form_body_utf8_percent_encoded_and_raw() -> None:
    body = "content=%E3%80%90duanxin%E3%80%91%E4%BD%A0%E5%A5%BD+hi&raw=你好".encode()
    params = parse_params(body, FORM + "; charset=UTF-8", "")
    assert params == {"content": "【duanxin】你好 hi", "raw": "你好"}


def test_form_body_without_content_type() -> None:
    assert parse_params(b"a=1&b=2", None, "") == {"a": "1", "b": "2"}


def test_form_body_gbk_when_declared() -> None:
    body = b"content=" + "你好".encode("gbk")
    assert parse_params(body, FORM + "; charset=GBK", "")["content"] == "你好"


def test_json_body() -> None:
    body = b'{"account": "a", "mobile": "13800138000", "content": "hi"}'
    assert parse_params(body, "application/json", "") == {
        "account": "a",
        "mobile": "13800138000",
        "content": "hi",
    }


@pytest.mark.parametrize("content_type", [FORM, None, "text/plain", "application/json"])
def test_curl_sample_json_with_trailing_comma(content_type: str | None) -> None:
    body = b'{"account":"","content":"","extno":"","mobile":"","password":"","rt":"json",}'
    params = parse_params(body, content_type, "")
    assert params == {
        "account": "",
        "content": "",
        "extno": "",
        "mobile": "",
        "password": "",
        "rt": "json",
    }


def test_trailing_comma_with_whitespace_and_bom() -> None:
    body = b'\xef\xbb\xbf  \n{"a":"1",\n  }\n'
    assert parse_params(body, FORM, "") == {"a": "1"}


def test_json_numbers_as_values() -> None:
    body = b'{"mobile": 13800138000, "size": 100, "x": 1.50, "big": 123456789012345678901234567890}'
    assert parse_params(body, None, "") == {
        "mobile": "13800138000",
        "size": "100",
        "x": "1.50",
        "big": "123456789012345678901234567890",
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": {"b": "c"}}',
        b'{"a": ["1"]}',
        b'{"a": true}',
        b'{"a": null}',
    ],
)
def test_json_non_scalar_values_refused(body: bytes) -> None:
    assert "must be a string or a number" in error(parse_params, body, None, "").msg


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "1"',
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a" "1"}',
        b'{"a": "1",, }',
        b"{" * 100_000,
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_malformed_json_refused(body: bytes) -> None:
    assert error(parse_params, body, None, "").status == 1


@pytest.mark.parametrize("body", [b'["a", "b"]', b'"text"', b"42"])
def test_json_body_must_be_an_object(body: bytes) -> None:
    assert error(parse_params, body, "application/json", "").msg == "JSON body must be an object"


def test_json_raw_newline_allowed_in_content_only() -> None:
    assert parse_params(b'{"content": "a\nb"}', None, "") == {"content": "a\nb"}
    error(parse_params, b'{"account": "a\nb"}', None, "")


def test_json_lone_surrogate_refused() -> None:
    error(parse_params, b'{"content": "\\ud800"}', None, "")


def test_multipart_body() -> None:
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"content": "你好\r\n", "mobile": "13800138000"},
        files={"f": b"x"},
    )
    body = request.read()
    params = parse_params(body, request.headers["content-type"], "")
    assert params == {"content": "你好\r\n", "mobile": "13800138000"}


def test_malformed_multipart_refused() -> None:
    error(parse_params, b"no boundary here", "multipart/form-data; boundary=zzz", "")


def test_query_parameters_merge_and_body_wins() -> None:
    params = parse_params(b"a=body&c=3", FORM, "a=query&b=2")
    assert params == {"a": "body", "b": "2", "c": "3"}


def test_query_only() -> None:
    assert parse_params(b"", None, "account=x&rt=json") == {"account": "x", "rt": "json"}
    assert parse_params(b"", None, b"content=%E4%BD%A0") == {"content": "你"}


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (b"content=\xff\xfe", ""),
        (b"content=%FF%FE", ""),
        (b'{"content": "\xff"}', ""),
        (b"", "content=%FF"),
        (b"", b"content=\xff"),
    ],
)
def test_invalid_utf8_refused(body: bytes, query: str | bytes) -> None:
    assert "UTF-8" in error(parse_params, body, FORM, query).msg


@pytest.mark.parametrize(
    "body",
    [
        b"account=a%00b",
        b"mobile=13800138000%0A",
        b"content=hi%07",
        b"content=hi%1B[31m",
        b"content=hi%C2%85",
        b"a%01=1",
    ],
)
def test_control_characters_refused(body: bytes) -> None:
    assert "control character" in error(parse_params, body, FORM, "").msg


def test_crlf_and_tab_allowed_in_content() -> None:
    params = parse_params(b"content=line1%0D%0Aline2%09x", FORM, "")
    assert params["content"] == "line1\r\nline2\tx"


def test_sql_looking_values_are_just_text() -> None:
    params = parse_params(b"account=%27+OR+1%3D1+--&password=x", FORM, "")
    assert params["account"] == "' OR 1=1 --"


def test_body_size_cap() -> None:
    assert "too large" in error(parse_params, b"a=" + b"x" * 100, FORM, "", max_body=50).msg


def test_too_many_fields() -> None:
    body = "&".join(f"k{i}=v" for i in range(5000)).encode()
    error(parse_params, body, FORM, "")


def test_blank_body() -> None:
    assert parse_params(b"", FORM, "") == {}
    assert parse_params(b"  \r\n", "application/json", "") == {}


# -- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "8613800138000",
        "008613800138000",
        "+86 138-0013-8000",
        "(+86)13800138000",
        "１３８００１３８０００",
    ],
)
def test_prefix_and_spelling_normalisation(raw: str) -> None:
    assert parse_mobiles(raw) == [MobileEntry(raw, "13800138000")]


@pytest.mark.parametrize(
    "raw", ["1380013800", "138001380001", "12800138000", "23800138000", "+8513800138000", "abc"]
)
def test_invalid_numbers_kept_with_none(raw: str) -> None:
    assert parse_mobiles(raw) == [MobileEntry(raw, None)]


def test_duplicates_removed_in_request_order() -> None:
    entries = parse_mobiles(
        "13900139000, 13800138000,+8613900139000,bad,bad,0086 13800138000,，13700137000,"
    )
    assert entries == [
        MobileEntry("13900139000", "13900139000"),
        MobileEntry("13800138000", "13800138000"),
        MobileEntry("bad", None),
        MobileEntry("13700137000", "13700137000"),
    ]


def test_500_numbers_pass_501_refused() -> None:
    numbers = [f"138{i:08d}" for i in range(501)]
    assert len(parse_mobiles(",".join(numbers[:500]))) == 500
    failure = error(parse_mobiles, ",".join(numbers))
    assert isinstance(failure, TooManyNumbers)
    assert failure.status == 102


def test_500_distinct_with_repeats_pass() -> None:
    numbers = [f"138{i:08d}" for i in range(500)]
    assert len(parse_mobiles(",".join(numbers + numbers[:10]))) == 500


def test_missing_mobile() -> None:
    for raw in (None, "", " , ,"):
        assert error(parse_mobiles, raw).status == 1


def test_custom_normaliser() -> None:
    entries = parse_mobiles("+86 138 0013 8000,13900139000", normalise=lambda s: s[-4:])
    assert [e.normalised for e in entries] == ["8000", "9000"]


def test_plausible_mobile() -> None:
    assert plausible_mobile("0086" + "19912345678") == "19912345678"
    assert plausible_mobile("11012345678") is None


# -- single parameters -------------------------------------------------------------------


def test_extno() -> None:
    assert check_extno(None) is None
    assert check_extno("") is None
    assert check_extno(" 123 ") == "123"
    assert check_extno("123456789012") == "123456789012"
    for bad in ("1234567890123", "12a", "-1", "１２", "1 2"):
        assert error(check_extno, bad).status == 1


def test_rt() -> None:
    for ok in (None, "", "json", "JSON"):
        check_rt(ok)
    for bad in ("xml", "jsonp"):
        assert error(check_rt, bad).msg == "rt must be json"


def test_action() -> None:
    check_action(None, "mo")
    check_action("", "mo")
    check_action("MO", "mo")
    assert "balance" in error(check_action, "mo", "balance").msg


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 1000),
        ("", 1000),
        ("500", 500),
        (" 500 ", 500),
        ("5", 10),
        ("-5", 10),
        ("0", 10),
        ("20000", 10000),
        ("9" * 5000, 10000),
        ("100.0", 100),
    ],
)
def test_report_size_clamps(raw: str | None, expected: int) -> None:
    params = {} if raw is None else {"size": raw}
    assert report_size(params) == expected


def test_mo_size_accepts_szie_and_clamps_to_1000() -> None:
    assert mo_size({}) == 1000
    assert mo_size({"szie": "50"}) == 50
    assert mo_size({"size": "5000"}) == 1000
    assert mo_size({"size": "20", "szie": "50"}) == 20
    assert mo_size({"size": "", "szie": "3"}) == 10


@pytest.mark.parametrize("raw", ["ten", "1e3", "1.5", "0x10"])
def test_size_not_an_integer(raw: str) -> None:
    assert error(clamp_size, raw, 1000, 10, 1000).msg == "size must be an integer"


NOW = datetime(2024, 5, 1, 12, 0, 0)


def test_sendtime_bounds() -> None:
    assert parse_sendtime(None, NOW) is None
    assert parse_sendtime("", NOW) is None
    assert parse_sendtime("2024-05-01 13:00:00", NOW) == datetime(2024, 5, 1, 13)
    assert parse_sendtime("2024-05-08 12:00:00", NOW) == datetime(2024, 5, 8, 12)
    assert parse_sendtime("2024-05-01 11:59:30", NOW) == datetime(2024, 5, 1, 11, 59, 30)
    assert "days ahead" in error(parse_sendtime, "2024-05-08 12:00:01", NOW).msg
    assert "past" in error(parse_sendtime, "2024-05-01 11:58:59", NOW).msg


@pytest.mark.parametrize("raw", ["2024-05-01", "2024/05/01 13:00:00", "2024-02-30 13:00:00", "x"])
def test_sendtime_malformed(raw: str) -> None:
    assert "YYYY-MM-DD HH:MM:SS" in error(parse_sendtime, raw, NOW).msg


def test_sendtime_keeps_the_clock_zone() -> None:
    now = NOW.replace(tzinfo=UTC)
    assert parse_sendtime("2024-05-02 00:00:00", now) == datetime(2024, 5, 2, tzinfo=UTC)
    assert parse_sendtime("2024-05-02 00:00:00", now) != now + timedelta(days=2)


def test_idempotency_key() -> None:
    assert check_idempotency_key(None) is None
    assert check_idempotency_key(" ") is None
    assert check_idempotency_key("order-42:retry") == "order-42:retry"
    assert check_idempotency_key("k" * 64) == "k" * 64
    for bad in ("k" * 65, "订单", "a\tb"):
        error(check_idempotency_key, bad)


def test_content() -> None:
    assert check_content("  【duanxin】hi\n") == "【duanxin】hi"
    assert check_content("字" * 1000) == "字" * 1000
    assert "too long" in error(check_content, "字" * 1001).msg
    for blank in (None, "", " \r\n\t"):
        assert error(check_content, blank).msg == "missing parameter: content"


def test_require() -> None:
    assert require({"account": "a"}, "account") == "a"
    assert error(require, {}, "account").msg == "missing parameter: account"
    assert error(require, {"account": "  "}, "account").msg == "missing parameter: account"
    assert "too long" in error(require, {"account": "a" * 200}, "account").msg


# -- properties --------------------------------------------------------------------------

content_types = st.sampled_from(
    [
        None,
        FORM,
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=b",
        "multipart/form-data",
        FORM + "; charset=gbk",
        "",
    ]
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(max_size=100).map(lambda t: b"{" + t.encode("utf-8", "surrogatepass")),
    st.text(max_size=100).map(
        lambda t: (
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
            + t.encode("utf-8", "surrogatepass")
            + b"\r\n--b--\r\n"
        )
    ),
)


@given(
    body=bodies,
    content_type=content_types,
    query=st.one_of(st.text(max_size=50), st.binary(max_size=50)),
)
def test_random_input_only_raises_param_error(
    body: bytes, content_type: str | None, query: str | bytes
) -> None:
    try:
        params = parse_params(body, content_type, query)
    except ParamError as failure:
        assert failure.msg
        assert failure.status == 1
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@given(st.text(max_size=300))
def test_random_mobile_lists_only_raise_param_error(raw: str) -> None:
    try:
        entries = parse_mobiles(raw)
    except ParamError:
        return
    normalised = [e.normalised for e in entries if e.normalised is not None]
    assert len(normalised) == len(set(normalised))
    assert all(len(n) == 11 and n.isdigit() for n in normalised)


def test_version_absent_or_1_is_accepted_anything_else_is_status_4() -> None:
    from duanxin.api.params import UnsupportedVersion, check_version

    for ok in (None, "", "1", "1.0", "V1"):
        check_version(ok)
    with pytest.raises(UnsupportedVersion) as refused:
        check_version("2.0")
    assert refused.value.status == 4
