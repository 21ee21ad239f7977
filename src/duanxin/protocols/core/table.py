"""The vocabulary of the protocols' field tables, and the constructors decoding builds.

A protocol describes each PDU as a *table*: ``(name, kind)`` pairs in wire order, header
fields after the command id first. The kinds are the classes here: integers, fixed text
and octets, padding, C-octet strings, length-prefixed octets, counted lists, nested
records, TLVs, fields a layout leaves off the wire, and a protocol's own rule
(:class:`Custom`). :mod:`duanxin.protocols.core.compiled` compiles tables;
:mod:`duanxin.protocols.core.codec` runs them.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TypeVar

from duanxin.protocols.core.errors import RemoteProtocolError

__all__ = [
    "SEQUENCE_ID_HEADER",
    "U8",
    "U16",
    "U32",
    "U64",
    "Absent",
    "Bytes",
    "CString",
    "Custom",
    "Fault",
    "FrameError",
    "Int",
    "Items",
    "Kind",
    "Malformed",
    "Octets",
    "Record",
    "Reserved",
    "SequenceIdHeader",
    "Table",
    "Text",
    "Tlv",
    "Tlvs",
    "Values",
    "Variant",
    "command_ids",
    "constructor",
    "find_tlv",
    "is_fixed",
    "is_variant",
    "table_of",
    "tlv_int",
    "tlv_text",
]

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)
Values = list[object]


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


def find_tlv(tlvs: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first TLV with ``tag``, if any."""
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv
    return None


def tlv_int(tlvs: Iterable[Tlv], tag: int) -> int | None:
    """The big-endian integer value of TLV ``tag``; None when absent or empty."""
    tlv = find_tlv(tlvs, tag)
    if tlv is None or not tlv.value:
        return None
    return int.from_bytes(tlv.value, "big")


def tlv_text(tlvs: Iterable[Tlv], tag: int) -> str | None:
    """The text of C-octet string TLV ``tag`` (cut at the first NUL); None when absent."""
    tlv = find_tlv(tlvs, tag)
    if tlv is None:
        return None
    return tlv.value.split(b"\x00", 1)[0].decode("latin-1")


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


@dataclass(frozen=True, slots=True)
class Variant:
    """A field whose kinds differ between a protocol's layouts (CMPP 2.0 / 3.0): ``by``
    maps each layout to its kinds, in wire order (padding included)."""

    by: Mapping[Hashable, tuple[Kind, ...]]


Table = tuple[tuple[str, Kind], ...]
_FIXED = (Int, Text, Octets, Reserved)


def table_of(cls: type, variant: Hashable = None, **given: Kind) -> Table:
    """The table of ``cls``: its fields declared ``Annotated[type, kind]``, in field order.

    A :class:`Reserved` beside the kind is padding before or after the field, as written;
    a :class:`Variant` stands for its kinds in layout ``variant``. ``given`` names the
    kind of a field its own module cannot (a rule the codec defines); fields with no kind
    (the header's) are left out.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    table: list[tuple[str, Kind]] = []
    for spec in dataclasses.fields(cls):
        kinds: list[Kind] = []
        for declared in getattr(hints[spec.name], "__metadata__", ()):
            if isinstance(declared, Variant):
                kinds += declared.by[variant]
            elif isinstance(declared, Kind):
                kinds.append(declared)
        if spec.name in given:
            kinds = [given[spec.name]]
        table += [(spec.name if not isinstance(k, Reserved) else "reserve", k) for k in kinds]
    return tuple(table)


def command_ids(classes: Iterable[type[T]], ids: type[E], prefix: str = "") -> dict[type[T], E]:
    """Each PDU class's command id, by its name: ``CmppActiveTestResp`` is ``ACTIVE_TEST_RESP``."""
    return {cls: ids[_WORD.sub("_", cls.__name__.removeprefix(prefix)).upper()] for cls in classes}


_WORD = re.compile(r"(?<=.)(?=[A-Z])")


def is_variant(cls: type) -> bool:
    """Whether ``cls`` declares a field whose kinds depend on the layout."""
    hints = typing.get_type_hints(cls, include_extras=True).values()
    return any(isinstance(m, Variant) for hint in hints for m in getattr(hint, "__metadata__", ()))


def is_fixed(kind: Kind) -> bool:
    """Fixed-size: goes into a struct run (a record of integers too)."""
    if isinstance(kind, Record):
        return issubclass(kind.cls, tuple) and all(isinstance(k, Int) for _, k in kind.table)
    return isinstance(kind, _FIXED)


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


#: The header after the command id where it is just a 4-byte sequence (CMPP, SMGP).
SEQUENCE_ID_HEADER: Table = (("sequence_id", U32),)


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceIdHeader:
    """The base of every PDU whose header is :data:`SEQUENCE_ID_HEADER` (CMPP, SMGP)."""

    sequence_id: int = 0
