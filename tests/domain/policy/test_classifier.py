"""The free-text classifier on a corpus of real-looking SMS texts, and its must-classify cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duanxin.domain.policy.classifier import classify, classify_body
from duanxin.domain.policy.templates import TemplateKind
from tests.domain.policy.sms_corpus import MARKETING, NOTIFICATION, TRICKY, VERIFICATION

CORPUS = [
    *((text, TemplateKind.VERIFICATION) for text in VERIFICATION),
    *((text, TemplateKind.NOTIFICATION) for text in NOTIFICATION),
    *((text, TemplateKind.MARKETING) for text in MARKETING),
]
REQUIRED_ACCURACY = 0.95


def test_corpus_has_at_least_thirty_texts_of_each_kind() -> None:
    assert min(len(VERIFICATION), len(NOTIFICATION), len(MARKETING)) >= 30


def test_accuracy_on_the_corpus() -> None:
    wrong = [(text, kind, classify(text)) for text, kind in CORPUS if classify(text) is not kind]
    accuracy = 1 - len(wrong) / len(CORPUS)
    assert accuracy >= REQUIRED_ACCURACY, "\n".join(f"{k} as {got}: {t}" for t, k, got in wrong)


@pytest.mark.parametrize("kind", list(TemplateKind))
def test_accuracy_per_kind(kind: TemplateKind) -> None:
    texts = [text for text, expected in CORPUS if expected is kind]
    right = sum(classify(text) is kind for text in texts)
    assert right / len(texts) >= REQUIRED_ACCURACY


@pytest.mark.parametrize(("text", "kind"), TRICKY)
def test_must_classify(text: str, kind: str) -> None:
    assert classify(text) is TemplateKind(kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("验证码1234", TemplateKind.VERIFICATION),
        ("验证码123", TemplateKind.NOTIFICATION),  # three digits are not a code
        ("验证码123456789", TemplateKind.NOTIFICATION),  # nine neither
        ("您的验证码是2026年", TemplateKind.NOTIFICATION),  # a year
        ("校验码：5000元", TemplateKind.NOTIFICATION),  # an amount
        ("code: 4821", TemplateKind.VERIFICATION),
        ("code: 4821, 20% off today", TemplateKind.MARKETING),  # a generic word in a promotion
        ("OTP 4821", TemplateKind.VERIFICATION),
        ("您的兑换码为 88231，请在活动页使用", TemplateKind.NOTIFICATION),
        ("退订回T", TemplateKind.MARKETING),
        ("回复TD退订", TemplateKind.MARKETING),
        ("拒收请回复R", TemplateKind.MARKETING),
        ("unsubscribe at any time", TemplateKind.MARKETING),
        ("今日特价", TemplateKind.MARKETING),  # one strong cue
        ("免费领取", TemplateKind.MARKETING),  # two weak ones
        ("请及时领取", TemplateKind.NOTIFICATION),  # one weak one
        ("", TemplateKind.NOTIFICATION),
    ],
)
def test_rules(text: str, kind: TemplateKind) -> None:
    assert classify_body(text) is kind


def test_signatures_are_not_read() -> None:
    assert classify("【限时特价】您的订单已发货") is TemplateKind.NOTIFICATION
    assert classify("您的订单已发货【验证码1234】") is TemplateKind.NOTIFICATION


@given(st.text(max_size=300))
def test_any_text_gets_a_kind(text: str) -> None:
    assert classify(text) in TemplateKind
