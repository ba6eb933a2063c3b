"""Fact-path GC (``retention.gc_fact_paths``): paths no factset holds any more leave ``fact-paths``
and ``fact-names`` (PuppetDB collects them the same way), after a mark and a grace period, and
never while a factset still holds them — against real PostgreSQL, through the real ingest path."""

from __future__ import annotations

import datetime as dt
import threading

import orjson
import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from ingest import processing
from inventory import retention
from inventory.models import FactPath
from inventory.storage import facts as facts_storage
from tests.support import ingest as ing
from tests.support.stack import database_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_storage_caches")]

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
GRACE = dt.timedelta(minutes=15)


def store(client, doc: dict, when: dt.datetime) -> None:
    doc = {**doc, "producer_timestamp": ing.ts(when)}
    assert ing.post(client, "replace facts", 5, doc).status_code == 200
    assert processing.process_batch(limit=100)["stored"] == 1


def paths() -> set[tuple[str, str]]:
    return set(FactPath.objects.values_list("path_key", "value_type"))


def fact_names(client) -> list[str]:
    resp = client.get("/pdb/query/v4/fact-names")  # the test settings allow anonymous reads
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_real_factsets_have_no_unused_paths(client):
    """The SQL walk finds exactly the paths ingest stored (hashes, arrays with indexes, integers,
    floats, booleans, nulls) for real PuppetDB payloads: nothing is marked."""
    store(client, ing.load("facts-v5-with-package-inventory-pg1.vm.json"), T0)
    store(client, ing.load("facts-v5-baseline-agent-node.json"), T0)
    doc = ing.facts(certname="types.example", when=T0)
    doc["values"].update({"f": 1.5, "i": 3, "b": False, "n": None, "a": [1, "x", {"k": [2.0]}], "e": {}, "z": []})
    store(client, doc, T0)
    stored = paths()
    assert ('["a",2,"k",0]', "float") in stored and ('["n"]', "null") in stored
    result = retention.gc_fact_paths(GRACE, now=T0)
    assert result.details["marked"] == 0 and result.count == 0
    assert result.details["live"] >= len(stored)
    assert paths() == stored


def test_unused_paths_are_marked_then_swept_after_the_grace(client):
    base = ing.facts(certname="a.example", when=T0)
    store(client, {**base, "values": {**base["values"], "custom": {"team": "db", "ports": [5432]}}}, T0)
    store(client, ing.facts(certname="b.example", when=T0), T0)
    assert "custom" in fact_names(client)
    before = paths()

    # a.example loses the fact: its paths are marked by the next run, deleted by a later one.
    store(client, base, T0 + dt.timedelta(minutes=30))
    first = retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=1))
    gone = {
        ('["custom"]', "hash"),
        ('["custom","team"]', "string"),
        ('["custom","ports"]', "array"),
        ('["custom","ports",0]', "integer"),
    }
    assert first.details["marked"] == len(gone) and first.count == 0
    assert set(FactPath.objects.filter(unused_since__isnull=False).values_list("path_key", "value_type")) == gone
    assert retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=1, minutes=5)).count == 0  # within the grace
    second = retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=2))
    assert second.count == len(gone)
    assert paths() == before - gone
    assert "custom" not in fact_names(client)
    assert "os" in fact_names(client)


def test_a_path_stored_again_is_unmarked_and_kept(client):
    base = ing.facts(certname="a.example", when=T0)
    store(client, {**base, "values": {**base["values"], "rack": "r1"}}, T0)
    store(client, base, T0 + dt.timedelta(minutes=1))
    assert retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=1)).details["marked"] == 1
    # Another process (no cached paths) stores the fact again before the sweep: the mark goes.
    facts_storage.forget_paths()
    store(
        client,
        {**base, "certname": "c.example", "values": {**base["values"], "rack": "r2"}},
        T0 + dt.timedelta(hours=1),
    )
    assert FactPath.objects.get(path_key='["rack"]').unused_since is None
    result = retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=2))
    assert result.count == 0 and ('["rack"]', "string") in paths()


def test_a_path_that_changed_type_keeps_only_the_new_type(client):
    base = ing.facts(certname="a.example", when=T0)
    store(client, {**base, "values": {**base["values"], "slots": "4"}}, T0)
    store(client, {**base, "values": {**base["values"], "slots": 4}}, T0 + dt.timedelta(minutes=1))
    assert {('["slots"]', "string"), ('["slots"]', "integer")} <= paths()
    retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=1))
    retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=2))
    assert ('["slots"]', "integer") in paths() and ('["slots"]', "string") not in paths()


@pytest.mark.django_db(transaction=True)
def test_sweep_waits_for_a_concurrent_store_that_unmarks_the_path(client):
    """A sweep racing an ingest transaction that stores the path again: the sweep waits for the
    row lock and re-checks the mark, so the path survives."""
    base = ing.facts(certname="a.example", when=T0)
    store(client, {**base, "values": {**base["values"], "zone": "z1"}}, T0)
    store(client, base, T0 + dt.timedelta(minutes=1))
    retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=1))
    assert FactPath.objects.get(path_key='["zone"]').unused_since is not None
    outcome = {}

    def sweep():
        try:
            outcome["result"] = retention.gc_fact_paths(GRACE, now=T0 + dt.timedelta(hours=2))
        finally:
            connection.close()

    with psycopg.connect(database_url()) as other:  # an ingest transaction, not yet committed
        rows = orjson.dumps([facts_storage.path_row(["zone"], "string")]).decode()
        other.execute(facts_storage.UPSERT_PATHS_SQL, {"rows": rows, "now": T0})
        worker = threading.Thread(target=sweep)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive()  # waiting for the row lock
        other.commit()
    worker.join(timeout=10)
    assert outcome["result"].count == 0
    assert FactPath.objects.filter(path_key='["zone"]').exists()


@pytest.mark.django_db(transaction=True)
def test_storing_known_paths_takes_no_lock_on_them(client):
    """Two ingest transactions storing the same (unmarked) paths do not wait for each other."""
    store(client, ing.facts(certname="a.example", when=T0), T0)
    rows = orjson.dumps([facts_storage.path_row(["os"], "hash"), facts_storage.path_row(["new"], "string")]).decode()
    with psycopg.connect(database_url()) as first, psycopg.connect(database_url()) as second:
        first.execute(facts_storage.UPSERT_PATHS_SQL, {"rows": rows.replace("new", "new1"), "now": T0})
        second.execute("SET lock_timeout = '300ms'")
        second.execute(facts_storage.UPSERT_PATHS_SQL, {"rows": rows.replace("new", "new2"), "now": T0})
        first.commit()
        second.commit()
    assert {('["new1"]', "string"), ('["new2"]', "string"), ('["os"]', "hash")} <= paths()


def test_a_live_path_without_a_row_is_written_back(client):
    store(client, ing.facts(certname="a.example", when=T0), T0)
    before = paths()
    FactPath.objects.filter(path_key='["os","family"]').delete()  # as if lost to a racing sweep
    result = retention.gc_fact_paths(GRACE, now=T0)
    assert result.details["restored"] == 1
    assert paths() == before
    row = FactPath.objects.get(path_key='["os","family"]')
    assert (row.path, row.name, row.depth, row.value_type) == (["os", "family"], "os", 1, "string")


def test_housekeeping_runs_fact_path_gc(client, capsys):
    store(client, ing.facts(certname="a.example", when=T0), T0)
    call_command("housekeeping", "gc_fact_paths", "--fact-path-gc-grace", "0")
    out = capsys.readouterr().out
    assert '"operation":"gc_fact_paths","count":0' in out and '"marked":0' in out
