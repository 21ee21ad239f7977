"""Standard Webhooks signing, checked with the spec's own Python package, and the back-off."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from duanxin.domain.stats import DELAY_BOUNDS, delay_bucket, quantile
from duanxin.domain.webhooks import (
    backoff_seconds,
    new_message_id,
    new_secret,
    secret_key,
    webhook_headers,
)


def test_signatures_verify_with_the_standardwebhooks_package() -> None:
    secret, body = new_secret(), b'[{"mid":"X","stat":"DELIVRD"}]'
    stamp = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([secret], "msg_abc", stamp, body)
    assert Webhook(secret).verify(body, headers) == [{"mid": "X", "stat": "DELIVRD"}]
    expected = Webhook(secret).sign("msg_abc", datetime.fromtimestamp(stamp, UTC), body.decode())
    assert headers["webhook-signature"] == expected


def test_secrets_and_ids_are_fresh_and_well_formed() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_") and 24 <= len(secret_key(secret)) <= 64
        base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert new_message_id().startswith("msg_") and new_message_id() != new_message_id()
    with pytest.raises(ValueError):
        secret_key("not-a-secret")


def test_backoff_doubles_with_jitter_and_stops_growing() -> None:
    rng = random.Random(1)
    for attempt, nominal in ((1, 5), (2, 10), (3, 20), (10, 2560), (20, 3600)):
        for _ in range(20):
            assert nominal * 0.8 <= backoff_seconds(attempt, rng) <= nominal * 1.2
    assert len({backoff_seconds(1, rng) for _ in range(10)}) > 1


def test_delay_histogram_quantiles() -> None:
    assert [delay_bucket(s) for s in (0, 1, 1.5, 4, 59, 61, 10**6)] == [0, 0, 1, 3, 7, 8, 15]
    histogram = [0] * (len(DELAY_BOUNDS) + 1)
    histogram[delay_bucket(2)] = 90  # 90 reports within 2 s
    histogram[delay_bucket(100)] = 10  # 10 within 120 s
    assert quantile(histogram, 0.5) == 2
    assert quantile(histogram, 0.95) == 120
    assert quantile([0] * 16, 0.5) is None
    histogram[-1] = 1000
    assert quantile(histogram, 0.95) == float("inf")
