"""The SMGP adapter's reading of a report Deliver: ENROUTE is answered and dropped, final
stats handed on."""

from __future__ import annotations

import pytest

from duanxin.protocols.carrier import CarrierReport, ChannelSettings
from duanxin.protocols.smgp.client import SmgpAdapter, canonical_id
from duanxin.protocols.smgp.pdu import SmgpDeliver, SmgpDeliverResp
from duanxin.protocols.smgp.report import SmgpReport, encode_report

SETTINGS = ChannelSettings("127.0.0.1", 8890, "12345678", "secret")
REPORTED_ID = bytes.fromhex("01006111281431000077")


def report_deliver(stat: str) -> SmgpDeliver:
    content = encode_report(SmgpReport(msg_id=REPORTED_ID, stat=stat, done_date="2512011431"))
    return SmgpDeliver(
        sequence_id=5,
        msg_id=bytes(10),
        is_report=1,
        src_term_id="13800138000",
        dest_term_id="10691234",
        msg_content=content,
    )


def test_enroute_is_answered_and_not_handed_on() -> None:
    answer, inbound = SmgpAdapter(SETTINGS).inbound(report_deliver("ENROUTE"))
    assert answer == SmgpDeliverResp(sequence_id=5, msg_id=bytes(10), status=0)
    assert inbound is None


@pytest.mark.parametrize("stat", ["DELIVRD", "ACCEPTD", "UNDELIV"])
def test_final_report_is_handed_on(stat: str) -> None:
    _, inbound = SmgpAdapter(SETTINGS).inbound(report_deliver(stat))
    assert isinstance(inbound, CarrierReport)
    assert (inbound.carrier_id, inbound.stat) == (canonical_id(REPORTED_ID), stat)
