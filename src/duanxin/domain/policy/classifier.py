"""The kind of a free-text content: verification code, marketing or notification.

Frequency limits and the marketing sending window go by a content's kind. A content
matching an approved template has the template's kind; one that matches none takes the
account's declared default kind; only without one does :func:`classify_body` decide,
from the text alone. The rules, in this order (case-insensitive):

1. **Marketing by its opt-out hint**: ``回T退订``, ``回复"TD"拒收``, ``退订回TD``,
   ``拒收请回复R``, ``回T退``, ``Reply STOP``, ``unsubscribe``, ``opt out`` anywhere
   in the text (reply keywords after 退订/拒收: 1 to 4 letters or digits). Verification codes
   and notifications never carry one, so this decides first (a promotion quoting a
   ``code`` such as ``SAVE20`` is still marketing).
2. **Verification by a code near its name**: a run of 4 to 8 digits (or of 4 to 8 ASCII
   letters and digits with at least one digit, or ``123-456``), not part of a longer
   run, close to a code word: 验证码, 校验码, 动态码, 确认码, 动态密码, 动态口令, 短信码,
   安全码, 认证码, 授权码, 登录码, 激活码 ..., ``verification code``, ``OTP``,
   ``passcode``, ``one-time password``. The code follows the word in the same sentence
   within :data:`CODE_AFTER_WORD_BYTES` bytes of UTF-8 (8 Chinese characters or 24 Latin
   ones: ``验证码：123456``, ``Your code is 4821``) or precedes it in the same clause
   within :data:`CODE_BEFORE_WORD_BYTES` (``123456是您的登录验证码``, ``482913 is your
   Google verification code``).
   The generic words ``code`` and ``PIN`` count only in a text without a strong
   promotional cue. Without any code word, a code still counts when the text has both a
   login-type context (登录, 注册, 绑定, 找回密码, 身份, 验证, ``sign in`` ...) and a
   safety phrase (请勿泄露, 分钟内有效, 有效期, ``do not share``, ``expires in`` ...).
   Not codes: digits followed by a unit, a date or a time (元, 分钟, 年, 件, % ...),
   after a currency sign or after 尾号, 订单号, 单号, 编号, 电话, 热线, 客服, 余额 ...,
   parts of phone numbers, dates, times and decimals (``400-820-8820``, ``12.50``).
   Pickup, coupon and invitation codes (取件码, 兑换码, 优惠码, 邀请码, ``promo code``)
   are not code words.
3. **Marketing by promotional cues**: one strong cue (促销, 秒杀, 满减, ``满299减50``,
   特价, ``5折``/``8.8折``, 优惠券, 无门槛, 会员日, 限时抢购, 包邮, 低至, 直降, 立减,
   双十一, 年货节, ``% off``, ``sale``, ``coupon`` ...) or two different weak ones (优惠,
   领取, 限时, 红包, 券, 免费, 礼包, 抽奖, 恭喜, 再送, 详询, 退订, 拒收, ``offer`` ...).
4. Everything else is a **notification**.

The text is the content *body* (signatures removed), so a signature such as
``【限时特价】`` does not count. The cue words are found in one pass of an Aho-Corasick
automaton built at import (over UTF-8 bytes, see :mod:`._automaton`); the few regular
expressions, compiled at import too, run only around what it found. A call costs a few
microseconds. The classifier only decides which limits a content counts against and
whether the marketing window holds it: it refuses nothing.
"""

from __future__ import annotations

import re

import ahocorasick

from duanxin.domain.policy._automaton import as_key, build_automaton
from duanxin.domain.policy.signatures import strip_signatures
from duanxin.domain.policy.templates import TemplateKind

__all__ = [
    "CODE_AFTER_WORD_BYTES",
    "CODE_BEFORE_WORD_BYTES",
    "WEAK_PROMO_CUES_NEEDED",
    "classify",
    "classify_body",
]

# Gaps in bytes of UTF-8: 24 is 8 Chinese characters or 24 Latin ones.
CODE_AFTER_WORD_BYTES = 24  # 验证码是：123456, the verification code for you is 123456
CODE_BEFORE_WORD_BYTES = 24  # 482913 is your Google verification code
WEAK_PROMO_CUES_NEEDED = 2


# What a listed word is a cue of: bits, so that one int collects a text's cues (an Enum's
# hash is a Python call, too slow here).
_OPT_OUT_WORD = 1 << 10  # 退订, 拒收: then 回T before it or 回T after it decides
_OPT_OUT_TAIL = 1 << 11  # T退 (回T退): then 回 before it decides
_OPT_OUT_REPLY = 1 << 12  # reply, text ...: then STOP after it decides
_OPT_OUT_SURE = 1 << 0  # unsubscribe, opt out
_NOT_CODE_WORD = 1 << 1  # 取件码, promo code: its 码/code is no code word
_CODE_WORD = 1 << 2  # 验证码, verification code, otp
_GENERIC_CODE_WORD = 1 << 3  # code, pin
_NOT_CODE_PREFIX = 1 << 4  # 尾号, 订单号, 电话 ...: the digits after it are no code
_CONTEXT = 1 << 5  # 登录, 注册 ...
_SAFETY = 1 << 6  # 请勿泄露, 分钟内有效 ...
_STRONG_PROMO = 1 << 7
_WEAK_PROMO = 1 << 8
_PROMO_ANCHOR = 1 << 9  # 折, 减: then a pattern (5折, 满299减50) decides
_OPT_OUT_ANCHOR = _OPT_OUT_WORD | _OPT_OUT_TAIL | _OPT_OUT_REPLY
# The cues whose positions the rules look at.
_SPANNED = _NOT_CODE_WORD | _CODE_WORD | _GENERIC_CODE_WORD | _NOT_CODE_PREFIX
_SPANNED |= _OPT_OUT_ANCHOR | _PROMO_ANCHOR

_WORDS: dict[int, str] = {
    _OPT_OUT_WORD: "退订 拒收 取消订阅 不再接收",
    _OPT_OUT_TAIL: "t退 td退 n退 r退",
    _OPT_OUT_REPLY: "reply text txt send",
    _OPT_OUT_SURE: "unsubscribe opt-out opt_out",
    _NOT_CODE_WORD: (
        "取件码 取货码 提货码 取餐码 取票码 取车码 兑换码 优惠码 折扣码 邀请码 推荐码 "
        "券码 提取码 订单码 运单码 快递码 promo_code promotion_code coupon_code "
        "discount_code voucher_code gift_code referral_code invite_code invitation_code "
        "tracking_code pickup_code zip_code postal_code post_code area_code country_code "
        "qr_code bar_code"
    ),
    _CODE_WORD: (
        "验证码 校验码 动态码 确认码 动态密码 动态口令 短信码 安全码 认证码 授权码 登录码 "
        "登陆码 验证代码 校验代码 随机码 一次性密码 临时密码 激活码 verification_code "
        "verify_code security_code login_code log-in_code sign-in_code confirmation_code "
        "auth_code authentication_code authorization_code access_code activation_code "
        "one-time_password one-time_passcode one-time_code one-time_pin one_time_password "
        "onetime_password otp passcode 2fa guard_code"
    ),
    _GENERIC_CODE_WORD: ("code pin"),
    _NOT_CODE_PREFIX: (
        "尾号 末四位 后四位 末位 单号 订单 订单号 编号 账号 帐号 卡号 户号 电话 热线 客服 "
        "工号 房间 座位 车次 航班 车牌 快递 运单 金额 余额 合计 共计 积分 序号 ending_in "
        "order tel no. no # ¥ ￥ $ € £ 取件码 取货码 提货码 取餐码 取车码 兑换码 优惠码 "
        "券码 邀请码"
    ),
    _CONTEXT: (
        "登录 登陆 注册 绑定 解绑 换绑 验证 认证 找回密码 重置密码 修改密码 身份 实名 "
        "提现 log_in login sign_in signin sign_up signup verify"
    ),
    _SAFETY: (
        "请勿泄露 切勿泄露 勿泄露 泄露给 请勿告知 切勿告知 勿告诉 不要告诉 请勿转发 "
        "切勿转发 有效期 分钟内有效 分钟有效 内有效 请勿向 do_not_share don't_share "
        "dont_share never_share expires_in expire_in valid_for"
    ),
    _STRONG_PROMO: (
        "促销 大促 秒杀 满减 特价 折扣 打折 限时抢购 限时特惠 限时优惠 限时折扣 限时秒杀 "
        "限时免费 优惠券 代金券 抵用券 满减券 现金券 无门槛 红包雨 会员日 抢购 包邮 低至 "
        "直降 立减 返现 清仓 钜惠 巨惠 狂欢 双11 双十一 双12 双十二 年货节 买一送一 领券 "
        "专享价 爆款 上新 新品上市 特惠 %off %_off sale discount coupon promo bogo "
        "free_shipping"
    ),
    _WEAK_PROMO: (
        "优惠 领取 限时 红包 券 免费 惊喜 礼包 好礼 抽奖 赠送 送您 专享 尊享 回馈 感恩 "
        "福利 新品 活动 退订 拒收 恭喜 即送 就送 再送 加送 免费送 详询 618 offer deal "
        "exclusive"
    ),
    _PROMO_ANCHOR: ("折 减"),
}


# An automaton value: (cue, size of the word in UTF-8 bytes, whether it is an English
# word that no letter may touch: "pin" is not in "spin").
_Entry = tuple[int, int, bool]


def _entries() -> list[tuple[str, _Entry]]:
    """Every ``(word, entry)`` of :data:`_WORDS` (``_`` stands for a space or nothing)."""
    entries: list[tuple[str, _Entry]] = []
    for cue, words in _WORDS.items():
        for raw in words.split():
            for word in {raw.replace("_", " "), raw.replace("_", "")}:
                bounded = word.isascii() and word[0].isalpha()
                entries.append((word, (cue, len(as_key(word)), bounded)))
    return entries


def _automaton_of(entries: list[tuple[str, _Entry]]) -> ahocorasick.Automaton:
    # Several cues may share a word (退订 is an opt-out anchor and a weak cue): keep all.
    grouped: dict[str, list[_Entry]] = {}
    for word, entry in entries:
        grouped.setdefault(word, []).append(entry)
    automaton = build_automaton((word, tuple(found)) for word, found in grouped.items())
    assert automaton is not None
    return automaton


_AUTOMATON = _automaton_of(_entries())


# Every pattern runs on the text's UTF-8 form, the automaton's (``_b``: a text's bytes as
# one latin-1 character each), anchored where the automaton found a cue: spans and gaps
# are counted in bytes there (a Chinese character is three, a Latin letter or digit one).
def _b(text: str) -> str:
    return re.escape(as_key(text))


def _any_of(texts: str, lookahead: str = "") -> str:
    return "|".join(
        _b(t) + (lookahead if t.isascii() and t.isalpha() else "") for t in texts.split()
    )


_SPACES = f"(?: |{_b(chr(0x3000))})*"
_QUOTE = f"(?:{_any_of(chr(34) + ' “ ” ' + chr(39) + ' ‘ ’ 「 」')})?"
_REPLY = f"(?:{_any_of('回复 回覆 回 发送 发 短信 编辑')})"
# 回T退订, 回复 "TD" 拒收, 发送TD退订: before an opt-out word (its start is the end here).
_REPLY_BEFORE_WORD = re.compile(
    f"{_REPLY}{_SPACES}{_QUOTE}(?:td|t|n|r|0000|stop|qx){_QUOTE}{_SPACES}$"
)
# 退订回T, 拒收请回复R, 退订请回复TD, 取消订阅发送N: from an opt-out word on.
_WORD_THEN_REPLY = re.compile(
    f"(?:{_any_of('退订 拒收 取消订阅 不再接收')}){_SPACES}(?:{_b('请')})?{_SPACES}{_REPLY}"
    f"{_SPACES}{_QUOTE}[a-z0-9]{{1,4}}(?![a-z0-9])"
)
_REPLY_BEFORE_TAIL = re.compile(f"{_REPLY}{_SPACES}$")  # 回T退
_STOP_AFTER_REPLY = re.compile(" +(?:stop|std|td|t|n)(?![a-z])")  # Reply STOP
_DIGITS_BEFORE_DISCOUNT = re.compile(  # 5折, 8.8折, 九折
    f"(?<![0-9])(?:[0-9]|{_any_of('一 二 三 四 五 六 七 八 九')})(?:\\.[0-9])?$"
)
_DISCOUNT = as_key("折")
_NOT_A_DISCOUNT = re.compile(_any_of("叠 旧 返 算 射 线 合"))  # 折叠, 折旧 ...
_FULL_BEFORE_MINUS = re.compile(f"{_b('满')}[0-9]+(?:{_b('元')})?$")  # 满299减
_ANCHOR_LOOKBACK_BYTES = 30

# Runs of ASCII letters and digits (full-width digits: the slower pattern, when present).
_RUN_BYTES = bytes(
    c if chr(c) in "0123456789abcdefghijklmnopqrstuvwxyz" else 32 for c in range(256)
)
_FULLWIDTH_DIGIT = re.compile("\xef\xbc[\x90-\x99]")  # ０ to ９: EF BC 90 to EF BC 99
_CODE_RUN_WIDE = re.compile("(?:[0-9a-z]|\xef\xbc[\x90-\x99])+")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
_RUN_GOES_ON = _ALNUM | {"-"}
_MAX_CODE_BYTES = 24  # 8 full-width digits
_NOT_CODE_AFTER = re.compile(
    f"(?: |{_b(chr(0x3000))})*(?:"
    + _any_of(
        "分钟 小时 公里 积分 元 块 角 分 秒 天 周 次 个 件 人 位 名 % ％ 年 月 日 号 "
        "条 米 期 楼 室 台 张 笔 份 箱 瓶 步 km kg ml mb gb g",
        "(?![a-z])",
    )
    + ")"
)
_PREFIX_GAP = re.compile(f"(?:{_any_of(': # ： 为 是')}| |{_b(chr(0x3000))})*")
_PREFIX_GAP_BYTES = 9  # 尾号：1234, 订单号为 12345678
_NUMBER_JOINERS = "-.:/,"
_SENTENCE_END = re.compile(_any_of("。 ！ ？ ! ? ； ;") + "|\n")
_CLAUSE_END = re.compile(_any_of("。 ！ ？ ! ? ； ; ， ,") + "|\n")


Span = tuple[int, int]


def classify(content: str) -> TemplateKind:
    """The kind of ``content`` (signed or not); see the module for the rules."""
    return classify_body(strip_signatures(content))


def classify_body(body: str) -> TemplateKind:
    """:func:`classify` for a body already stripped of its signatures."""
    key = as_key(body.lower())
    cues = 0
    spans: list[tuple[int, int, int]] = []  # (cue, start, end) in bytes, code-related cues
    weak: set[str] = set()
    for last, entries in _AUTOMATON.iter(key):
        for cue, size, bounded in entries:
            start, end = last + 1 - size, last + 1
            if bounded and not _word_bounded(key, start, end):
                continue
            cues |= cue
            if cue & _SPANNED:
                spans.append((cue, start, end))
            elif cue == _WEAK_PROMO:
                weak.add(key[start:end])
    if cues & _OPT_OUT_SURE or (cues & _OPT_OUT_ANCHOR and _opts_out(key, spans)):
        return TemplateKind.MARKETING
    promotional = bool(cues & _STRONG_PROMO) or bool(cues & _PROMO_ANCHOR and _promotes(key, spans))
    if cues & (_CODE_WORD | _GENERIC_CODE_WORD | _CONTEXT) and _is_verification(
        key, spans, cues, promotional
    ):
        return TemplateKind.VERIFICATION
    if promotional or len(weak) >= WEAK_PROMO_CUES_NEEDED:
        return TemplateKind.MARKETING
    return TemplateKind.NOTIFICATION


def _word_bounded(key: str, start: int, end: int) -> bool:
    """An ASCII word stands alone: no ASCII letter right before or after it."""
    before = key[start - 1] if start > 0 else " "
    after = key[end] if end < len(key) else " "
    return not (before.isascii() and before.isalpha()) and not (after.isascii() and after.isalpha())


def _opts_out(key: str, spans: list[tuple[int, int, int]]) -> bool:
    """An opt-out hint around one of the anchors the automaton found."""
    for cue, start, end in spans:
        back = max(0, start - _ANCHOR_LOOKBACK_BYTES)
        if cue == _OPT_OUT_WORD:
            if _WORD_THEN_REPLY.match(key, start) or _REPLY_BEFORE_WORD.search(key, back, start):
                return True
        elif cue == _OPT_OUT_TAIL:
            if _REPLY_BEFORE_TAIL.search(key, back, start):
                return True
        elif cue == _OPT_OUT_REPLY and _STOP_AFTER_REPLY.match(key, end):
            return True
    return False


def _promotes(key: str, spans: list[tuple[int, int, int]]) -> bool:
    """满299减, 5折 at one of the anchors the automaton found."""
    for cue, start, end in spans:
        if cue != _PROMO_ANCHOR:
            continue
        back = max(0, start - _ANCHOR_LOOKBACK_BYTES)
        if key[start:end] == _DISCOUNT:
            if _DIGITS_BEFORE_DISCOUNT.search(key, back, start) and not _NOT_A_DISCOUNT.match(
                key, end
            ):
                return True
        elif _FULL_BEFORE_MINUS.search(key, back, start):
            return True
    return False


def _is_verification(
    key: str, spans: list[tuple[int, int, int]], cues: int, promotional: bool
) -> bool:
    words = _code_words(spans, promotional)
    plain = bool(cues & _CONTEXT and cues & _SAFETY)
    if not words and not plain:
        return False
    prefixes = [end for cue, _start, end in spans if cue == _NOT_CODE_PREFIX]
    if plain:
        low, high = 0, len(key)
    else:
        low = max(0, min(s for s, _e in words) - CODE_BEFORE_WORD_BYTES - _MAX_CODE_BYTES)
        high = max(e for _s, e in words) + CODE_AFTER_WORD_BYTES + _MAX_CODE_BYTES
    codes = [span for span in _codes(key, low, high) if _is_code(key, span, prefixes)]
    if not codes:
        return False
    for word in words:
        if any(_near(key, word, code) for code in codes):
            return True
    return plain


def _code_words(spans: list[tuple[int, int, int]], promotional: bool) -> list[Span]:
    """Byte spans of the code words that count (not inside 取件码, ``promo code`` ...)."""
    excluded = [(start, end) for cue, start, end in spans if cue == _NOT_CODE_WORD]
    counted = _CODE_WORD if promotional else _CODE_WORD | _GENERIC_CODE_WORD
    return [
        (start, end)
        for cue, start, end in spans
        if cue & counted and not any(s <= start and end <= e for s, e in excluded)
    ]


def _codes(key: str, low: int, high: int) -> list[Span]:
    """Spans of the runs between ``low`` and ``high`` that have the shape of a code:
    4 to 8 characters with a digit, not part of a longer run; or 123-456."""
    spans = []
    for start, end, run in _runs(key, low, high):
        if (start and key[start - 1] in _ALNUM) or (end < len(key) and key[end] in _ALNUM):
            continue  # cut by the window
        chars = len(run) - 2 * run.count("\xef")  # a full-width digit is 3 bytes
        if 4 <= chars <= 8 and not run.isalpha():
            spans.append((start, end))
        elif chars == 3 and run.isdigit() and key[end : end + 1] == "-":
            tail = key[end + 1 : end + 5]  # 123-456
            if tail[:3].isdigit() and len(tail) >= 3 and tail[3:] not in _RUN_GOES_ON:
                spans.append((start, end + 4))
    return spans


def _runs(key: str, low: int, high: int) -> list[tuple[int, int, str]]:
    """The runs of ASCII letters and digits (and full-width digits) between low and high."""
    if _FULLWIDTH_DIGIT.search(key, low, high):  # rare: the general pattern
        return [(*m.span(), m.group()) for m in _CODE_RUN_WIDE.finditer(key, low, high)]
    # bytes.translate and split run in C: several times faster than a regex scan here.
    window = key[low:high].encode("latin-1").translate(_RUN_BYTES)
    runs, position = [], 0
    for run in window.split():
        start = window.index(run, position)
        position = start + len(run)
        runs.append((low + start, low + position, run.decode("latin-1")))
    return runs


def _is_code(key: str, span: Span, prefixes: list[int]) -> bool:
    start, end = span
    if start >= 2 and key[start - 1] in _NUMBER_JOINERS and key[start - 2].isdigit():
        return False  # 400-820-8820, 2026.12.01, 10:30
    if end + 1 < len(key) and key[end] in _NUMBER_JOINERS and key[end + 1].isdigit():
        return False
    for prefix_end in prefixes:
        gap = start - prefix_end
        if 0 <= gap <= _PREFIX_GAP_BYTES and _PREFIX_GAP.fullmatch(key, prefix_end, start):
            return False  # 尾号1234, 订单号：12345678, ¥1999
    return _NOT_CODE_AFTER.match(key, end) is None  # 5000元, 2026年


def _near(key: str, word: Span, code: Span) -> bool:
    if word[1] <= code[0]:  # 验证码：123456
        return code[0] - word[1] <= CODE_AFTER_WORD_BYTES and not _SENTENCE_END.search(
            key, word[1], code[0]
        )
    if code[1] <= word[0]:  # 123456是您的验证码
        return word[0] - code[1] <= CODE_BEFORE_WORD_BYTES and not _CLAUSE_END.search(
            key, code[1], word[0]
        )
    return False
