"""Blacklist, operator opt-outs, the review queue over REST, and the audit trail.

(Opt-out by a reply keyword, then refusal: tests/e2e/test_replies.py.)
"""

from __future__ import annotations

from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    TELECOM,
    UNICOM,
    add_account,
    answer,
    assert_list_failure,
    assert_send_ok,
    collect_reports,
    post,
    send_form,
)
from tests.e2e.policy.common import operator


async def test_blacklist_import_then_numbers_are_refused_everywhere(stack: Stack) -> None:
    other = await add_account(stack, "other")
    async with await operator(stack) as client:
        imported = await client.post(
            "/admin/blacklist/import",
            params={"reason": "complaints"},
            content=f"# from the carrier\n{MOBILE}\nnot-a-number\n+86{UNICOM}\n".encode(),
        )
        assert imported.json() == {
            "added": 2,
            "known": 0,
            "invalid": 1,
            "invalid_examples": ["not-a-number"],
            "bad_lines": [
                {"line": 3, "text": "not-a-number", "reason": "not a mainland mobile number"}
            ],
        }
        listing = (await client.get("/admin/blacklist")).json()
        assert listing["total"] == 2 and {r["mobile"] for r in listing["list"]} == {MOBILE, UNICOM}
        sent = await send_form(stack, {"mobile": f"{MOBILE},{TELECOM}", "content": "通知"})
        items = assert_send_ok(sent)
        assert [i["result"] for i in items] == [5, 0]
        reports = await collect_reports(stack, [i["mid"] for i in items])
        assert reports[items[0]["mid"]][0]["stat"] == "DX:0005"
        # Global: another account is refused too; a batch of blacklisted numbers only: 5.
        data = {**other, "mobile": f"{UNICOM},{MOBILE}", "content": "通知"}
        assert_list_failure(answer(await post(stack, "/smssend", data=data)), 5)
        assert (await client.delete(f"/admin/blacklist/{MOBILE}")).json() == {"removed": 1}
        assert (await client.delete(f"/admin/blacklist/{MOBILE}")).status_code == 404
    again = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "通知"}))
    assert again[0]["result"] == 0


async def test_operator_opt_out_refuses_for_that_account_only(stack: Stack) -> None:
    other = await add_account(stack, "other")
    async with await operator(stack) as client:
        added = await client.post("/admin/optouts/demo", json={"mobiles": [MOBILE]})
        assert added.json()["added"] == 1
        assert [r["mobile"] for r in (await client.get("/admin/optouts/demo")).json()] == [MOBILE]
        assert_list_failure(await send_form(stack, {"mobile": MOBILE, "content": "通知"}), 5)
        data = {**other, "mobile": MOBILE, "content": "通知"}
        assert assert_send_ok(answer(await post(stack, "/smssend", data=data)))[0]["result"] == 0
        assert (await client.delete(f"/admin/optouts/demo/{MOBILE}")).json() == {"removed": 1}
        imported = await client.post(
            "/admin/optouts/demo/import", content=f"mobile\n{UNICOM}\n12345\n".encode()
        )
        assert imported.json()["added"] == 1 and imported.json()["bad_lines"] == [
            {"line": 3, "text": "12345", "reason": "not a mainland mobile number"}
        ]
        unknown = await client.post("/admin/optouts/nobody/import", content=b"13800138000\n")
        assert unknown.status_code == 404
        words = await client.post(
            "/admin/words/import", params={"csv": "true"}, content="博彩,gambling\n".encode()
        )
        assert words.json() == {"added": 1}
        bad = await client.post("/admin/words/import", content=b"ok\n* *\n")
        assert bad.status_code == 422 and "line 2" in bad.text
        assert "nothing was imported" in bad.text
    assert assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "通知"}))


async def test_every_operator_decision_is_audited(stack: Stack) -> None:
    platform = stack.running.platform
    from duanxin.service import policy

    sig = await policy.register_signature(platform, "demo", "【审计】")
    sig2 = await policy.register_signature(platform, "demo", "【审计二】")
    tpl = await policy.register_template(platform, "demo", "notification", "订单{1}已发货")
    tpl2 = await policy.register_template(platform, "demo", "notification", "快递{1}已签收")
    async with await operator(stack, "carol") as client:
        pending = (await client.get("/admin/signatures", params={"state": "pending"})).json()
        assert {r["signature"] for r in pending} == {"【审计】", "【审计二】"}
        assert (await client.post(f"/admin/signatures/{sig['id']}/approve")).json()[
            "state"
        ] == "approved"
        no_reason = await client.post(f"/admin/signatures/{sig2['id']}/reject", json={})
        assert no_reason.status_code == 422
        rejected = await client.post(
            f"/admin/signatures/{sig2['id']}/reject", json={"reason": "不是公司名"}
        )
        assert rejected.json()["reason"] == "不是公司名"
        assert (await client.post("/admin/signatures/999/approve")).status_code == 404
        assert (await client.get("/admin/templates", params={"state": "pending"})).json()
        await client.post(f"/admin/templates/{tpl['id']}/approve")
        await client.post(f"/admin/templates/{tpl2['id']}/reject", json={"reason": "重复"})
        await client.post("/admin/blacklist", json={"mobiles": [TELECOM], "reason": "x"})
        await client.delete(f"/admin/blacklist/{TELECOM}")
        await client.post("/admin/blacklist/import", content=b"13800138001\n")
        await client.post("/admin/words", json={"word": "违禁", "category": "test"})
        await client.post("/admin/words/import", content="违规\ttest\n".encode())
        await client.post("/admin/words/remove", json={"words": ["违禁"]})
        await client.put("/admin/frequency/demo", json={"marketing": "3/day"})
        await client.put("/admin/accounts/demo/default-signature", json={"signature": "【审计】"})
        await client.post("/admin/optouts/demo", json={"mobiles": [UNICOM]})
        await client.delete(f"/admin/optouts/demo/{UNICOM}")
        await client.patch(
            "/admin/accounts/demo", json={"ip_whitelist": "127.0.0.1, ::1/128", "state": "active"}
        )
        await client.post("/admin/accounts/demo/recharge", json={"amount": 10})
        rows = (await client.get("/admin/audit", params={"actor": "carol", "limit": "100"})).json()
    actions = {row["action"] for row in rows}
    assert actions == {
        "signature.approve",
        "signature.reject",
        "template.approve",
        "template.reject",
        "blacklist.add",
        "blacklist.remove",
        "blacklist.import",
        "words.add",
        "words.import",
        "words.remove",
        "frequency.set",
        "account.default_signature",
        "optout.add",
        "optout.remove",
        "account.set",
        "account.recharge",
    }
    assert all(row["actor"] == "carol" and row["created_at"] for row in rows)
    rejection = next(r for r in rows if r["action"] == "signature.reject")
    assert rejection["subject"] == "demo 【审计二】"
    assert rejection["detail"]["reason"] == "不是公司名"
