"""Readers and writers for SMPP's variable fields: C strings, short_message, TLVs, lists."""

from __future__ import annotations

import struct

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_c_string, encode_c_string
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.pdu import CommandStatus
from duanxin.protocols.smpp.tlv import TLV_HEADER_SIZE, TLV_MAX_VALUE, Tlv

__all__ = [
    "ShortBody",
    "get_dests",
    "get_octets",
    "get_tlvs",
    "get_u8",
    "get_unsuccess",
    "put_c_string",
    "put_dests",
    "put_octets",
    "put_tlvs",
    "put_unsuccess",
]

_TLV_HEADER = struct.Struct(">HH")
_U8 = struct.Struct(">B")
_UNSUCCESS_TAIL = struct.Struct(">I")  # error_status_code


class ShortBody(RemoteProtocolError):
    """The PDU ends in the middle of a field."""

    def __init__(self, what: str) -> None:
        super().__init__(f"body ends inside {what}", status=CommandStatus.ESME_RINVCMDLEN)


def put_c_string(value: str, max_size: int, name: str) -> bytes:
    if "\x00" in value:
        raise LocalProtocolError(f"{name} contains NUL")
    try:
        return encode_c_string(value, max_size, name=name)
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"{name} is not latin-1 text") from error


def put_octets(data: bytes, name: str) -> bytes:
    if len(data) > p.SHORT_MESSAGE_MAX:
        raise LocalProtocolError(f"{name} is {len(data)} bytes, at most {p.SHORT_MESSAGE_MAX}")
    return _U8.pack(len(data)) + data


def get_octets(frame: bytes, offset: int, end: int) -> tuple[bytes, int]:
    if offset >= end:
        raise ShortBody("sm_length")
    start = offset + 1
    stop = start + frame[offset]
    if stop > end:
        raise ShortBody("short_message")
    return frame[start:stop], stop


def get_u8(frame: bytes, offset: int, end: int, what: str) -> int:
    if offset >= end:
        raise ShortBody(what)
    return frame[offset]


def put_tlvs(tlvs: tuple[Tlv, ...]) -> bytes:
    parts = []
    for tlv in tlvs:
        if len(tlv.value) > TLV_MAX_VALUE:
            raise LocalProtocolError(f"TLV 0x{tlv.tag:04X} value exceeds {TLV_MAX_VALUE} bytes")
        parts.append(_TLV_HEADER.pack(tlv.tag, len(tlv.value)))
        parts.append(tlv.value)
    return b"".join(parts)


def get_tlvs(frame: bytes, offset: int, end: int) -> tuple[Tlv, ...]:
    tlvs: list[Tlv] = []
    while offset < end:
        if offset + TLV_HEADER_SIZE > end:
            raise RemoteProtocolError(
                "truncated TLV header", status=CommandStatus.ESME_RINVOPTPARSTREAM
            )
        tag, length = _TLV_HEADER.unpack_from(frame, offset)
        offset += TLV_HEADER_SIZE
        if offset + length > end:
            raise RemoteProtocolError(
                f"TLV 0x{tag:04X} overruns the PDU", status=CommandStatus.ESME_RINVOPTPARSTREAM
            )
        tlvs.append(Tlv(tag, frame[offset : offset + length]))
        offset += length
    return tuple(tlvs)


def put_dests(dests: tuple[p.SmeAddress | p.DistributionList, ...]) -> bytes:
    parts = [_U8.pack(len(dests))]
    for dest in dests:
        if isinstance(dest, p.SmeAddress):
            parts.append(_U8.pack(p.DEST_FLAG_SME))
            parts.append(_U8.pack(dest.dest_addr_ton) + _U8.pack(dest.dest_addr_npi))
            parts.append(put_c_string(dest.destination_addr, p.ADDRESS_SIZE, "destination_addr"))
        else:
            parts.append(_U8.pack(p.DEST_FLAG_DISTRIBUTION_LIST))
            parts.append(put_c_string(dest.dl_name, p.DL_NAME_SIZE, "dl_name"))
    return b"".join(parts)


def get_dests(
    frame: bytes, offset: int, end: int
) -> tuple[tuple[p.SmeAddress | p.DistributionList, ...], int]:
    count = get_u8(frame, offset, end, "number_of_dests")
    offset += 1
    dests: list[p.SmeAddress | p.DistributionList] = []
    for _ in range(count):
        flag = get_u8(frame, offset, end, "dest_flag")
        if flag == p.DEST_FLAG_SME:
            ton = get_u8(frame, offset + 1, end, "dest_addr_ton")
            npi = get_u8(frame, offset + 2, end, "dest_addr_npi")
            address, offset = decode_c_string(frame, offset + 3, p.ADDRESS_SIZE)
            dests.append(
                p.SmeAddress(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=address)
            )
        elif flag == p.DEST_FLAG_DISTRIBUTION_LIST:
            name, offset = decode_c_string(frame, offset + 1, p.DL_NAME_SIZE)
            dests.append(p.DistributionList(dl_name=name))
        else:
            raise RemoteProtocolError(f"dest_flag {flag}", status=CommandStatus.ESME_RINVDESTFLAG)
    return tuple(dests), offset


def put_unsuccess(smes: tuple[p.UnsuccessSme, ...]) -> bytes:
    parts = [_U8.pack(len(smes))]
    for sme in smes:
        parts.append(_U8.pack(sme.dest_addr_ton) + _U8.pack(sme.dest_addr_npi))
        parts.append(put_c_string(sme.destination_addr, p.ADDRESS_SIZE, "destination_addr"))
        parts.append(_UNSUCCESS_TAIL.pack(sme.error_status_code))
    return b"".join(parts)


def get_unsuccess(frame: bytes, offset: int, end: int) -> tuple[tuple[p.UnsuccessSme, ...], int]:
    count = get_u8(frame, offset, end, "no_unsuccess")
    offset += 1
    smes: list[p.UnsuccessSme] = []
    for _ in range(count):
        ton = get_u8(frame, offset, end, "dest_addr_ton")
        npi = get_u8(frame, offset + 1, end, "dest_addr_npi")
        address, offset = decode_c_string(frame, offset + 2, p.ADDRESS_SIZE)
        if offset + _UNSUCCESS_TAIL.size > end:
            raise ShortBody("error_status_code")
        (status,) = _UNSUCCESS_TAIL.unpack_from(frame, offset)
        offset += _UNSUCCESS_TAIL.size
        smes.append(
            p.UnsuccessSme(
                dest_addr_ton=ton,
                dest_addr_npi=npi,
                destination_addr=address,
                error_status_code=status,
            )
        )
    return tuple(smes), offset
