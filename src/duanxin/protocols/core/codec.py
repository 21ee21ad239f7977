"""The one codec engine of the four protocols: field tables (:mod:`.table`) framed.

Every frame is ``length (4) + command id (4) + table``; the length is written from the
encoded body. Decoding checks the length, looks the command up, reads the table, and
requires the table to end exactly where the frame does. A body that does not parse is a
:class:`FrameError` carrying the command, the header sequence and the protocol's status
for that fault, so a session can answer it. Each PDU class is built by a constructor
generated once (:func:`~.table.constructor`): no ``**kwargs``, no ``dict``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.framing import LengthPrefixedFramer
from duanxin.protocols.core.table import Entry, Fault, Fields, Malformed, Table, Values, constructor
from duanxin.protocols.core.table import FrameError as FrameError

__all__ = ["Codec", "Decoder", "FrameError"]

P = TypeVar("P")
_PREFIX = struct.Struct(">II")  # length, command id


@dataclass(slots=True)
class _Layout(Generic[P]):
    cls: type[P]
    command_id: int
    fields: Fields
    make: Callable[..., P]
    status: int | None  # the answer to a malformed body, when the PDU has its own

    @property
    def size(self) -> int:
        """Frame bytes of its fixed-size fields."""
        return _PREFIX.size + self.fields.fixed_size

    def encoder(self) -> Callable[[P], bytes]:
        """This layout's encoder, everything it needs bound as locals (it runs per PDU)."""
        writers, get, prefix, join = (
            tuple(self.fields.writers),
            self.fields.get,
            _PREFIX.pack,
            b"".join,
        )
        check = self.fields.check if self.fields.check_get is not None else None
        command = self.command_id

        def encode(pdu: P) -> bytes:
            if check is not None:
                check(pdu)
            parts: list[bytes] = []
            try:
                values = get(pdu)
                for write in writers:
                    write(values, parts)
            except (struct.error, OverflowError, TypeError, AttributeError) as error:
                raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {error}") from error
            body = join(parts)
            return prefix(8 + len(body), command) + body

        return encode


class Codec(Generic[P]):
    """Encoder and decoder of one protocol, from its header table and PDU tables.

    ``pdus`` maps each PDU class to ``(command id, table)``, or to ``{variant: (command
    id, table)}`` where layouts differ (CMPP 2.0 / 3.0); ``variant_of`` tells the variant
    a PDU of such a class is encoded in. ``faults`` gives the status to answer each
    :class:`Fault` with, ``statuses`` a command's own, overriding them; ``length_status``
    answers a frame whose length field lies.
    """

    def __init__(
        self,
        name: str,
        header: Table,
        pdus: Mapping[type[P], Entry | Mapping[Hashable, Entry]],
        *,
        faults: Mapping[Fault, int] | None = None,
        statuses: Mapping[int, int] | None = None,
        unknown_status: int | None = None,
        length_status: int | None = None,
        variant_of: Callable[[P], Hashable] | None = None,
    ) -> None:
        self.name = name
        self.header = Fields(header)
        self.header_size = _PREFIX.size + self.header.fixed_size
        self._faults = dict(faults or {})
        self._unknown_status = unknown_status
        self.length_status = length_status
        #: Per variant (None: every class's first), every layout by class and by command.
        self.by_class: dict[Hashable, dict[type[P], _Layout[P]]] = {None: {}}
        self.by_command: dict[Hashable, dict[int, _Layout[P]]] = {None: {}}
        self._encoders: dict[type[P], Callable[[P], bytes]] = {}
        for cls, entry in pdus.items():
            own = entry if isinstance(entry, Mapping) else {None: entry}
            encoders: dict[Hashable, Callable[[P], bytes]] = {}
            for variant, (command, table) in own.items():
                fields = Fields(header + table)
                make = constructor(cls, fields.names, fields.constants)
                status = (statuses or {}).get(command)
                layout = _Layout(cls, command, fields, make, status)
                encoders[variant] = layout.encoder()
                for key in {variant, None}:
                    self.by_class.setdefault(key, {}).setdefault(cls, layout)
                    self.by_command.setdefault(key, {}).setdefault(command, layout)
            self._encoders[cls] = _by_variant(encoders, variant_of)
        for variant in self.by_class:  # a class with one layout has it in every variant
            self.by_class[variant] = {**self.by_class[None], **self.by_class[variant]}
            self.by_command[variant] = {**self.by_command[None], **self.by_command[variant]}

    def layout(self, cls: type[P], variant: Hashable = None) -> _Layout[P]:
        """The layout of ``cls`` in ``variant`` (or its only one)."""
        layout = self.by_class[variant].get(cls)
        if layout is None:
            raise LocalProtocolError(f"not a {self.name} PDU: {cls.__name__}")
        return layout

    def encode(self, pdu: P) -> bytes:
        """The wire bytes of ``pdu``; LocalProtocolError for values the protocol cannot carry."""
        encoder = self._encoders.get(type(pdu))
        if encoder is None:
            raise LocalProtocolError(f"not a {self.name} PDU: {type(pdu).__name__}")
        return encoder(pdu)

    def encode_header(self, pdu: P) -> bytes:
        """The frame of ``pdu`` without its body (SMPP's error responses)."""
        layout = self.layout(type(pdu))
        parts: list[bytes] = []
        self.header.write_all(self.header.get(pdu), parts)
        body = b"".join(parts)
        return _PREFIX.pack(_PREFIX.size + len(body), layout.command_id) + body

    def decode(self, frame: bytes, variant: Hashable = None) -> P:
        """Decode one whole frame (length prefix included)."""
        end = len(frame)
        if end < self.header_size:
            raise FrameError(
                f"frame of {end} bytes is shorter than the header", status=self.length_status
            )
        length, command = _PREFIX.unpack_from(frame)
        layout = self.by_command[variant].get(command)
        if layout is None or length != end:
            problem = f"unknown command id 0x{command:08x}"
            if layout is not None:
                problem = f"length field {length} but the frame is {end} bytes"
            status = self._unknown_status if layout is None else self.length_status
            raise FrameError(
                problem, status=status, command_id=command, sequence=self.sequence(frame)
            )
        values: Values = []
        offset = _PREFIX.size
        try:
            for read in layout.fields.readers:
                offset = read(frame, offset, end, values)
            if offset != end:
                raise Malformed(f"{end - offset} bytes after the last field")
        except Malformed as error:
            status = layout.status if layout.status is not None else self._faults.get(error.fault)
            raise FrameError(
                f"{layout.cls.__name__}: {error}",
                status=status,
                command_id=command,
                sequence=self.sequence(frame),
            ) from error
        return layout.make(*values)

    def header_values(self, frame: bytes) -> Values:
        """The header fields of ``frame`` (whose header the caller knows is whole)."""
        values: Values = []
        self.header.read_all(frame, _PREFIX.size, len(frame), values)
        return values

    def sequence(self, frame: bytes) -> Hashable:
        """The header's last field (every protocol's sequence number), when readable."""
        if len(frame) < self.header_size:
            return None
        value = self.header_values(frame)[-1]
        return value if isinstance(value, Hashable) else None


def _by_variant(
    encoders: Mapping[Hashable, Callable[[P], bytes]], variant_of: Callable[[P], Hashable] | None
) -> Callable[[P], bytes]:
    if len(encoders) == 1 or variant_of is None:
        return next(iter(encoders.values()))

    def encode_variant(pdu: P) -> bytes:
        return encoders[variant_of(pdu)](pdu)

    return encode_variant


class Decoder(LengthPrefixedFramer, Generic[P]):
    """Incremental decoder of ``codec``: feed bytes, then iterate :meth:`pdus`.

    Frames shorter than the codec's header or longer than ``max_length`` are refused with
    its ``length_status``. ``variant`` picks the layout of PDUs not yet yielded (CMPP's
    version); ``last`` is the PDU most recently handed out (None while a frame is being
    decoded), so a session can answer a PDU it refuses with that PDU's own response.
    """

    __slots__ = ("_decode", "last", "variant")

    def __init__(
        self,
        codec: Codec[P],
        max_length: int,
        *,
        decode: Callable[[bytes, Hashable], P] | None = None,
        variant: Hashable = None,
    ) -> None:
        super().__init__(
            min_length=codec.header_size, max_length=max_length, status=codec.length_status
        )
        self._decode = decode or codec.decode
        self.variant = variant
        self.last: P | None = None

    def pdus(self) -> Iterator[P]:
        """Yield each complete PDU buffered so far; a partial one stays buffered."""
        frames, decode = self.frames(), self._decode
        try:
            while True:
                self.last = None
                frame = next(frames, None)
                if frame is None:
                    return
                self.last = pdu = decode(frame, self.variant)
                yield pdu
        finally:
            frames.close()
