"""ContentPolicy.check: the order of the rules, their statuses and messages, no crash."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duanxin.domain.policy import (
    TEMPLATE_MISMATCH,
    ContentDecision,
    ContentPolicy,
    KindSource,
    PolicyError,
    PolicyRefusal,
    SensitiveWords,
    TemplateKind,
    TemplateSet,
    WordEntry,
    compile_template,
)
from duanxin.domain.status import Status

WORDS = SensitiveWords([WordEntry("发票", "fraud"), WordEntry("赌场", "gambling")])
TEMPLATES = TemplateSet(
    [
        compile_template(1, TemplateKind.VERIFICATION, "您的验证码是${code}，5分钟内有效"),
        compile_template(2, TemplateKind.NOTIFICATION, "您的订单${no}已发货"),
        compile_template(3, TemplateKind.MARKETING, "全场${d}折，回T退订"),
        compile_template(4, TemplateKind.MARKETING, "全场${d}折${tail}"),  # tail may drop it
    ]
)


def policy(*, required: bool = True, default: str | None = None) -> ContentPolicy:
    return ContentPolicy.build(
        signatures=["云信科技", "【ABC】"],
        default_signature=default,
        template_required=required,
        templates=TEMPLATES,
        words=WORDS,
    )


def refusal(policy: ContentPolicy, content: str) -> PolicyRefusal:
    with pytest.raises(PolicyRefusal) as caught:
        policy.check(content)
    return caught.value


@pytest.mark.parametrize(
    ("content", "kind", "template_id"),
    [
        ("【云信科技】您的验证码是4821，5分钟内有效", TemplateKind.VERIFICATION, 1),
        ("您的订单A1已发货【ABC】", TemplateKind.NOTIFICATION, 2),
        ("【ABC】全场5折，回T退订", TemplateKind.MARKETING, 3),
        ("【ABC】全场5折，拒收请回复R", TemplateKind.MARKETING, 4),
    ],
)
def test_accepted(content: str, kind: TemplateKind, template_id: int) -> None:
    assert policy().check(content) == ContentDecision(content, kind, template_id)


def test_default_signature_is_prepended_before_everything_else() -> None:
    decision = policy(default="云信科技").check("您的订单A1已发货")
    assert decision == ContentDecision("【云信科技】您的订单A1已发货", TemplateKind.NOTIFICATION, 2)


def test_signature_comes_first() -> None:
    refused = refusal(policy(), "【别家】开发票")  # also a word hit and no template
    assert (refused.status, "【别家】" in refused.msg) == (Status.OTHER, True)
    assert refusal(policy(), "您的订单A1已发货").status is Status.OTHER  # no signature


def test_sensitive_word_names_the_category_only() -> None:
    refused = refusal(policy(), "【ABC】您的订单代开发 票已发货")  # matches template 2
    assert refused.status is Status.OTHER
    assert "fraud" in refused.msg and "发票" not in refused.msg
    assert "gambling" in refusal(policy(required=False), "【ABC】ＡＢＣ赌 场").msg


def test_template_required() -> None:
    refused = refusal(policy(), "【ABC】随便说点什么")
    assert (refused.status, refused.msg) == (Status.INTERNAL, TEMPLATE_MISMATCH)
    assert refused.msg == "template mismatch"
    code_too_short = refusal(policy(), "【ABC】您的验证码是482，5分钟内有效")
    assert code_too_short.msg == TEMPLATE_MISMATCH


def test_free_text_is_classified() -> None:
    free = policy(required=False)
    assert free.check("【ABC】随便说点什么") == ContentDecision(
        "【ABC】随便说点什么", TemplateKind.NOTIFICATION, None, KindSource.CLASSIFIER
    )
    code = free.check("【ABC】登录验证码：902211，请勿泄露")  # no template has this text
    assert (code.kind, code.template_id, code.kind_source) == (
        TemplateKind.VERIFICATION,
        None,
        KindSource.CLASSIFIER,
    )
    sale = free.check("【ABC】会员日全场满200减30")  # no opt-out hint: free text is not refused
    assert (sale.kind, sale.kind_source) == (TemplateKind.MARKETING, KindSource.CLASSIFIER)
    decision = free.check("【ABC】您的验证码是4821，5分钟内有效")
    assert (decision.kind, decision.template_id) == (TemplateKind.VERIFICATION, 1)


def test_the_template_kind_comes_first_then_the_accounts_then_the_classifiers() -> None:
    declared = dataclasses.replace(policy(required=False), default_kind=TemplateKind.MARKETING)
    matched = declared.check("您的订单A1已发货【ABC】")  # template 2, a notification
    assert (matched.kind, matched.kind_source) == (TemplateKind.NOTIFICATION, KindSource.TEMPLATE)
    free = declared.check("【ABC】登录验证码：902211，请勿泄露")
    assert (free.kind, free.kind_source) == (TemplateKind.MARKETING, KindSource.ACCOUNT)
    built = ContentPolicy.build(signatures=["ABC"], default_kind="verification")
    assert built.check("【ABC】你好").kind is TemplateKind.VERIFICATION
    assert ContentPolicy.build(default_kind=None).default_kind is None
    with pytest.raises(ValueError):
        ContentPolicy.build(default_kind="spam")


def test_marketing_must_end_with_an_opt_out_hint() -> None:
    refused = refusal(policy(), "【ABC】全场5折，快来")  # matches template 4, no hint
    assert refused.status is Status.OTHER
    assert "opt-out" in refused.msg


def test_account_without_approved_signatures_sends_nothing() -> None:
    empty = ContentPolicy()
    assert "not approved" in refusal(empty, "【谁都行】你好").msg
    assert refusal(empty, "没有签名").status is Status.OTHER
    only = ContentPolicy(approved_signatures=frozenset({"【谁都行】"}))
    assert only.check("【谁都行】你好") == ContentDecision(
        "【谁都行】你好", TemplateKind.NOTIFICATION, None, KindSource.CLASSIFIER
    )


def test_build_validates_stored_signatures() -> None:
    assert policy().approved_signatures == frozenset({"【云信科技】", "【ABC】"})
    assert ContentPolicy.build(default_signature="").default_signature is None
    with pytest.raises(PolicyError):
        ContentPolicy.build(signatures=["X"])


def test_snapshot_is_immutable() -> None:
    with pytest.raises(AttributeError):
        policy().template_required = False  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(
    content=st.text(max_size=300)
    | st.builds(
        "".join,
        st.lists(
            st.sampled_from(
                [
                    "【云信科技】",
                    "【ABC】",
                    "【",
                    "】",
                    "您的验证码是",
                    "，5分钟内有效",
                    "发票",
                    "发 票",
                    "全场",
                    "折",
                    "回T退订",
                    "${code}",
                    "{1}",
                    "\n",
                    "\u200b",
                    "4821",
                    "Ｔ",
                ]
            ),
            max_size=12,
        ),
    ),
    required=st.booleans(),
    default=st.sampled_from([None, "", "云信科技", "【ABC】"]),
)
def test_random_content_never_crashes(content: str, required: bool, default: str | None) -> None:
    try:
        decision = policy(required=required, default=default).check(content)
    except PolicyRefusal as refused:
        assert refused.status in (Status.OTHER, Status.INTERNAL)
        assert refused.msg
    else:
        assert decision.content.endswith(content)
        assert decision.kind in TemplateKind
        assert (decision.kind_source is KindSource.TEMPLATE) == (decision.template_id is not None)
