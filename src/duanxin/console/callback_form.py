"""The callback-URLs form, as the customer's page and the operator's account page post it."""

from __future__ import annotations

from duanxin.console.web import Page
from duanxin.service import callbacks

__all__ = ["save_callbacks"]


async def save_callbacks(page: Page, account_id: int) -> callbacks.CallbackView:
    """Set the account's callback URLs from the posted form (empty removes; ``rotate=1``
    makes a new signing secret); the answer holds the secret when it was just made."""
    return await callbacks.set_callbacks(
        page.platform,
        account_id,
        reports_url=page.field("reports_url"),
        replies_url=page.field("replies_url"),
        rotate=page.field("rotate") == "1",
        actor=page.actor,
    )
