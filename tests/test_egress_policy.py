"""The egress policy's address classifier and allow-list, one row per range.

Pure functions: no network. Every default-refused range has a row, and so has
each IPv6 spelling that leads to an IPv4 address (mapped, compatible, 6to4,
NAT64): those are judged by where they lead.
"""

from __future__ import annotations

import ipaddress
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.egress import (
    EgressDenied,
    EgressPolicy,
    denial_in,
    literal_address,
    refusal_reason,
)
from core.settings import Settings

REFUSED = [
    # (address, the reason the detail names)
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.255", "shared address space (CGNAT)"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "not globally routable"),  # documentation
    ("198.18.0.1", "not globally routable"),  # benchmarking
    ("192.0.0.8", "not globally routable"),
    ("2001:db8::1", "not globally routable"),  # documentation
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "not globally routable"),  # Teredo
    ("64:ff9b:1::1", "reserved"),  # local-use NAT64
    # IPv6 spellings of IPv4 addresses: judged by the IPv4 address.
    ("::ffff:127.0.0.1", "loopback (as 127.0.0.1)"),
    ("::ffff:169.254.169.254", "link-local (as 169.254.169.254)"),
    ("::ffff:10.0.0.1", "private (as 10.0.0.1)"),
    ("::127.0.0.1", "loopback (as 127.0.0.1)"),  # IPv4-compatible (deprecated)
    ("2002:7f00:1::", "loopback (as 127.0.0.1)"),  # 6to4
    ("2002:a9fe:a9fe::1", "link-local (as 169.254.169.254)"),
    ("64:ff9b::7f00:1", "loopback (as 127.0.0.1)"),  # NAT64
    ("64:ff9b::a00:1", "private (as 10.0.0.1)"),
    ("64:ff9b::6440:1", "shared address space (CGNAT) (as 100.64.0.1)"),
]

PERMITTED = [
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above
    "172.32.0.1",  # just above 172.16/12
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "reason"), REFUSED, ids=[a for a, _ in REFUSED])
def test_an_internal_address_is_refused_by_default(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason
    with pytest.raises(EgressDenied) as denied:
        EgressPolicy().check(address, address)
    assert str(denied.value).endswith(f"is {reason}: refused by the egress policy")


@pytest.mark.parametrize("address", PERMITTED)
def test_a_global_address_is_permitted(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None
    EgressPolicy().check(address, address)


@given(st.ip_addresses(v=4))
def test_every_ipv4_address_is_judged_the_same_in_each_ipv6_spelling(
    address: ipaddress.IPv4Address,
) -> None:
    plain = refusal_reason(address)
    spellings = [
        f"::ffff:{address}",
        f"64:ff9b::{address}",
        str(ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))),
    ]
    for spelling in spellings:
        wrapped = refusal_reason(ipaddress.ip_address(spelling))
        assert (wrapped is None) == (plain is None), spelling
        assert wrapped is None or wrapped.startswith(plain or "")


@given(st.ip_addresses(v=4, network="10.0.0.0/8") | st.ip_addresses(network="fc00::/7"))
def test_every_private_address_is_refused(address: ipaddress.IPv4Address) -> None:
    assert refusal_reason(address) is not None


def test_the_allow_list_permits_its_ranges_and_nothing_more() -> None:
    policy = EgressPolicy.parse(" 127.0.0.0/8, 10.1.0.0/16 ,fd00::1")
    for address in ("127.0.0.1", "127.9.9.9", "10.1.200.3", "fd00::1", "::ffff:127.0.0.1"):
        policy.check("partner.internal", address)
    for address in ("10.2.0.1", "169.254.169.254", "fd00::2", "192.168.0.1"):
        with pytest.raises(EgressDenied):
            policy.check("partner.internal", address)


def test_a_name_is_shown_with_what_it_resolved_to() -> None:
    with pytest.raises(EgressDenied) as denied:
        EgressPolicy().check("rebind.example", "127.0.0.1")
    assert str(denied.value) == (
        "rebind.example resolved to 127.0.0.1, which is loopback: refused by the egress policy"
    )


def test_only_permitted_answers_of_a_name_are_kept() -> None:
    policy = EgressPolicy()
    assert policy.permitted("mixed.example", ["127.0.0.1", "8.8.8.8"]) == ["8.8.8.8"]
    with pytest.raises(EgressDenied, match=r"10\.0\.0\.1,"):
        policy.permitted("inside.example", ["10.0.0.1", "127.0.0.1"])


@pytest.mark.parametrize("entry", ["10.1.0.0/33", "partner.internal", "10.1.0.0/16/8"])
def test_a_bad_allow_list_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match=f"INTMON_EGRESS_ALLOW: {entry!r} is not an IP network"):
        EgressPolicy.parse(f"127.0.0.0/8,{entry}")
    with pytest.raises(ValueError, match="egress_allow"):
        Settings(egress_allow=entry)


def test_the_settings_and_the_environment_give_the_same_policy() -> None:
    assert Settings(egress_allow="").egress_policy() == EgressPolicy()
    assert EgressPolicy.from_environment({}) == EgressPolicy()
    assert (
        EgressPolicy.from_environment({"INTMON_EGRESS_ALLOW": "10.1.0.0/16"})
        == Settings(egress_allow="10.1.0.0/16").egress_policy()
    )


def test_a_denial_is_found_behind_the_wrappers_of_client_libraries() -> None:
    denial = EgressDenied("a", ipaddress.ip_address("10.0.0.1"), "private")
    try:
        try:
            raise denial
        except EgressDenied as exc:
            raise ConnectionError("wrapped") from exc
    except ConnectionError as outer:
        assert denial_in(outer) is denial
    assert denial_in(RuntimeError(denial)) is denial  # httpcore wraps as Error(original)
    assert denial_in(RuntimeError("unrelated")) is None
    assert str(pickle.loads(pickle.dumps(denial))) == str(denial)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "017700000001"])
def test_legacy_ipv4_spellings_are_judged_as_the_address_they_stand_for(host: str) -> None:
    with pytest.raises(EgressDenied, match="is loopback"):
        EgressPolicy().check(host, literal_address(host) or "")
    assert literal_address("cafe.example") is None and literal_address("face.b00c") is None
