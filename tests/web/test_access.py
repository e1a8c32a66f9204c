"""A client sees only its own client's integrations and tickets, on every page and
form: anything else is "not found", exactly like something that does not exist."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine

from alerts.queries import list_tickets, ticket_detail
from tests.web.conftest import CSRF


def same_page(first: str, second: str, *names: tuple[str, str]) -> bool:
    """Two answers are the same page once the names asked for are set aside."""

    def plain(html: str) -> str:
        for old, new in names:
            html = html.replace(old, new)
        return CSRF.sub("", html)

    return plain(first) == plain(second)


def test_another_clients_ticket_is_not_found_on_every_page_and_form(
    browser: Any, engine: Engine
) -> None:
    acme = browser("ann")
    hidden = acme.get("/tickets/INC-000002")
    missing = acme.get("/tickets/INC-000099")
    assert hidden.status_code == missing.status_code == 404
    assert "There is no ticket INC-000002, or it is not yours." in hidden.text
    assert same_page(hidden.text, missing.text, ("INC-000099", "INC-000002"))
    for action, form in (
        ("comments", {"body": "hello from acme"}),
        ("status", {"status": "closed"}),
        ("section", {"section": "app_help"}),
    ):
        refused = acme.post(f"/tickets/INC-000002/{action}", form)
        absent = acme.post(f"/tickets/INC-000099/{action}", form)
        assert refused.status_code == absent.status_code == 404, action
        assert same_page(refused.text, absent.text, ("INC-000099", "INC-000002"))
    orbit = ticket_detail(engine, 2)
    assert orbit.comments == [] and orbit.ticket.status == "open"
    assert orbit.ticket.section == "system_errors"
    assert acme.get("/tickets/not-a-number").status_code == 404


def test_another_clients_integration_is_not_found(browser: Any) -> None:
    acme = browser("ann")
    hidden, missing = acme.get("/integrations/o"), acme.get("/integrations/zz")
    assert hidden.status_code == missing.status_code == 404
    assert same_page(hidden.text, missing.text, ("zz", "o"))
    assert browser("sup").get("/integrations/o").status_code == 200


def test_lists_boards_and_forms_never_name_another_client(browser: Any, engine: Engine) -> None:
    acme = browser("ann")
    pages = [
        acme.get(path).text
        for path in (
            "/board",
            "/tickets",
            "/tickets?integration=o",
            "/tickets?client=orbit",
            "/tickets/new",
            "/tickets/INC-000001",
            "/integrations/a",
        )
    ]
    for html in pages:
        html = html.split("<main>")[1]  # the language links repeat the query asked
        assert "orbit" not in html and "INC-000002" not in html and "O Broker" not in html
    assert re.findall(r'id="row-(INC-\d+)"', pages[2]) == []


def test_a_client_files_only_for_itself(browser: Any, engine: Engine) -> None:
    acme = browser("ann")
    base = {"section": "app_help", "topic": "t", "description": "d"}
    hidden = acme.post("/tickets/new", {**base, "integration": "o"})
    unknown = acme.post("/tickets/new", {**base, "integration": "zz"})
    assert hidden.status_code == unknown.status_code == 422
    assert "Integration</strong>: no such integration" in hidden.text
    assert "no such integration" in unknown.text  # the same words: nothing is given away
    for_orbit = acme.post("/tickets/new", {**base, "client": "orbit"})
    assert "Client: you file tickets for your own company only" in for_orbit.text
    premium = acme.post("/tickets/new", {**base, "tier": "premium"})
    assert "Tariff: the tariff is set by support" in premium.text
    assert [t.number for t in list_tickets(engine)] == ["INC-000001", "INC-000002"]


def test_a_client_cannot_change_status_or_section_of_its_own_ticket(
    browser: Any, engine: Engine
) -> None:
    acme = browser("ann")
    assert acme.post("/tickets/INC-000001/status", {"status": "closed"}).status_code == 403
    assert acme.post("/tickets/INC-000001/section", {"section": "app_help"}).status_code == 403
    ticket = ticket_detail(engine, 1).ticket
    assert (ticket.status, ticket.section) == ("open", "system_errors")
