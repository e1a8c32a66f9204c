"""The Zendesk sink (Support API v2, basic auth `{email}/token` with an API token).

    create      list tickets with `external_id=<number>` and reuse one, else create it
                (tag `intmon`, `Idempotency-Key` header); its first comment is the form
                and carries the marker, so sync-back leaves it out
    comment     a public reply or a private note per the comment's visibility; the body
                ends with `[intmon:<key>]` and is not posted when a comment has it already
    transition  set the mapped status (setting a status twice is harmless)
    fetch       the status mapped back and the comments without an intmon marker

Several intmon statuses share a Zendesk status by default (open and in_progress
are both "open"). Mapping back, the first in the order open, in_progress,
waiting_for_reply, closed, rejected wins: "open" reads as open, never in_progress.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from alerts.sinks.base import (
    RETRY_WAIT_S,
    BaseUrl,
    CommentSnapshot,
    ExternalComment,
    ExternalState,
    SinkConfigBase,
    TicketSink,
    TicketSnapshot,
    complete_status_map,
    inverse_status_map,
    is_ours,
    marker,
    parse_time,
    render_form,
    with_marker,
)
from integrations.config import SecretRef

if TYPE_CHECKING:
    import httpx

ZENDESK_STATUSES = {
    "open": "open",
    "in_progress": "open",
    "waiting_for_reply": "pending",
    "closed": "solved",
    "rejected": "closed",
}


class ZendeskConfig(SinkConfigBase):
    kind: Literal["zendesk"]
    base_url: BaseUrl  # https://acme.zendesk.com
    email: str = Field(min_length=1)
    api_token: SecretRef
    # intmon status → Zendesk status; the keys given override the defaults.
    status_map: dict[str, str] = Field(default_factory=lambda: dict(ZENDESK_STATUSES))

    @field_validator("status_map")
    @classmethod
    def _complete(cls, value: dict[str, str]) -> dict[str, str]:
        return complete_status_map(value, ZENDESK_STATUSES)


def _origin(url: str) -> tuple[str, str]:
    import httpx  # here, not at import: validating a file never sends

    parsed = httpx.URL(url)
    return parsed.scheme, parsed.netloc.decode("ascii")


def _external_comment(data: Any) -> ExternalComment:
    return ExternalComment(
        external_id=str(data["id"]),
        author=str(data.get("author_id")),
        body=str(data["body"]),
        public=bool(data.get("public", True)),
        created_at=parse_time(data["created_at"]),
    )


class ZendeskSink(TicketSink):
    kind = "zendesk"

    def __init__(
        self,
        config: ZendeskConfig,
        client: httpx.Client | None = None,
        *,
        retry_wait_s: float = RETRY_WAIT_S,
    ) -> None:
        super().__init__(config, client, retry_wait_s=retry_wait_s)
        self.config = config
        self._statuses = inverse_status_map(config.status_map)
        self._origin = _origin(config.base_url)

    def _create(self, ticket: TicketSnapshot, idempotency_key: str) -> str:
        found = self._call("GET", "/tickets.json", params={"external_id": ticket.number})
        with self._reading(found):
            tickets = found.json()["tickets"]
            if tickets:
                return str(tickets[0]["id"])
        fields = {
            "subject": f"{ticket.number} {ticket.topic}",
            "comment": {"body": with_marker(render_form(ticket), idempotency_key)},
            "external_id": ticket.number,
            "tags": ["intmon"],
        }
        created = self._call(
            "POST",
            "/tickets.json",
            json={"ticket": fields},
            headers={"Idempotency-Key": idempotency_key},
        )
        with self._reading(created):
            return str(created.json()["ticket"]["id"])

    def _comment(
        self,
        external_id: str,
        ticket: TicketSnapshot,
        comment: CommentSnapshot,
        idempotency_key: str,
    ) -> None:
        tag = marker(idempotency_key)
        if any(tag in str(c["body"]) for c in self._comments(external_id)):
            return
        reply = {
            "body": with_marker(comment.body, idempotency_key),
            "public": comment.visibility == "public",
        }
        self._call("PUT", self._ticket_path(external_id), json={"ticket": {"comment": reply}})

    def _transition(
        self, external_id: str, ticket: TicketSnapshot, status: str, idempotency_key: str
    ) -> None:
        target = self._mapped(self.config.status_map, status)
        self._call("PUT", self._ticket_path(external_id), json={"ticket": {"status": target}})

    def _fetch(self, external_id: str) -> ExternalState:
        response = self._call("GET", self._ticket_path(external_id))
        with self._reading(response):
            status = self._statuses.get(str(response.json()["ticket"]["status"]).casefold())
        comments = [_external_comment(c) for c in self._comments(external_id)]
        return ExternalState(status, [c for c in comments if not is_ours(c.body)])

    def _comments(self, external_id: str) -> Iterator[Any]:
        """Every comment, following `next_page` (only on the configured host)."""
        url: str | None = self._url(f"/tickets/{quote(external_id, safe='')}/comments.json")
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            response = self._get_page(url)
            with self._reading(response):
                page = response.json()
                comments, url = list(page["comments"]), page.get("next_page")
            yield from comments

    def _get_page(self, url: str) -> httpx.Response:
        if _origin(url) != self._origin:
            # Never send the credentials to a host the configuration did not name.
            raise self._error(f"next_page points away from {self._origin[1]}", permanent=True)
        auth = self._basic_auth(f"{self.config.email}/token", self.config.api_token)
        return self._request("GET", url, auth=auth)

    def _ticket_path(self, external_id: str) -> str:
        return f"/tickets/{quote(external_id, safe='')}.json"

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}/api/v2{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        auth = self._basic_auth(f"{self.config.email}/token", self.config.api_token)
        return self._request(method, self._url(path), auth=auth, **kwargs)
