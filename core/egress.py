"""The egress policy: which addresses intmon may open a connection to.

Every outbound request (checks and each of their redirect hops, lead
deliveries, scenario steps, token endpoints, notification channels, ticket
sinks, the lead-expired webhook, SMTP) goes through a connector that asks this
module about the *resolved* address just before connecting: a name is resolved
once, each address judged, and the connection made to that very address (the
name is kept for Host and SNI). So a partner cannot reach intmon's own network
by a redirect, and a DNS answer that changes between a check and the connect
(DNS rebinding) is judged as it is used.

Refused unless allow-listed: loopback, private (RFC 1918, IPv6 ULA), link-local
(169.254/16 holds the cloud metadata service), shared address space (CGNAT,
100.64/10), multicast, unspecified, reserved and every other range that is not
globally routable, and the IPv6 forms that carry an IPv4 address inside
(IPv4-mapped, IPv4-compatible, 6to4, NAT64): those are judged by the IPv4
address they lead to.

`INTMON_EGRESS_ALLOW` (comma-separated CIDRs, e.g. `127.0.0.0/8,10.1.0.0/16`)
allows ranges an operator monitors on purpose; unset, everything above is
refused. The connectors live with their clients: `checks.transport` (native),
`core.egress_http` (httpcore backends, guarded httpx clients),
`core.egress_aiohttp` (aiohttp resolver).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ALLOW_VARIABLE",
    "EgressDenied",
    "EgressPolicy",
    "IPAddress",
    "denial_in",
    "refusal_reason",
]

ALLOW_VARIABLE = "INTMON_EGRESS_ALLOW"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_RFC1918 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_ULA = ipaddress.IPv6Network("fc00::/7")
# Not global by IANA's special-purpose registries, whatever this Python's
# `is_global` says (its tables changed between patch releases).
_NOT_GLOBAL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "2001::/23",
        "2001:db8::/32",
        "100::/64",
    )
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class EgressDenied(OSError):
    """A connection the egress policy refuses; permanent until the policy or the target
    changes. An `OSError`, so every client library treats it as a failed connect;
    `denial_in` finds it again behind their wrappers."""

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        super().__init__(self.describe())

    def describe(self) -> str:
        shown = _shown(self.address)
        if literal_address(self.host) == self.address:
            return f"{shown} is {self.reason}: refused by the egress policy"
        return (
            f"{self.host} resolved to {shown}, which is {self.reason}: refused by the egress policy"
        )

    def __str__(self) -> str:
        return self.describe()

    def __reduce__(self) -> tuple[type[EgressDenied], tuple[str, IPAddress, str]]:
        return (EgressDenied, (self.host, self.address, self.reason))


def _shown(address: IPAddress) -> str:
    """An address as people write it: ::ffff:127.0.0.1 rather than ::ffff:7f00:1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why the default policy refuses `address` ("loopback", "link-local", …); None if global."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = _plain_reason(inner)
            return None if reason is None else f"{reason} (as {inner})"
    return _plain_reason(address)


def _plain_reason(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address in _CGNAT:
        return "shared address space (CGNAT)"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in _RFC1918) or address in _ULA:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global or any(address in network for network in _NOT_GLOBAL):
        return "not globally routable"
    return None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Refuse the non-global ranges except those in `allow`."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str, *, field: str = ALLOW_VARIABLE) -> EgressPolicy:
        """From comma-separated CIDRs (or single addresses); ValueError names `field`."""
        networks: list[IPNetwork] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"{field}: {entry!r} is not an IP network (write CIDRs like 10.1.0.0/16)"
                ) from None
        return cls(tuple(networks))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> EgressPolicy:
        """The process's policy: `INTMON_EGRESS_ALLOW`, or refuse every internal range."""
        return cls.parse((os.environ if environ is None else environ).get(ALLOW_VARIABLE, ""))

    def allows(self, address: IPAddress) -> bool:
        inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        for network in self.allow:
            if address in network or (inner is not None and inner in network):
                return True
        return refusal_reason(address) is None

    def check(self, host: str, address: IPAddress | str) -> None:
        """Raise `EgressDenied` unless `address` (what `host` resolved to) may be connected to."""
        parsed = _address(address)
        if not self.allows(parsed):
            raise EgressDenied(host, parsed, refusal_reason(parsed) or "refused")

    def permitted(self, host: str, addresses: Sequence[str]) -> list[str]:
        """The addresses of `host` that may be connected to, in order; `EgressDenied`
        (naming the first refused one) when none may."""
        allowed: list[str] = []
        first_denial: EgressDenied | None = None
        for address in addresses:
            try:
                self.check(host, address)
            except EgressDenied as denial:
                first_denial = first_denial or denial
                continue
            allowed.append(address)
        if not allowed:
            if first_denial is None:
                raise OSError(f"{host} resolved to no address")
            raise first_denial
        return allowed


def literal_address(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one (brackets and zone ids tolerated), legacy
    IPv4 spellings included ("127.1", "2130706433", "0x7f.0.0.1"): resolvers read
    those as addresses, so they are judged as the address they stand for."""
    try:
        return _address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):  # not an address in any spelling: a name
        return None


def _address(value: IPAddress | str) -> IPAddress:
    if not isinstance(value, str):
        return value
    text = value.strip("[]").split("%", 1)[0]  # an IPv6 zone id names a link, not an address
    return ipaddress.ip_address(text)


def resolve_checked(policy: EgressPolicy, host: str, port: int) -> list[tuple[int, str]]:
    """Resolve `host` (blocking) and keep the permitted addresses as (family, address)."""
    literal = literal_address(host)
    if literal is not None:
        policy.check(host, literal)
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        return [(family, str(literal))]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return checked_infos(policy, host, infos)


async def resolve_checked_async(
    policy: EgressPolicy, host: str, port: int
) -> list[tuple[int, str]]:
    """`resolve_checked` on the running asyncio loop (no resolver round trip for an address)."""
    literal = literal_address(host)
    if literal is not None:
        policy.check(host, literal)
        return [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))]
    import asyncio  # loaded already (this runs on a loop); not at import: validate needs none

    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return checked_infos(policy, host, infos)


def connect_socket(
    policy: EgressPolicy,
    host: str,
    port: int,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A TCP socket to a permitted address of `host` (blocking; for smtplib and the like)."""
    first_error: OSError | None = None
    for _, address in resolve_checked(policy, host, port):
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as exc:
            first_error = first_error or exc
    assert first_error is not None  # resolve_checked returns at least one address
    raise first_error


def checked_infos(
    policy: EgressPolicy, host: str, infos: Iterable[tuple[object, ...]]
) -> list[tuple[int, str]]:
    """getaddrinfo's answer reduced to the permitted (family, address) pairs, in order."""
    pairs: list[tuple[int, str]] = []
    for info in infos:
        family, sockaddr = info[0], info[4]
        assert isinstance(family, int) and isinstance(sockaddr, tuple)
        pair = (family, str(sockaddr[0]))
        if pair not in pairs:
            pairs.append(pair)
    allowed = set(policy.permitted(host, [address for _, address in pairs]))
    return [pair for pair in pairs if pair[1] in allowed]


def denial_in(exc: BaseException | None) -> EgressDenied | None:
    """The `EgressDenied` behind `exc` (its cause, context or first argument), if any."""
    seen: set[int] = set()
    pending: list[BaseException] = [] if exc is None else [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, EgressDenied):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for behind in (current.__cause__, current.__context__, getattr(current, "os_error", None)):
            if isinstance(behind, BaseException):
                pending.append(behind)
        if current.args and isinstance(current.args[0], BaseException):
            pending.append(current.args[0])
    return None
