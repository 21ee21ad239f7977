"""The public surface of ``duanxin.protocols.smpp``."""

from __future__ import annotations

import duanxin.protocols.smpp as smpp
from duanxin.protocols.smpp.codec import FIELDS


def test_exported_members() -> None:
    for name in smpp.__all__:
        assert hasattr(smpp, name), name
    pdu_names = {cls.__name__ for cls in FIELDS}
    assert pdu_names <= set(smpp.__all__)
    expected = {"encode", "Decoder", "open_client", "canonical_id", "CommandId", "CommandStatus"}
    assert expected <= set(smpp.__all__)


def test_canonical_id_strips_whitespace_only() -> None:
    assert smpp.canonical_id(" 1A2B3C4D\r\n") == "1A2B3C4D"
    assert smpp.canonical_id("0a-Bc") == "0a-Bc"


def test_report_stat() -> None:
    from duanxin.protocols.smpp.client import report_stat

    assert report_stat(2, "DELIVRD") == "DELIVRD"
    assert report_stat(2, "") == "DELIVRD"
    assert report_stat(5, "MA:0001") == "MA:0001"
    assert report_stat(5, "DELIVRD") == "UNDELIV"  # the TLV wins a contradiction
    assert report_stat(3, "") == "EXPIRED"
    assert report_stat(None, "undeliv") == "UNDELIV"
    assert report_stat(None, "") == "UNKNOWN"
    assert report_stat(99, "") == "UNKNOWN"
