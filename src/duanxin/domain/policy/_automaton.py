"""Aho-Corasick automata over UTF-8 bytes (shared by the word list and the template set).

pyahocorasick searches a node's children linearly; over Chinese text the root of a
10,000-word automaton has thousands of children and one lookup per character costs tens
of microseconds per message. Keys and texts are therefore fed as their UTF-8 bytes
(each byte one latin-1 character): at most 256 children per node, a few in practice.
UTF-8 is self-synchronising, so a key's bytes can only be found at character boundaries:
the matches are exactly those of the text. Lone surrogates pass through unharmed.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

__all__ = ["as_key", "build_automaton"]


def as_key(text: str) -> str:
    """The byte-string form of ``text`` that keys and searched texts both take."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def build_automaton(items: Iterable[tuple[str, object]]) -> ahocorasick.Automaton | None:
    """An automaton of non-empty ``(key, value)`` items (first value kept), None if empty."""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
    for key, value in items:
        encoded = as_key(key)
        if encoded and encoded not in automaton:
            automaton.add_word(encoded, value)
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton
