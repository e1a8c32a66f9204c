"""`intmon apply` semantics on SQLite and PostgreSQL: idempotent, revisions, removal."""

from __future__ import annotations

from sqlalchemy import Engine

from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import SpecCache, active_revisions, load_specs


def config(*ids: str, interval: int = 30):  # type: ignore[no-untyped-def]
    body = "\n".join(
        f"""  - id: {i}
    name: {i.title()}
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    interval_s: {interval}
    checks: [{{name: health, path: /health}}]"""
        for i in ids
    )
    return load_text(f"version: 1\nintegrations:\n{body}\n")


def test_apply_is_idempotent_and_reports_changes(db_engine: Engine) -> None:
    first = apply(db_engine, config("a", "b"))
    assert (first.added, first.changed, first.removed) == (["a", "b"], [], [])

    again = apply(db_engine, config("a", "b"))
    assert (again.added, again.changed, again.removed, again.unchanged) == ([], [], [], ["a", "b"])
    assert active_revisions(db_engine) == {"a": 1, "b": 1}

    changed = apply(db_engine, config("a", "c", interval=60))
    assert changed.added == ["c"] and changed.changed == ["a"] and changed.removed == ["b"]
    assert active_revisions(db_engine) == {"a": 2, "c": 1}
    assert load_specs(db_engine)["a"].spec.interval_s == 60


def test_removed_integration_can_come_back(db_engine: Engine) -> None:
    apply(db_engine, config("a", "b"))
    apply(db_engine, config("a"))
    back = apply(db_engine, config("a", "b"))
    assert back.added == ["b"]
    assert active_revisions(db_engine)["b"] == 3  # created, removed, re-added


def test_spec_cache_follows_revisions(db_engine: Engine) -> None:
    apply(db_engine, config("a"))
    cache = SpecCache(db_engine)
    assert cache.get_many({"a": 1})["a"].interval_s == 30
    apply(db_engine, config("a", interval=90))
    # A message from before the change still gets the cached spec...
    assert cache.get_many({"a": 1})["a"].interval_s == 30
    # ...and one with the newer revision reloads it.
    assert cache.get_many({"a": 2})["a"].interval_s == 90
    apply(db_engine, config("b"))
    assert cache.get_many({"a": 3}) == {}


def test_spec_cache_keeps_one_copy_of_parts_integrations_share(db_engine: Engine) -> None:
    shared = """
    auth: {type: bearer, token: "${ACME_TOKEN}"}
    thresholds: {failure_threshold: 5}"""
    text = "version: 1\nintegrations:\n" + "\n".join(
        f"""  - id: {i}
    name: {i.title()}
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9{extra}
    checks: [{{name: health, path: /health}}]"""
        for i, extra in (("a", shared), ("b", shared), ("c", ""))
    )
    apply(db_engine, load_text(text))

    specs = SpecCache(db_engine).get_many({"a": 1, "b": 1, "c": 1})

    a, b, c = specs["a"], specs["b"], specs["c"]
    assert a.auth is b.auth and a.thresholds is b.thresholds and a.tls is b.tls is c.tls
    assert c.auth is not a.auth and c.thresholds is not a.thresholds
    # The shared parts are equal to what each spec says on its own.
    assert specs == {s.id: s for s in load_specs(db_engine).values() for s in [s.spec]}
    assert a.thresholds.failure_threshold == 5 and c.thresholds.failure_threshold == 3


def test_a_process_holds_one_copy_of_each_spec(db_engine: Engine) -> None:
    """The worker's cache and the memo of validated specs share the spec objects
    (the cache used to keep a shared-parts copy beside the memo's original: two
    specs per integration in every worker, issue 27 item 5)."""
    apply(db_engine, config("a", "b"))
    cached = SpecCache(db_engine).get_many({"a": 1, "b": 1})
    loaded = load_specs(db_engine)
    assert cached["a"] is loaded["a"].spec and cached["b"] is loaded["b"].spec
    assert cached["a"].auth is cached["b"].auth  # and their common parts once


def test_loaded_specs_share_their_field_name_sets(db_engine: Engine) -> None:
    """Each model of a spec keeps the names of the fields its input gave; a stored
    spec gives them all, so one set per distinct list of names serves every spec
    (three quarters of a spec's memory, issue 27 item 5)."""
    apply(db_engine, config("a", "b"))
    specs = SpecCache(db_engine).get_many({"a": 1, "b": 1})
    a, b = specs["a"], specs["b"]
    assert a.model_fields_set is b.model_fields_set
    assert a.checks[0].model_fields_set is b.checks[0].model_fields_set
    assert a.checks[0].expect.model_fields_set is b.checks[0].expect.model_fields_set
    # The sets say what they said, and a copy gets a set of its own.
    assert a.model_fields_set == set(type(a).model_fields)
    renamed = a.model_copy(update={"name": "A2"})
    assert renamed.model_fields_set is not a.model_fields_set
    assert a.model_dump(exclude_unset=True) == a.model_dump()


def test_checks_that_expect_the_same_share_one_expectation(db_engine: Engine) -> None:
    text = "version: 1\nintegrations:\n" + "\n".join(
        f"""  - id: {i}
    name: {i.title()}
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks:
      - {{name: health, path: /health, expect: {{json: ['$.status == "{status}"']}}}}
      - {{name: ping, path: /ping}}"""
        for i, status in (("a", "ok"), ("b", "ok"), ("c", "up"))
    )
    apply(db_engine, load_text(text))

    specs = SpecCache(db_engine).get_many({"a": 1, "b": 1, "c": 1})

    a, b, c = (specs[i].checks for i in "abc")
    assert a[0].expect is b[0].expect and c[0].expect is not a[0].expect
    assert a[1].expect is b[1].expect is c[1].expect  # the default: any 2xx
    assert c[0].expect.json_ == ['$.status == "up"'] and a[0].expect.json_ == ['$.status == "ok"']
    # Each spec is equal to the one its file gave.
    assert specs == {spec.id: spec for spec in load_text(text).integrations}


def test_every_field_of_an_expectation_is_part_of_its_value_key() -> None:
    """Equal expectations share one compiled form by `value_key`: expectations that
    differ in any one field must not."""
    from integrations.config import Expectation

    base = Expectation()
    changed = {
        "status": [200],
        "json": ["$.ok == true"],
        "headers": {"content-type": "json"},
        "auth_error_patterns": ["expired"],
        "max_latency_ms": 500,
    }
    assert len(changed) == len(Expectation.model_fields)
    for field, value in changed.items():
        other = Expectation.model_validate({field: value})
        assert other.value_key() != base.value_key(), field
    assert Expectation().value_key() == base.value_key()
