"""Declarative fixed-size field blocks: one table drives both encode and decode.

A :class:`Block` is a run of fixed-size fields compiled to one ``struct.Struct``. Text
fields are NUL-padded on encode and cut at the first NUL (then stripped of trailing
spaces) on decode, as ``core.fields`` does; octet fields must have exactly their size.
"""

from __future__ import annotations

import operator
import struct
from enum import Enum
from typing import Any

from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.fields import decode_fixed, encode_fixed

__all__ = ["OCTETS", "TEXT", "U8", "U32", "U64", "Block", "FieldKind", "FieldSpec", "encode_text"]


class FieldKind(Enum):
    U8 = "B"
    U32 = "I"
    U64 = "Q"
    TEXT = "text"
    OCTETS = "octets"  # raw bytes of exactly the field's size


U8, U32, U64, TEXT, OCTETS = (
    FieldKind.U8,
    FieldKind.U32,
    FieldKind.U64,
    FieldKind.TEXT,
    FieldKind.OCTETS,
)

FieldSpec = tuple[str, FieldKind] | tuple[str, FieldKind, int]


def encode_text(value: str, size: int, name: str) -> bytes:
    """``value`` as ASCII, NUL-padded to ``size``; LocalProtocolError if it cannot be."""
    try:
        return encode_fixed(value, size, name=name)
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"{name} must be ASCII: {value!r}") from error
    except AttributeError as error:
        raise LocalProtocolError(f"{name} must be text, not {type(value).__name__}") from error


class Block:
    """Consecutive fixed-size fields, read and written with one precompiled struct."""

    __slots__ = (
        "_encoders",
        "_get",
        "_octet_fields",
        "_text_fields",
        "_text_indices",
        "names",
        "size",
        "struct",
    )

    def __init__(self, *specs: FieldSpec) -> None:
        formats = [">"]
        self.names = tuple(spec[0] for spec in specs)
        encoders: list[tuple[str, FieldKind, int]] = []
        for spec in specs:
            name, kind = spec[0], spec[1]
            size = spec[2] if len(spec) == 3 else 0
            formats.append(f"{size}s" if kind in (TEXT, OCTETS) else kind.value)
            encoders.append((name, kind, size))
        self.struct = struct.Struct("".join(formats))
        self.size = self.struct.size
        self._encoders = tuple(encoders)
        self._text_indices = tuple(i for i, spec in enumerate(specs) if spec[1] is TEXT)
        self._text_fields = tuple((i, e[2]) for i, e in enumerate(encoders) if e[1] is TEXT)
        self._octet_fields = tuple((i, e[2]) for i, e in enumerate(encoders) if e[1] is OCTETS)
        getter = operator.attrgetter(*self.names) if self.names else (lambda pdu: ())
        # attrgetter of one name returns the value itself, not a 1-tuple.
        self._get = (lambda pdu: (getter(pdu),)) if len(self.names) == 1 else getter

    def pack(self, pdu: object) -> bytes:
        """The block's bytes for the same-named attributes of ``pdu``."""
        values = list(self._get(pdu))
        try:
            for index, size in self._text_fields:
                raw = values[index].encode("ascii")  # the struct pads it with NULs
                if len(raw) > size:
                    raise ValueError(index)
                values[index] = raw
            for index, size in self._octet_fields:
                value = values[index]
                if type(value) is not bytes or len(value) != size:
                    raise ValueError(index)
            return self.struct.pack(*values)
        except (AttributeError, UnicodeError, ValueError, TypeError, struct.error):
            return self._pack_checked(pdu)  # the slow way, which says what is wrong

    def _pack_checked(self, pdu: object) -> bytes:
        values: list[Any] = []
        for name, kind, size in self._encoders:
            value = getattr(pdu, name)
            if kind is TEXT:
                value = encode_text(value, size, name)
            elif kind is OCTETS:
                if not isinstance(value, bytes) or len(value) != size:
                    raise LocalProtocolError(f"{name} must be exactly {size} bytes")
            elif not isinstance(value, int):
                raise LocalProtocolError(f"{name} must be an int, not {type(value).__name__}")
            values.append(value)
        try:
            return self.struct.pack(*values)
        except struct.error as error:
            raise LocalProtocolError(f"field out of range: {error}") from error

    def unpack(self, data: bytes, offset: int) -> dict[str, Any]:
        """The fields at ``offset`` as keyword arguments; the caller checked the length."""
        raw = self.struct.unpack_from(data, offset)
        if not self._text_indices:
            return dict(zip(self.names, raw, strict=True))
        values = list(raw)
        for index in self._text_indices:
            values[index] = decode_fixed(values[index])
        return dict(zip(self.names, values, strict=True))
