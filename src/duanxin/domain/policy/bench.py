"""Micro-benchmark of :meth:`ContentPolicy.check` for one account (issue 4's figure).

The account has ``templates`` approved templates (verification, notification and
marketing, with ``${name}`` and ``{n}`` variables, built from a shared pool of phrases so
templates share fixed fragments as real ones do) and ``template_required`` set; the word
list has ``words`` entries in several categories. The messages fill random templates
with random values; one in twenty matches no template and is refused. Everything is
generated from ``seed``; ``time.perf_counter`` is read only around the checks.

With ``free_text`` (issue 7 §5) the account does not require templates and that share of
the messages is free text (random phrases around a verification code, a promotion with an
opt-out hint, or an order notice with its number), which the classifier gives a kind.
"""

from __future__ import annotations

import random
import time

from duanxin.domain.policy.engine import ContentPolicy
from duanxin.domain.policy.errors import PolicyRefusal
from duanxin.domain.policy.templates import Template, TemplateKind, TemplateSet, compile_template
from duanxin.domain.policy.words import SensitiveWords, WordEntry

__all__ = ["benchmark_policy", "build_scenario"]

_SIGNATURE = "【测速公司】"
# A fixed alphabet of 600 CJK characters for the traffic (the word list draws from all).
_COMMON = "".join(map(chr, random.Random(0).sample(range(0x4E00, 0x9FA6), 600)))
_CATEGORIES = ("fraud", "gambling", "politics", "adult", "drugs")


def _text(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_COMMON) for _ in range(rng.randint(low, high)))


def _template_text(rng: random.Random, kind: TemplateKind, phrases: list[str]) -> str:
    variables = rng.randint(1, 3)
    if kind is TemplateKind.VERIFICATION:
        slots = ["${code}"] + [f"{{{n}}}" for n in range(2, variables + 1)]
    else:
        slots = [f"${{v{n}}}" if n % 2 else f"{{{n}}}" for n in range(1, variables + 1)]
    parts = ["".join(rng.sample(phrases, rng.randint(1, 3)))]
    for slot in slots:
        parts += [slot, "".join(rng.sample(phrases, rng.randint(1, 2)))]
    if kind is TemplateKind.MARKETING:
        parts.append("，回T退订")
    return "".join(parts)


def _fill(rng: random.Random, template: Template) -> str:
    parts = [template.literals[0]]
    for variable, literal in zip(template.variables, template.literals[1:], strict=True):
        value = str(rng.randint(100000, 999999)) if variable.code else _text(rng, 1, 8)
        parts += [value, literal]
    return _SIGNATURE + "".join(parts)


def _free_text(rng: random.Random) -> str:
    """A content matching no template, of one of the three kinds' shapes."""
    before, after = _text(rng, 3, 20), _text(rng, 3, 20)
    number = str(rng.randint(100000, 999999))
    shape = rng.randrange(3)
    if shape == 0:
        middle = f"验证码：{number}，5分钟内有效"
    elif shape == 1:
        middle = f"限时优惠满{number[:3]}减{number[3:5]}，回T退订"
    else:
        middle = f"订单号{number}{number}已发货"
    return _SIGNATURE + before + middle + after


def build_scenario(
    templates: int = 1000,
    words: int = 10000,
    messages: int = 20000,
    seed: int = 1,
    free_text: float = 0.0,
) -> tuple[ContentPolicy, list[str]]:
    """The benchmark's account policy and its messages (deterministic for a seed).

    ``free_text`` > 0: templates not required, that share of the messages is free text.
    """
    rng = random.Random(seed)
    phrases = [_text(rng, 2, 6) for _ in range(400)]
    kinds = [TemplateKind.VERIFICATION, TemplateKind.NOTIFICATION, TemplateKind.MARKETING]
    compiled = [
        compile_template(i, kind, _template_text(rng, kind, phrases))
        for i, kind in enumerate(rng.choices(kinds, weights=(4, 4, 2), k=templates))
    ]
    # Words from the whole CJK block: as many as asked, in the list, rarely in the traffic.
    entries = [
        WordEntry(
            "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4))),
            rng.choice(_CATEGORIES),
        )
        for _ in range(words)
    ]
    policy = ContentPolicy.build(
        signatures=[_SIGNATURE],
        template_required=not free_text,
        templates=TemplateSet(compiled),
        words=SensitiveWords(entries),
    )
    if free_text:
        contents = [
            _free_text(rng) if rng.random() < free_text else _fill(rng, rng.choice(compiled))
            for _ in range(messages)
        ]
        return policy, contents
    contents = [
        _SIGNATURE + _text(rng, 10, 60) if rng.random() < 0.05 else _fill(rng, rng.choice(compiled))
        for _ in range(messages)
    ]
    return policy, contents


def benchmark_policy(
    templates: int = 1000,
    words: int = 10000,
    messages: int = 20000,
    seed: int = 1,
    free_text: float = 0.0,
) -> float:
    """Mean cost of one ``ContentPolicy.check`` in microseconds (refusals included)."""
    policy, contents = build_scenario(templates, words, messages, seed, free_text)
    check = policy.check
    started = time.perf_counter()
    refused = 0
    for content in contents:
        try:
            check(content)
        except PolicyRefusal:
            refused += 1
    elapsed = time.perf_counter() - started
    if refused == len(contents):
        raise RuntimeError("every message was refused: the benchmark scenario is broken")
    return elapsed / len(contents) * 1e6
