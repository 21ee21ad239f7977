"""Accepting a send: check, price, charge, store and enqueue, in that order.

The checks, after the account's (SPEC 2.2): the content against the account's policy
(signature, sensitive words, templates, opt-out hint; :mod:`duanxin.service.policy`),
then each number: valid, not blacklisted or opted out, routed, within its frequency
limits. Marketing accepted outside the sending window is stored held until it opens.
Limits and window go by the content's kind: its template's, else the account's default
kind, else the free-text classifier's (templates or not, the same rules apply).

The response exists only after the messages and the charge are committed, so anything
answered with status 0 survives a crash; delivery picks it up from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.bus.limits import Hits
from duanxin.domain.accounts import Account, Interface
from duanxin.domain.msgid import format_mid
from duanxin.domain.numbers import (
    EXTNO_MAX_DIGITS,
    MAX_NUMBERS,
    Carrier,
    MobileEntry,
    TooManyNumbers,
    detect_carrier,
    distinct_mobiles,
    normalise_mobile,
    valid_extno,
)
from duanxin.domain.policy import ContentDecision, FrequencyRules
from duanxin.domain.segments import count_segments
from duanxin.domain.status import DxStat, NumberResult, Status, StatusError
from duanxin.metrics import MESSAGES_ACCEPTED, MESSAGES_REFUSED
from duanxin.service import policy
from duanxin.service.accounts import Caller, authenticate, find_signed_in
from duanxin.service.platform import Platform
from duanxin.service.results import SendEntry, SendOutcome
from duanxin.store import access as access_store
from duanxin.store import accounts as account_store
from duanxin.store import idempotency as idempotency_store
from duanxin.store import inbox, messages
from duanxin.store import numbers as number_store
from duanxin.store import stats as stats_store
from duanxin.store.commits import Later, Refusal
from duanxin.store.prepared import KeptReader

__all__ = ["MAX_NUMBERS", "OneNumber", "SendRequest", "send", "send_each", "send_signed_in"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SendRequest:
    account: str
    password: str
    mobiles: Sequence[str]
    content: str
    extno: str = ""
    sendtime: datetime | None = None
    idempotency_key: str | None = None
    # For front doors that hand out ids of their own (customer CMPP/SMPP): the ids given
    # for a long message's further segments, and whether every number shares the first
    # number's mid (a group SUBMIT gets one Msg_Id). Stored with the message, so that each
    # id given gets the message's report.
    segment_ids: tuple[str, ...] = ()
    shared_id: bool = False


@dataclass(frozen=True, slots=True)
class _Number:
    raw: str
    mobile: str | None
    carrier: Carrier | None
    result: NumberResult = NumberResult.ACCEPTED


async def send(platform: Platform, request: SendRequest, caller: Caller) -> SendOutcome:
    """Run one send; a repeated idempotency key gets the first request's outcome."""
    try:
        account = await authenticate(platform, request.account, request.password, caller)
        await platform.check_tps(account.id, account.tps)
        # Over HTTP the connection limit counts requests in flight; a CMPP/SMPP customer's
        # limit counts its logged-in connections instead (service.access.Connections).
        slot = (
            platform.request_slot(account.id, account.max_concurrency)
            if caller.interface is Interface.HTTP
            else contextlib.nullcontext()
        )
        async with slot, _one_at_a_time(platform, account.id, request.idempotency_key):
            return await _send(platform, account, request, caller)
    except StatusError as error:
        return SendOutcome.failure(error)


async def send_signed_in(
    platform: Platform, account_name: str, mobiles: Sequence[str], content: str
) -> SendOutcome:
    """A send by an account signed in to the web console: the session stands for the
    password (and the whitelist and interface, which are the API's); the account must be
    active, and everything after is the same as :func:`send`."""
    try:
        account = await find_signed_in(platform, account_name)
        request = SendRequest(account_name, "", list(mobiles), content)
        async with platform.request_slot(account.id, account.max_concurrency):
            return await _send(platform, account, request, Caller(Interface.CONSOLE))
    except StatusError as error:
        return SendOutcome.failure(error)


@dataclass(frozen=True, slots=True)
class OneNumber:
    """A one-number message, for :func:`send_each`."""

    mobile: str
    content: str


async def send_each(
    platform: Platform,
    account: str,
    password: str,
    messages: Sequence[OneNumber],
    caller: Caller,
) -> list[SendOutcome]:
    """Send each of ``messages`` as a one-number send of its own, those with the same
    content accepted together: one account and content check, one commit, one charge.

    For a front door that receives many one-number messages at once (customer CMPP/SMPP,
    whose connection limit counts connections, not requests). Outcome ``i`` is what
    :func:`send` of ``messages[i]`` alone would answer: each counts against the account's
    TPS on its own (in the order given) and each accepted one has a message id of its
    own. Two messages to one number are two messages (never in one group); a number a
    group cannot take (refused, invalid, no channel), or every number of a group that is
    refused as a whole (the balance, say), is sent alone after the groups, in order, so
    that its answer is its own.
    """
    try:
        found = await authenticate(platform, account, password, caller)
    except StatusError as error:
        return [SendOutcome.failure(error)] * len(messages)
    outcomes: list[SendOutcome | None] = [None] * len(messages)
    admitted: list[int] = []
    for index in range(len(messages)):
        try:
            await platform.check_tps(found.id, found.tps)
        except StatusError as error:
            outcomes[index] = SendOutcome.failure(error)
        else:
            admitted.append(index)
    groups = _groups(messages, admitted)
    results = await asyncio.gather(
        *(_send_together(platform, found, [messages[i] for i in g], caller) for g in groups)
    )
    for group, together in zip(groups, results, strict=True):
        for index, outcome in zip(group, together, strict=True):
            outcomes[index] = outcome
    for index in admitted:
        if outcomes[index] is None:
            message = messages[index]
            request = SendRequest(account, password, (message.mobile,), message.content)
            try:
                outcomes[index] = await _send(platform, found, request, caller)
            except StatusError as error:
                outcomes[index] = SendOutcome.failure(error)
    return [o for o in outcomes if o is not None]


def _groups(messages: Sequence[OneNumber], indices: list[int]) -> list[list[int]]:
    """``indices`` of messages with one content and distinct numbers, in groups of at
    most MAX_NUMBERS, in order of their first message; a blank number is in none."""
    groups: dict[str, list[tuple[list[int], set[str]]]] = {}
    ordered: list[list[int]] = []
    for index in indices:
        message = messages[index]
        text = message.mobile.strip()
        if not text:
            continue  # refused alone, as a send without a number is
        number = normalise_mobile(text) or "\0" + text  # as distinct_mobiles tells them apart
        same = groups.setdefault(message.content, [])
        for members, numbers in same:
            if number not in numbers and len(members) < MAX_NUMBERS:
                break
        else:
            members, numbers = [], set()
            same.append((members, numbers))
            ordered.append(members)
        members.append(index)
        numbers.add(number)
    return ordered


async def _send_together(
    platform: Platform, account: Account, messages: list[OneNumber], caller: Caller
) -> list[SendOutcome | None]:
    """Messages with one content and distinct numbers as one send; None for each to send
    alone (a group of one goes alone at once)."""
    alone: list[SendOutcome | None] = [None] * len(messages)
    if len(messages) < 2:
        return alone
    raws = [message.mobile.strip() for message in messages]
    content = messages[0].content
    now = platform.clock()
    try:
        decision, frequency = await policy.check_content(platform, account, content)
        entries = [MobileEntry(raw, normalise_mobile(raw)) for raw in raws]
        numbers = await _classify(platform, account.id, entries)
        numbers, hits = await _limit_frequency(platform, account, numbers, decision, frequency, now)
    except StatusError:
        return alone
    picked = [i for i, n in enumerate(numbers) if n.result == NumberResult.ACCEPTED]
    if not picked:
        return alone
    batch = SendRequest(account.account, account.password, [raws[i] for i in picked], content)
    stored = False
    try:
        outcome, stored = await _accept(
            platform,
            account,
            batch,
            caller,
            decision,
            [numbers[i] for i in picked],
            now,
            _fingerprint(batch),
        )
    except StatusError:
        return alone  # e.g. the balance covers only some: each one alone gets its answer
    finally:
        if not stored and hits.recorded:
            await platform.limiter.undo(hits)
    for index, entry in zip(picked, outcome.entries or (), strict=True):
        alone[index] = SendOutcome(outcome.status, outcome.balance, (entry,), outcome.msg)
    return alone


@contextlib.asynccontextmanager
async def _one_at_a_time(
    platform: Platform, account_id: int, key: str | None
) -> AsyncIterator[None]:
    if not key:
        yield
        return
    registry, slot = platform.same_key, (account_id, key)
    lock, users = registry.setdefault(slot, (asyncio.Lock(), [0]))
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if not users[0]:
            del registry[slot]


async def _send(
    platform: Platform, account: Account, request: SendRequest, caller: Caller
) -> SendOutcome:
    _check_extno(request.extno)
    fingerprint = _fingerprint(request)
    now = platform.clock()
    entries = _distinct(request.mobiles)
    if request.idempotency_key:
        stored = await _stored_response(
            platform.lone_reads,
            account.id,
            request.idempotency_key,
            fingerprint,
            _cutoff(platform, now),
        )
        if stored is not None:
            return stored
    decision, frequency = await policy.check_content(platform, account, request.content)
    numbers = await _classify(platform, account.id, entries)
    numbers, hits = await _limit_frequency(platform, account, numbers, decision, frequency, now)
    stored_here = False
    try:
        outcome, stored_here = await _accept(
            platform, account, request, caller, decision, numbers, now, fingerprint
        )
    finally:
        if not stored_here and hits.recorded:
            # Refused after the check (balance, an error) or answered as another request
            # with the same key was: this request's frequency hits count for nothing.
            await platform.limiter.undo(hits)
    return outcome


async def _accept(
    platform: Platform,
    account: Account,
    request: SendRequest,
    caller: Caller,
    decision: ContentDecision,
    numbers: list[_Number],
    now: datetime,
    fingerprint: str,
) -> tuple[SendOutcome, bool]:
    """Charge, store and publish; the outcome, and whether this request's messages were
    stored (False: the answer of an earlier request with the same idempotency key)."""
    accepted = [n for n in numbers if n.result == NumberResult.ACCEPTED]
    if not accepted:
        results = {n.result for n in numbers}
        if results == {NumberResult.INVALID}:
            raise StatusError(Status.MALFORMED, "no valid mobile number")
        if (
            NumberResult.REFUSED not in results
        ):  # the page's example of 100: no exit for the carrier
            raise StatusError(Status.INTERNAL, "no usable channel for these numbers' carriers")
        raise StatusError(
            Status.OTHER, "no number could be accepted (blacklisted, opted out or rate-limited)"
        )
    content = decision.content
    segments = count_segments(content)
    send_at = request.sendtime if request.sendtime is not None and request.sendtime > now else now
    held = policy.marketing_hold(platform, decision.kind, send_at)
    not_before = held or request.sendtime
    mids = [format_mid(i) for i in platform.ids.next_ids(now, len(numbers))]
    outgoing = _Outgoing(content, segments, not_before, caller.interface.value, caller.key_id)
    try:
        outcome = await _commit(platform, account, request, outgoing, numbers, mids, now)
    except (IntegrityError, idempotency_store.KeyTaken):
        # Another request with the same idempotency key won the race: answer as it did.
        async with platform.engine.connect() as conn:
            key = request.idempotency_key or ""
            stored = await _stored_response(
                conn, account.id, key, fingerprint, _cutoff(platform, now)
            )
        if stored is None:
            raise
        return stored, False
    MESSAGES_ACCEPTED.inc(len(accepted))
    for number in numbers:
        if number.result != NumberResult.ACCEPTED:
            MESSAGES_REFUSED.labels(str(number.result)).inc()
    if not_before is None or not_before <= now:
        ready = [m for m, n in zip(mids, numbers, strict=True) if n.result == NumberResult.ACCEPTED]
        await platform.publish_submits(ready)
    return outcome, True


async def _limit_frequency(
    platform: Platform,
    account: Account,
    numbers: list[_Number],
    decision: ContentDecision,
    rules: FrequencyRules,
    now: datetime,
) -> tuple[list[_Number], Hits]:
    """Count the message against each accepted number's limits (one limiter call for the
    request); refuse those over one. The hits, to take back if the send is not accepted."""
    candidates = [
        i for i, n in enumerate(numbers) if n.result == NumberResult.ACCEPTED and n.mobile
    ]
    mobiles = [numbers[i].mobile or "" for i in candidates]
    if not mobiles:
        return numbers, Hits([])
    hits = await policy.frequency_hits(platform, rules, account.id, mobiles, decision.kind, now)
    limited = list(numbers)
    for index, allowed in zip(candidates, hits.allowed, strict=True):
        if not allowed:
            n = numbers[index]
            limited[index] = _Number(n.raw, n.mobile, n.carrier, NumberResult.REFUSED)
    return limited, hits


def _check_extno(extno: str) -> None:
    if extno and not valid_extno(extno):
        raise StatusError(Status.MALFORMED, f"extno must be at most {EXTNO_MAX_DIGITS} digits")


def _distinct(mobiles: Sequence[str]) -> list[MobileEntry]:
    try:
        entries = distinct_mobiles(mobiles, limit=MAX_NUMBERS)
    except TooManyNumbers:
        raise StatusError(Status.TOO_MANY_NUMBERS) from None
    if not entries:
        raise StatusError(Status.MALFORMED, "mobile is empty")
    return entries


def _fingerprint(request: SendRequest) -> str:
    parts = [",".join(request.mobiles), request.content, request.extno, str(request.sendtime)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _cutoff(platform: Platform, now: datetime) -> datetime:
    return now - timedelta(hours=platform.settings.idempotency_hours)


async def _stored_response(
    conn: AsyncConnection | KeptReader,
    account_id: int,
    key: str,
    fingerprint: str,
    cutoff: datetime,
) -> SendOutcome | None:
    stored = await idempotency_store.find(conn, account_id, key, cutoff)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise StatusError(Status.MALFORMED, "idempotency key reused with different parameters")
    return SendOutcome.from_record(stored.record)


async def _classify(
    platform: Platform, account_id: int, entries: list[MobileEntry]
) -> list[_Number]:
    normalised = {e.raw: e.normalised for e in entries}  # normalised once, by _distinct
    valid = [m for m in normalised.values() if m]
    overrides: dict[str, Carrier] = {}
    if valid and await platform.has_overrides.get(
        None, lambda: _read(platform, number_store.any_overrides)
    ):
        found = await number_store.carrier_overrides(platform.lone_reads, valid)
        overrides = {mobile: Carrier(carrier) for mobile, carrier in found.items()}
    refused = await policy.refused_numbers(platform.lone_reads, account_id, valid)
    routed = await platform.routed.get(
        account_id,
        lambda: _read(platform, lambda conn: account_store.routed_carriers(conn, account_id)),
    )
    numbers = []
    for raw, mobile in normalised.items():
        detected = detect_carrier(mobile, overrides) if mobile else None
        carrier = detected.routes_as() if detected else None
        if mobile is None or carrier is None:
            numbers.append(_Number(raw, None, None, NumberResult.INVALID))
        elif mobile in refused:
            numbers.append(_Number(raw, mobile, carrier, NumberResult.REFUSED))
        elif carrier.value not in routed:
            numbers.append(_Number(raw, mobile, carrier, NumberResult.NO_CHANNEL))
        else:
            numbers.append(_Number(raw, mobile, carrier))
    return numbers


async def _read(platform: Platform, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``read`` on a reader connection of its own (a cache's load)."""
    async with platform.reader.connect() as conn:
        return await read(conn)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """What every accepted number of a request is sent: the text, its cost, when."""

    content: str
    segments: int
    not_before: datetime | None  # scheduled (sendtime) or held for the marketing window
    via: str = ""  # the front door (message history shows it)
    key_id: str | None = None  # the API key's SecretId


async def _commit(
    platform: Platform,
    account: Account,
    request: SendRequest,
    outgoing: _Outgoing,
    numbers: list[_Number],
    mids: list[str],
    now: datetime,
) -> SendOutcome:
    accepted = sum(1 for n in numbers if n.result == NumberResult.ACCEPTED)
    cost = outgoing.segments * accepted

    rows, finals = _message_rows(account, request.extno, outgoing, numbers, mids, now)

    async def write(conn: AsyncConnection) -> SendOutcome:
        charges = platform.commits.shared(account_store.BatchCharges)
        balance = await charges.take(conn, account.id, cost)
        if balance is None:
            raise Refusal(StatusError(Status.OTHER, "balance insufficient"))
        await messages.insert_messages(conn, rows)
        await inbox.finish(conn, finals, mark_messages=False)
        await access_store.keep_given_ids(conn, _given_ids(request, mids))
        entries = tuple(
            SendEntry(mid, n.mobile or n.raw, n.result)
            for mid, n in zip(mids, numbers, strict=True)
        )
        outcome = SendOutcome(Status.OK, balance, entries, Status.OK.default_message)
        if request.idempotency_key:
            answer = idempotency_store.StoredAnswer(_fingerprint(request), outcome.to_record())
            await idempotency_store.keep(
                conn,
                account.id,
                request.idempotency_key,
                answer,
                now,
                since=_cutoff(platform, now),
            )
        return outcome

    # The batch's charges and counters: one update per account and one upsert per counter
    # row for all its sends.
    charge = account_store.SendCharge(account.id, cost, mids[0], now)
    later: list[Later[Any]] = [
        Later(account_store.write_charges, charge),
        Later(stats_store.count_sends, rows),
    ]
    return await platform.commits.run(write, later=later)


def _given_ids(request: SendRequest, mids: list[str]) -> dict[str, list[str]]:
    """The ids handed out for each mid, where they are more than (or not) the mid itself."""
    if not request.segment_ids and not request.shared_id:
        return {}
    first = mids[0]
    return {
        mid: [first if request.shared_id else mid, *request.segment_ids]
        for mid in mids
        if request.segment_ids or mid != first
    }


def _message_rows(
    account: Account,
    request_extno: str,
    outgoing: _Outgoing,
    numbers: list[_Number],
    mids: list[str],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[inbox.FinalReport]]:
    rows: list[dict[str, Any]] = []
    finals: list[inbox.FinalReport] = []
    extno = account.extno + request_extno
    segments = outgoing.segments
    for mid, number in zip(mids, numbers, strict=True):
        accepted = number.result == NumberResult.ACCEPTED
        state = messages.MessageState.QUEUED if accepted else messages.MessageState.DONE
        stat = None if accepted else DxStat.for_result(number.result).value
        rows.append(
            {
                "mid": mid,
                "account_id": account.id,
                "mobile": (number.mobile or number.raw)[:16],
                "carrier": number.carrier.value if number.carrier else "",
                "content": outgoing.content,
                "extno": extno,
                "segments": segments,
                "charged": segments if accepted else 0,
                "state": state.value,
                "not_before": outgoing.not_before,
                "stat": stat,
                "created_at": now,
                "done_at": None if accepted else now,
                "via": outgoing.via or None,
                "key_id": outgoing.key_id,
            }
        )
        if stat is not None:
            finals.append(
                inbox.FinalReport(
                    account.id, mid, (number.mobile or number.raw)[:16], stat, "", now
                )
            )
    return rows, finals
