"""Field tables: the vocabulary the protocols describe their PDUs in, and its compiler.

A protocol describes each PDU as a *table*: ``(name, kind)`` pairs in wire order, header
fields after the command id first. The kinds are the classes here. Fixed-size ones
(integers, fixed text and octets, padding) have a ``struct`` ``code`` and say what is
wrong with a value (``problem``); adjacent ones compile to one ``struct``. The others
(C-octet strings, length-prefixed octets, counted lists, nested records, TLVs, a
protocol's own rule) ``write(value) -> bytes`` and ``read(frame, offset, end, out)``,
appending the value and returning the offset after it. :class:`Absent` marks a field a
layout leaves off the wire. :class:`Fields` compiles a table;
:mod:`duanxin.protocols.core.codec` frames it.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import typing
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from operator import attrgetter
from typing import Generic, NoReturn, TypeVar

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_fixed

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)
Values = list[object]
Writer = Callable[[Sequence[object], list[bytes]], None]
Reader = Callable[[bytes, int, int, Values], int]
_TLV_HEAD = struct.Struct(">HH")
_U32 = struct.Struct(">I")
_LENGTHS = {code: struct.Struct(">" + code).pack for code in "BI"}
_TLV_MAX = 0xFFFF


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


# ------------------------------------------------------ fixed-size: struct runs


@dataclass(frozen=True, slots=True)
class Int:
    """Unsigned big-endian integer; ``code`` is its ``struct`` code (B, H, I or Q)."""

    code: str

    def problem(self, value: object) -> str:
        if not isinstance(value, int):
            return f"must be an int, not {type(value).__name__}"
        try:
            struct.pack(">" + self.code, value)
        except struct.error:
            return f"out of range: {value}"
        return ""


U8, U16, U32, U64 = Int("B"), Int("H"), Int("I"), Int("Q")
Byte = typing.Annotated[int, U8]


@dataclass(frozen=True, slots=True)
class _Sized:
    size: int

    @property
    def code(self) -> str:
        return f"{self.size}s"


class Octets(_Sized):
    """Raw bytes of exactly ``size`` (digests, binary message ids)."""

    __slots__ = ()

    def problem(self, value: object) -> str:
        ok = isinstance(value, bytes) and len(value) == self.size
        return "" if ok else f"must be exactly {self.size} bytes"


class Text(_Sized):
    """ASCII, NUL-padded to ``size``; read up to the first NUL, trailing spaces stripped."""

    __slots__ = ()

    def problem(self, value: object) -> str:
        if not isinstance(value, str):
            return f"must be text, not {type(value).__name__}"
        if not value.isascii():
            return f"must be ASCII: {value!r}"
        if len(value) > self.size:
            return f"is {len(value)} bytes, at most {self.size} allowed"
        return ""

    def write(self, value: object) -> bytes:
        if problem := self.problem(value):
            raise LocalProtocolError(problem)
        return str(value).encode("ascii").ljust(self.size, b"\0")


class Reserved(_Sized):
    """``size`` zero bytes on the wire, ignored when read; not a PDU field."""

    __slots__ = ()

    @property
    def code(self) -> str:
        return f"{self.size}x"


@dataclass(frozen=True, slots=True)
class Absent:
    """Not on the wire in this layout: read as ``value``; anything else cannot be encoded."""

    value: object
    why: str = "not in this layout"
    checked: bool = True


# ------------------------------------------ variable-size: written and read alone


@dataclass(frozen=True, slots=True)
class CString:
    """C-octet string (latin-1, NUL-terminated); ``max_size`` includes the NUL."""

    max_size: int

    def write(self, value: object) -> bytes:
        if not isinstance(value, str) or "\0" in value:
            raise LocalProtocolError("must be text without NUL")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError as error:
            raise LocalProtocolError("is not latin-1 text") from error
        if len(raw) >= self.max_size:
            raise LocalProtocolError(f"is {len(raw)} bytes, at most {self.max_size - 1}")
        return raw + b"\0"

    def read(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        stop = frame.find(b"\0", offset, min(offset + self.max_size, end))
        if stop < 0:
            raise Malformed(f"body ends inside a C-string (no NUL within {self.max_size} bytes)")
        out.append(frame[offset:stop].decode("latin-1"))
        return stop + 1


@dataclass(frozen=True, slots=True)
class Bytes:
    """Octets behind a length of struct ``code`` (B or I), at most ``max_size`` of them."""

    code: str
    max_size: int

    def write(self, value: object) -> bytes:
        if not isinstance(value, bytes | bytearray) or len(value) > self.max_size:
            raise LocalProtocolError(f"must be bytes of at most {self.max_size}")
        return _LENGTHS[self.code](len(value)) + value

    def read(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        if self.code == "B":
            start = offset + 1
            stop = start + frame[offset] if start <= end else -1
        else:
            start = offset + _U32.size
            stop = start + _U32.unpack_from(frame, offset)[0] if start <= end else -1
        if stop < 0:
            raise Malformed("body ends before a length")
        if stop > end:
            raise Malformed("octets run past the end of the PDU")
        out.append(frame[start:stop])
        return stop


@dataclass(frozen=True, slots=True)
class Record:
    """A nested structure of its own table, built with its own constructor; a named tuple
    of integers (SGIP's sequence triple) is one ``struct``."""

    cls: type
    table: Table
    fields: Fields = field(init=False, compare=False, repr=False)
    make: Callable[..., object] = field(init=False, compare=False, repr=False)
    triple: struct.Struct | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        compiled = Fields(self.table)
        plain = issubclass(self.cls, tuple) and all(isinstance(k, Int) for _, k in self.table)
        codes = "".join(kind.code for _, kind in self.table if isinstance(kind, Int))
        object.__setattr__(self, "fields", compiled)
        object.__setattr__(self, "make", constructor(self.cls, compiled.names, compiled.constants))
        object.__setattr__(self, "triple", struct.Struct(">" + codes) if plain else None)

    def write(self, value: object) -> bytes:
        if self.triple is not None and isinstance(value, tuple):
            try:
                return self.triple.pack(*value)
            except struct.error:
                pass  # the fields say what is wrong
        if isinstance(value, tuple) and issubclass(self.cls, tuple):
            values: Sequence[object] = value  # a named tuple: its fields in wire order
        elif isinstance(value, self.cls):
            values = self.fields.get(value)
        else:
            raise LocalProtocolError(f"must be a {self.cls.__name__}")
        parts: list[bytes] = []
        self.fields.write_all(values, parts)
        return b"".join(parts)

    def read(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        triple = self.triple
        if triple is not None and offset + triple.size <= end:
            out.append(self.make(*triple.unpack_from(frame, offset)))
            return offset + triple.size
        values: Values = []
        offset = self.fields.read_all(frame, offset, end, values)
        out.append(self.make(*values))
        return offset


@dataclass(frozen=True, slots=True)
class Items:
    """A one-byte count, then that many ``item`` (a :class:`Text` or a :class:`Record`).

    ``minimum``/``maximum`` bound the count when encoding, and when reading too if
    ``strict`` (a :attr:`Fault.COUNT` otherwise).
    """

    item: Text | Record
    minimum: int = 0
    maximum: int = 0xFF
    strict: bool = False

    def write(self, value: object) -> bytes:
        if not isinstance(value, tuple) or not self.minimum <= len(value) <= self.maximum:
            raise LocalProtocolError(f"needs {self.minimum}..{self.maximum} entries")
        parts, item = [_LENGTHS["B"](len(value))], self.item
        if isinstance(item, Text):  # text slots, the common case: padded here
            size = item.size
            try:
                for entry in value:
                    raw = entry.encode("ascii")
                    if len(raw) > size:
                        break
                    parts.append(raw.ljust(size, b"\0"))
                else:
                    return b"".join(parts)
            except (AttributeError, UnicodeError):
                pass
            del parts[1:]
        parts += [item.write(entry) for entry in value]
        return b"".join(parts)

    def read(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        if offset >= end:
            raise Malformed("body ends before a count")
        number, start = frame[offset], offset + 1
        if self.strict and not self.minimum <= number <= self.maximum:
            raise Malformed(f"{number} entries outside {self.minimum}..{self.maximum}", Fault.COUNT)
        item = self.item
        entries: Values = []
        if isinstance(item, Text):  # text slots, the common case: sliced here
            size = item.size
            stop = start + number * size
            if stop > end:
                raise Malformed(f"body ends inside its {number} entries")
            for at in range(start, stop, size):
                entries.append(decode_fixed(frame[at : at + size]))
            out.append(tuple(entries))
            return stop
        for _ in range(number):
            start = item.read(frame, start, end, entries)
        out.append(tuple(entries))
        return start


@dataclass(frozen=True, slots=True)
class Tlv:
    """One optional parameter: its tag and raw value, unknown tags kept as they came."""

    tag: int
    value: bytes = b""


def find_tlv(tlvs: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first TLV with ``tag``, if any."""
    return next((tlv for tlv in tlvs if tlv.tag == tag), None)


def tlv_int(tlvs: Iterable[Tlv], tag: int) -> int | None:
    """The big-endian integer value of TLV ``tag``; None when absent or empty."""
    tlv = find_tlv(tlvs, tag)
    return int.from_bytes(tlv.value, "big") if tlv is not None and tlv.value else None


def tlv_text(tlvs: Iterable[Tlv], tag: int) -> str | None:
    """The text of C-octet string TLV ``tag`` (cut at the first NUL); None when absent."""
    tlv = find_tlv(tlvs, tag)
    return None if tlv is None else tlv.value.split(b"\0", 1)[0].decode("latin-1")


@dataclass(frozen=True, slots=True)
class Tlvs:
    """Optional parameters (tag 2, length 2, value) up to the end of the PDU."""

    cls: type[Tlv] = Tlv

    def write(self, value: object) -> bytes:
        parts: list[bytes] = []
        for tlv in value:  # type: ignore[attr-defined]
            if len(tlv.value) > _TLV_MAX:
                raise LocalProtocolError(f"TLV 0x{tlv.tag:04X} value exceeds {_TLV_MAX} bytes")
            parts += (_TLV_HEAD.pack(tlv.tag, len(tlv.value)), tlv.value)
        return b"".join(parts)

    def read(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        tlvs: list[Tlv] = []
        while offset < end:
            if offset + _TLV_HEAD.size > end:
                raise Malformed("truncated TLV header", Fault.TLV)
            tag, length = _TLV_HEAD.unpack_from(frame, offset)
            offset += _TLV_HEAD.size
            if offset + length > end:
                raise Malformed(f"TLV 0x{tag:04X} overruns the PDU", Fault.TLV)
            tlvs.append(self.cls(tag, frame[offset : offset + length]))
            offset += length
        out.append(tuple(tlvs))
        return end


@dataclass(frozen=True, slots=True)
class Custom:
    """A protocol's own rule, as its ``write`` and ``read``."""

    write: Callable[[object], bytes]
    read: Reader


Fixed = Int | Text | Octets | Reserved
Kind = Fixed | Absent | CString | Bytes | Record | Items | Tlvs | Custom
Table = tuple[tuple[str, Kind], ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """A field whose kinds differ between a protocol's layouts (CMPP 2.0 / 3.0): ``by``
    maps each layout to its kinds, in wire order (padding included)."""

    by: Mapping[Hashable, tuple[Kind, ...]]


def table_of(cls: type, variant: Hashable = None, **given: Kind) -> Table:
    """The table of ``cls``: its fields declared ``Annotated[type, kind]``, in field order,
    except that the fields of a base declaring ``__trailing__`` come after all the others.

    A :class:`Reserved` beside the kind is padding before or after the field, as written;
    a :class:`Variant` stands for its kinds in layout ``variant``. ``given`` names the
    kind of a field its own module cannot (a rule the codec defines); fields with no kind
    (the header's) are left out.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    trailing = {
        name
        for base in cls.__mro__
        if vars(base).get("__trailing__")
        for name in vars(base).get("__annotations__", ())
    }
    table: list[tuple[str, Kind]] = []
    for spec in sorted(dataclasses.fields(cls), key=lambda spec: spec.name in trailing):
        kinds: list[Kind] = []
        for kind in getattr(hints[spec.name], "__metadata__", ()):
            if isinstance(kind, Variant):
                kinds += kind.by[variant]
            elif isinstance(kind, Kind):
                kinds.append(kind)
        if spec.name in given:
            kinds = [given[spec.name]]
        table += [(spec.name if not isinstance(k, Reserved) else "reserve", k) for k in kinds]
    return tuple(table)


Entry = tuple[int, Table]


def declared(
    classes: Iterable[type[T]],
    ids: type[E],
    prefix: str = "",
    variants: Sequence[Hashable] = (),
    **given: Kind,
) -> dict[type[T], Entry | Mapping[Hashable, Entry]]:
    """Each PDU class's command id and table, read off its declaration: one table per
    variant where they differ."""
    entries: dict[type[T], Entry | Mapping[Hashable, Entry]] = {}
    for cls, command in command_ids(classes, ids, prefix).items():
        tables = [table_of(cls, variant, **given) for variant in variants or (None,)]
        if all(table == tables[0] for table in tables):
            entries[cls] = (command, tables[0])
        else:
            entries[cls] = {v: (command, table) for v, table in zip(variants, tables, strict=True)}
    return entries


def command_ids(classes: Iterable[type[T]], ids: type[E], prefix: str = "") -> dict[type[T], E]:
    """Each PDU class's command id, by its name: ``CmppActiveTestResp`` is ``ACTIVE_TEST_RESP``."""
    return {cls: ids[_WORD.sub("_", cls.__name__.removeprefix(prefix)).upper()] for cls in classes}


_WORD = re.compile(r"(?<=.)(?=[A-Z])")


# -------------------------------------------------------------------- compiled


def _run(fields: list[tuple[str, Fixed]], start: int) -> tuple[list[str], int, Writer, Reader]:
    """Adjacent fixed-size fields as one struct: their names, size, writer and reader."""
    named = [(name, kind) for name, kind in fields if not isinstance(kind, Reserved)]
    names = [name for name, _ in named]
    layout = struct.Struct(">" + "".join(kind.code for _, kind in fields))
    text_at = tuple(at for at, (_, kind) in enumerate(named) if isinstance(kind, Text))
    unpack, size = layout.unpack_from, layout.size

    def read(frame: bytes, offset: int, end: int, out: Values) -> int:
        if offset + size > end:
            raise Malformed(f"body ends inside {names[0] if names else 'padding'}")
        raw = unpack(frame, offset)
        if text_at:
            decoded = list(raw)
            for at in text_at:
                decoded[at] = decode_fixed(decoded[at])
            out.extend(decoded)
        else:
            out.extend(raw)
        return offset + size

    return names, size, _run_writer(named, start, layout), read


def _run_writer(named: Sequence[tuple[str, Fixed]], start: int, layout: struct.Struct) -> Writer:
    """The fastest writer for a run: integers only, or a lone text, are common."""
    texts = tuple((at, kind.size) for at, (_, kind) in enumerate(named) if isinstance(kind, Text))
    octets = tuple((at, k.size) for at, (_, k) in enumerate(named) if isinstance(k, Octets))
    pack, size, stop = layout.pack, layout.size, start + len(named)

    def explain(values: Sequence[object]) -> NoReturn:
        _explain(named, values)

    def write(values: Sequence[object], out: list[bytes]) -> None:
        args = list(values[start:stop])
        try:
            for at, limit in texts:
                raw = args[at].encode("ascii")  # type: ignore[attr-defined]
                if len(raw) > limit:
                    raise ValueError(at)
                args[at] = raw
            for at, limit in octets:
                if type(args[at]) is not bytes or len(args[at]) != limit:  # type: ignore[arg-type]
                    raise ValueError(at)
            out.append(pack(*args))
        except (AttributeError, UnicodeError, ValueError, TypeError, struct.error):
            explain(values[start:stop])

    def write_plain(values: Sequence[object], out: list[bytes]) -> None:
        try:
            out.append(pack(*values[start:stop]))
        except struct.error:
            explain(values[start:stop])

    if not named:  # padding only
        padding = bytes(size)
        return lambda values, out: out.append(padding)
    if not (texts or octets):
        return write_plain
    lone = len(named) == 1 and texts and size == texts[0][1]  # no padding beside it
    return _lone_text(named, start, size) if lone else write


def _lone_text(named: Sequence[tuple[str, Fixed]], index: int, size: int) -> Writer:
    """The writer of a run that is one text field, padded here."""

    def write_text(values: Sequence[object], out: list[bytes]) -> None:
        value = values[index]
        try:
            raw = value.encode("ascii")  # type: ignore[attr-defined]
            if len(raw) <= size:
                out.append(raw.ljust(size, b"\0"))
                return
        except (AttributeError, UnicodeError):
            pass
        _explain(named, (value,))

    return write_text


def _explain(named: Sequence[tuple[str, Fixed]], values: Sequence[object]) -> NoReturn:
    """The slow way, which says which field is wrong."""
    for (name, kind), value in zip(named, values, strict=True):
        if problem := kind.problem(value):  # type: ignore[union-attr]
            raise LocalProtocolError(f"{name} {problem}")
    raise LocalProtocolError(f"cannot encode {[name for name, _ in named]}")


def _writer(index: int, name: str, kind: Kind) -> Writer:
    """The step writing the variable-size field ``values[index]``."""
    put = kind.write  # type: ignore[union-attr]

    def write(values: Sequence[object], out: list[bytes]) -> None:
        try:
            out.append(put(values[index]))
        except LocalProtocolError as error:
            raise LocalProtocolError(f"{name} {error}") from None

    def write_tlvs(values: Sequence[object], out: list[bytes]) -> None:
        if values[index]:  # most PDUs have none
            write(values, out)

    if isinstance(kind, Tlvs):
        return write_tlvs
    if not isinstance(kind, CString):
        return write
    limit = kind.max_size

    def write_c_string(values: Sequence[object], out: list[bytes]) -> None:
        value = values[index]  # the SMPP encoder's hottest step, inlined
        try:
            if "\0" not in value:  # type: ignore[operator]
                raw = value.encode("latin-1")  # type: ignore[attr-defined]
                if len(raw) < limit:
                    out.append(raw + b"\0")
                    return
        except (TypeError, AttributeError, UnicodeError):
            pass
        write(values, out)  # raises, saying what is wrong

    return write_c_string


class Fields:
    """A table compiled: the names it reads, its getter, its writers and readers."""

    def __init__(self, table: Table) -> None:
        self.names: list[str] = []
        self.constants: dict[str, object] = {}
        self.checks: list[tuple[str, object, str]] = []
        self.writers: list[Writer] = []
        self.readers: list[Reader] = []
        self.fixed_size = 0  # bytes of its fixed-size fields
        run: list[tuple[str, Fixed]] = []
        ending: tuple[tuple[str, Kind | None], ...] = (*table, ("", None))
        for name, kind in ending:  # None: the end of the table, which ends the last run
            if isinstance(kind, Absent):
                self.constants[name] = kind.value
                if kind.checked:
                    self.checks.append((name, kind.value, kind.why))
            elif isinstance(kind, Int | Text | Octets | Reserved):
                run.append((name, kind))
            else:
                if run:
                    names, size, write, read = _run(run, len(self.names))
                    self.names += names
                    self.writers.append(write)
                    self.readers.append(read)
                    self.fixed_size += size
                    run = []
                if kind is not None:
                    self.writers.append(_writer(len(self.names), name, kind))
                    self.readers.append(kind.read)
                    self.names.append(name)
        getter = attrgetter(*self.names) if self.names else None
        self.get: Callable[[object], Sequence[object]] = lambda _: ()
        if getter is not None:
            one = len(self.names) == 1
            self.get = (lambda obj: (getter(obj),)) if one else getter
        expected = tuple(value for _, value, _ in self.checks)
        self.check_get = attrgetter(*(name for name, _, _ in self.checks)) if expected else None
        self.expected = expected[0] if len(expected) == 1 else expected

    def write_all(self, values: Sequence[object], out: list[bytes]) -> None:
        """Append the bytes of ``values`` (in the order of :attr:`names`)."""
        for write in self.writers:
            write(values, out)

    def read_all(self, frame: bytes, offset: int, end: int, out: Values) -> int:
        """Append the values read at ``offset``; return the offset after them."""
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
        self._record = Record(cls, table)
        self.size = self._record.fields.fixed_size

    def pack(self, obj: T) -> bytes:
        """The bytes of ``obj``'s fields."""
        return self._record.write(obj)

    def unpack(self, data: bytes) -> T:
        """The record in ``data``, which must be exactly its size."""
        out: Values = []
        if self._record.read(data, 0, len(data), out) != len(data):
            raise RemoteProtocolError(f"{len(data)} bytes where {self.size} were expected")
        return out[0]  # type: ignore[return-value]


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
    for index, spec in enumerate(fields):
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


@typing.dataclass_transform(kw_only_default=True, frozen_default=True)
class _FrozenType(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        cls: type = super().__new__(mcs, name, bases, namespace)
        if "__slots__" in namespace:  # the base, or the slotted copy dataclass makes
            return cls
        return dataclass(frozen=True, slots=True, kw_only=True)(cls)


class Frozen(metaclass=_FrozenType):
    """The base of every PDU and record: each subclass is made a frozen, slotted,
    keyword-only dataclass, so a PDU declares its fields and nothing more."""

    __slots__ = ()


#: The header after the command id where it is just a 4-byte sequence (CMPP, SMGP).
SEQUENCE_ID_HEADER: Table = (("sequence_id", U32),)


class SequenceIdHeader(Frozen):
    """The base of every PDU whose header is :data:`SEQUENCE_ID_HEADER` (CMPP, SMGP)."""

    sequence_id: int = 0
