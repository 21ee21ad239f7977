"""List files the operator imports: numbers (blacklist, opt-outs) and sensitive words.

A file is UTF-8 text (a leading BOM and ``\\r\\n`` line ends are accepted), one entry per
line; blank lines and lines starting with ``#`` are skipped. Both kinds may be a CSV
export: a line's fields are separated by commas, semicolons or tabs, and quotes around a
field are dropped.

- Numbers: the first field is the number (``13800138000``, ``+8613800138000`` ...); the
  other fields (a note, a date) are ignored, but a line with a second valid number is
  bad, so that no number is dropped unseen. A first line whose first field has no digit
  is a header and is skipped.
- Words: ``word<TAB>category`` (or, in a ``.csv``, ``word,category``), or the word alone
  for the default category.

Every bad line is reported with its number (1-based) and why; what the caller does with
them (import the rest, or nothing) is its choice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from duanxin.domain.numbers import normalise_mobile
from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.words import DEFAULT_CATEGORY, WordEntry, validate_word

__all__ = [
    "MAX_BAD_LINES",
    "BadLine",
    "ListFileError",
    "NumberFile",
    "parse_number_file",
    "parse_word_lines",
]

MAX_BAD_LINES = 100  # bad lines kept in a report (their count is always exact)
MAX_SHOWN_CHARS = 40  # of a bad line's text, in a report
_FIELDS = re.compile(r"[,;\t]")
_HAS_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of an imported file that holds no valid entry."""

    line: int  # 1-based
    text: str  # the line as found (cut to MAX_SHOWN_CHARS)
    reason: str


class ListFileError(PolicyError):
    """A file that was not imported at all, with every bad line (the first
    :data:`MAX_BAD_LINES` of ``count``)."""

    def __init__(self, bad: Sequence[BadLine], count: int) -> None:
        self.bad = tuple(bad[:MAX_BAD_LINES])
        self.count = count
        shown = "; ".join(f"line {b.line}: {b.reason}" for b in self.bad[:3])
        more = f" (and {count - 3} more)" if count > 3 else ""
        super().__init__(f"{shown}{more}; nothing was imported")


@dataclass(frozen=True, slots=True)
class NumberFile:
    numbers: list[str]  # valid numbers, national form, in file order (repeats kept)
    bad: list[BadLine]  # the first MAX_BAD_LINES bad lines
    bad_count: int


def _entries(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines that hold an entry."""
    return [
        (number, line)
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _fields(line: str, separators: re.Pattern[str] = _FIELDS) -> list[str]:
    return [field.strip().strip("\"'").strip() for field in separators.split(line)]


def _shown(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_SHOWN_CHARS else line[: MAX_SHOWN_CHARS - 1] + "…"


class _Bad:
    def __init__(self) -> None:
        self.lines: list[BadLine] = []
        self.count = 0

    def add(self, number: int, line: str, reason: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_BAD_LINES:
            self.lines.append(BadLine(number, _shown(line), reason))


def parse_number_file(text: str) -> NumberFile:
    """The numbers of a number file, and its bad lines."""
    numbers: list[str] = []
    bad = _Bad()
    for index, (number, line) in enumerate(_entries(text)):
        first, *rest = _fields(line)
        if index == 0 and not _HAS_DIGIT.search(first):
            continue  # a CSV header
        found = normalise_mobile(first)
        if found is None:
            bad.add(number, line, "not a mainland mobile number")
        elif any(normalise_mobile(field) for field in rest if field):
            bad.add(number, line, "more than one number: put one number per line")
        else:
            numbers.append(found)
    return NumberFile(numbers, bad.lines, bad.count)


def parse_word_lines(
    text: str, default_category: str = DEFAULT_CATEGORY, *, csv: bool = False
) -> list[WordEntry]:
    """The entries of a word file; :class:`ListFileError` naming every bad line if any
    (then none of the file is to be imported). ``csv``: commas and semicolons separate
    the word from its category too."""
    entries: list[WordEntry] = []
    bad = _Bad()
    for number, line in _entries(text):
        if csv:
            word, *rest = _fields(line)
            category = rest[0] if rest else ""
        else:
            word, _, category = line.partition("\t")
        try:
            entries.append(validate_word(word, category.strip() or default_category))
        except PolicyError as error:
            bad.add(number, line, str(error))
    if bad.count:
        raise ListFileError(bad.lines, bad.count)
    return entries
