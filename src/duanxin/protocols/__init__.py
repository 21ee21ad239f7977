"""Carrier protocols: sans-IO codecs and asyncio sessions for CMPP, SGIP, SMGP and SMPP.

Every protocol lives in its own sub-package with the same shape:

- ``pdu.py``      one frozen dataclass per PDU, command ids and status codes as enums
- ``codec.py``    ``encode(pdu) -> bytes`` and a ``Decoder`` that is fed bytes and yields PDUs
- ``dialect.py``  what the shared session engine needs to know (login, heartbeat, sequence)
- ``client.py``   the carrier client the delivery layer uses (``protocols.carrier.CarrierClient``)

The shared parts (framing, errors, fixed fields, sequence counters, the session state table,
the sans-IO session and its asyncio adapter) are in :mod:`duanxin.protocols.core`.
"""
