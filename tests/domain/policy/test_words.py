"""Sensitive words: file parsing, categories, hits through width, case and separators."""

from __future__ import annotations

import pytest

from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.words import (
    DEFAULT_CATEGORY,
    SensitiveWords,
    WordEntry,
    WordHit,
    parse_word_file,
    validate_word,
)

WORD_FILE = "\ufeff# operator list\n\n发票\tfraud\r\n代开\tfraud\nCasino\tgambling\n赌博\n法轮\t\n"


@pytest.fixture
def words() -> SensitiveWords:
    return SensitiveWords(parse_word_file(WORD_FILE))


def test_parse_word_file() -> None:
    assert parse_word_file(WORD_FILE) == [
        WordEntry("发票", "fraud"),
        WordEntry("代开", "fraud"),
        WordEntry("Casino", "gambling"),
        WordEntry("赌博", DEFAULT_CATEGORY),
        WordEntry("法轮", DEFAULT_CATEGORY),
    ]


def test_parse_word_file_default_category() -> None:
    assert parse_word_file("赌博\n", default_category="gambling") == [WordEntry("赌博", "gambling")]


@pytest.mark.parametrize("line", ["* - *", "x" * 65, "word\t" + "c" * 33])
def test_parse_word_file_names_the_bad_line(line: str) -> None:
    with pytest.raises(PolicyError, match=r"^line 3: "):
        parse_word_file(f"ok\n# comment\n{line}\n")


def test_validate_word_strips_blanks() -> None:
    assert validate_word("  发票 ", " fraud ") == WordEntry("发票", "fraud")
    with pytest.raises(PolicyError):
        validate_word("发票", "")


@pytest.mark.parametrize(
    ("content", "category"),
    [
        ("【公司】可以开发票", "fraud"),
        ("【公司】可以开发 票", "fraud"),  # split by a space
        ("【公司】可以开发　票", "fraud"),  # ideographic space
        ("【公司】可以开发*票", "fraud"),
        ("【公司】可以开发-_.票", "fraud"),
        ("【公司】可以开发\u200b票", "fraud"),  # zero-width space
        ("【公司】online ＣＡＳＩＮＯ", "gambling"),  # full width
        ("【公司】online cAsInO", "gambling"),  # mixed case
        ("【公司】online c a s i n o", "gambling"),
        ("【公司】来赌博吧", DEFAULT_CATEGORY),
    ],
)
def test_hit(words: SensitiveWords, content: str, category: str) -> None:
    assert words.first_hit(content) == WordHit(category)


@pytest.mark.parametrize("content", ["【公司】您的验证码是1234", "票发", "casin0", "", "发\n\n"])
def test_miss(words: SensitiveWords, content: str) -> None:
    assert words.first_hit(content) is None


def test_first_hit_is_the_word_ending_first(words: SensitiveWords) -> None:
    assert words.first_hit("赌博和发票") == WordHit(DEFAULT_CATEGORY)
    assert words.first_hit("发票和赌博") == WordHit("fraud")


def test_words_written_oddly_in_the_list_still_match() -> None:
    words = SensitiveWords([WordEntry("ＶＩＰ 贷款", "loan"), WordEntry("  ", "x")])
    assert len(words) == 1
    assert words.first_hit("办vip贷款") == WordHit("loan")


def test_duplicate_words_keep_the_first_category() -> None:
    words = SensitiveWords([WordEntry("发票", "fraud"), WordEntry("发 票", "other")])
    assert len(words) == 1
    assert words.first_hit("发票") == WordHit("fraud")
    assert words.categories == frozenset({"fraud"})


def test_hit_tells_only_the_category(words: SensitiveWords) -> None:
    hit = words.first_hit("开发票")
    assert hit is not None
    assert "发票" not in repr(hit)
    assert "发票" not in repr(words)
    assert not hasattr(words, "__dict__")  # no way to stash or read words on the object


def test_empty_list_never_hits() -> None:
    assert SensitiveWords().first_hit("anything 发票") is None
    assert len(SensitiveWords()) == 0


def test_many_words() -> None:
    entries = [WordEntry(f"词{i:05d}", f"c{i % 7}") for i in range(5000)]
    words = SensitiveWords(entries)
    assert len(words) == 5000
    assert words.first_hit("这里有 词 0 4 9 9 9 啊") == WordHit(f"c{4999 % 7}")
    assert words.first_hit("词5000") is None
