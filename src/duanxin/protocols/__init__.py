"""Carrier protocols: sans-IO codecs and asyncio sessions for CMPP, SGIP, SMGP and SMPP.

Every protocol lives in its own sub-package with the same shape and the same names:

- ``pdu.py``      one frozen dataclass per PDU, ``CommandId`` and status codes as enums
- ``codec.py``    the field table of each PDU, run by the shared engine: ``encode(pdu)``,
                  ``decode(frame)``, the incremental ``Decoder``, ``MAX_PDU_SIZE``
- ``dialect.py``  the declared rules the shared session needs (kinds, answers, refusals)
- ``client.py``   the carrier client the delivery layer uses (``protocols.carrier.CarrierClient``)

The shared parts are in :mod:`duanxin.protocols.core`: the codec engine (``codec``), framing,
errors, sequence counters, the session state table (``state``), dialects from rules
(``dialect``), the sans-IO session and its asyncio adapter.
"""
