"""SMGP 3.0 codec: the notes' worked PDUs byte for byte, and round-trip properties."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from duanxin.protocols.smgp import (
    Decoder,
    FrameError,
    Pdu,
    SmgpActiveTest,
    SmgpActiveTestResp,
    SmgpDeliver,
    SmgpDeliverResp,
    SmgpExit,
    SmgpExitResp,
    SmgpLogin,
    SmgpLoginResp,
    SmgpQuery,
    SmgpQueryResp,
    SmgpReport,
    SmgpStatus,
    SmgpSubmit,
    SmgpSubmitResp,
    Tlv,
    TlvTag,
    build_login,
    canonical_id,
    client_authenticator,
    decode_report,
    encode,
    encode_report,
    find_tlv,
    login_response,
    login_timestamp,
    make_msg_id,
    server_authenticator,
    tlv_int,
    verify_login,
)


def hexdump(text: str) -> bytes:
    """Bytes from the notes' ``0000: 00 01 ...`` dumps."""
    return bytes.fromhex(" ".join(line.split(":", 1)[1] for line in text.strip().splitlines()))


WHEN = datetime(2025, 11, 28, 14, 30, 15)
AUTH_CLIENT = bytes.fromhex("af7c05fe7cd44959c09d113ead9a0ef0")

LOGIN_BYTES = hexdump("""
0000: 00 00 00 2a 00 00 00 01 00 00 00 01 31 30 36 39
0010: 31 32 33 34 af 7c 05 fe 7c d4 49 59 c0 9d 11 3e
0020: ad 9a 0e f0 02 43 3e 18 a7 30
""")
LOGIN = SmgpLogin(
    sequence_id=1,
    client_id="10691234",
    authenticator_client=AUTH_CLIENT,
    login_mode=2,
    timestamp=1128143015,
    client_version=0x30,
)

LOGIN_RESP_BYTES = hexdump("""
0000: 00 00 00 21 80 00 00 01 00 00 00 01 00 00 00 00
0010: 83 e2 80 10 0e ec db f0 c0 d9 ba 7c 1f 60 20 22
0020: 30
""")
LOGIN_RESP = SmgpLoginResp(
    sequence_id=1,
    status=0,
    authenticator_server=bytes.fromhex("83e280100eecdbf0c0d9ba7c1f602022"),
    server_version=0x30,
)

SUBMIT_BYTES = hexdump("""
0000: 00 00 00 97 00 00 00 02 00 00 00 02 06 01 01 4d
0010: 54 45 53 54 00 00 00 00 00 30 30 30 30 30 30 30
0020: 30 30 30 30 30 30 30 08 00 00 00 00 00 00 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00 00 00 31 30 36 39 31 32
0050: 33 34 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0070: 00 00 00 00 01 31 33 33 30 30 31 33 33 30 30 30
0080: 00 00 00 00 00 00 00 00 00 00 04 4f 60 59 7d 00
0090: 00 00 00 00 00 00 00
""")
SUBMIT = SmgpSubmit(
    sequence_id=2,
    msg_type=6,
    need_report=1,
    priority=1,
    service_id="MTEST",
    fee_type="00",
    fee_code="000000",
    fixed_fee="000000",
    msg_format=8,
    src_term_id="10691234",
    charge_term_id="",
    dest_term_ids=("13300133000",),
    msg_content="你好".encode("utf-16-be"),
)

SUBMIT_RESP_BYTES = hexdump("""
0000: 00 00 00 1a 80 00 00 02 00 00 00 02 01 00 61 11
0010: 28 14 30 01 23 45 00 00 00 00
""")
REPORTED_ID = bytes.fromhex("01006111281430012345")
SUBMIT_RESP = SmgpSubmitResp(sequence_id=2, msg_id=REPORTED_ID, status=0)

REPORT_DELIVER_BYTES = hexdump("""
0000: 00 00 00 d3 00 00 00 03 00 00 00 21 01 00 61 11
0010: 28 14 31 00 00 77 01 00 32 30 32 35 31 31 32 38
0020: 31 34 33 31 30 32 31 33 33 30 30 31 33 33 30 30
0030: 30 00 00 00 00 00 00 00 00 00 00 31 30 36 39 31
0040: 32 33 34 00 00 00 00 00 00 00 00 00 00 00 00 00
0050: 7a 69 64 3a 01 00 61 11 28 14 30 01 23 45 20 73
0060: 75 62 3a 30 30 31 20 64 6c 76 72 64 3a 30 30 31
0070: 20 73 75 62 6d 69 74 20 64 61 74 65 3a 32 35 31
0080: 31 32 38 31 34 33 30 20 64 6f 6e 65 20 64 61 74
0090: 65 3a 32 35 31 31 32 38 31 34 33 31 20 73 74 61
00a0: 74 3a 44 45 4c 49 56 52 44 20 65 72 72 3a 30 30
00b0: 30 20 74 65 78 74 3a 00 00 00 00 00 00 00 00 00
00c0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00d0: 00 00 00
""")
REPORT = SmgpReport(
    msg_id=REPORTED_ID,
    sub="001",
    dlvrd="001",
    submit_date="2511281430",
    done_date="2511281431",
    stat="DELIVRD",
    err="000",
    text=b"",
)
REPORT_DELIVER = SmgpDeliver(
    sequence_id=0x21,
    msg_id=bytes.fromhex("01006111281431000077"),
    is_report=1,
    msg_format=0,
    recv_time="20251128143102",
    src_term_id="13300133000",
    dest_term_id="10691234",
    msg_content=REPORT_DELIVER_BYTES[0x51 : 0x51 + 0x7A],
)

SAMPLES: list[tuple[Pdu, bytes]] = [
    (LOGIN, LOGIN_BYTES),
    (LOGIN_RESP, LOGIN_RESP_BYTES),
    (SUBMIT, SUBMIT_BYTES),
    (SUBMIT_RESP, SUBMIT_RESP_BYTES),
    (REPORT_DELIVER, REPORT_DELIVER_BYTES),
    (SmgpActiveTest(sequence_id=7), bytes.fromhex("0000000c0000000400000007")),
    (SmgpActiveTestResp(sequence_id=7), bytes.fromhex("0000000c8000000400000007")),
    (SmgpExit(sequence_id=8), bytes.fromhex("0000000c0000000600000008")),
    (SmgpExitResp(sequence_id=8), bytes.fromhex("0000000c8000000600000008")),
]
IDS = [type(pdu).__name__ for pdu, _ in SAMPLES]


def decode_all(data: bytes, decoder: Decoder | None = None) -> list[Pdu]:
    decoder = decoder or Decoder()
    decoder.feed(data)
    return list(decoder.pdus())


# ------------------------------------------------------------- golden vectors


@pytest.mark.parametrize(("pdu", "wire"), SAMPLES, ids=IDS)
def test_encode_matches_the_notes(pdu: Pdu, wire: bytes) -> None:
    assert encode(pdu) == wire


@pytest.mark.parametrize(("pdu", "wire"), SAMPLES, ids=IDS)
def test_decode_whole(pdu: Pdu, wire: bytes) -> None:
    assert decode_all(wire) == [pdu]


@pytest.mark.parametrize(("pdu", "wire"), SAMPLES, ids=IDS)
def test_decode_one_byte_at_a_time(pdu: Pdu, wire: bytes) -> None:
    decoder = Decoder()
    seen: list[Pdu] = []
    for index in range(len(wire)):
        decoder.feed(wire[index : index + 1])
        seen.extend(decoder.pdus())
        if index < len(wire) - 1:
            assert seen == []
    assert seen == [pdu]
    assert decoder.buffered == 0


@pytest.mark.parametrize(("pdu", "wire"), SAMPLES, ids=IDS)
def test_decode_leaves_trailing_bytes_buffered(pdu: Pdu, wire: bytes) -> None:
    decoder = Decoder()
    assert decode_all(wire + wire[:5], decoder) == [pdu]
    assert decoder.buffered == 5
    assert decode_all(wire[5:], decoder) == [pdu]
    assert decoder.buffered == 0


def test_login_digests_match_the_notes() -> None:
    assert login_timestamp(WHEN) == 1128143015 == 0x433E18A7
    assert client_authenticator("10691234", "secret", 1128143015) == AUTH_CLIENT
    assert server_authenticator(0, AUTH_CLIENT, "secret") == LOGIN_RESP.authenticator_server
    built = build_login("10691234", "secret", WHEN)
    assert encode(replace(built, sequence_id=1)) == LOGIN_BYTES
    assert login_response(LOGIN, "secret", SmgpStatus.OK) == LOGIN_RESP


def test_login_time_is_china_standard_time() -> None:
    utc = datetime(2025, 11, 28, 6, 30, 15, tzinfo=UTC)
    assert login_timestamp(utc) == 1128143015
    assert login_timestamp(datetime(2025, 3, 1, tzinfo=timezone(timedelta(hours=8)))) == 301000000


def test_verify_login() -> None:
    assert verify_login(LOGIN, "secret") is SmgpStatus.OK
    assert verify_login(LOGIN, "wrong") is SmgpStatus.AUTHENTICATION_ERROR
    newer = replace(LOGIN, client_version=0x31)
    assert verify_login(newer, "secret") is SmgpStatus.VERSION_TOO_HIGH
    refused = login_response(LOGIN, "wrong", SmgpStatus.AUTHENTICATION_ERROR)
    assert refused.status == 21
    assert refused.authenticator_server == bytes(16)


def test_report_from_the_notes() -> None:
    content = REPORT_DELIVER.msg_content
    assert len(content) == 122
    assert decode_report(content) == REPORT
    assert encode_report(REPORT) == content
    assert canonical_id(decode_report(content).msg_id) == "01006111281430012345"


def test_report_id_is_sliced_by_position() -> None:
    awkward = bytes.fromhex("20003a00203a20202000")  # spaces, colons, NULs
    report = SmgpReport(
        msg_id=awkward,
        submit_date="2511281430",
        done_date="2511281431",
        stat="UNDELIV",
        err="006",
        text=b"004hi",
    )
    assert decode_report(encode_report(report)) == report


def test_report_labels_are_case_insensitive() -> None:
    content = (
        b"Id:" + REPORTED_ID + b" Sub:001 Dlvrd:001 Submit_date:2511281430"
        b" done_date:2511281431 Stat:EXPIRED Err:001 Txt:005hello"
    )
    report = decode_report(content)
    assert (report.stat, report.err, report.text) == ("EXPIRED", "001", b"005hello")
    assert (report.submit_date, report.done_date) == ("2511281430", "2511281431")
    assert report.msg_id == REPORTED_ID


@pytest.mark.parametrize(
    "content",
    [b"", b"id:short", b"xx:" + REPORTED_ID + b" stat:DELIVRD", b"id:" + REPORTED_ID + b" sub:001"],
)
def test_unreadable_reports_raise_protocol_errors(content: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_report(content)


def test_msg_id_layout_from_the_notes() -> None:
    msg_id = make_msg_id("010061", datetime(2025, 1, 16, 17, 0), 12345)
    assert msg_id == bytes.fromhex("01006101161700012345")
    assert canonical_id(msg_id) == "01006101161700012345"


def test_long_segment_tlvs_from_the_notes() -> None:
    tlvs = (Tlv.of(TlvTag.TP_UDHI, 1), Tlv.of(TlvTag.PK_TOTAL, 2), Tlv.of(TlvTag.PK_NUMBER, 1))
    segment = replace(SUBMIT, tlvs=tlvs)
    wire = encode(segment)
    assert wire[-15:] == bytes.fromhex("00 02 00 01 01  00 09 00 01 02  00 0a 00 01 01")
    assert wire[:4] == (151 + 15).to_bytes(4, "big")
    decoded = decode_all(wire)[0]
    assert isinstance(decoded, SmgpSubmit)
    assert tlv_int(decoded.tlvs, TlvTag.PK_TOTAL) == 2
    assert Tlv.of(TlvTag.LINK_ID, "abc").value == b"abc".ljust(20, b"\x00")


def test_unknown_tlvs_are_kept() -> None:
    deliver = replace(REPORT_DELIVER, tlvs=(Tlv(0x7777, b"\x01\x02"),))
    decoded = decode_all(encode(deliver))[0]
    assert decoded == deliver
    assert isinstance(decoded, SmgpDeliver)
    assert find_tlv(decoded.tlvs, 0x7777) == Tlv(0x7777, b"\x01\x02")
    assert decoded.tlvs[0].name == "0x7777"


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        (bytes.fromhex("0000000c0000007700000001"), SmgpStatus.BAD_COMMAND),
        (bytes.fromhex("0000000c0000000500000001"), SmgpStatus.BAD_COMMAND),  # Forward
        (LOGIN_BYTES[:4].replace(b"\x2a", b"\x29") + LOGIN_BYTES[4:-1], SmgpStatus.BAD_STRUCTURE),
        (bytes.fromhex("0000000d000000040000000100"), SmgpStatus.BAD_STRUCTURE),
        (b"\x00\x00\x00\x96" + SUBMIT_BYTES[4:-1], SmgpStatus.BAD_STRUCTURE),
        (b"\x00\x00\x00\x98" + SUBMIT_BYTES[4:] + b"\x00", SmgpStatus.BAD_STRUCTURE),
        (b"\x00\x00\x00\x99" + SUBMIT_BYTES[4:] + b"\x00\x02", SmgpStatus.BAD_STRUCTURE),
    ],
    ids=[
        "unknown",
        "unsupported",
        "short-login",
        "active-test-body",
        "short-submit",
        "stray-byte",
        "truncated-tlv",
    ],
)
def test_malformed_bodies_raise_remote_errors(wire: bytes, status: int) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        decode_all(wire)
    assert caught.value.status == status


def test_body_errors_name_the_command_and_sequence() -> None:
    with pytest.raises(FrameError) as caught:
        decode_all(b"\x00\x00\x00\x96" + SUBMIT_BYTES[4:-1])
    assert (caught.value.command_id, caught.value.sequence) == (2, 2)


@pytest.mark.parametrize("length", [0, 11, 1_000_000])
def test_absurd_lengths_are_refused_before_buffering(length: int) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_all(length.to_bytes(4, "big") + bytes(8))


@pytest.mark.parametrize(
    "pdu",
    [
        SmgpSubmit(service_id="TOO-LONG-SERVICE"),
        SmgpSubmitResp(msg_id=b"short", status=0),
        SmgpSubmitResp(msg_id=REPORTED_ID, status=-1),
        SmgpSubmitResp(msg_id=REPORTED_ID, status=1 << 32),
        SmgpLogin(client_id="123456789", authenticator_client=AUTH_CLIENT, timestamp=1),
        SmgpLogin(client_id="1069", authenticator_client=AUTH_CLIENT, timestamp=1, login_mode=256),
        SmgpSubmit(service_id="ÄÖ"),
        SmgpSubmit(msg_content=bytes(256)),
        SmgpSubmit(dest_term_ids=("1",) * 101),
        SmgpSubmit(dest_term_ids=("1" * 22,)),
        SmgpSubmit(tlvs=(Tlv(1, bytes(0x10000)),)),
    ],
)
def test_invalid_values_raise_local_errors(pdu: Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode(pdu)


# -------------------------------------------------------------- properties

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)
msg_ids = st.binary(min_size=10, max_size=10)
digests = st.binary(min_size=16, max_size=16)


def text(size: int) -> st.SearchStrategy[str]:
    """Fixed-field text that survives a round trip: ASCII, no NUL, no trailing space."""
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=size)


tlvs = st.lists(st.builds(Tlv, st.integers(0, 0xFFFF), st.binary(max_size=30)), max_size=4).map(
    tuple
)
contents = st.binary(max_size=255)

PDU_STRATEGIES: dict[type, st.SearchStrategy[Pdu]] = {
    SmgpLogin: st.builds(
        SmgpLogin,
        sequence_id=u32,
        client_id=text(8),
        authenticator_client=digests,
        login_mode=u8,
        timestamp=u32,
        client_version=u8,
    ),
    SmgpLoginResp: st.builds(
        SmgpLoginResp, sequence_id=u32, status=u32, authenticator_server=digests, server_version=u8
    ),
    SmgpSubmit: st.builds(
        SmgpSubmit,
        sequence_id=u32,
        msg_type=u8,
        need_report=u8,
        priority=u8,
        service_id=text(10),
        fee_type=text(2),
        fee_code=text(6),
        fixed_fee=text(6),
        msg_format=u8,
        valid_time=text(17),
        at_time=text(17),
        src_term_id=text(21),
        charge_term_id=text(21),
        dest_term_ids=st.lists(text(21), max_size=100).map(tuple),
        msg_content=contents,
        tlvs=tlvs,
    ),
    SmgpSubmitResp: st.builds(SmgpSubmitResp, sequence_id=u32, msg_id=msg_ids, status=u32),
    SmgpDeliver: st.builds(
        SmgpDeliver,
        sequence_id=u32,
        msg_id=msg_ids,
        is_report=u8,
        msg_format=u8,
        recv_time=text(14),
        src_term_id=text(21),
        dest_term_id=text(21),
        msg_content=contents,
        tlvs=tlvs,
    ),
    SmgpDeliverResp: st.builds(SmgpDeliverResp, sequence_id=u32, msg_id=msg_ids, status=u32),
    SmgpActiveTest: st.builds(SmgpActiveTest, sequence_id=u32),
    SmgpActiveTestResp: st.builds(SmgpActiveTestResp, sequence_id=u32),
    SmgpExit: st.builds(SmgpExit, sequence_id=u32),
    SmgpExitResp: st.builds(SmgpExitResp, sequence_id=u32),
    SmgpQuery: st.builds(
        SmgpQuery, sequence_id=u32, query_time=text(8), query_type=u8, query_code=text(10)
    ),
    SmgpQueryResp: st.builds(
        SmgpQueryResp,
        sequence_id=u32,
        query_time=text(8),
        query_type=u8,
        query_code=text(10),
        mt_tlmsg=u32,
        mt_tlusr=u32,
        mt_scs=u32,
        mt_wt=u32,
        mt_fl=u32,
        mo_scs=u32,
        mo_wt=u32,
        mo_fl=u32,
    ),
}


def test_every_pdu_type_has_a_strategy() -> None:
    from typing import get_args

    assert set(PDU_STRATEGIES) == set(get_args(Pdu))


@pytest.mark.parametrize("pdu_type", list(PDU_STRATEGIES), ids=lambda t: t.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(pdu_type: type, data: st.DataObject) -> None:
    pdu = data.draw(PDU_STRATEGIES[pdu_type])
    assert decode_all(encode(pdu)) == [pdu]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(*PDU_STRATEGIES.values()), max_size=5), st.integers(1, 40))
def test_stream_of_pdus_in_any_chunking(pdus: list[Pdu], chunk: int) -> None:
    wire = b"".join(encode(pdu) for pdu in pdus)
    decoder = Decoder()
    seen: list[Pdu] = []
    for start in range(0, len(wire), chunk):
        decoder.feed(wire[start : start + chunk])
        seen.extend(decoder.pdus())
    assert seen == pdus


reports = st.builds(
    SmgpReport,
    msg_id=msg_ids,
    sub=text(3),
    dlvrd=text(3),
    submit_date=text(10),
    done_date=text(10),
    stat=text(7),
    err=text(3),
    text=st.binary(max_size=20).filter(lambda b: not b.endswith(b"\x00")),
)


@settings(max_examples=100, deadline=None)
@given(reports)
def test_report_round_trip(report: SmgpReport) -> None:
    assert decode_report(encode_report(report)) == report


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_all(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([wire for _, wire in SAMPLES]), st.data())
def test_mutated_samples_raise_only_protocol_errors(wire: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(4, len(wire) - 1))
    mutated = bytearray(wire)
    mutated[index] = data.draw(u8)
    with contextlib.suppress(ProtocolError):
        decode_all(bytes(mutated))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=140))
def test_arbitrary_report_content_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_report(data)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Tlv.of(TlvTag.PK_TOTAL, 300),
        lambda: Tlv.of(TlvTag.MSG_SRC, "123456789"),
        lambda: Tlv.of(TlvTag.SRC_TERM_PSEUDO, "中"),
        lambda: build_login("中国电信", "secret", WHEN),
    ],
    ids=["tlv-int", "tlv-overlong", "tlv-non-ascii", "login-non-ascii"],
)
def test_invalid_builder_input_raises_local_errors(build: Callable[[], object]) -> None:
    with pytest.raises(LocalProtocolError):
        build()


def test_decoded_client_id_verifies_byte_for_byte() -> None:
    # A ClientID with high bytes (never sent by encode, which is ASCII-only) still hashes
    # as the bytes received instead of raising.
    raw_id = b"\xe9\xff1234"
    digest = hashlib.md5(raw_id + bytes(7) + b"secret" + b"1128143015").digest()
    wire = LOGIN_BYTES[:12] + raw_id.ljust(8, b"\x00") + digest + LOGIN_BYTES[36:]
    decoded = decode_all(wire)[0]
    assert isinstance(decoded, SmgpLogin)
    assert verify_login(decoded, "secret") is SmgpStatus.OK
