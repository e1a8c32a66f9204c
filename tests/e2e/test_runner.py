"""Running a scenario against a fake lead partner with a real postback on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

import pytest

from checks.scenarios.inbox import MemoryInbox
from checks.scenarios.listener import CallbackListener
from checks.scenarios.report import ScenarioReport, StepStatus
from core.vocabulary.callbacks import Callback, Delivery
from core.vocabulary.outcomes import Outcome
from tests.e2e.conftest import ENVIRON, FakeClock, Served, lead_flow, run_once, spec_of
from tests.e2e.partner import TOKEN


def statuses(report: ScenarioReport) -> dict[str, str]:
    return {step.name: step.status.value for step in report.steps}


def test_the_whole_journey_passes_with_values_carried_between_steps(served: Served) -> None:
    clock = FakeClock()
    report = asyncio.run(run_once(spec_of(lead_flow(served.url)), clock=clock))

    assert report.passed, report.detail
    assert statuses(report) == dict.fromkeys(["submit", "status", "postback", "delete"], "passed")
    submit, status, postback, delete = report.steps
    lead_id = submit.extracted["lead_id"]
    assert submit.extracted == {
        "lead_id": lead_id,
        "location": f"/leads/{lead_id}",
        "receipt": f"r{lead_id[1:]}x",
    }
    # The id read back from the first answer went into the next requests' paths.
    assert status.request["url"].endswith(f"/leads/{lead_id}")
    assert delete.request["url"].endswith(f"/leads/{lead_id}")
    assert served.partner.deleted == [lead_id]
    # Polled until accepted: the partner accepts on the second read, one poll interval later.
    assert status.attempts == 2
    assert clock.slept[0] == 1.0
    # The partner got the run's own callback URL, and the postback matched the lead.
    body = served.partner.leads[lead_id]
    assert body["postback_url"].endswith(f"/callbacks/{report.run_id}/accepted")
    assert body["email"] == f"e2e+{report.run_id}@example.com"
    assert json.loads(postback.response["excerpt"]) == {"lead_id": lead_id, "state": "accepted"}
    assert served.partner.postbacks == [(body["postback_url"], 200)]


def test_the_test_marker_marks_every_request(served: Served) -> None:
    report = asyncio.run(run_once(spec_of(lead_flow(served.url)), clock=FakeClock()))

    assert report.passed
    lead_id = report.steps[0].extracted["lead_id"]
    assert served.partner.leads[lead_id]["test"] is True  # merged into the JSON body
    assert served.partner.requests, "the partner saw the requests"
    for _method, _path, headers in served.partner.requests:
        assert headers.get("x-test-lead") == "1"


def test_polling_gives_up_at_its_timeout_and_cleanup_still_runs(served: Served) -> None:
    served.partner.accept_after = 1000  # the broker never accepts
    clock = FakeClock()
    report = asyncio.run(run_once(spec_of(lead_flow(served.url, poll_timeout=5)), clock=clock))

    assert statuses(report) == {
        "submit": "passed",
        "status": "failed",
        "postback": "skipped",
        "delete": "passed",
    }
    status = report.steps[1]
    assert status.outcome is Outcome.TIMEOUT
    assert "after 6 attempts (5 s)" in status.detail and '$.status == "accepted"' in status.detail
    assert report.status is StepStatus.FAILED and report.outcome is Outcome.TIMEOUT
    assert report.detail.startswith("step 'status':")
    assert served.partner.deleted == [report.steps[0].extracted["lead_id"]]
    assert sum(clock.slept) == 5.0  # attempts at 0, 1, … 5 s: the last one at the timeout


def test_a_callback_that_never_comes_fails_its_step_at_its_timeout(served: Served) -> None:
    served.partner.postback = False
    clock = FakeClock()
    report = asyncio.run(run_once(spec_of(lead_flow(served.url, callback_timeout=30)), clock=clock))

    postback = report.steps[2]
    assert postback.status is StepStatus.FAILED and postback.outcome is Outcome.TIMEOUT
    assert postback.detail == "callback 'accepted' did not arrive within 30 s"
    assert 30.0 <= postback.duration_s <= 30.2  # measured on the clock the test moves
    assert report.steps[3].status is StepStatus.PASSED  # cleanup after the failure


def test_a_failed_first_step_skips_the_rest_and_skips_a_cleanup_with_nothing_to_clean(
    served: Served,
) -> None:
    served.partner.submit_status = 503
    report = asyncio.run(run_once(spec_of(lead_flow(served.url)), clock=FakeClock()))

    assert statuses(report) == {
        "submit": "failed",
        "status": "skipped",
        "postback": "skipped",
        "delete": "skipped",
    }
    assert report.outcome is Outcome.SERVER_ERROR
    assert "lead_id" in report.steps[3].detail  # it needed the id no step extracted
    assert served.partner.deleted == []


def test_a_failure_after_the_lead_exists_still_deletes_it(served: Served) -> None:
    text = lead_flow(served.url).replace(
        """expect: {json: ['$.id == "{{ lead_id }}"']}""",
        """expect: {json: ['$.payout > 100']}""",
    )
    served.partner.accept_after = 1
    report = asyncio.run(run_once(spec_of(text), clock=FakeClock()))

    assert report.steps[1].status is StepStatus.FAILED
    assert report.steps[1].outcome is Outcome.CONTRACT_VIOLATION
    assert "$.payout > 100 failed: got 12.5" in report.steps[1].detail
    assert report.steps[3].status is StepStatus.PASSED
    assert served.partner.deleted == [report.steps[0].extracted["lead_id"]]


def test_an_unreachable_partner_is_an_error_with_its_outcome_class(served: Served) -> None:
    report = asyncio.run(run_once(spec_of(lead_flow("http://127.0.0.1:9")), clock=FakeClock()))

    assert report.steps[0].status is StepStatus.ERROR
    assert report.steps[0].outcome is Outcome.CONNECTION_REFUSED
    assert report.status is StepStatus.ERROR and report.outcome is Outcome.CONNECTION_REFUSED


def test_a_missing_secret_is_a_config_error_naming_the_variable(served: Served) -> None:
    environ = {"ACME_TOKEN": TOKEN}  # ACME_SIGNING_KEY is not set
    report = asyncio.run(run_once(spec_of(lead_flow(served.url)), environ=environ))

    assert report.steps[0].status is StepStatus.ERROR
    assert report.steps[0].outcome is Outcome.CONFIG_ERROR
    assert "ACME_SIGNING_KEY" in report.steps[0].detail


def test_secrets_are_redacted_in_every_part_of_the_report(served: Served) -> None:
    text = lead_flow(served.url).replace(
        "receipt: {regex: 'ref=([a-z0-9]+)'}", "receipt: {regex: 'ref=([a-z0-9]+)', secret: true}"
    )
    report = asyncio.run(run_once(spec_of(text), clock=FakeClock()))

    assert report.passed
    receipt = report.steps[0].extracted["receipt"]
    assert receipt == "[REDACTED]"
    lead_id = report.steps[0].extracted["lead_id"]
    dumped = json.dumps(report.as_dict())
    for secret in (*ENVIRON.values(), f"r{lead_id[1:]}x"):
        assert secret not in dumped
    submit = report.steps[0]
    assert submit.request["headers"]["authorization"] == "[REDACTED]"
    assert submit.request["headers"]["x-signature"] == "[REDACTED]"
    # The extracted secret is also gone from the response excerpt it came from.
    assert "ref=[REDACTED]" in submit.response["excerpt"]


def test_a_partner_value_that_looks_like_a_reference_is_never_resolved(served: Served) -> None:
    # A hostile partner names its lead "${ACME_TOKEN}-101"; the next step puts that id
    # in its path. It must travel as the literal text, never as the token's value.
    served.partner.id_format = "${{ACME_TOKEN}}-{n}"
    report = asyncio.run(run_once(spec_of(lead_flow(served.url)), clock=FakeClock()))

    assert report.passed, report.detail
    assert report.steps[0].extracted["lead_id"] == "${ACME_TOKEN}-101"
    assert served.partner.deleted == ["${ACME_TOKEN}-101"]
    for _method, path, _headers in served.partner.requests:
        assert TOKEN not in path


@pytest.mark.parametrize(
    ("run", "name", "expected"),
    [
        ("unknown-run", "accepted", Delivery.UNKNOWN),
        ("r1", "other", Delivery.UNKNOWN),
        ("r1", "accepted", Delivery.ACCEPTED),
    ],
)
def test_the_memory_inbox_answers(run: str, name: str, expected: Delivery) -> None:
    inbox = MemoryInbox("http://x")
    asyncio.run(inbox.open("r1", ["accepted"]))
    callback = Callback(name, "POST", FakeClock().now(), b"{}")
    assert inbox.deliver(run, callback) is expected


def test_the_listener_answers_404_for_unknown_runs_200_once_and_410_after_the_run() -> None:
    import httpx

    async def scenario() -> list[tuple[int, str]]:
        answers = []
        async with CallbackListener() as inbox, httpx.AsyncClient() as http:
            await inbox.open("run-1", ["accepted"])
            url = inbox.url("run-1", "accepted")
            for target in (inbox.url("nope", "accepted"), url, url):
                answer = await http.post(target, json={"ok": True})
                answers.append((answer.status_code, answer.json()["callback"]))
            got = await inbox.take("run-1", "accepted")
            assert got is not None and json.loads(got.body) == {"ok": True}
            await inbox.close("run-1")
            answer = await http.get(url, params={"late": "1"})
            answers.append((answer.status_code, answer.json()["callback"]))
        return answers

    assert asyncio.run(scenario()) == [
        (404, "unknown"),
        (200, "accepted"),
        (200, "duplicate"),
        (410, "ended"),
    ]


def test_run_ids_are_unguessable_and_safe_as_command_line_arguments() -> None:
    from checks.scenarios.runner import new_run_id

    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000
    # A run id is typed as `intmon e2e show RUN_ID`: one starting with "-" would be
    # read as an option (it happened: token_urlsafe ids start with "-" 1 time in 32).
    assert all(run_id[0].isalnum() and len(run_id) >= 32 for run_id in ids)
