"""Chinese and English are both complete: every key the pages use exists in both, with
the same placeholders, and every code a page names through a key family has its words."""

from __future__ import annotations

import re
import string
from pathlib import Path

from duanxin import console
from duanxin.console.i18n import MESSAGES, translate
from duanxin.delivery.push import Outcome
from duanxin.domain.accounts import AccessType, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.numbers import Carrier
from duanxin.domain.policy import TemplateKind
from duanxin.domain.status import NumberResult
from duanxin.service.lists import FREQUENCY_SCOPES
from duanxin.store.messages import EventKind, MessageState
from duanxin.store.policy import ReviewState

PACKAGE = Path(console.__file__).parent
STATIC_KEY = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[a-z_]+)['"]\s*[,)]""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_every_key_with_the_same_placeholders() -> None:
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()
    for key, english in MESSAGES["en"].items():
        chinese = MESSAGES["zh"][key]
        assert chinese.strip() and english.strip(), key
        assert _fields(chinese) == _fields(english), key


def test_every_key_a_page_or_handler_names_exists() -> None:
    sources = [*PACKAGE.glob("templates/**/*.html"), *PACKAGE.glob("*.py")]
    used = {key for path in sources for key in STATIC_KEY.findall(path.read_text("utf-8"))}
    assert len(used) > 200
    assert sorted(used - MESSAGES["en"].keys()) == []


def test_every_code_shown_through_a_key_family_has_words() -> None:
    families = {
        "state": [*AccountState, *MessageState, *ReviewState],
        "carrier": list(Carrier),
        "charge": list(ChargeType),
        "access": list(AccessType),
        "kind": [*TemplateKind, "none"],
        "event": [*EventKind, "accepted", "reported"],
        "frequency": list(FREQUENCY_SCOPES),
        "push": list(Outcome),
    }
    for family, codes in families.items():
        for code in codes:
            assert f"{family}.{code}" in MESSAGES["en"], f"{family}.{code}"
    for result in NumberResult:
        assert f"result.{result.name.lower()}" in MESSAGES["en"]


def test_literal_keys_and_formatting() -> None:
    assert translate("zh", "=demo-cmpp") == "demo-cmpp"
    assert translate("zh", "account.recharged", balance=7) == "已充值，余额 7。"
    assert translate("en", "account.recharged", balance=7) == "Recharged; balance 7."
