"""SGIP 1.2 codec: the notes' worked PDUs byte for byte, round trips, and hostile bytes."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from duanxin.protocols.core.state import Direction, Kind
from duanxin.protocols.sgip import (
    Bind,
    BindResp,
    CommandId,
    Decoder,
    Deliver,
    DeliverResp,
    Pdu,
    Report,
    ReportResp,
    Result,
    SequenceNumber,
    Submit,
    SubmitResp,
    Trace,
    TraceNode,
    TraceResp,
    Unbind,
    UnbindResp,
    UserRpt,
    UserRptResp,
    encode,
)
from duanxin.protocols.sgip.client import canonical_id, report_stat
from duanxin.protocols.sgip.codec import MAX_PDU_SIZE, decode
from duanxin.protocols.sgip.dialect import COUNTER_MAX, SgipDialect
from duanxin.protocols.sgip.pdu import SP_PAYS, sequence_time


def _hex(dump: str) -> bytes:
    """Bytes of a hex dump in the notes' layout (``0000: 00 01 ...`` per line)."""
    return bytes.fromhex("".join(line.split(":", 1)[1] for line in dump.strip().splitlines()))


SP_NODE, SMG_NODE, TIME = 3010012345, 101001, 1128143015

BIND = Bind(
    sequence=SequenceNumber(SP_NODE, TIME, 1),
    login_type=1,
    login_name="spuser",
    login_password="sppass",
)
BIND_BYTES = _hex("""
0000: 00 00 00 3d 00 00 00 01 b3 69 24 b9 43 3e 18 a7
0010: 00 00 00 01 01 73 70 75 73 65 72 00 00 00 00 00
0020: 00 00 00 00 00 73 70 70 61 73 73 00 00 00 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00
""")
BIND_RESP = BindResp(sequence=SequenceNumber(SP_NODE, TIME, 1), result=0)
BIND_RESP_BYTES = _hex("""
0000: 00 00 00 1d 80 00 00 01 b3 69 24 b9 43 3e 18 a7
0010: 00 00 00 01 00 00 00 00 00 00 00 00 00
""")
SUBMIT = Submit(
    sequence=SequenceNumber(SP_NODE, TIME, 2),
    sp_number="10655012345",
    charge_number=SP_PAYS,
    user_numbers=("8613012345678",),
    corp_id="12345",
    service_type="MTEST",
    fee_type=1,
    fee_value="0",
    given_value="0",
    agent_flag=0,
    morelateto_mt_flag=2,
    priority=0,
    report_flag=1,
    message_coding=8,
    message_type=0,
    message_content="你好".encode("utf-16-be"),
)
SUBMIT_BYTES = _hex("""
0000: 00 00 00 a8 00 00 00 03 b3 69 24 b9 43 3e 18 a7
0010: 00 00 00 02 31 30 36 35 35 30 31 32 33 34 35 00
0020: 00 00 00 00 00 00 00 00 00 30 30 30 30 30 30 30
0030: 30 30 30 30 30 30 30 30 30 30 30 30 30 30 01 38
0040: 36 31 33 30 31 32 33 34 35 36 37 38 00 00 00 00
0050: 00 00 00 00 31 32 33 34 35 4d 54 45 53 54 00 00
0060: 00 00 00 01 30 00 00 00 00 00 30 00 00 00 00 00
0070: 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0090: 00 00 00 01 00 00 08 00 00 00 00 04 4f 60 59 7d
00a0: 00 00 00 00 00 00 00 00
""")
SUBMIT_RESP = SubmitResp(sequence=SequenceNumber(SP_NODE, TIME, 2), result=0)
SUBMIT_RESP_BYTES = _hex("""
0000: 00 00 00 1d 80 00 00 03 b3 69 24 b9 43 3e 18 a7
0010: 00 00 00 02 00 00 00 00 00 00 00 00 00
""")
REPORT = Report(
    sequence=SequenceNumber(SMG_NODE, 1128143102, 88),
    submit_sequence=SequenceNumber(SP_NODE, TIME, 2),
    report_type=0,
    user_number="8613012345678",
    state=0,
    error_code=0,
)
REPORT_BYTES = _hex("""
0000: 00 00 00 40 00 00 00 05 00 01 8a 89 43 3e 18 fe
0010: 00 00 00 58 b3 69 24 b9 43 3e 18 a7 00 00 00 02
0020: 00 38 36 31 33 30 31 32 33 34 35 36 37 38 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
""")
DELIVER = Deliver(
    sequence=SequenceNumber(SMG_NODE, 1128143200, 89),
    user_number="8613012345678",
    sp_number="1065501234501",
    tp_pid=0,
    tp_udhi=0,
    message_coding=15,
    message_content="好".encode("gb18030"),
)
DELIVER_BYTES = _hex("""
0000: 00 00 00 4f 00 00 00 04 00 01 8a 89 43 3e 19 60
0010: 00 00 00 59 38 36 31 33 30 31 32 33 34 35 36 37
0020: 38 00 00 00 00 00 00 00 00 31 30 36 35 35 30 31
0030: 32 33 34 35 30 31 00 00 00 00 00 00 00 00 00 00
0040: 0f 00 00 00 02 ba c3 00 00 00 00 00 00 00 00
""")

GOLDEN: list[tuple[Pdu, bytes]] = [
    (BIND, BIND_BYTES),
    (BIND_RESP, BIND_RESP_BYTES),
    (SUBMIT, SUBMIT_BYTES),
    (SUBMIT_RESP, SUBMIT_RESP_BYTES),
    (REPORT, REPORT_BYTES),
    (DELIVER, DELIVER_BYTES),
]
GOLDEN_IDS = [type(pdu).__name__ for pdu, _ in GOLDEN]


def _decode_all(decoder: Decoder) -> list[Pdu]:
    return list(decoder.pdus())


@pytest.mark.parametrize(("pdu", "wire"), GOLDEN, ids=GOLDEN_IDS)
def test_encode_matches_worked_example(pdu: Pdu, wire: bytes) -> None:
    assert encode(pdu) == wire


@pytest.mark.parametrize(("pdu", "wire"), GOLDEN, ids=GOLDEN_IDS)
def test_decode_whole(pdu: Pdu, wire: bytes) -> None:
    decoder = Decoder()
    decoder.feed(wire)
    assert _decode_all(decoder) == [pdu]
    assert decoder.buffered == 0


@pytest.mark.parametrize(("pdu", "wire"), GOLDEN, ids=GOLDEN_IDS)
def test_decode_one_byte_at_a_time(pdu: Pdu, wire: bytes) -> None:
    decoder = Decoder()
    for index in range(len(wire) - 1):
        decoder.feed(wire[index : index + 1])
        assert _decode_all(decoder) == []
    decoder.feed(wire[-1:])
    assert _decode_all(decoder) == [pdu]


@pytest.mark.parametrize(("pdu", "wire"), GOLDEN, ids=GOLDEN_IDS)
def test_decode_leaves_trailing_bytes(pdu: Pdu, wire: bytes) -> None:
    decoder = Decoder()
    decoder.feed(wire + wire[:7])
    assert _decode_all(decoder) == [pdu]
    assert decoder.buffered == 7
    decoder.feed(wire[7:])
    assert _decode_all(decoder) == [pdu]


def test_decode_is_lazy_and_keeps_order() -> None:
    decoder = Decoder()
    decoder.feed(b"".join(wire for _, wire in GOLDEN))
    pdus = decoder.pdus()
    assert next(pdus) == BIND
    assert list(pdus) == [pdu for pdu, _ in GOLDEN[1:]]


def test_stopping_early_does_not_repeat_a_pdu() -> None:
    decoder = Decoder()
    decoder.feed(BIND_BYTES + BIND_RESP_BYTES + SUBMIT_BYTES[:9])
    for pdu in decoder.pdus():
        assert pdu == BIND
        break
    assert list(decoder.pdus()) == [BIND_RESP]
    decoder.feed(SUBMIT_BYTES[9:])
    assert list(decoder.pdus()) == [SUBMIT]


def test_worked_example_fields() -> None:
    assert SUBMIT_BYTES[8:12] == bytes.fromhex("b36924b9")
    assert len(SUBMIT_BYTES) == 143 + 21 * 1 + 4
    assert canonical_id(REPORT.submit_sequence) == canonical_id(SUBMIT.sequence)
    assert canonical_id(SUBMIT.sequence) == "3010012345:1128143015:2"
    assert sequence_time(datetime(2026, 11, 28, 14, 30, 15)) == TIME
    assert sequence_time(datetime(2026, 1, 2, 3, 4, 5)) == 102030405
    assert canonical_id(SequenceNumber(1, 102030405, 0)) == "1:0102030405:0"


# ------------------------------------------------------------------ errors


def _frame(command: int, body: bytes) -> bytes:
    return (20 + len(body)).to_bytes(4, "big") + command.to_bytes(4, "big") + bytes(12) + body


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        (_frame(0x00000006, bytes(9)), Result.FUNCTION_NOT_PROVIDED),  # AddSP: GNS only
        (_frame(0x12345678, b""), Result.FUNCTION_NOT_PROVIDED),
        (_frame(CommandId.BIND, bytes(40)), Result.MESSAGE_LENGTH_ERROR),  # short
        (_frame(CommandId.BIND_RESP, bytes(10)), Result.MESSAGE_LENGTH_ERROR),  # overlong
        (_frame(CommandId.UNBIND, b"\x00"), Result.MESSAGE_LENGTH_ERROR),
        (SUBMIT_BYTES[:62] + b"\x00" + SUBMIT_BYTES[63:], Result.PARAMETER_FORMAT),  # 0 users
        (SUBMIT_BYTES[:155] + b"\xff" + SUBMIT_BYTES[156:], Result.MESSAGE_LENGTH_ERROR),
        (b"\x00\x00\x00\x05abcdefgh", Result.MESSAGE_LENGTH_ERROR),  # under the header size
        ((MAX_PDU_SIZE + 1).to_bytes(4, "big"), Result.MESSAGE_LENGTH_ERROR),
        (_frame(CommandId.TRACE_RESP, bytes(20)), Result.MESSAGE_LENGTH_ERROR),
    ],
)
def test_decode_errors_carry_sgip_result(wire: bytes, status: int) -> None:
    decoder = Decoder()
    decoder.feed(wire)
    with pytest.raises(RemoteProtocolError) as caught:
        _decode_all(decoder)
    assert caught.value.status == status


def test_decode_rejects_length_mismatch() -> None:
    with pytest.raises(RemoteProtocolError):
        decode(BIND_BYTES[:-1])
    with pytest.raises(RemoteProtocolError):
        decode(BIND_BYTES[:10])


@pytest.mark.parametrize(
    "pdu",
    [
        Bind(login_name="x" * 17),
        Bind(login_name="用户"),
        Bind(login_type=256),
        Bind(sequence=SequenceNumber(1 << 32, 0, 0)),
        Submit(user_numbers=()),
        Submit(user_numbers=("8613012345678",) * 101),
        Submit(user_numbers=("8" * 22,)),
        Submit(user_numbers=("8613012345678",), corp_id="123456"),
        Submit(user_numbers=("8613012345678",), priority=-1),
        Deliver(message_content="text"),  # type: ignore[arg-type]
        Deliver(message_content=bytes(MAX_PDU_SIZE + 1)),
        TraceResp(nodes=(TraceNode(),) * 256),
        Report(submit_sequence=SequenceNumber(-1, 0, 0)),
    ],
)
def test_encode_refuses_invalid_values(pdu: Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode(pdu)


def test_encode_refuses_foreign_objects() -> None:
    with pytest.raises(LocalProtocolError):
        encode(object())  # type: ignore[arg-type]


# -------------------------------------------------------------- properties

_texts = {
    size: st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=size).map(
        lambda text: text.rstrip(" ")
    )
    for size in (5, 6, 8, 10, 16, 21)
}
_u8 = st.integers(0, 0xFF)
_u32 = st.integers(0, 0xFFFFFFFF)
_sequences = st.builds(SequenceNumber, _u32, _u32, _u32)
_content = st.binary(max_size=300)
_results = st.builds(
    lambda cls, seq, result, reserve: cls(sequence=seq, result=result, reserve=reserve),
    st.sampled_from([BindResp, SubmitResp, DeliverResp, ReportResp, UserRptResp]),
    _sequences,
    _u8,
    _texts[8],
)

PDUS: st.SearchStrategy[Pdu] = st.one_of(
    st.builds(
        Bind,
        sequence=_sequences,
        login_type=_u8,
        login_name=_texts[16],
        login_password=_texts[16],
        reserve=_texts[8],
    ),
    _results,
    st.builds(Unbind, sequence=_sequences),
    st.builds(UnbindResp, sequence=_sequences),
    st.builds(
        Submit,
        sequence=_sequences,
        sp_number=_texts[21],
        charge_number=_texts[21],
        user_numbers=st.lists(_texts[21], min_size=1, max_size=5).map(tuple),
        corp_id=_texts[5],
        service_type=_texts[10],
        fee_type=_u8,
        fee_value=_texts[6],
        given_value=_texts[6],
        agent_flag=_u8,
        morelateto_mt_flag=_u8,
        priority=_u8,
        expire_time=_texts[16],
        schedule_time=_texts[16],
        report_flag=_u8,
        tp_pid=_u8,
        tp_udhi=_u8,
        message_coding=_u8,
        message_type=_u8,
        message_content=_content,
        reserve=_texts[8],
    ),
    st.builds(
        Deliver,
        sequence=_sequences,
        user_number=_texts[21],
        sp_number=_texts[21],
        tp_pid=_u8,
        tp_udhi=_u8,
        message_coding=_u8,
        message_content=_content,
        reserve=_texts[8],
    ),
    st.builds(
        Report,
        sequence=_sequences,
        submit_sequence=_sequences,
        report_type=_u8,
        user_number=_texts[21],
        state=_u8,
        error_code=_u8,
        reserve=_texts[8],
    ),
    st.builds(
        UserRpt,
        sequence=_sequences,
        sp_number=_texts[21],
        user_number=_texts[21],
        user_condition=_u8,
        reserve=_texts[8],
    ),
    st.builds(
        Trace,
        sequence=_sequences,
        submit_sequence=_sequences,
        user_number=_texts[21],
        reserve=_texts[8],
    ),
    st.builds(
        TraceResp,
        sequence=_sequences,
        nodes=st.lists(
            st.builds(
                TraceNode,
                result=_u8,
                node_id=_texts[6],
                receive_time=_texts[16],
                send_time=_texts[16],
            ),
            max_size=4,
        ).map(tuple),
        reserve=_texts[8],
    ),
)


@given(PDUS)
def test_round_trip(pdu: Pdu) -> None:
    decoder = Decoder()
    decoder.feed(encode(pdu))
    assert list(decoder.pdus()) == [pdu]


@given(st.lists(PDUS, min_size=1, max_size=4), st.integers(1, 50))
def test_round_trip_in_chunks(pdus: list[Pdu], chunk: int) -> None:
    wire = b"".join(encode(pdu) for pdu in pdus)
    decoder = Decoder()
    decoded: list[Pdu] = []
    for start in range(0, len(wire), chunk):
        decoder.feed(wire[start : start + chunk])
        decoded.extend(decoder.pdus())
    assert decoded == pdus


def _feed_everything(data: bytes) -> None:
    decoder = Decoder()
    decoder.feed(data)
    try:
        for _ in decoder.pdus():
            pass
    except ProtocolError:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    _feed_everything(data)


_COMMANDS = st.sampled_from([int(c) for c in CommandId] + [0, 0x7FFFFFFF])


@settings(max_examples=300)
@given(_COMMANDS, st.binary(max_size=300))
def test_arbitrary_bodies_raise_only_protocol_errors(command: int, body: bytes) -> None:
    _feed_everything(_frame(command, body))


@given(PDUS, st.data())
def test_corrupted_pdus_raise_only_protocol_errors(pdu: Pdu, data: st.DataObject) -> None:
    wire = bytearray(encode(pdu))
    index = data.draw(st.integers(4, len(wire) - 1))
    wire[index] = data.draw(_u8)
    _feed_everything(bytes(wire))


# ------------------------------------------------------------------ dialect


def _clock() -> datetime:
    return datetime(2026, 11, 28, 14, 30, 15)


def test_dialect_stamps_triples_from_the_injected_clock() -> None:
    dialect = SgipDialect(SP_NODE, _clock)
    first = dialect.with_next_sequence(Bind(login_name="spuser"))
    second = dialect.with_next_sequence(Unbind())
    assert first.sequence == SequenceNumber(SP_NODE, TIME, 0)
    assert second.sequence == SequenceNumber(SP_NODE, TIME, 1)
    assert dialect.sequence(first) == (SP_NODE, TIME, 0)


def test_dialect_counter_wraps_to_zero() -> None:
    from duanxin.protocols.sgip.dialect import new_counter

    dialect = SgipDialect(SP_NODE, _clock, counter=new_counter(COUNTER_MAX))
    assert dialect.next_sequence().counter == COUNTER_MAX
    assert dialect.next_sequence().counter == 0


def test_dialect_kinds_and_answers() -> None:
    dialect = SgipDialect(SP_NODE, _clock)
    assert dialect.kind(BIND) is Kind.BIND
    assert dialect.kind(BIND_RESP) is Kind.BIND_OK
    assert dialect.kind(BindResp(result=1)) is Kind.BIND_REFUSED
    assert dialect.kind(Unbind()) is Kind.UNBIND
    assert dialect.kind(UnbindResp()) is Kind.UNBIND_RESP
    assert dialect.kind(SUBMIT) is Kind.REQUEST
    assert dialect.kind(REPORT) is Kind.REQUEST
    for response in (SUBMIT_RESP, DeliverResp(), ReportResp(), UserRptResp(), TraceResp()):
        assert dialect.kind(response) is Kind.RESPONSE
    assert dialect.heartbeat() is None
    unbind = Unbind(sequence=SequenceNumber(1, 2, 3))
    assert dialect.answer(unbind) == UnbindResp(sequence=SequenceNumber(1, 2, 3))
    assert dialect.answer(SUBMIT) is None
    assert isinstance(dialect.unbind(), Unbind)
    assert dialect.reject(RemoteProtocolError("bad")) is None
    dialect.observe(SUBMIT, Direction.SEND)
    assert dialect.encode(SUBMIT) == SUBMIT_BYTES


def test_report_stat() -> None:
    assert report_stat(0, 0) == "DELIVRD"
    assert report_stat(1, 0) is None
    assert report_stat(2, 25) == "ER:0025"
    assert report_stat(2, 0) == "UNDELIV"
    assert all(len(report_stat(2, code) or "") == 7 for code in range(256))
