"""Following redirects by hand: the partner says where, the probe says what goes along.

httpx's own redirect loop has two habits a hostile partner can use:

- it reads every redirect's body to the end before the next hop, so a redirect
  with an endless body holds the check until its timeout (and buffers whatever
  arrives in the meantime); here a redirect's body is closed unread;
- on a hop to another origin it drops `Authorization` only, so an API key in
  `X-Api-Key` or a secret in a check's own headers would go to whatever host
  the `Location` names; here such a hop carries no header holding a secret,
  and a request body holding one (a 307/308 re-sends it) is not followed at all:
  the redirect itself is the answer.

An upgrade from http to https on the same host keeps its credentials, as in
httpx. More than `MAX_REDIRECTS` hops raises `httpx.TooManyRedirects`, which
`checks.classify` reports as a redirect loop.

Every hop is judged by the egress policy as its connection is made (the
transport does it, `core.egress`). A refused hop ends the check before a byte
is sent there: `egress_denied` for a redirect (the partner sent us somewhere we
will not go), `config_error` for the configured URL itself (an internal partner
nobody allow-listed). Each hop's URL and status are written to `chain`, which
the result's detail shows (`describe_chain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from checks.clients import MAX_REDIRECTS
from checks.errors import ConfigError, ProbeFailure
from core.egress import ALLOW_VARIABLE, EgressDenied, denial_in
from core.vocabulary.outcomes import Outcome
from integrations.redaction import reveals

__all__ = ["Hop", "describe_chain", "egress_failure", "send", "send_following"]


@dataclass(frozen=True, slots=True)
class Hop:
    """One request of a redirect chain: where it went, and the status it got
    (None: no answer, e.g. refused by the egress policy or a failed connect)."""

    url: str
    status: int | None


def describe_chain(chain: list[Hop]) -> str:
    """The chain as text: `302 http://a/x → 301 https://b/y → 200 https://b/z`;
    a hop without an answer (refused, failed) reads `no answer from URL`."""
    return " → ".join(
        f"{hop.status if hop.status is not None else 'no answer from'} {hop.url}" for hop in chain
    )


def egress_failure(denial: EgressDenied, url: httpx.URL | str, hop: int) -> ProbeFailure:
    """What a refused connection means: a redirect's (hop ≥ 1) is the partner's doing,
    the configured URL's (hop 0) is intmon's configuration."""
    if hop > 0:
        detail = f"redirect {hop} to {url} → {denial}"
        return ProbeFailure(Outcome.EGRESS_DENIED, detail, permanent=True)
    return ConfigError(
        f"{url} → {denial}; to monitor an internal partner, allow its range in "
        f"{ALLOW_VARIABLE} (e.g. {denial.address}/{denial.address.max_prefixlen})"
    )


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def send(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """One request straight through the transport, its body left to stream.

    A check needs none of `httpx.AsyncClient.send`'s per-request work (auth
    flow, cookie store, event hooks, its redirect loop): about 100 µs of CPU a
    request, as much as the transport's own (docs/benchmarks.md).
    """
    response = await transport.handle_async_request(request)
    response.request = request
    return response


async def send_following(
    transport: httpx.AsyncBaseTransport,
    request: httpx.Request,
    *,
    follow: bool,
    secrets: set[str],
    chain: list[Hop] | None = None,
) -> httpx.Response:
    """Send `request` (streamed) and, when `follow`, its redirects; the last response.

    Each hop is appended to `chain`; a hop the egress policy refuses raises the
    `ProbeFailure` of `egress_failure`."""
    chain = [] if chain is None else chain
    origin = request.url
    for hops in range(MAX_REDIRECTS + 1):
        try:
            response = await send(transport, request)
        except httpx.TransportError as exc:
            chain.append(Hop(str(request.url), None))
            denial = denial_in(exc)
            if denial is None:
                raise
            raise egress_failure(denial, request.url, hops) from exc
        chain.append(Hop(str(request.url), response.status_code))
        following = redirect_request(request, response) if follow else None
        if following is not None and not _same_origin(origin, following.url):
            following = await _without_credentials(following, secrets)
        if following is None:
            return response
        await response.aclose()
        if hops == MAX_REDIRECTS:
            raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=following)
        request = following
    raise AssertionError("unreachable: the last hop returns or raises")


def redirect_request(request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
    """The request a redirect answer points to, as httpx's client builds it; None if none."""
    location = response.headers.get("location")
    if response.status_code not in _REDIRECTS or location is None:
        return None
    method = request.method
    if response.status_code in (302, 303) and method != "HEAD":
        method = "GET"  # 303 by the RFC, 302 as every browser does
    elif response.status_code == 301 and method == "POST":
        method = "GET"
    try:
        url = httpx.URL(location)
    except httpx.InvalidURL as exc:
        raise httpx.RemoteProtocolError(f"Invalid URL in location header: {exc}.") from None
    if url.scheme and not url.host:  # "http:/path": absolute in form, with no host
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    headers = httpx.Headers(request.headers)
    if not _same_origin(request.url, url):
        headers["Host"] = url.netloc.decode("ascii")
    headers.pop("Cookie", None)
    body_kept = method == request.method
    if not body_kept:
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
    return httpx.Request(
        method,
        url,
        headers=headers,
        stream=request.stream if body_kept else None,
        extensions=request.extensions,
    )


def _same_origin(origin: httpx.URL, url: httpx.URL) -> bool:
    if url.host != origin.host:
        return False
    if url.scheme == origin.scheme and url.port == origin.port:
        return True
    # http://host → https://host (default ports): an upgrade, not another origin.
    return (
        origin.scheme == "http"
        and origin.port in (None, 80)
        and url.scheme == "https"
        and url.port in (None, 443)
    )


async def _without_credentials(request: httpx.Request, secrets: set[str]) -> httpx.Request | None:
    """The request minus every header that holds a secret; None when its body holds one."""
    if secrets:
        body = (await request.aread()).decode("utf-8", errors="replace")
        if reveals(body, secrets):  # in any form: URL-encoded in a form body, say
            return None
    for name, value in list(request.headers.items()):
        if name.lower() == "authorization" or reveals(value, secrets):
            del request.headers[name]
    return request
