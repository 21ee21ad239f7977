"""Report stats for carrier refusals: one 7-character scheme per protocol."""

from __future__ import annotations

from duanxin.domain.status import carrier_stat


def test_carrier_results_keep_their_protocol_and_code_in_seven_characters() -> None:
    assert carrier_stat("cmpp", 8) == "CM:0008"  # Result 8, flow control
    assert carrier_stat("cmpp", 13) == "CM:0013"
    assert carrier_stat("sgip", 11) == "SG:0011"  # node busy
    assert carrier_stat("smgp", 1) == "SM:0001"  # system busy
    assert carrier_stat("smpp", 0x58) == "SP:0058"  # ESME_RTHROTTLED, in hex as SMPP writes it
    assert carrier_stat("smpp", 0x14) == "SP:0014"  # ESME_RMSGQFUL
    assert carrier_stat("smpp", 0x0400) == "SP:0400"  # vendor range
    for stat in ("CM:0008", carrier_stat("smpp", 0xFFFFFFFF), carrier_stat("cmpp", 123456)):
        assert len(stat) == 7
