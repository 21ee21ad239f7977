"""The one codec engine of the four protocols: declared field tables, compiled once.

A protocol describes each PDU as a *table*: ``(name, kind)`` pairs in wire order, header
fields after the command id first. The kinds are the vocabulary below: integers, fixed
text and octets, padding, C-octet strings, length-prefixed octets, counted lists, nested
records, TLVs, and fields a layout leaves off the wire. At import a table is compiled:
runs of fixed-size fields become one precompiled ``struct.Struct``; each variable field
gets a step of its own; and each PDU class gets a constructor generated once, which sets
its slots from the decoded values in table order (no ``**kwargs``, no ``dict``).

Every frame is ``length (4) + command id (4) + table``; the length is written from the
encoded body. Decoding checks the length, looks the command up, reads the table, and
requires the table to end exactly where the frame does. A body that does not parse is a
:class:`FrameError` carrying the command, the header sequence and the protocol's status
for that fault, so a session can answer it.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import Generic, TypeVar

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_fixed
from duanxin.protocols.core.framing import LengthPrefixedFramer

__all__ = [
    "U8",
    "U16",
    "U32",
    "U64",
    "Absent",
    "Block",
    "Bytes",
    "CString",
    "Codec",
    "Custom",
    "Decoder",
    "Fault",
    "FrameError",
    "Int",
    "Items",
    "Kind",
    "Malformed",
    "Octets",
    "Record",
    "Reserved",
    "Spec",
    "Table",
    "Text",
    "Tlv",
    "Tlvs",
    "constructor",
]

P = TypeVar("P")
T = TypeVar("T")
Values = list[object]
_PREFIX = struct.Struct(">II")  # length, command id


class Fault(Enum):
    """What is wrong with a body; each protocol maps it to its own status code."""

    LENGTH = "the body does not match its fields"
    COUNT = "a count outside its range"
    TLV = "a malformed optional parameter"
    CHOICE = "an unknown tag in a list"


class Malformed(RemoteProtocolError):
    """Raised inside a reader; the codec turns it into a :class:`FrameError`."""

    def __init__(self, message: str, fault: Fault = Fault.LENGTH) -> None:
        super().__init__(message)
        self.fault = fault


class FrameError(RemoteProtocolError):
    """A frame that cannot be decoded: whom to answer (command, sequence) and with what."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        command_id: int | None = None,
        sequence: Hashable = None,
    ) -> None:
        super().__init__(message, status=status)
        self.command_id = command_id
        self.sequence = sequence


# ------------------------------------------------------------------- the vocabulary


@dataclass(frozen=True, slots=True)
class Int:
    """Unsigned big-endian integer; ``code`` is its ``struct`` code (B, H, I or Q)."""

    code: str


U8, U16, U32, U64 = Int("B"), Int("H"), Int("I"), Int("Q")


@dataclass(frozen=True, slots=True)
class Text:
    """ASCII, NUL-padded to ``size``; read up to the first NUL, trailing spaces stripped."""

    size: int


@dataclass(frozen=True, slots=True)
class Octets:
    """Raw bytes of exactly ``size`` (digests, binary message ids)."""

    size: int


@dataclass(frozen=True, slots=True)
class Reserved:
    """``size`` zero bytes on the wire, ignored when read; not a PDU field."""

    size: int


@dataclass(frozen=True, slots=True)
class Absent:
    """Not on the wire in this layout: read as ``value``; anything else cannot be encoded."""

    value: object
    why: str = "not in this layout"
    checked: bool = True


@dataclass(frozen=True, slots=True)
class CString:
    """C-octet string (latin-1, NUL-terminated); ``max_size`` includes the NUL."""

    max_size: int


@dataclass(frozen=True, slots=True)
class Bytes:
    """Octets behind a length of struct ``code`` (B or I), at most ``max_size`` of them."""

    code: str
    max_size: int


@dataclass(frozen=True, slots=True)
class Record:
    """A nested structure of its own table, built with its own constructor."""

    cls: type
    table: Table


@dataclass(frozen=True, slots=True)
class Items:
    """A count of struct ``code``, then that many ``item`` (a :class:`Text` or a record).

    ``minimum``/``maximum`` bound the count when encoding, and when reading too if
    ``strict`` (a :attr:`Fault.COUNT` otherwise).
    """

    code: str
    item: Text | Record
    minimum: int = 0
    maximum: int = 0xFF
    strict: bool = False


@dataclass(frozen=True, slots=True)
class Tlv:
    """One optional parameter: its tag and raw value, unknown tags kept as they came."""

    tag: int
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class Tlvs:
    """Optional parameters (tag 2, length 2, value) up to the end of the PDU."""

    cls: type[Tlv] = Tlv


@dataclass(frozen=True, slots=True)
class Custom:
    """A protocol's own rule: ``write(value) -> bytes``, ``read(frame, offset, end)``."""

    write: Callable[[object], bytes]
    read: Callable[[bytes, int, int], tuple[object, int]]


Kind = Int | Text | Octets | Reserved | Absent | CString | Bytes | Record | Items | Tlvs | Custom
Spec = Kind  # the name the SMPP tests know
Table = tuple[tuple[str, Kind], ...]
_FIXED = (Int, Text, Octets, Reserved)


def _fixed(kind: Kind) -> bool:
    """Fixed-size: goes into a struct run (a record of integers too)."""
    if isinstance(kind, Record):
        return issubclass(kind.cls, tuple) and all(isinstance(k, Int) for _, k in kind.table)
    return isinstance(kind, _FIXED)


_TLV_HEAD = struct.Struct(">HH")
_TLV_MAX = 0xFFFF


# -------------------------------------------------------------------- constructors


def constructor(
    cls: type[T], names: Sequence[str], constants: Mapping[str, object]
) -> Callable[..., T]:
    """A function building ``cls`` from values given in the order of ``names``.

    For a frozen slotted dataclass without ``__post_init__`` (every PDU), it is generated
    once, straight-line, setting each slot; fields not named take ``constants`` or their
    defaults. Anything else (a named tuple) goes through the class itself.
    """
    if not dataclasses.is_dataclass(cls):
        built: Callable[..., T] = cls
        return built
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        not f.init or not hasattr(getattr(cls, f.name, None), "__set__") for f in fields
    ):
        return lambda *values: cls(**dict(zip(names, values, strict=True)), **constants)
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    params = [f"v{index}" for index in range(len(names))]
    lines = [f"def make({', '.join(params)}):", "    new = _new(_cls)"]
    given = dict(zip(names, params, strict=True))
    for index, spec in enumerate(dataclasses.fields(cls)):
        namespace[f"_set{index}"] = getattr(cls, spec.name).__set__
        if spec.name in given:
            source = given[spec.name]
        elif spec.name in constants:
            namespace[f"_c{index}"] = constants[spec.name]
            source = f"_c{index}"
        elif spec.default is not dataclasses.MISSING:
            namespace[f"_c{index}"] = spec.default
            source = f"_c{index}"
        elif spec.default_factory is not dataclasses.MISSING:
            namespace[f"_f{index}"] = spec.default_factory
            source = f"_f{index}()"
        else:
            source = "None"  # a required field the wire does not carry: never in a table
        lines.append(f"    _set{index}(new, {source})")
    lines.append("    return new")
    exec("\n".join(lines), namespace)
    made: Callable[..., T] = namespace["make"]  # type: ignore[assignment]
    return made


# ------------------------------------------------------------------------- steps

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

    def write(self, values: Sequence[object], out: list[bytes]) -> None:
        if not self.names:  # padding only
            out.append(self.padding)
            return
        args = list(values[self.start : self.stop])
        try:
            for index, size in self.texts:
                raw = args[index].encode("ascii")  # type: ignore[attr-defined]
                if len(raw) > size:
                    raise ValueError(index)
                args[index] = raw
            for index, size in self.octets:
                value = args[index]
                if type(value) is not bytes or len(value) != size:
                    raise ValueError(index)
            for index in self.flatten:
                args[index : index + 1] = args[index]
            out.append(self.struct.pack(*args))
        except (AttributeError, UnicodeError, ValueError, TypeError, struct.error):
            self._explain(values[self.start : self.stop])

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
        text = _Run([(name, item)], 0)

        def put_item(value: object) -> bytes:
            parts: list[bytes] = []
            text.write((value,), parts)
            return parts[0]

        def read_item(frame: bytes, offset: int, end: int, out: Values) -> int:
            out.append(decode_fixed(frame[offset : offset + size]))
            return offset + size

    else:
        record = _compile(item.table)
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
        if fixed is not None:  # text slots, the common case: encoded in bulk
            try:
                raws = [entry.encode("ascii") for entry in value]
                if all(len(raw) <= fixed for raw in raws):
                    return count.pack(len(value)) + b"".join([r.ljust(fixed, b"\0") for r in raws])
            except (AttributeError, UnicodeError):
                pass
        return count.pack(len(value)) + b"".join([put_item(entry) for entry in value])

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


def _single(index: int, put: Callable[[object], bytes]) -> Writer:
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


class _Compiled:
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
            elif _fixed(kind):
                run.append((name, kind))
            else:
                variable = self._flush(run, variable)
                run = []
                put, read = _step(name, kind)
                self.writers.append(_single(len(self.names), put))
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
        self.writers.append(compiled.write)
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


def _compile(table: Table) -> _Compiled:
    return _Compiled(table)


class Block(Generic[T]):
    """A record of fields outside any frame (CMPP's status report), read and written whole."""

    def __init__(self, cls: type[T], table: Table) -> None:
        self._compiled = _compile(table)
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


# ------------------------------------------------------------------------- codec


@dataclass(slots=True)
class _Layout(Generic[P]):
    cls: type[P]
    command_id: int
    compiled: _Compiled
    make: Callable[..., P]
    status: int | None  # the answer to a malformed body, when the PDU has its own

    @property
    def size(self) -> int:
        """Frame bytes before the first variable field."""
        return _PREFIX.size + self.compiled.fixed_size


class Codec(Generic[P]):
    """Encoder and decoder of one protocol, from its header table and PDU tables.

    ``pdus`` maps each PDU class to ``(command id, table)``, or to ``{variant: (command
    id, table)}`` where layouts differ (CMPP 2.0 / 3.0). ``faults`` gives the status to
    answer each :class:`Fault` with, ``statuses`` a command's own, overriding them;
    ``length_status`` answers a frame whose length field lies.
    """

    def __init__(
        self,
        name: str,
        header: Table,
        pdus: Mapping[type[P], tuple[int, Table] | Mapping[Hashable, tuple[int, Table]]],
        *,
        faults: Mapping[Fault, int] | None = None,
        statuses: Mapping[int, int] | None = None,
        unknown_status: int | None = None,
        length_status: int | None = None,
    ) -> None:
        self.name = name
        self.header = _compile(header)
        self.header_size = _PREFIX.size + self.header.fixed_size
        self._faults = dict(faults or {})
        self._statuses = dict(statuses or {})
        self._unknown_status = unknown_status
        self.length_status = length_status
        shared: list[_Layout[P]] = []
        variants: dict[Hashable, list[_Layout[P]]] = {}
        self.versioned: set[type[P]] = set()
        for cls, entry in pdus.items():
            if not isinstance(entry, Mapping):
                shared.append(self._layout(header, cls, *entry))
                continue
            self.versioned.add(cls)
            for variant, (command, table) in entry.items():
                variants.setdefault(variant, []).append(self._layout(header, cls, command, table))
        #: Per variant (None: the protocol has one), every layout by class and by command.
        self.by_class: dict[Hashable, dict[type[P], _Layout[P]]] = {}
        self.by_command: dict[Hashable, dict[int, _Layout[P]]] = {}
        for variant, own in (variants or {None: []}).items():
            self.by_class[variant] = {layout.cls: layout for layout in (*shared, *own)}
            self.by_command[variant] = {layout.command_id: layout for layout in (*shared, *own)}
        self.by_class.setdefault(None, next(iter(self.by_class.values())))
        self.by_command.setdefault(None, next(iter(self.by_command.values())))
        self.tables: dict[type[P], Table] = {
            cls: entry[1] for cls, entry in pdus.items() if not isinstance(entry, Mapping)
        }

    def _layout(self, header: Table, cls: type[P], command: int, table: Table) -> _Layout[P]:
        compiled = _compile(header + table)
        make = constructor(cls, compiled.names, compiled.constants)
        return _Layout(cls, command, compiled, make, self._statuses.get(command))

    def layout(self, cls: type[P], variant: Hashable = None) -> _Layout[P]:
        """The layout of ``cls`` in ``variant`` (or its only one)."""
        layout = self.by_class[variant].get(cls)
        if layout is None:
            raise LocalProtocolError(f"not a {self.name} PDU: {cls.__name__}")
        return layout

    def encode(self, pdu: P, variant: Hashable = None) -> bytes:
        """The wire bytes of ``pdu``; LocalProtocolError for values the protocol cannot carry."""
        layout = self.by_class[variant].get(type(pdu)) or self.layout(type(pdu))
        compiled = layout.compiled
        if compiled.check_get is not None:
            compiled.check(pdu)
        parts: list[bytes] = []
        values = compiled.get(pdu)
        try:
            for write in compiled.writers:
                write(values, parts)
        except (struct.error, OverflowError, TypeError, AttributeError) as error:
            raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {error}") from error
        body = b"".join(parts)
        return _PREFIX.pack(_PREFIX.size + len(body), layout.command_id) + body

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
        if layout is None:
            raise FrameError(
                f"unknown command id 0x{command:08x}",
                status=self._unknown_status,
                command_id=command,
                sequence=self.sequence(frame),
            )
        if length != end:
            raise FrameError(
                f"length field {length} but the frame is {end} bytes",
                status=self.length_status,
                command_id=command,
                sequence=self.sequence(frame),
            )
        values: Values = []
        offset = _PREFIX.size
        try:
            for read in layout.compiled.readers:
                offset = read(frame, offset, end, values)
            if offset != end:
                raise Malformed(f"{end - offset} bytes after the last field")
        except Malformed as error:
            raise self.malformed(layout, frame, error) from error
        return layout.make(*values)

    def malformed(self, layout: _Layout[P], frame: bytes, error: Malformed) -> FrameError:
        """The error for a body that does not parse, with the status to answer it."""
        status = layout.status if layout.status is not None else self._faults.get(error.fault)
        return FrameError(
            f"{layout.cls.__name__}: {error}",
            status=status,
            command_id=layout.command_id,
            sequence=self.sequence(frame),
        )

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


class Decoder(Generic[P]):
    """Incremental decoder: feed bytes, then iterate :meth:`pdus`.

    ``variant`` picks the layout of PDUs not yet yielded (CMPP's version); ``last`` is
    the PDU most recently handed out (None while a frame is being decoded), so a session
    can answer a PDU it refuses with that PDU's own response.
    """

    __slots__ = ("_decode", "_framer", "_framing_status", "last", "variant")

    def __init__(
        self,
        decode: Callable[[bytes, Hashable], P],
        *,
        min_length: int,
        max_length: int,
        framing_status: int | None = None,
        variant: Hashable = None,
    ) -> None:
        self._framer = LengthPrefixedFramer(min_length=min_length, max_length=max_length)
        self._decode = decode
        self._framing_status = framing_status
        self.variant = variant
        self.last: P | None = None

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._framer.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole PDU."""
        return self._framer.buffered

    def pdus(self) -> Iterator[P]:
        """Yield each complete PDU buffered so far; a partial one stays buffered."""
        frames = self._framer.frames()
        decode = self._decode
        try:
            while True:
                self.last = None
                try:
                    frame = next(frames)
                except StopIteration:
                    return
                except RemoteProtocolError as error:
                    raise FrameError(str(error), status=self._framing_status) from error
                pdu = decode(frame, self.variant)
                self.last = pdu
                yield pdu
        finally:
            frames.close()
