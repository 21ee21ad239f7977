"""Pin the SDK's public surface: anything added or removed here is an API change."""

from __future__ import annotations

import duanxin.client

EXPECTED = {
    "AsyncClient",
    "AuthenticationError",
    "Balance",
    "Callbacks",
    "Client",
    "DuanxinError",
    "PullResult",
    "Reply",
    "Report",
    "ResponseError",
    "SendItem",
    "SendResult",
    "TransportError",
    "WebhookVerificationError",
    "verify_webhook",
}


def test_all_is_pinned() -> None:
    assert set(duanxin.client.__all__) == EXPECTED
    assert len(duanxin.client.__all__) == len(EXPECTED)


def test_exported_members_live_in_the_module() -> None:
    for name in duanxin.client.__all__:
        member = getattr(duanxin.client, name)
        assert member.__module__ == "duanxin.client", name
        assert member.__doc__, name


def test_exceptions_form_one_tree() -> None:
    for name in (
        "TransportError",
        "AuthenticationError",
        "ResponseError",
        "WebhookVerificationError",
    ):
        assert issubclass(getattr(duanxin.client, name), duanxin.client.DuanxinError)


def test_public_methods_are_documented() -> None:
    for cls in (duanxin.client.Client, duanxin.client.AsyncClient):
        for name in dir(cls):
            if not name.startswith("_"):
                assert getattr(cls, name).__doc__, f"{cls.__name__}.{name}"
