"""Pin the public surface of each protocol package: adding or removing a name is an API change.

All four follow one naming scheme: ``encode`` / ``decode`` / ``Decoder`` for the codec,
``FrameError`` for what cannot be decoded, ``MAX_PDU_SIZE``, ``CommandId``, the ``Pdu``
union, the ``<Protocol>Dialect`` of the session, the ``<Protocol>Adapter`` of the carrier
client, ``open_client`` and ``canonical_id``.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from duanxin.protocols.core.codec import FrameError

COMMON = {
    "CommandId",
    "Decoder",
    "FrameError",
    "MAX_PDU_SIZE",
    "Pdu",
    "canonical_id",
    "decode",
    "encode",
    "open_client",
}

EXPECTED: dict[str, set[str]] = {
    "cmpp": COMMON
    | {
        "CmppActiveTest",
        "CmppActiveTestResp",
        "CmppAdapter",
        "CmppCancel",
        "CmppCancelResp",
        "CmppCancelResult",
        "CmppConnect",
        "CmppConnectResp",
        "CmppConnectStatus",
        "CmppDeliver",
        "CmppDeliverResp",
        "CmppDeliverResult",
        "CmppDialect",
        "CmppFeeUserType",
        "CmppMsgFmt",
        "CmppQuery",
        "CmppQueryResp",
        "CmppRegisteredDelivery",
        "CmppStatusReport",
        "CmppSubmit",
        "CmppSubmitResp",
        "CmppSubmitResult",
        "CmppTerminalType",
        "CmppTerminate",
        "CmppTerminateResp",
        "CmppVersion",
        "authenticator_ismg",
        "authenticator_source",
        "connect_request",
        "connect_response",
        "timestamp_of",
        "verify_connect",
    },
    "sgip": COMMON
    | {
        "Bind",
        "BindResp",
        "Deliver",
        "DeliverResp",
        "FeeType",
        "LoginType",
        "MessageCoding",
        "Report",
        "ReportFlag",
        "ReportResp",
        "ReportState",
        "Result",
        "SequenceNumber",
        "SgipAdapter",
        "SgipClient",
        "SgipDialect",
        "Submit",
        "SubmitResp",
        "Trace",
        "TraceNode",
        "TraceResp",
        "Unbind",
        "UnbindResp",
        "UserCondition",
        "UserRpt",
        "UserRptResp",
    },
    "smgp": COMMON
    | {
        "CHINA_STANDARD_TIME",
        "LoginMode",
        "MsgFormat",
        "MsgIdGenerator",
        "SmgpActiveTest",
        "SmgpActiveTestResp",
        "SmgpAdapter",
        "SmgpDeliver",
        "SmgpDeliverResp",
        "SmgpDialect",
        "SmgpExit",
        "SmgpExitResp",
        "SmgpLogin",
        "SmgpLoginResp",
        "SmgpQuery",
        "SmgpQueryResp",
        "SmgpReport",
        "SmgpStatus",
        "SmgpSubmit",
        "SmgpSubmitResp",
        "Tlv",
        "TlvTag",
        "build_login",
        "client_authenticator",
        "decode_report",
        "encode_report",
        "find_tlv",
        "login_response",
        "login_timestamp",
        "make_msg_id",
        "server_authenticator",
        "tlv_int",
        "verify_login",
    },
    "smpp": COMMON
    | {
        "AlertNotification",
        "BindReceiver",
        "BindReceiverResp",
        "BindTransceiver",
        "BindTransceiverResp",
        "BindTransmitter",
        "BindTransmitterResp",
        "BindType",
        "CancelSm",
        "CancelSmResp",
        "CommandStatus",
        "DataSm",
        "DataSmResp",
        "DeliverSm",
        "DeliverSmResp",
        "DeliveryReceipt",
        "DistributionList",
        "EnquireLink",
        "EnquireLinkResp",
        "GenericNack",
        "MessageState",
        "Outbind",
        "QuerySm",
        "QuerySmResp",
        "ReplaceSm",
        "ReplaceSmResp",
        "SmeAddress",
        "SmppAdapter",
        "SmppDialect",
        "SubmitMulti",
        "SubmitMultiResp",
        "SubmitSm",
        "SubmitSmResp",
        "Tlv",
        "TlvTag",
        "Unbind",
        "UnbindResp",
        "UnsuccessSme",
        "format_receipt",
        "parse_receipt",
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_all_is_pinned(name: str) -> None:
    package = importlib.import_module(f"duanxin.protocols.{name}")
    assert set(package.__all__) == EXPECTED[name]
    assert len(package.__all__) == len(EXPECTED[name])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_naming_scheme(name: str) -> None:
    package = importlib.import_module(f"duanxin.protocols.{name}")
    prefix = name.capitalize()
    assert {f"{prefix}Dialect", f"{prefix}Adapter"} <= set(package.__all__)
    assert package.FrameError is FrameError
    assert isinstance(package.MAX_PDU_SIZE, int)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exported_members_live_in_the_package_and_are_documented(name: str) -> None:
    package = importlib.import_module(f"duanxin.protocols.{name}")
    for member_name in package.__all__:
        member = getattr(package, member_name)
        if inspect.isfunction(member) or inspect.isclass(member):
            assert member.__module__.startswith("duanxin.protocols."), member_name
            assert member.__doc__, member_name
