"""Content policy through /smssend: signatures, default signature, templates (both variable
styles, template-required accounts), marketing opt-out hints, sensitive words."""

from __future__ import annotations

from sqlalchemy import select

from duanxin.service import admin, policy
from duanxin.store import policy as policy_store
from duanxin.store.policy import ReviewState
from duanxin.store.tables import messages, templates
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    add_account,
    answer,
    approve_signature,
    assert_list_failure,
    assert_send_ok,
    collect_reports,
    post,
    send_form,
)
from tests.e2e.policy.common import approved_template, operator

VERIFY = "您的验证码是${code}，5分钟内有效"
NOTIFY = "尊敬的{1}，您的订单{2}已发货"


async def _send_as(
    stack: Stack, account: dict[str, str], content: str, mobile: str = MOBILE
) -> dict[str, object]:
    data = {**account, "mobile": mobile, "content": content}
    return answer(await post(stack, "/smssend", data=data))


async def test_template_required_account_sends_only_matching_content(stack: Stack) -> None:
    account = await add_account(stack, "tpl")
    await admin.set_account(stack.running.platform, "tpl", {"template_required": True})
    await approved_template(stack, "verification", VERIFY, "tpl")
    await approved_template(stack, "notification", NOTIFY, "tpl")
    accepted = [
        "【duanxin】您的验证码是4821，5分钟内有效",  # ${code}: 4 to 8 letters or digits
        "您的验证码是ab12CD78，5分钟内有效",  # unsigned: the default signature is added
        "尊敬的张三，您的订单A123已发货【duanxin】",  # {1} {2}, signature at the end
    ]
    for n, content in enumerate(accepted):  # verification codes: 1 per minute per number
        assert_send_ok(await _send_as(stack, account, content, f"1390013{n:04d}"))
    refused = [
        "【duanxin】您的验证码是12，5分钟内有效",  # code too short
        "【duanxin】您的验证码是123456789，5分钟内有效",  # code too long
        "【duanxin】您的验证码是12 34，5分钟内有效",  # not letters or digits
        "【duanxin】尊敬的张三，您的订单已发货",  # {2} empty
        "【duanxin】尊敬的" + "很" * 21 + "，您的订单1已发货",  # {1} longer than 20
        "【duanxin】您好，随便发点什么",  # no template at all
    ]
    for content in refused:
        data = await _send_as(stack, account, content)
        assert_list_failure(data, 100)
        assert data["msg"] == "template mismatch", content
    # A template that is only pending does not count.
    pending = await policy.register_template(
        stack.running.platform, "tpl", "notification", "会议{1}改期"
    )
    assert pending["state"] == "pending"
    assert_list_failure(await _send_as(stack, account, "【duanxin】会议周五改期"), 100)


async def test_signature_placement_default_and_approval(stack: Stack) -> None:
    assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "【duanxin】在开头"}))
    assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "在结尾【duanxin】"}))
    unsigned = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "默认签名"}))
    await collect_reports(stack, [unsigned[0]["mid"]])
    received = [m.text for m in stack.simulators["cmpp"].behaviour.received]
    assert "【duanxin】默认签名" in received and "【duanxin】【duanxin】在开头" not in received
    # A signature the account never had approved: status 5, naming it.
    data = await send_form(stack, {"mobile": MOBILE, "content": "【别家公司】你好"})
    assert_list_failure(data, 5)
    assert "【别家公司】" in data["msg"] and "not approved" in data["msg"]
    # Pending is not approved either; approved, it works.
    await policy.register_signature(stack.running.platform, stack.facts.account, "别家公司")
    assert_list_failure(
        await send_form(stack, {"mobile": MOBILE, "content": "【别家公司】你好"}), 5
    )
    await approve_signature(stack, "【别家公司】")
    assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "【别家公司】你好"}))
    # No signature and no default: 5.
    bare = await add_account(stack, "bare", default_signature="")
    data = answer(await post(stack, "/smssend", data={**bare, "mobile": MOBILE, "content": "hi"}))
    assert_list_failure(data, 5)
    assert "signature" in data["msg"]


async def test_default_signature_must_be_approved(stack: Stack) -> None:
    async with await operator(stack) as client:
        refused = await client.put(
            "/admin/accounts/demo/default-signature", json={"signature": "【未批准】"}
        )
        assert refused.status_code == 422 and "not approved" in refused.json()["msg"]
        patched = await client.patch("/admin/accounts/demo", json={"default_signature": "未批准"})
        assert patched.status_code == 422
        await approve_signature(stack, "【新签名】")
        done = await client.put(
            "/admin/accounts/demo/default-signature", json={"signature": "新签名"}
        )
        assert done.json() == {"account": "demo", "default_signature": "【新签名】"}
    sent = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "换了签名"}))
    async with stack.running.platform.engine.connect() as conn:
        stored = (
            await conn.execute(select(messages.c.content).where(messages.c.mid == sent[0]["mid"]))
        ).scalar_one()
    assert stored == "【新签名】换了签名"


async def test_marketing_needs_an_opt_out_hint(stack: Stack) -> None:
    platform = stack.running.platform
    try:
        await policy.register_template(platform, "demo", "marketing", "双十一大促{1}")
    except ValueError as error:
        assert "opt-out" in str(error)
    else:
        raise AssertionError("a marketing template without an opt-out hint was accepted")
    # A marketing template stored without a hint (as an old row might be): content refused.
    async with platform.engine.begin() as conn:
        row_id = await policy_store.add_template(
            conn, 1, "marketing", "双十一大促{1}", platform.clock()
        )
        await policy_store.decide(
            conn, templates, row_id, ReviewState.APPROVED, "", "legacy", platform.clock()
        )
    platform.policy.invalidate_account(1)
    data = await send_form(stack, {"mobile": MOBILE, "content": "【duanxin】双十一大促全场五折"})
    assert_list_failure(data, 5)
    assert "opt-out" in data["msg"]
    await approved_template(stack, "marketing", "年货节{1}，回T退订")
    ok = await send_form(stack, {"mobile": MOBILE, "content": "【duanxin】年货节满百减十，回T退订"})
    assert_send_ok(ok)


async def test_sensitive_words_hit_and_miss(stack: Stack) -> None:
    async with await operator(stack) as client:
        imported = await client.post(
            "/admin/words/import",
            content="# list\n发票\tfraud\nfapiao\tfraud\n赌博\tgambling\n".encode(),
        )
        assert imported.json() == {"added": 3}
        listing = (await client.get("/admin/words")).json()
        assert listing == {"total": 3, "categories": {"fraud": 2, "gambling": 1}}
        hits = [
            "代开发票",
            "代开发 票",
            "代开发＊票",
            "代开ＦＡＰＩＡＯ",
            "代开FaPiao",
            "网上赌　博",
        ]
        for text in hits:
            data = await send_form(stack, {"mobile": MOBILE, "content": f"【duanxin】{text}"})
            assert_list_failure(data, 5)
            assert "category" in data["msg"], text
            assert "发票" not in data["msg"] and "fapiao" not in data["msg"].lower()
            assert "赌博" not in data["msg"]
        fraud = await send_form(stack, {"mobile": MOBILE, "content": "【duanxin】代开发 票"})
        assert "fraud" in fraud["msg"]
        for text in ["发送票据", "fa qian piao", "博物馆开放"]:
            assert_send_ok(
                await send_form(stack, {"mobile": MOBILE, "content": f"【duanxin】{text}"})
            )
        removed = await client.post("/admin/words/remove", json={"words": ["发票"]})
        assert removed.json() == {"removed": 1}
    assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "【duanxin】代开发票"}))
