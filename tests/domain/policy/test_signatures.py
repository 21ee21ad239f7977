"""Signatures: validation, placement at start or end, the default, refusals (status 5)."""

from __future__ import annotations

import pytest

from duanxin.domain.policy.errors import PolicyError, PolicyRefusal
from duanxin.domain.policy.signatures import (
    apply_signature,
    signature_of,
    signatures_of,
    split_signatures,
    strip_signatures,
    validate_signature,
)
from duanxin.domain.status import Status, StatusError

APPROVED = {"【云信科技】", "【ABC】"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("云信科技", "【云信科技】"),
        ("【云信科技】", "【云信科技】"),
        ("  【 云信科技 】 ", "【云信科技】"),
        ("AB", "【AB】"),  # 2 characters: the shortest
        ("一二三四五六七八九十一二", "【一二三四五六七八九十一二】"),  # 12: the longest
    ],
)
def test_validate_signature(text: str, expected: str) -> None:
    assert validate_signature(text) == expected


@pytest.mark.parametrize(
    "text",
    ["A", "【A】", "", "【】", "一二三四五六七八九十一二三", "云【信", "云信\n科技", "云\x00信"],
)
def test_validate_signature_refuses(text: str) -> None:
    with pytest.raises(PolicyError):
        validate_signature(text)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("【云信科技】您的验证码是1234", "【云信科技】"),
        ("您的验证码是1234【云信科技】", "【云信科技】"),
        ("  【云信科技】您好  ", "【云信科技】"),
        ("您好【云信科技】 \n", "【云信科技】"),
        ("【甲方】您好【乙方】", "【甲方】"),  # the start one first
        ("您好【云信科技】，再见", None),  # in the middle: not a signature
        ("【A】您好", None),  # too short
        ("【一二三四五六七八九十一二三】您好", None),  # too long
        ("您好", None),
        ("", None),
    ],
)
def test_signature_of(content: str, expected: str | None) -> None:
    assert signature_of(content) == expected


def test_signatures_of_and_split() -> None:
    assert signatures_of("【甲方】您好【乙方】") == ("【甲方】", "【乙方】")
    assert signatures_of("【A】您好【乙方】") == (None, "【乙方】")
    assert signatures_of("【甲方】") == ("【甲方】", None)
    assert split_signatures(" 【甲方】 您好 【乙方】 ") == ("【甲方】", "您好", "【乙方】")
    assert strip_signatures("【甲方】您好") == "您好"
    assert strip_signatures("【A】您好") == "【A】您好"


@pytest.mark.parametrize(
    "content",
    ["【云信科技】您好", "您好【云信科技】", "【其他】您好【ABC】", "【ABC】您好【其他】"],
)
def test_approved_signature_passes_unchanged(content: str) -> None:
    assert apply_signature(content, APPROVED, None) == content
    assert apply_signature(content, APPROVED, "云信科技") == content


@pytest.mark.parametrize("default", ["云信科技", "【云信科技】"])
def test_default_signature_is_prepended(default: str) -> None:
    assert apply_signature("您的验证码是1234", APPROVED, default) == "【云信科技】您的验证码是1234"
    assert apply_signature("【A】您好", APPROVED, default) == "【云信科技】【A】您好"


@pytest.mark.parametrize("default", [None, ""])
def test_missing_signature_without_default_is_refused(default: str | None) -> None:
    with pytest.raises(PolicyRefusal) as caught:
        apply_signature("您的验证码是1234", APPROVED, default)
    assert caught.value.status is Status.OTHER
    assert "signature" in caught.value.msg


@pytest.mark.parametrize("content", ["【别家】您好", "您好【别家】", "【别家】您好【他家】"])
def test_unapproved_signature_is_refused_even_with_a_default(content: str) -> None:
    with pytest.raises(PolicyRefusal) as caught:
        apply_signature(content, APPROVED, "云信科技")
    assert caught.value.status is Status.OTHER
    assert "【别家】" in caught.value.msg
    assert "not approved" in caught.value.msg
    assert isinstance(caught.value, StatusError)  # existing handlers answer it as is
