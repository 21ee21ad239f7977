"""Which addresses a callback may connect to (no server-side request forgery)."""

from __future__ import annotations

import ipaddress

import pytest

from duanxin.delivery.ssrf import AddressPolicy, AddressRefused, resolve_allowed

REFUSED = [
    "127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "169.254.169.254", "100.100.100.200", "100.64.0.1", "fd00:ec2::254", "fe80::1",
    "0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
]  # fmt: skip
ALLOWED = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_not_public_addresses_are_refused(address: str) -> None:
    assert not AddressPolicy(list).allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy(list).allows(ipaddress.ip_address(address))


def test_the_allow_list_lets_networks_through_and_is_read_each_time() -> None:
    allowed: list[str] = ["127.0.0.0/8", "10.0.0.0/8"]
    policy = AddressPolicy(lambda: allowed)
    assert policy.allows(ipaddress.ip_address("127.0.0.1"))
    assert policy.allows(ipaddress.ip_address("::ffff:10.1.1.1"))
    assert not policy.allows(ipaddress.ip_address("192.168.0.1"))
    allowed.clear()
    assert not policy.allows(ipaddress.ip_address("127.0.0.1"))


async def test_a_name_is_checked_by_what_it_resolves_to() -> None:
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1"):
        await resolve_allowed(AddressPolicy(list), "localhost", 80)
    assert "127.0.0.1" in await resolve_allowed(
        AddressPolicy(lambda: ["127.0.0.0/8"]), "localhost", 80
    )
    with pytest.raises(AddressRefused):
        await resolve_allowed(AddressPolicy(list), "[::1]", 80)
