"""The opt-out hint marketing content must end with (``拒收请回复R``, ``回T退订`` ...)."""

from __future__ import annotations

import re

from duanxin.domain.policy.signatures import strip_signatures
from duanxin.domain.policy.text import normalize

__all__ = ["has_opt_out_hint"]

# Matched on the normalised text (case-folded, blanks and separators removed), at its end.
_OPT_OUT_AT_END = re.compile(
    r"(?:"
    # 拒收请回复R, 退订回T, 退订请回复TD, 取消订阅发送N
    r"(?:拒收|退订|取消订阅|不再接收)请?(?:回复?|发送?|回覆)[a-z0-9]{1,4}"
    # 回T退订, 回复TD退订, 回R拒收, 发送TD退订, 回T退
    r"|(?:回复?|发送?|回覆)[a-z0-9]{1,4}(?:退订|拒收|退|取消订阅)"
    # Reply STOP to opt out, Text T to unsubscribe, reply TD
    r"|(?:reply|text|txt|send)(?:stop|unsubscribe|td|t|n|r)(?:to(?:unsubscribe|optout|stop|end))?"
    r")$"
)
_TRAILING = "!?)]}>」』"
_TAIL_CHARS = 64  # a hint, separators and closing punctuation included, fits in this


def has_opt_out_hint(text: str) -> bool:
    """True when ``text`` ends with an opt-out hint (before any signature at its end).

    Recognised, in any width or case and with blanks or separators inside:
    ``拒收请回复R``, ``退订回T``, ``退订请回复TD``, ``回T退订``, ``回复TD退订``,
    ``回R拒收``, ``发送TD退订``, ``Reply STOP to opt out``, ``Text T to unsubscribe``
    (reply keywords are 1 to 4 letters or digits). Closing punctuation after the hint
    (``。``, ``！``, ``)`` ...) is allowed. Only the last 64 characters are looked at.
    """
    tail = normalize(strip_signatures(text)[-_TAIL_CHARS:]).rstrip(_TRAILING)
    return _OPT_OUT_AT_END.search(tail) is not None
