"""Templates: variables in both styles, code bounds, matching, review problems, opt-out."""

from __future__ import annotations

import pytest

from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.optout import has_opt_out_hint
from duanxin.domain.policy.templates import (
    Template,
    TemplateKind,
    TemplateSet,
    VariableBounds,
    compile_template,
    validate_template,
)
from duanxin.domain.policy.words import SensitiveWords, WordEntry

V, N, M = TemplateKind.VERIFICATION, TemplateKind.NOTIFICATION, TemplateKind.MARKETING


def matches(kind: TemplateKind, text: str, content: str, **bounds: int) -> bool:
    return compile_template(1, kind, text, bounds=VariableBounds(**bounds)).matches(content)


@pytest.mark.parametrize("text", ["您的验证码是${code}，请勿泄露", "您的验证码是{1}，请勿泄露"])
@pytest.mark.parametrize(
    ("code", "ok"),
    [("123", False), ("1234", True), ("12345678", True), ("123456789", False), ("a1B2c3", True)],
)
def test_code_variable_bounds(text: str, code: str, ok: bool) -> None:
    assert matches(V, text, f"【公司】您的验证码是{code}，请勿泄露") is ok


@pytest.mark.parametrize("code", ["12 34", "12-34", "１２３４", "验证码码码", "1234\n"])
def test_code_variable_is_ascii_letters_and_digits(code: str) -> None:
    assert not matches(V, "您的验证码是${code}，请勿泄露", f"您的验证码是{code}，请勿泄露")


@pytest.mark.parametrize("name", ["code", "CODE", "验证码", "yzm", "vcode", "captcha", "smsCode"])
def test_code_variable_names(name: str) -> None:
    template = compile_template(1, V, f"验证码${{{name}}}，{{1}}分钟有效")
    assert [v.code for v in template.variables] == [True, False]
    assert template.matches("验证码123456，5分钟有效")
    assert not template.matches("验证码12，5分钟有效")


def test_lowest_numbered_variable_is_the_code_without_a_named_one() -> None:
    template = compile_template(1, V, "您的验证码是{1}，{2}分钟内有效")
    assert [v.code for v in template.variables] == [True, False]
    assert template.matches("您的验证码是8842，5分钟内有效")  # {2} is plain: "5" is fine
    assert not template.matches("您的验证码是88，5分钟内有效")
    swapped = compile_template(1, V, "{2}分钟内有效，验证码{1}")
    assert [v.code for v in swapped.variables] == [False, True]


def test_other_kinds_have_no_code_variables() -> None:
    template = compile_template(1, N, "您的取件码是${code}")
    assert not any(v.code for v in template.variables)
    assert template.matches("您的取件码是A-12")


@pytest.mark.parametrize("text", ["尊敬的${name}，您的订单已发货", "尊敬的{1}，您的订单已发货"])
@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("张三", True),
        ("x", True),
        ("一" * 20, True),
        ("一" * 21, False),
        ("", False),
        ("a\nb", False),
    ],
)
def test_plain_variable_bounds(text: str, value: str, ok: bool) -> None:
    assert matches(N, text, f"尊敬的{value}，您的订单已发货") is ok


def test_variable_bounds_are_configurable() -> None:
    text = "订单${no}已发货"
    assert matches(N, text, "订单ABCDEFGHIJKLMNOPQRSTUVWXYZ已发货", max_chars=30)
    assert not matches(N, text, "订单ABCDEF已发货", max_chars=5)
    assert not matches(N, text, "订单A已发货", min_chars=2)
    assert matches(V, "码${code}", "码12", code_min_chars=2, code_max_chars=3)
    with pytest.raises(PolicyError):
        VariableBounds(min_chars=5, max_chars=2)


@pytest.mark.parametrize(
    "content",
    [
        "尊敬的张三，您的订单已发货",
        "【公司】尊敬的张三，您的订单已发货",
        "尊敬的张三，您的订单已发货【公司】",
        "  【公司】 尊敬的张三，您的订单已发货  ",
    ],
)
def test_match_ignores_signatures(content: str) -> None:
    for text in ("尊敬的${name}，您的订单已发货", "【公司】尊敬的${name}，您的订单已发货"):
        assert matches(N, text, content)


@pytest.mark.parametrize(
    "content",
    [
        "尊敬的张三，您的订单已发货。点击链接领奖",  # extra text after
        "中奖了！尊敬的张三，您的订单已发货",  # extra text before
        "尊敬的张三，您的订单已发 货",  # fixed text altered
        "尊敬的张三您的订单已发货",
    ],
)
def test_mismatch(content: str) -> None:
    assert not matches(N, "尊敬的${name}，您的订单已发货", content)


def test_regex_metacharacters_in_fixed_text_are_literal() -> None:
    template = compile_template(1, N, "余额(元): ${n}. [详情] a+b*c?")
    assert template.matches("余额(元): 12.5. [详情] a+b*c?")
    assert not template.matches("余额元: 12.5. [详情] a+b*c?")


def test_braces_that_are_not_variables_are_fixed_text() -> None:
    template = compile_template(1, N, "{abc} 和 {} 和 $5 和 {1}")
    assert [v.name for v in template.variables] == ["1"]
    assert template.matches("{abc} 和 {} 和 $5 和 x")


@pytest.mark.parametrize(
    "text", ["你好${name", "你好${}", "你好${a b}", "你好${a-b}", "", "【公司】"]
)
def test_compile_refuses_malformed(text: str) -> None:
    with pytest.raises(PolicyError):
        compile_template(1, N, text)


def test_compile_refuses_unknown_kind() -> None:
    with pytest.raises(ValueError):
        compile_template(1, "spam", "你好")


def test_template_set_finds_the_right_template() -> None:
    templates = [
        compile_template(10, V, "您的验证码是${code}，5分钟内有效"),
        compile_template(11, N, "您的订单${no}已发货，快递单号${express}"),
        compile_template(12, M, "双十一大促，全场${d}折，回T退订"),
        compile_template(13, N, "${who}"),  # no fixed text: always a candidate
    ]
    found = TemplateSet(templates)
    assert len(found) == 4
    assert list(found) == templates
    assert found.match("【公司】您的验证码是482913，5分钟内有效") is templates[0]
    assert found.match("【公司】您的订单A1已发货，快递单号SF123") is templates[1]
    assert found.match("双十一大促，全场5折，回T退订【公司】") is templates[2]
    assert found.match("【公司】随便说点什么") is templates[3]
    assert found.match("【公司】" + "长" * 21) is None
    assert TemplateSet().match("anything") is None


def test_first_template_wins_when_several_match() -> None:
    first = compile_template(1, N, "您好${x}")
    second = compile_template(2, M, "您好${x}，回T退订")
    assert TemplateSet([first, second]).match("您好张三，回T退订") is first
    assert TemplateSet([second, first]).match("您好张三，回T退订") is second


def test_many_templates_sharing_fragments() -> None:
    templates = [
        compile_template(i, N, f"尊敬的客户，您的第{i}号业务${{x}}已办理，详询客服")
        for i in range(1000)
    ]
    found = TemplateSet(templates)
    assert found.match("尊敬的客户，您的第734号业务宽带已办理，详询客服") is templates[734]
    assert found.match("尊敬的客户，您的第1000号业务宽带已办理，详询客服") is None


def test_a_thousand_templates_try_only_the_one_that_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates: list[Template] = [
        compile_template(i, N, f"模板{i}号：尊敬的${{name}}，您的{i}业务已于{{1}}办理")
        for i in range(1000)
    ]
    found = TemplateSet(templates)
    tried = _count_tries(monkeypatch)
    assert found.match("【公司】模板999号：尊敬的张三，您的999业务已于今天办理") is templates[999]
    assert tried == [templates[999]]  # not a scan of the thousand


@pytest.mark.parametrize(
    "text",
    [
        "促销，拒收请回复R",
        "促销，退订回T",
        "促销，回T退订",
        "促销，回复TD退订",
        "促销，退订请回复TD",
        "促销，回R拒收",
        "促销，发送TD退订",
        "促销，回T退订。",
        "促销（回 T 退订）",
        "促销，回Ｔ退订",  # full width
        "促销，回t退订",
        "促销，回T退订【公司】",
        "【公司】促销，拒收请回复R",
        "Sale today. Reply STOP to opt-out",
        "Sale today, text T to unsubscribe",
    ],
)
def test_opt_out_hint(text: str) -> None:
    assert has_opt_out_hint(text)


@pytest.mark.parametrize(
    "text",
    ["促销", "回T退订后享受优惠", "拒收", "退订", "", "【公司】", "what a start", "回复TDTDT退订"],
)
def test_no_opt_out_hint(text: str) -> None:
    assert not has_opt_out_hint(text)


def test_validate_template_accepts_good_templates() -> None:
    assert validate_template(V, "您的验证码是${code}，{1}分钟内有效") == []
    assert validate_template("verification", "您的验证码是{1}") == []
    assert validate_template(N, "【公司】尊敬的${name}，您的订单已发货") == []
    assert validate_template(M, "全场${d}折，拒收请回复R") == []


@pytest.mark.parametrize(
    ("kind", "text", "problem"),
    [
        (N, "", "empty"),
        (N, "x" * 1001, "longer than"),
        (N, "你好${name", "malformed"),
        (N, "你好${a b}", "bad variable name"),
        ("spam", "你好", "unknown template kind"),
        (N, "${a}，${b}", None),  # fixed text between them: fine
        (N, "${a}${b}", "no fixed text"),
        (N, "你好${a}{1}再见", "must be separated"),
        (N, "你好" + "${a}，" * 17, "more than 16"),
        (V, "您的验证码已发送${x}", "code variable"),
        (V, "您好", "code variable"),
        (M, "全场${d}折，欢迎光临", "opt-out"),
        (M, "回T退订，全场${d}折", "opt-out"),
    ],
)
def test_validate_template_problems(kind: str, text: str, problem: str | None) -> None:
    problems = validate_template(kind, text)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_validate_template_checks_sensitive_words() -> None:
    words = SensitiveWords([WordEntry("发票", "fraud")])
    problems = validate_template(N, "代开发 票${x}张", words=words)
    assert problems == ["template contains a sensitive word (category fraud)"]
    assert validate_template(N, "您的订单${x}已发货", words=words) == []


def test_anchor_is_the_most_selective_fragment() -> None:
    from collections import Counter

    from duanxin.domain.policy.templates import _anchor

    shared = Counter({"尊敬的客户您好，感谢您的支持": 1000, "734": 1, "x": 1})
    assert _anchor(("734", "尊敬的客户您好，感谢您的支持"), shared) == "734"
    assert _anchor(("x", "尊敬的客户您好，感谢您的支持"), shared) == "尊敬的客户您好，感谢您的支持"
    assert _anchor(("x", ""), shared) == "x"
    assert _anchor(("", ""), shared) == ""


def test_templates_sharing_their_longest_fragment_are_picked_by_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tail = "尊敬的客户您好，感谢您一直以来的支持与信任"
    templates = [compile_template(i, N, f"{i}${{x}}{tail}") for i in range(100, 1100)]
    found = TemplateSet(templates)
    tried = _count_tries(monkeypatch)
    assert found.match(f"【公司】734张三{tail}") is templates[634]
    # picked by the shared tail, ~600 templates would be tried; by "734", one
    assert tried == [templates[634]]


def _count_tries(monkeypatch: pytest.MonkeyPatch) -> list[Template]:
    """The templates a :class:`TemplateSet` tries, in order, from here on."""
    tried: list[Template] = []
    matches_body = Template._matches_body

    def counted(template: Template, body: str) -> bool:
        tried.append(template)
        return matches_body(template, body)

    monkeypatch.setattr(Template, "_matches_body", counted)
    return tried
