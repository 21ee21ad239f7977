"""Field tables compiled: runs of fixed fields as one ``struct``, a step per variable field.

Writers take the PDU's field values (in table order) and append bytes; readers append the
values they read, which a generated constructor (:func:`~.table.constructor`) turns into
the PDU. Text is encoded and checked in bulk; when a value does not fit, the slow path
names the field at fault.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Generic, TypeVar

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_fixed
from duanxin.protocols.core.table import (
    Absent,
    Bytes,
    CString,
    Custom,
    Fault,
    Int,
    Items,
    Kind,
    Malformed,
    Octets,
    Record,
    Reserved,
    Table,
    Text,
    Tlv,
    Tlvs,
    Values,
    constructor,
    is_fixed,
)

__all__ = ["Block", "Compiled", "Reader", "Writer"]

T = TypeVar("T")
_TLV_HEAD = struct.Struct(">HH")
_TLV_MAX = 0xFFFF

Writer = Callable[[Sequence[object], list[bytes]], None]
Reader = Callable[[bytes, int, int, Values], int]


class _Run:
    """Adjacent fixed-size fields as one struct; text is encoded and checked in bulk."""

    def __init__(self, fields: list[tuple[str, Kind]], start: int) -> None:
        codes = [">"]
        self.names: list[str] = []
        texts: list[tuple[int, int]] = []
        octets: list[tuple[int, int]] = []
        text_positions: list[int] = []  # in the unpacked tuple, where records take several
        groups: list[tuple[int, int, Callable[..., object]]] = []
        position = 0
        for name, kind in fields:
            if isinstance(kind, Reserved):
                codes.append(f"{kind.size}x")
                continue
            index = len(self.names)
            self.names.append(name)
            if isinstance(kind, Int):
                codes.append(kind.code)
            elif isinstance(kind, Record):  # a named tuple of integers, flattened
                codes.extend(part.code for _, part in kind.table if isinstance(part, Int))
                groups.append((index, len(kind.table), kind.cls))
                position += len(kind.table) - 1
            else:
                codes.append(f"{kind.size}s")  # type: ignore[union-attr]
                (texts if isinstance(kind, Text) else octets).append((index, kind.size))  # type: ignore[union-attr]
                if isinstance(kind, Text):
                    text_positions.append(position)
            position += 1
        self.kinds = [kind for _, kind in fields if not isinstance(kind, Reserved)]
        self.struct = struct.Struct("".join(codes))
        self.size = self.struct.size
        self.start, self.stop = start, start + len(self.names)
        self.texts, self.octets = tuple(texts), tuple(octets)
        self.text_indices = tuple(text_positions)
        # Records, last first, by their place among the names (write) and in the tuple (read).
        self.flatten = tuple(index for index, _, _ in reversed(groups))
        at = 0
        self.regroup: list[tuple[int, int, Callable[..., object]]] = []
        for index, width, cls in groups:
            self.regroup.insert(0, (index + at, width, cls))
            at += width - 1
        self.padding = bytes(self.size)
        self.plain = bool(self.names) and not (texts or octets or groups)

    def writer(self) -> Writer:
        """The fastest writer for this run: integers only and padding only are common."""
        pack, start, stop, padding = self.struct.pack, self.start, self.stop, self.padding
        if not self.names:

            def write_padding(values: Sequence[object], out: list[bytes]) -> None:
                out.append(padding)

            return write_padding
        if not self.plain:
            return self._text_writer()

        def write_integers(values: Sequence[object], out: list[bytes]) -> None:
            try:
                out.append(pack(*values[start:stop]))
            except struct.error:
                self._explain(values[start:stop])

        return write_integers

    def _text_writer(self) -> Writer:
        pack, start, stop = self.struct.pack, self.start, self.stop
        if (
            self.kinds
            and len(self.kinds) == 1
            and self.texts
            and self.struct.size == self.texts[0][1]
        ):
            size, explain_one = self.texts[0][1], self._explain

            def write_text(values: Sequence[object], out: list[bytes]) -> None:
                value = values[start]
                try:
                    raw = value.encode("ascii")  # type: ignore[attr-defined]
                    if len(raw) <= size:
                        out.append(raw.ljust(size, b"\0"))
                        return
                except (AttributeError, UnicodeError):
                    pass
                explain_one(values[start:stop])

            return write_text
        texts, octets, flatten = self.texts, self.octets, self.flatten
        explain = self._explain

        def write_fields(values: Sequence[object], out: list[bytes]) -> None:
            args = list(values[start:stop])
            try:
                for index, size in texts:
                    raw = args[index].encode("ascii")  # type: ignore[attr-defined]
                    if len(raw) > size:
                        raise ValueError(index)
                    args[index] = raw
                for index, size in octets:
                    value = args[index]
                    if type(value) is not bytes or len(value) != size:
                        raise ValueError(index)
                for index in flatten:
                    args[index : index + 1] = args[index]
                out.append(pack(*args))
            except (AttributeError, UnicodeError, ValueError, TypeError, struct.error):
                explain(values[start:stop])

        return write_fields

    def _explain(self, values: Sequence[object]) -> None:
        """The slow way, which says which field is wrong."""
        for name, kind, value in zip(self.names, self.kinds, values, strict=True):
            problem = _problem(kind, value)
            if problem:
                raise LocalProtocolError(f"{name} {problem}")
        raise LocalProtocolError(f"cannot encode {self.names}")

    def read(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        stop = offset + self.size
        if stop > end:
            raise Malformed(f"body ends inside {self.names[0] if self.names else 'padding'}")
        raw = self.struct.unpack_from(frame, offset)
        if self.text_indices or self.regroup:
            decoded = list(raw)
            for index in self.text_indices:
                decoded[index] = decode_fixed(decoded[index])
            for index, width, cls in self.regroup:
                decoded[index : index + width] = [cls(*decoded[index : index + width])]
            out.extend(decoded)
        else:
            out.extend(raw)
        return stop


def _problem(kind: Kind, value: object) -> str:
    """What is wrong with ``value`` for a fixed field of ``kind`` ("" if nothing is)."""
    if isinstance(kind, Text):
        if not isinstance(value, str):
            return f"must be text, not {type(value).__name__}"
        if not value.isascii():
            return f"must be ASCII: {value!r}"
        if len(value) > kind.size:
            return f"is {len(value)} bytes, at most {kind.size} allowed"
    elif isinstance(kind, Octets):
        if not isinstance(value, bytes) or len(value) != kind.size:
            return f"must be exactly {kind.size} bytes"
    elif isinstance(kind, Record):
        if not isinstance(value, tuple) or len(value) != len(kind.table):
            return f"must be a {kind.cls.__name__}"
    elif isinstance(kind, Int):
        if not isinstance(value, int):
            return f"must be an int, not {type(value).__name__}"
        try:
            struct.pack(">" + kind.code, value)
        except struct.error:
            return f"out of range: {value}"
    return ""


def _c_string(name: str, max_size: int) -> tuple[Callable[[object], bytes], Reader]:
    def put(value: object) -> bytes:
        if not isinstance(value, str):
            raise LocalProtocolError(f"{name} must be text")
        if "\x00" in value:
            raise LocalProtocolError(f"{name} contains NUL")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError as error:
            raise LocalProtocolError(f"{name} is not latin-1 text") from error
        if len(raw) >= max_size:
            raise LocalProtocolError(f"{name} is {len(raw)} bytes, at most {max_size - 1}")
        return raw + b"\x00"

    def read(frame: bytes, offset: int, end: int, out: Values) -> int:
        stop = frame.find(b"\x00", offset, min(offset + max_size, end))
        if stop < 0:
            raise Malformed(f"body ends inside {name} (no NUL within {max_size} bytes)")
        out.append(frame[offset:stop].decode("latin-1"))
        return stop + 1

    return put, read


def _bytes(name: str, kind: Bytes) -> tuple[Callable[[object], bytes], Reader]:
    length = struct.Struct(">" + kind.code)
    pack, limit, width = length.pack, kind.max_size, length.size

    def put(value: object) -> bytes:
        if not isinstance(value, bytes | bytearray) or len(value) > limit:
            raise LocalProtocolError(f"{name} must be bytes of at most {limit}")
        return pack(len(value)) + value

    def read(frame: bytes, offset: int, end: int, out: Values) -> int:
        start = offset + width
        if start > end:
            raise Malformed(f"body ends before the length of {name}")
        stop = start + (frame[offset] if width == 1 else length.unpack_from(frame, offset)[0])
        if stop > end:
            raise Malformed(f"{name} runs past the end of the PDU")
        out.append(frame[start:stop])
        return stop

    return put, read


def _item_steps(name: str, item: Text | Record) -> tuple[Callable[[object], bytes], Reader]:
    if isinstance(item, Text):
        size = item.size
        write_text = _Run([(name, item)], 0).writer()

        def put_item(value: object) -> bytes:
            parts: list[bytes] = []
            write_text((value,), parts)
            return parts[0]

        def read_item(frame: bytes, offset: int, end: int, out: Values) -> int:
            out.append(decode_fixed(frame[offset : offset + size]))
            return offset + size

    else:
        record = Compiled(item.table)
        make: Callable[..., object] = constructor(item.cls, record.names, record.constants)

        def put_item(value: object) -> bytes:
            parts: list[bytes] = []
            record.write_all(record.get(value), parts)
            return b"".join(parts)

        def read_item(frame: bytes, offset: int, end: int, out: Values) -> int:
            values: Values = []
            offset = record.read_all(frame, offset, end, values)
            out.append(make(*values))
            return offset

    return put_item, read_item


def _items(name: str, kind: Items) -> tuple[Callable[[object], bytes], Reader]:
    count = struct.Struct(">" + kind.code)
    item = kind.item
    put_item, read_item = _item_steps(name, item)
    fixed = item.size if isinstance(item, Text) else None

    def put(value: object) -> bytes:
        if not isinstance(value, tuple) or not kind.minimum <= len(value) <= kind.maximum:
            raise LocalProtocolError(f"{name} needs {kind.minimum}..{kind.maximum} entries")
        parts = [count.pack(len(value))]
        if fixed is not None:  # text slots, the common case: padded here
            try:
                for entry in value:
                    raw = entry.encode("ascii")
                    if len(raw) > fixed:
                        break
                    parts.append(raw.ljust(fixed, b"\0"))
                else:
                    return b"".join(parts)
            except (AttributeError, UnicodeError):
                pass
            del parts[1:]
        parts += [put_item(entry) for entry in value]
        return b"".join(parts)

    def read(frame: bytes, offset: int, end: int, out: Values) -> int:
        if offset + count.size > end:
            raise Malformed(f"body ends before the count of {name}")
        number = frame[offset] if count.size == 1 else count.unpack_from(frame, offset)[0]
        if kind.strict and not kind.minimum <= number <= kind.maximum:
            raise Malformed(f"{number} {name} outside {kind.minimum}..{kind.maximum}", Fault.COUNT)
        offset += count.size
        if fixed is not None and offset + number * fixed > end:
            raise Malformed(f"body ends inside its {number} {name}")
        entries: Values = []
        for _ in range(number):
            offset = read_item(frame, offset, end, entries)
        out.append(tuple(entries))
        return offset

    return put, read


def _tlvs(kind: Tlvs) -> tuple[Callable[[object], bytes], Reader]:
    cls = kind.cls

    def put(value: object) -> bytes:
        parts: list[bytes] = []
        for tlv in value:  # type: ignore[attr-defined]
            if len(tlv.value) > _TLV_MAX:
                raise LocalProtocolError(f"TLV 0x{tlv.tag:04X} value exceeds {_TLV_MAX} bytes")
            parts += (_TLV_HEAD.pack(tlv.tag, len(tlv.value)), tlv.value)
        return b"".join(parts)

    def read(frame: bytes, offset: int, end: int, out: Values) -> int:
        tlvs: list[Tlv] = []
        while offset < end:
            if offset + _TLV_HEAD.size > end:
                raise Malformed("truncated TLV header", Fault.TLV)
            tag, length = _TLV_HEAD.unpack_from(frame, offset)
            offset += _TLV_HEAD.size
            if offset + length > end:
                raise Malformed(f"TLV 0x{tag:04X} overruns the PDU", Fault.TLV)
            tlvs.append(cls(tag, frame[offset : offset + length]))
            offset += length
        out.append(tuple(tlvs))
        return end

    return put, read


def _single(index: int, kind: Kind, put: Callable[[object], bytes]) -> Writer:
    if isinstance(kind, CString):  # the SMPP encoder's hottest step, inlined
        limit = kind.max_size

        def write_c_string(values: Sequence[object], out: list[bytes]) -> None:
            value = values[index]
            try:
                if "\0" in value:  # type: ignore[operator]
                    raise ValueError(value)
                raw = value.encode("latin-1")  # type: ignore[attr-defined]
                if len(raw) >= limit:
                    raise ValueError(value)
            except (TypeError, AttributeError, UnicodeError, ValueError):
                raw = put(value)  # raises, saying what is wrong
            out.append(raw + b"\0")

        return write_c_string
    if isinstance(kind, Tlvs):

        def write_tlvs(values: Sequence[object], out: list[bytes]) -> None:
            if values[index]:
                out.append(put(values[index]))

        return write_tlvs

    def write(values: Sequence[object], out: list[bytes]) -> None:
        out.append(put(values[index]))

    return write


def _custom_reader(kind: Custom) -> Reader:
    def read(frame: bytes, offset: int, end: int, out: Values) -> int:
        value, offset = kind.read(frame, offset, end)
        out.append(value)
        return offset

    return read


def _step(name: str, kind: Kind) -> tuple[Callable[[object], bytes], Reader]:
    if isinstance(kind, CString):
        return _c_string(name, kind.max_size)
    if isinstance(kind, Bytes):
        return _bytes(name, kind)
    if isinstance(kind, Items):
        return _items(name, kind)
    if isinstance(kind, Tlvs):
        return _tlvs(kind)
    if isinstance(kind, Custom):
        return kind.write, _custom_reader(kind)
    raise TypeError(f"{name}: no step for {kind!r}")


class Compiled:
    """A table compiled: the names it reads, its getter, its writers and readers."""

    def __init__(self, table: Table) -> None:
        self.names: list[str] = []
        self.constants: dict[str, object] = {}
        self.checks: list[tuple[str, object, str]] = []
        self.writers: list[Writer] = []
        self.readers: list[Reader] = []
        self.fixed_size = 0  # bytes before the first variable field
        run: list[tuple[str, Kind]] = []
        variable = False
        for name, kind in table:
            if isinstance(kind, Absent):
                self.constants[name] = kind.value
                if kind.checked:
                    self.checks.append((name, kind.value, kind.why))
            elif is_fixed(kind):
                run.append((name, kind))
            else:
                variable = self._flush(run, variable)
                run = []
                put, read = _step(name, kind)
                self.writers.append(_single(len(self.names), kind, put))
                self.readers.append(read)
                self.names.append(name)
        self._flush(run, variable)
        self.has_tlvs = any(isinstance(kind, Tlvs) for _, kind in table)
        names = self.names
        getter = attrgetter(*names) if names else None
        if len(names) == 1:
            self.get: Callable[[object], Sequence[object]] = lambda obj: (getter(obj),)  # type: ignore[misc]
        elif getter is None:
            self.get = lambda obj: ()
        else:
            self.get = getter
        self.check_get = attrgetter(*(name for name, _, _ in self.checks)) if self.checks else None
        self.expected = tuple(value for _, value, _ in self.checks)
        if len(self.checks) == 1:
            self.expected = self.expected[0]  # type: ignore[assignment]

    def _flush(self, run: list[tuple[str, Kind]], variable: bool) -> bool:
        if not run:
            return variable
        compiled = _Run(run, len(self.names))
        self.names.extend(compiled.names)
        self.writers.append(compiled.writer())
        self.readers.append(compiled.read)
        if not variable:
            self.fixed_size += compiled.size
        return variable

    def write_all(self, values: Sequence[object], out: list[bytes]) -> None:
        for write in self.writers:
            write(values, out)

    def read_all(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        for read in self.readers:
            offset = read(frame, offset, end, out)
        return offset

    def check(self, pdu: object) -> None:
        """Fields a layout leaves off the wire must hold the value it implies."""
        if self.check_get is not None and self.check_get(pdu) != self.expected:
            for name, value, why in self.checks:
                if getattr(pdu, name) != value:
                    raise LocalProtocolError(f"{name} {why}")


class Block(Generic[T]):
    """A record of fields outside any frame (CMPP's status report), read and written whole."""

    def __init__(self, cls: type[T], table: Table) -> None:
        self._compiled = Compiled(table)
        self.size = self._compiled.fixed_size
        self._make = constructor(cls, self._compiled.names, self._compiled.constants)

    def pack(self, obj: object) -> bytes:
        """The bytes of ``obj``'s fields."""
        parts: list[bytes] = []
        self._compiled.write_all(self._compiled.get(obj), parts)
        return b"".join(parts)

    def read(self, frame: bytes, offset: int, end: int) -> tuple[T, int]:
        """The record at ``offset`` and the offset after it."""
        values: Values = []
        offset = self._compiled.read_all(frame, offset, end, values)
        return self._make(*values), offset

    def unpack(self, data: bytes) -> T:
        """The record in ``data``, which must be exactly its size."""
        record, offset = self.read(data, 0, len(data))
        if offset != len(data):
            raise RemoteProtocolError(f"{len(data)} bytes where {self.size} were expected")
        return record
