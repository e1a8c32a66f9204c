"""The Jira sink (REST API v2, basic auth with an account email and API token).

    create      search `labels = "intmon-<number>"` and reuse the issue, else create one
                labelled `intmon` and `intmon-<number>` (summary "<number> <topic>",
                description the form as "key: value" lines)
    comment     public comments only (internal notes stay in intmon); the body ends
                with `[intmon:<key>]` and is not posted when a comment has it already
    transition  to the transition whose target is the mapped status (case-insensitive);
                nothing when the issue is there already; permanent error when no
                transition of the issue's workflow leads there
    fetch       the status mapped back (None when unmapped) and the comments without
                an intmon marker

Jira's search is served by an index that can lag a few seconds behind a create,
so a create repeated within that window may still open a second issue.
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

JIRA_STATUSES = {
    "open": "To Do",
    "in_progress": "In Progress",
    "waiting_for_reply": "Waiting for customer",
    "closed": "Done",
    "rejected": "Won't Do",
}
PAGE_SIZE = 100
SUMMARY_CHARS = 255  # Jira refuses longer summaries


class JiraConfig(SinkConfigBase):
    kind: Literal["jira"]
    base_url: BaseUrl  # https://acme.atlassian.net
    email: str = Field(min_length=1)
    api_token: SecretRef
    project: str = Field(min_length=1)
    issue_type: str = "Task"
    # intmon status → Jira status name; the keys given override the defaults.
    status_map: dict[str, str] = Field(default_factory=lambda: dict(JIRA_STATUSES))

    @field_validator("status_map")
    @classmethod
    def _complete(cls, value: dict[str, str]) -> dict[str, str]:
        return complete_status_map(value, JIRA_STATUSES)


def _jql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _external_comment(data: Any) -> ExternalComment:
    author = data.get("author") or {}
    return ExternalComment(
        external_id=str(data["id"]),
        author=str(author.get("displayName") or author.get("emailAddress") or "unknown"),
        body=str(data["body"]),
        # Restricted to a role or group, or a Service Management internal note.
        public=not data.get("visibility") and data.get("jsdPublic", True) is not False,
        created_at=parse_time(data["created"]),
    )


class JiraSink(TicketSink):
    kind = "jira"

    def __init__(
        self,
        config: JiraConfig,
        client: httpx.Client | None = None,
        *,
        retry_wait_s: float = RETRY_WAIT_S,
    ) -> None:
        super().__init__(config, client, retry_wait_s=retry_wait_s)
        self.config = config
        self._statuses = inverse_status_map(config.status_map)

    def _create(self, ticket: TicketSnapshot, idempotency_key: str) -> str:
        label = f"intmon-{ticket.number}"
        query = {"jql": f"labels = {_jql_string(label)}", "fields": "key", "maxResults": "1"}
        found = self._call("GET", "/search", params=query)
        with self._reading(found):
            issues = found.json()["issues"]
            if issues:
                return str(issues[0]["key"])
        fields = {
            "project": {"key": self.config.project},
            "issuetype": {"name": self.config.issue_type},
            "summary": f"{ticket.number} {ticket.topic}"[:SUMMARY_CHARS],
            "description": render_form(ticket),
            "labels": ["intmon", label],
        }
        created = self._call("POST", "/issue", json={"fields": fields})
        with self._reading(created):
            return str(created.json()["key"])

    def _comment(
        self,
        external_id: str,
        ticket: TicketSnapshot,
        comment: CommentSnapshot,
        idempotency_key: str,
    ) -> None:
        if comment.visibility != "public":
            return
        tag = marker(idempotency_key)
        if any(tag in body for body in self._comment_bodies(external_id)):
            return
        body = with_marker(comment.body, idempotency_key)
        self._call("POST", f"/issue/{quote(external_id, safe='')}/comment", json={"body": body})

    def _transition(
        self, external_id: str, ticket: TicketSnapshot, status: str, idempotency_key: str
    ) -> None:
        target = self._mapped(self.config.status_map, status)
        issue = f"/issue/{quote(external_id, safe='')}"
        current = self._call("GET", issue, params={"fields": "status"})
        with self._reading(current):
            now = str(current.json()["fields"]["status"]["name"])
        if now.casefold() == target.casefold():
            return
        listed = self._call("GET", f"{issue}/transitions")
        with self._reading(listed):
            choices = [
                str(t["id"])
                for t in listed.json()["transitions"]
                if str(t["to"]["name"]).casefold() == target.casefold()
            ]
        if not choices:
            raise self._error(
                f"issue {external_id}: no transition from {now!r} leads to {target!r} "
                f"(intmon status {status})",
                permanent=True,
            )
        self._call("POST", f"{issue}/transitions", json={"transition": {"id": choices[0]}})

    def _fetch(self, external_id: str) -> ExternalState:
        issue = f"/issue/{quote(external_id, safe='')}"
        response = self._call("GET", issue, params={"fields": "status,comment"})
        with self._reading(response):
            fields = response.json()["fields"]
            status = self._statuses.get(str(fields["status"]["name"]).casefold())
            comments = [_external_comment(c) for c in fields["comment"]["comments"]]
        return ExternalState(status, [c for c in comments if not is_ours(c.body)])

    def _comment_bodies(self, external_id: str) -> Iterator[str]:
        path = f"/issue/{quote(external_id, safe='')}/comment"
        start = 0
        while True:
            params = {"startAt": str(start), "maxResults": str(PAGE_SIZE)}
            response = self._call("GET", path, params=params)
            with self._reading(response):
                page = response.json()
                bodies = [str(c["body"]) for c in page["comments"]]
                total = int(page.get("total", 0))
            yield from bodies
            start += len(bodies)
            if not bodies or start >= total:
                return

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.config.base_url}/rest/api/2{path}"
        auth = self._basic_auth(self.config.email, self.config.api_token)
        return self._request(method, url, auth=auth, **kwargs)
