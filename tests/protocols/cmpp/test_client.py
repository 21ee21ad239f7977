"""The CMPP adapter's reading of a report DELIVER: intermediate states are answered and
dropped, final ones handed on."""

from __future__ import annotations

import pytest

from duanxin.protocols.carrier import CarrierReport, ChannelSettings
from duanxin.protocols.cmpp import CmppAdapter, CmppVersion
from duanxin.protocols.cmpp.pdu import CmppDeliver, CmppDeliverResp, CmppRegisteredDelivery
from duanxin.protocols.cmpp.report import CmppStatusReport

SETTINGS = ChannelSettings("127.0.0.1", 7890, "901234", "secret")
MSG_ID = 0xBE39E3C1E2400001


def report_deliver(stat: str) -> CmppDeliver:
    content = CmppStatusReport(
        msg_id=MSG_ID, stat=stat, done_time="2512011431", dest_terminal_id="13800138000"
    ).encode()
    return CmppDeliver(
        sequence_id=9,
        version=CmppVersion.V30,
        msg_id=77,
        dest_id="1065712345",
        src_terminal_id="13800138000",
        registered_delivery=CmppRegisteredDelivery.YES,
        msg_content=content,
    )


@pytest.mark.parametrize("stat", ["ACCEPTD", "ENROUTE"])
def test_intermediate_report_is_answered_and_not_handed_on(stat: str) -> None:
    answer, inbound = CmppAdapter(SETTINGS).inbound(report_deliver(stat))
    assert answer == CmppDeliverResp(sequence_id=9, version=CmppVersion.V30, msg_id=77, result=0)
    assert inbound is None


@pytest.mark.parametrize("stat", ["DELIVRD", "UNDELIV", "MB:0008"])
def test_final_report_is_handed_on(stat: str) -> None:
    answer, inbound = CmppAdapter(SETTINGS).inbound(report_deliver(stat))
    assert isinstance(answer, CmppDeliverResp) and answer.result == 0
    assert isinstance(inbound, CarrierReport)
    assert (inbound.carrier_id, inbound.stat) == (f"{MSG_ID:016x}", stat)
