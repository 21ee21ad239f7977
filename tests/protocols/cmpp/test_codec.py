"""Byte-exact CMPP vectors (shared/protocols/cmpp.md §6, §12) and codec properties."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duanxin.protocols.cmpp import (
    CmppActiveTest,
    CmppActiveTestResp,
    CmppCancel,
    CmppCancelResp,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDeliver,
    CmppDeliverResp,
    CmppQuery,
    CmppQueryResp,
    CmppStatusReport,
    CmppSubmit,
    CmppSubmitResp,
    CmppSubmitResult,
    CmppTerminate,
    CmppTerminateResp,
    CmppVersion,
    Decoder,
    FrameError,
    Pdu,
    authenticator_ismg,
    authenticator_source,
    canonical_id,
    connect_request,
    connect_response,
    decode,
    encode,
    timestamp_of,
    verify_connect,
)
from duanxin.protocols.cmpp.auth import timestamp_text
from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

V20, V30 = CmppVersion.V20, CmppVersion.V30
SP_ID, SECRET, TIMESTAMP = "901234", "secret", 1128143015
AUTH_SOURCE = bytes.fromhex("b5bf1da7aab7a101298f6589827a1768")
NIHAO = bytes.fromhex("4f60597d")
REPORT_MSG_ID = 0xBE39E3C1E2400001


def dump(text: str) -> bytes:
    """Bytes from a hex dump whose lines start with an ``0000:`` offset."""
    return bytes.fromhex("".join(line.split(":", 1)[1] for line in text.strip().splitlines()))


CONNECT_30 = dump("""
0000: 00 00 00 27 00 00 00 01 00 00 00 01 39 30 31 32
0010: 33 34 b5 bf 1d a7 aa b7 a1 01 29 8f 65 89 82 7a
0020: 17 68 30 43 3e 18 a7
""")
CONNECT_RESP_30 = dump("""
0000: 00 00 00 21 80 00 00 01 00 00 00 01 00 00 00 00
0010: 24 50 85 e0 af e1 f4 12 82 ab 51 51 90 66 ca b7
0020: 30
""")
CONNECT_RESP_20 = dump("""
0000: 00 00 00 1e 80 00 00 01 00 00 00 01 00 4c 0b 1f
0010: 38 51 d1 4b 10 8f 7c 1f 36 3c 3e d7 a2 20
""")
SUBMIT_30 = dump("""
0000: 00 00 00 c7 00 00 00 04 00 00 00 02 00 00 00 00
0010: 00 00 00 00 01 01 01 00 4d 54 45 53 54 00 00 00
0020: 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 08 39 30 31 32 33 34 30 31 30
0050: 30 30 30 30 30 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0070: 00 00 00 00 00 00 00 31 30 36 35 37 31 32 33 34
0080: 35 00 00 00 00 00 00 00 00 00 00 00 01 31 33 38
0090: 30 30 31 33 38 30 30 30 00 00 00 00 00 00 00 00
00a0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 4f
00b0: 60 59 7d 00 00 00 00 00 00 00 00 00 00 00 00 00
00c0: 00 00 00 00 00 00 00
""")
SUBMIT_20 = dump("""
0000: 00 00 00 a3 00 00 00 04 00 00 00 02 00 00 00 00
0010: 00 00 00 00 01 01 01 00 4d 54 45 53 54 00 00 00
0020: 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 00 00 00 00 00 00 00 00 00 00 08 39 30 31 32 33
0040: 34 30 31 30 30 30 30 30 30 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 00 00 00 31 30 36 35 37
0070: 31 32 33 34 35 00 00 00 00 00 00 00 00 00 00 00
0080: 01 31 33 38 30 30 31 33 38 30 30 30 00 00 00 00
0090: 00 00 00 00 00 00 04 4f 60 59 7d 00 00 00 00 00
00a0: 00 00 00
""")
REPORT_30 = dump("""
0000: be 39 e3 c1 e2 40 00 01 44 45 4c 49 56 52 44 32
0010: 35 31 31 32 38 31 34 33 30 32 35 31 31 32 38 31
0020: 34 33 31 31 33 38 30 30 31 33 38 30 30 30 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 07
""")
REPORT_20 = dump("""
0000: be 39 e3 c1 e2 40 00 01 44 45 4c 49 56 52 44 32
0010: 35 31 31 32 38 31 34 33 30 32 35 31 31 32 38 31
0020: 34 33 31 31 33 38 30 30 31 33 38 30 30 30 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 07
""")
DELIVER_REPORT_30 = dump("""
0000: 00 00 00 b4 00 00 00 05 00 00 00 10 be 39 f0 89
0010: fb f1 00 09 31 30 36 35 37 31 32 33 34 35 00 00
0020: 00 00 00 00 00 00 00 00 00 4d 54 45 53 54 00 00
0030: 00 00 00 00 00 00 31 33 38 30 30 31 33 38 30 30
0040: 30 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 01 47 be 39 e3 c1 e2 40 00
0060: 01 44 45 4c 49 56 52 44 32 35 31 31 32 38 31 34
0070: 33 30 32 35 31 31 32 38 31 34 33 31 31 33 38 30
0080: 30 31 33 38 30 30 30 00 00 00 00 00 00 00 00 00
0090: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 07
00a0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00b0: 00 00 00 00
""")

CONNECT_PDU = CmppConnect(
    sequence_id=1,
    source_addr=SP_ID,
    authenticator_source=AUTH_SOURCE,
    version=V30,
    timestamp=TIMESTAMP,
)
SUBMIT_PDU = CmppSubmit(
    sequence_id=2,
    registered_delivery=1,
    service_id="MTEST",
    fee_user_type=2,
    msg_fmt=8,
    msg_src=SP_ID,
    fee_type="01",
    fee_code="000000",
    src_id="1065712345",
    dest_terminal_ids=("13800138000",),
    msg_content=NIHAO,
)
REPORT = CmppStatusReport(
    msg_id=REPORT_MSG_ID,
    stat="DELIVRD",
    submit_time="2511281430",
    done_time="2511281431",
    dest_terminal_id="13800138000",
    smsc_sequence=7,
)

# (wire bytes, PDU, decoder version)
SAMPLES: list[tuple[bytes, Pdu, CmppVersion]] = [
    (CONNECT_30, CONNECT_PDU, V30),
    (
        CONNECT_30[:0x22] + b"\x20" + CONNECT_30[0x23:],
        dataclasses.replace(CONNECT_PDU, version=V20),
        V20,
    ),
    (
        CONNECT_RESP_30,
        CmppConnectResp(
            sequence_id=1,
            status=0,
            authenticator_ismg=bytes.fromhex("245085e0afe1f41282ab51519066cab7"),
            version=V30,
        ),
        V30,
    ),
    (
        CONNECT_RESP_20,
        CmppConnectResp(
            sequence_id=1,
            status=0,
            authenticator_ismg=bytes.fromhex("4c0b1f3851d14b108f7c1f363c3ed7a2"),
            version=V20,
        ),
        V20,
    ),
    (SUBMIT_30, SUBMIT_PDU, V30),
    (SUBMIT_20, dataclasses.replace(SUBMIT_PDU, version=V20), V20),
    (
        bytes.fromhex("00000018 80000004 00000002 be39e3c1e2400001 00000000"),
        CmppSubmitResp(sequence_id=2, msg_id=REPORT_MSG_ID, result=0, version=V30),
        V30,
    ),
    (
        bytes.fromhex("00000015 80000004 00000002 be39e3c1e2400001 00"),
        CmppSubmitResp(sequence_id=2, msg_id=REPORT_MSG_ID, result=0, version=V20),
        V20,
    ),
    (
        DELIVER_REPORT_30,
        CmppDeliver(
            sequence_id=0x10,
            msg_id=0xBE39F089FBF10009,
            dest_id="1065712345",
            service_id="MTEST",
            src_terminal_id="13800138000",
            registered_delivery=1,
            msg_content=REPORT_30,
        ),
        V30,
    ),
    (bytes.fromhex("0000000c 00000008 00000003"), CmppActiveTest(sequence_id=3), V30),
    (bytes.fromhex("0000000d 80000008 00000003 00"), CmppActiveTestResp(sequence_id=3), V20),
]
IDS = [
    "connect30",
    "connect20",
    "connect_resp30",
    "connect_resp20",
    "submit30",
    "submit20",
    "submit_resp30",
    "submit_resp20",
    "deliver_report30",
    "active_test",
    "active_test_resp",
]


def decode_all(decoder: Decoder) -> list[Pdu]:
    return list(decoder.pdus())


# ------------------------------------------------------------- golden vectors


@pytest.mark.parametrize(("wire", "pdu", "version"), SAMPLES, ids=IDS)
def test_encode_matches_the_worked_example(wire: bytes, pdu: Pdu, version: int) -> None:
    assert encode(pdu) == wire


@pytest.mark.parametrize(("wire", "pdu", "version"), SAMPLES, ids=IDS)
def test_decode_whole(wire: bytes, pdu: Pdu, version: int) -> None:
    decoder = Decoder(version)
    decoder.feed(wire)
    assert decode_all(decoder) == [pdu]
    assert decoder.buffered == 0


@pytest.mark.parametrize(("wire", "pdu", "version"), SAMPLES, ids=IDS)
def test_decode_one_byte_at_a_time(wire: bytes, pdu: Pdu, version: int) -> None:
    decoder = Decoder(version)
    for byte in wire[:-1]:
        decoder.feed(bytes([byte]))
        assert decode_all(decoder) == []
    decoder.feed(wire[-1:])
    assert decode_all(decoder) == [pdu]


@pytest.mark.parametrize(("wire", "pdu", "version"), SAMPLES, ids=IDS)
def test_decode_leaves_trailing_bytes_buffered(wire: bytes, pdu: Pdu, version: int) -> None:
    decoder = Decoder(version)
    decoder.feed(wire + wire[:5])
    assert decode_all(decoder) == [pdu]
    assert decoder.buffered == 5
    decoder.feed(wire[5:])
    assert decode_all(decoder) == [pdu]


def test_report_vectors() -> None:
    assert REPORT.encode() == REPORT_30
    assert dataclasses.replace(REPORT, version=V20).encode() == REPORT_20
    assert CmppStatusReport.decode(REPORT_30) == REPORT
    assert CmppStatusReport.decode(REPORT_20) == dataclasses.replace(REPORT, version=V20)
    with pytest.raises(RemoteProtocolError):
        CmppStatusReport.decode(REPORT_30[:-1])


def test_decoder_version_switch_applies_to_following_pdus() -> None:
    decoder = Decoder(V30)
    decoder.feed(CONNECT_30[:0x22] + b"\x21" + CONNECT_30[0x23:] + SUBMIT_20)
    pdus = decoder.pdus()
    connect = next(pdus)
    assert isinstance(connect, CmppConnect)
    decoder.version = connect.version  # what the server's dialect does on CONNECT
    assert decoder.version is V20
    assert next(pdus) == dataclasses.replace(SUBMIT_PDU, version=V20)


# ----------------------------------------------------------- authentication


def test_authenticator_source_vector() -> None:
    assert authenticator_source(SP_ID, SECRET, TIMESTAMP) == AUTH_SOURCE


def test_authenticator_ismg_hashes_the_status_as_encoded() -> None:
    assert authenticator_ismg(0, AUTH_SOURCE, SECRET, V30).hex() == (
        "245085e0afe1f41282ab51519066cab7"
    )
    assert authenticator_ismg(0, AUTH_SOURCE, SECRET, V20).hex() == (
        "4c0b1f3851d14b108f7c1f363c3ed7a2"
    )


def test_gocmpp_cross_check_vector() -> None:
    when = datetime(2024, 10, 21, 8, 5, 10)  # naive: already China Standard Time
    connect = dataclasses.replace(connect_request("900001", "888888", when, 0x21), sequence_id=0x17)
    assert encode(connect) == bytes.fromhex(
        "00000027 00000001 00000017 393030303031 90d00c1d517abd0b4f65f6bcf8535d16 21 3cdc73be"
    )


def test_timestamp_is_china_standard_time_and_zero_padded() -> None:
    utc = datetime(2025, 1, 2, 19, 4, 5, tzinfo=UTC)  # 03:04:05 on Jan 3 in Beijing
    assert timestamp_of(utc) == 103030405
    assert timestamp_text(103030405) == "0103030405"
    assert timestamp_of(
        datetime(2025, 11, 28, 14, 30, 15, tzinfo=timezone(timedelta(hours=8)))
    ) == (TIMESTAMP)


def test_verify_connect() -> None:
    assert verify_connect(CONNECT_PDU, SECRET) is CmppConnectStatus.OK
    assert verify_connect(CONNECT_PDU, "wrong") is CmppConnectStatus.AUTHENTICATION_FAILED
    too_high = dataclasses.replace(CONNECT_PDU, version=0x40)
    assert verify_connect(too_high, SECRET) is CmppConnectStatus.VERSION_TOO_HIGH


def test_verify_connect_accepts_short_sp_ids_hashed_padded() -> None:
    padded_digest = authenticator_source("1234\x00\x00", SECRET, TIMESTAMP)
    connect = dataclasses.replace(
        CONNECT_PDU, source_addr="1234", authenticator_source=padded_digest
    )
    assert verify_connect(connect, SECRET) is CmppConnectStatus.OK


def test_connect_response_follows_the_requested_version() -> None:
    assert encode(connect_response(CONNECT_PDU, 0, SECRET)) == CONNECT_RESP_30
    v21 = dataclasses.replace(CONNECT_PDU, version=0x21)
    response = connect_response(v21, 0, SECRET)
    assert response.version == V20
    refused = connect_response(CONNECT_PDU, CmppConnectStatus.AUTHENTICATION_FAILED, SECRET)
    assert refused.authenticator_ismg == bytes(16)


def test_canonical_id() -> None:
    assert canonical_id(REPORT_MSG_ID) == "be39e3c1e2400001"
    assert canonical_id(bytes.fromhex("be39e3c1e2400001")) == "be39e3c1e2400001"
    assert canonical_id(1) == "0000000000000001"


# ------------------------------------------------------------------- errors


def test_unknown_command_is_refused_with_bad_command() -> None:
    with pytest.raises(FrameError) as caught:
        decode(bytes.fromhex("0000000c 00000009 00000005"))
    assert caught.value.status == CmppSubmitResult.BAD_COMMAND
    assert caught.value.sequence == 5


def test_truncated_submit_is_refused_with_bad_length() -> None:
    short = bytearray(SUBMIT_30[:-1])
    short[3] -= 1
    with pytest.raises(FrameError) as caught:
        decode(bytes(short))
    assert caught.value.status == CmppSubmitResult.BAD_LENGTH
    assert caught.value.command_id == 4


def test_overlong_fixed_body_is_refused() -> None:
    with pytest.raises(RemoteProtocolError):
        decode(bytes.fromhex("0000000d 00000008 00000003 00"))


def test_length_outside_limits_is_refused_before_buffering() -> None:
    decoder = Decoder()
    decoder.feed(bytes.fromhex("7fffffff 00000004"))
    with pytest.raises(RemoteProtocolError):
        decode_all(decoder)
    decoder = Decoder()
    decoder.feed(bytes.fromhex("00000008 00000004"))
    with pytest.raises(RemoteProtocolError):
        decode_all(decoder)


@pytest.mark.parametrize(
    "pdu",
    [
        dataclasses.replace(SUBMIT_PDU, service_id="X" * 11),
        dataclasses.replace(SUBMIT_PDU, src_id="号码"),
        dataclasses.replace(SUBMIT_PDU, dest_terminal_ids=()),
        dataclasses.replace(SUBMIT_PDU, msg_content=bytes(256)),
        dataclasses.replace(SUBMIT_PDU, pk_total=256),
        dataclasses.replace(SUBMIT_PDU, version=V20, link_id="x"),
        dataclasses.replace(SUBMIT_PDU, version=V20, dest_terminal_type=1),
        dataclasses.replace(CONNECT_PDU, authenticator_source=b"short"),
        CmppSubmitResp(msg_id=-1),
        CmppSubmitResp(result=256, version=V20),
        CmppActiveTest(sequence_id=1 << 32),
    ],
)
def test_invalid_values_raise_local_protocol_error(pdu: Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode(pdu)


# --------------------------------------------------------------- properties

U8 = st.integers(0, 0xFF)
U32 = st.integers(0, 0xFFFFFFFF)
U64 = st.integers(0, (1 << 64) - 1)
VERSIONS = st.sampled_from([V20, V30])
SEQUENCE = U32
_TEXT_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def text(size: int) -> st.SearchStrategy[str]:
    """Text a fixed field round-trips: printable ASCII, no NUL, no trailing space."""
    return st.text(_TEXT_ALPHABET, max_size=size)


@st.composite
def submits(draw: st.DrawFn) -> CmppSubmit:
    version = draw(VERSIONS)
    v3 = version is V30
    slot = 32 if v3 else 21
    return CmppSubmit(
        sequence_id=draw(SEQUENCE),
        version=version,
        msg_id=draw(U64),
        pk_total=draw(U8),
        pk_number=draw(U8),
        registered_delivery=draw(U8),
        msg_level=draw(U8),
        service_id=draw(text(10)),
        fee_user_type=draw(U8),
        fee_terminal_id=draw(text(slot)),
        fee_terminal_type=draw(U8) if v3 else 0,
        tp_pid=draw(U8),
        tp_udhi=draw(U8),
        msg_fmt=draw(U8),
        msg_src=draw(text(6)),
        fee_type=draw(text(2)),
        fee_code=draw(text(6)),
        valid_time=draw(text(17)),
        at_time=draw(text(17)),
        src_id=draw(text(21)),
        dest_terminal_ids=tuple(draw(st.lists(text(slot), min_size=1, max_size=5))),
        dest_terminal_type=draw(U8) if v3 else 0,
        msg_content=draw(st.binary(max_size=255)),
        link_id=draw(text(20)) if v3 else "",
    )


@st.composite
def delivers(draw: st.DrawFn) -> CmppDeliver:
    version = draw(VERSIONS)
    v3 = version is V30
    return CmppDeliver(
        sequence_id=draw(SEQUENCE),
        version=version,
        msg_id=draw(U64),
        dest_id=draw(text(21)),
        service_id=draw(text(10)),
        tp_pid=draw(U8),
        tp_udhi=draw(U8),
        msg_fmt=draw(U8),
        src_terminal_id=draw(text(32 if v3 else 21)),
        src_terminal_type=draw(U8) if v3 else 0,
        registered_delivery=draw(U8),
        msg_content=draw(st.binary(max_size=255)),
        link_id=draw(text(20)) if v3 else "",
    )


@st.composite
def versioned(draw: st.DrawFn, cls: type, **fields: st.SearchStrategy[object]) -> object:
    version = draw(VERSIONS)
    result = U32 if version is V30 else U8
    values = {name: draw(strategy) for name, strategy in fields.items()}
    values.update(
        {name: draw(result) for name in ("result", "success_id") if name in cls.__slots__}
    )
    return cls(sequence_id=draw(SEQUENCE), version=version, **values)


def _resp_with_result(cls: type) -> st.SearchStrategy[object]:
    return versioned(cls, msg_id=U64)


PDUS: dict[str, st.SearchStrategy[object]] = {
    "connect": st.builds(
        CmppConnect,
        sequence_id=SEQUENCE,
        source_addr=text(6),
        authenticator_source=st.binary(min_size=16, max_size=16),
        version=U8,
        timestamp=U32,
    ),
    "connect_resp": st.one_of(
        st.builds(
            CmppConnectResp,
            sequence_id=SEQUENCE,
            status=U32,
            authenticator_ismg=st.binary(min_size=16, max_size=16),
            version=st.integers(0x30, 0xFF),
        ),
        st.builds(
            CmppConnectResp,
            sequence_id=SEQUENCE,
            status=U8,
            authenticator_ismg=st.binary(min_size=16, max_size=16),
            version=st.integers(0, 0x2F),
        ),
    ),
    "terminate": st.builds(CmppTerminate, sequence_id=SEQUENCE),
    "terminate_resp": st.builds(CmppTerminateResp, sequence_id=SEQUENCE),
    "submit": submits(),
    "submit_resp": _resp_with_result(CmppSubmitResp),
    "deliver": delivers(),
    "deliver_resp": _resp_with_result(CmppDeliverResp),
    "query": st.builds(
        CmppQuery, sequence_id=SEQUENCE, time=text(8), query_type=U8, query_code=text(10)
    ),
    "query_resp": st.builds(
        CmppQueryResp,
        sequence_id=SEQUENCE,
        time=text(8),
        query_type=U8,
        query_code=text(10),
        mt_tl_msg=U32,
        mt_tl_usr=U32,
        mt_scs=U32,
        mt_wt=U32,
        mt_fl=U32,
        mo_scs=U32,
        mo_wt=U32,
        mo_fl=U32,
    ),
    "cancel": st.builds(CmppCancel, sequence_id=SEQUENCE, msg_id=U64),
    "cancel_resp": versioned(CmppCancelResp),
    "active_test": st.builds(CmppActiveTest, sequence_id=SEQUENCE),
    "active_test_resp": st.builds(CmppActiveTestResp, sequence_id=SEQUENCE),
}


def _layout(pdu: object) -> int:
    return getattr(pdu, "version", V30)


@pytest.mark.parametrize("name", sorted(PDUS))
def test_every_pdu_round_trips(name: str) -> None:
    @settings(max_examples=150)
    @given(PDUS[name])
    def round_trip(pdu: Pdu) -> None:
        wire = encode(pdu)
        decoder = Decoder(_layout(pdu))
        decoder.feed(wire)
        assert decode_all(decoder) == [pdu]

    round_trip()


@given(
    st.builds(
        CmppStatusReport,
        version=VERSIONS,
        msg_id=U64,
        stat=text(7),
        submit_time=text(10),
        done_time=text(10),
        dest_terminal_id=text(21),
        smsc_sequence=U32,
    )
)
def test_status_report_round_trips(report: CmppStatusReport) -> None:
    assert CmppStatusReport.decode(report.encode()) == report


@settings(max_examples=500)
@given(st.binary(max_size=400), VERSIONS)
def test_arbitrary_bytes_give_pdus_or_protocol_error(data: bytes, version: int) -> None:
    decoder = Decoder(version)
    decoder.feed(data)
    with contextlib.suppress(ProtocolError):
        decode_all(decoder)


@settings(max_examples=300)
@given(st.sampled_from([w for w, _, _ in SAMPLES]), st.data(), VERSIONS)
def test_corrupted_samples_give_pdus_or_protocol_error(
    wire: bytes, data: st.DataObject, version: int
) -> None:
    mutated = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(U8)
    decoder = Decoder(version)
    decoder.feed(bytes(mutated))
    with contextlib.suppress(ProtocolError):
        decode_all(decoder)


def test_public_surface() -> None:
    import duanxin.protocols.cmpp as cmpp

    assert sorted(cmpp.__all__) == sorted(set(cmpp.__all__))
    for name in cmpp.__all__:
        assert hasattr(cmpp, name), name
    for name in ("encode", "Decoder", "open_client", "canonical_id", "CommandId"):
        assert name in cmpp.__all__
