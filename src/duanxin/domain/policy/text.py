"""Normalisation of text before sensitive-word matching (and opt-out hint detection).

Spammers dodge word lists by writing words in full width (``ｆａｐｉａｏ``), in mixed
case, or with characters slipped between the letters (``发 票``, ``发*票``, ``发.票``,
``发\u200b票``). :func:`normalize` undoes all of that in one pass, and both the word list
and the content go through it, so they always meet on the same form.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["SEPARATORS", "normalize"]

# Characters spammers insert between the characters of a word. Full-width forms
# (＊ － ＿ ． ｜ ／ ＼ ～ ＋ ＝ ＃ ＇ ＂ ， ： ；) need no entry: NFKC maps them to these.
SEPARATORS = (
    "*-_.|/\\~^+=#'\"`,:;"  # ASCII
    "·•・‧∙⋅"  # middle dots and bullets
    "‐‑‒–—―−"  # hyphens, dashes, minus
    "、，。：；"  # CJK punctuation NFKC leaves as is
)

# Zero-width and other invisible format characters (Unicode category Cf that show up in
# text): soft hyphen, Arabic letter mark, Mongolian vowel separator, ZWSP/ZWNJ/ZWJ,
# LRM/RLM, bidi embeddings and isolates, word joiner and invisible operators, BOM.
_INVISIBLE = [0x00AD, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F)]
_INVISIBLE += [*range(0x2060, 0x2065), *range(0x2066, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC)]

# Every whitespace character (they all sit below U+3001; U+3000 is the ideographic space).
_WHITESPACE = [c for c in range(0x3001) if chr(c).isspace()]

# One character class; re.sub is four times faster than str.translate on CJK text.
_DELETE = re.compile(
    "[" + re.escape("".join(map(chr, [*_WHITESPACE, *_INVISIBLE])) + SEPARATORS) + "]+"
)


def normalize(text: str) -> str:
    """The matching form of ``text``: width- and case-folded, separators removed.

    1. NFKC: full-width letters, digits and punctuation become their ASCII forms,
       half-width katakana becomes full width, compatibility forms (circled digits ①,
       ligatures ﬁ, superscripts) become the plain characters.
    2. ``str.casefold``: case-insensitive (stronger than ``lower``: ``ß`` → ``ss``).
    3. Removal of every whitespace character (ASCII, no-break, ideographic U+3000 ...),
       of invisible format characters (zero-width space/joiners, BOM, bidi marks, soft
       hyphen) and of the separators in :data:`SEPARATORS` (``* - _ . | / \\ ~`` and
       friends, CJK ``、，。``, middle dots, dashes).

    Brackets, letters, digits, CJK characters and other punctuation are kept, so
    ``【公司】`` stays recognisable. The result is only for matching: never send it.
    """
    folded = _DELETE.sub("", unicodedata.normalize("NFKC", text).casefold())
    # Case folding and removals can leave a string NFKC would change again (combining
    # marks brought together, ``ǰ`` folded): one more pass makes the form stable, so a
    # normalised word normalises to itself. It costs little: NFKC quick-checks first.
    return unicodedata.normalize("NFKC", folded)
