"""The operator's sensitive-word list, matched with an Aho-Corasick automaton.

Words and content are both put through :func:`~duanxin.domain.policy.text.normalize`,
so a listed word also hits when written in full width, in another case, or with spaces,
``*``, ``-``, zero-width characters ... slipped between its characters.

A :class:`SensitiveWords` is immutable once built: when the list changes, build a new
one and swap the reference (reads in flight keep the old one). Building 10,000 words
takes a few tens of milliseconds. A hit tells only the word's category: the list itself
is never exposed, so a refusal message cannot be used to probe it.

Word file format (:func:`parse_word_file`), UTF-8 text, one entry per line::

    # comment lines and blank lines are ignored
    发票<TAB>fraud
    代开发票<TAB>fraud
    赌博                 (no tab: the default category)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from duanxin.domain.policy._automaton import as_key, build_automaton
from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.text import normalize

__all__ = [
    "DEFAULT_CATEGORY",
    "MAX_CATEGORY_CHARS",
    "MAX_WORD_CHARS",
    "SensitiveWords",
    "WordEntry",
    "WordHit",
    "parse_word_file",
    "validate_word",
]

DEFAULT_CATEGORY = "default"
MAX_WORD_CHARS = 64
MAX_CATEGORY_CHARS = 32


@dataclass(frozen=True, slots=True)
class WordEntry:
    """One listed word and the category named when it hits."""

    word: str
    category: str = DEFAULT_CATEGORY


@dataclass(frozen=True, slots=True)
class WordHit:
    """A content hit a listed word: only the category is told, never the word."""

    category: str


def validate_word(word: str, category: str = DEFAULT_CATEGORY) -> WordEntry:
    """Check one entry submitted by the operator; return it with surrounding blanks removed.

    Raises :class:`PolicyError` when the word is empty once normalised (e.g. ``"* *"``),
    longer than :data:`MAX_WORD_CHARS`, or the category is empty or too long.
    """
    word, category = word.strip(), category.strip()
    if not normalize(word):
        raise PolicyError(f"word {word!r} is empty once spaces and separators are removed")
    if len(word) > MAX_WORD_CHARS:
        raise PolicyError(f"word is longer than {MAX_WORD_CHARS} characters")
    if not category or len(category) > MAX_CATEGORY_CHARS or "\t" in category:
        raise PolicyError(f"category must be 1 to {MAX_CATEGORY_CHARS} characters, no tab")
    return WordEntry(word, category)


def parse_word_file(text: str, default_category: str = DEFAULT_CATEGORY) -> list[WordEntry]:
    """Parse a word file: ``word<TAB>category`` or ``word`` alone per line.

    Blank lines and lines starting with ``#`` are skipped; a leading BOM and ``\\r\\n``
    line ends are accepted; a line with a tab but nothing after it takes
    ``default_category``. Raises :class:`PolicyError` (a
    :class:`~duanxin.domain.policy.files.ListFileError`) naming every bad line (1-based).
    """
    from duanxin.domain.policy.files import parse_word_lines  # it builds on validate_word

    return parse_word_lines(text, default_category)


class SensitiveWords:
    """An immutable, compiled word list; :meth:`first_hit` checks one content.

    Entries whose word is empty once normalised are skipped. When two entries normalise
    to the same word, the first one's category is kept.
    """

    __slots__ = ("_automaton", "_categories", "_size")

    def __init__(self, entries: Iterable[WordEntry] = ()) -> None:
        kept: dict[str, str] = {}
        for entry in entries:
            key = normalize(entry.word)
            if key and key not in kept:
                kept[key] = entry.category
        self._size = len(kept)
        self._categories = frozenset(kept.values())
        self._automaton = build_automaton(kept.items())

    def first_hit(self, content: str) -> WordHit | None:
        """The category of the listed word that ends first in ``content``, or None."""
        if self._automaton is None:
            return None
        for _end, category in self._automaton.iter(as_key(normalize(content))):
            return WordHit(category)
        return None

    @property
    def categories(self) -> frozenset[str]:
        """The categories of the list (for display; tells nothing about the words)."""
        return self._categories

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"<SensitiveWords {self._size} words>"
