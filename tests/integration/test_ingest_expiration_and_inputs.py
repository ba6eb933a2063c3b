"""``configure expiration`` v1 and ``replace catalog inputs`` v1 through the real ingest path
(HTTP receiver → inbox → worker batch → storage) against real PostgreSQL, with PuppetDB's
semantics: newer-only, reactivation, the received time standing in for a missing
``producer_timestamp``, and what node expiry makes of them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ingest import processing
from ingest.models import Command
from inventory import retention
from inventory.models import CatalogInputs, Node
from tests.support import ingest as ing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_storage_caches")]

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
CERT = "node1.example.com"
DAY = dt.timedelta(days=1)


def drain():
    return processing.process_batch(limit=1000)


def expiration(facts, when: dt.datetime | None = T0, certname=CERT) -> dict:
    doc = {"certname": certname, "expire": {"facts": facts}}
    if when is not None:
        doc["producer_timestamp"] = ing.ts(when)
    return doc


def inputs(names, when: dt.datetime | None = T0, uuid="c-1") -> dict:
    doc = {"certname": CERT, "catalog_uuid": uuid, "inputs": [["hiera", n] for n in names]}
    if when is not None:
        doc["producer_timestamp"] = ing.ts(when)
    return doc


def test_configure_expiration_is_stored_newer_only(client):
    assert ing.post(client, "configure expiration", 1, expiration(False)).status_code == 200
    assert drain()["stored"] == 1
    node = Node.objects.get(certname=CERT)
    assert (node.expires_facts, node.expires_facts_updated) == (False, T0)
    # An older setting is ignored (PuppetDB: "where excluded.updated > cfe.updated").
    ing.post(client, "configure_expiration", 1, expiration(True, T0 - dt.timedelta(minutes=1)))
    assert drain()["stale"] == 1
    node.refresh_from_db()
    assert node.expires_facts is False
    assert Command.objects.filter(state="superseded").count() == 1
    ing.post(client, "configure_expiration", 1, expiration(True, T0 + dt.timedelta(minutes=1)))
    drain()
    node.refresh_from_db()
    assert (node.expires_facts, node.expires_facts_updated) == (True, T0 + dt.timedelta(minutes=1))
    # Shown by the query API when asked for.
    r = client.get(f"/pdb/query/v4/nodes/{CERT}", {"include_facts_expiration": "true"})
    assert r.json()["expires_facts"] is True and r.json()["expires_facts_updated"] == "2026-11-20T10:01:00.000Z"


def test_configure_expiration_reactivates_like_a_factset(client):
    ing.post(client, "replace_facts", 5, ing.facts(when=T0))
    ing.post(client, "deactivate_node", 3, {"certname": CERT, "producer_timestamp": ing.ts(T0 + dt.timedelta(hours=1))})
    drain()
    assert Node.objects.get().deactivated is not None
    ing.post(client, "configure_expiration", 1, expiration(False, T0 + dt.timedelta(minutes=30)))
    drain()
    assert Node.objects.get().deactivated is not None  # issued before the deactivation
    ing.post(client, "configure_expiration", 1, expiration(False, T0 + dt.timedelta(hours=2)))
    drain()
    assert Node.objects.get().deactivated is None


def test_configure_expiration_without_producer_timestamp_uses_the_received_time(client):
    before = timezone.now()
    assert ing.post(client, "configure_expiration", 1, expiration(False, None)).status_code == 200
    assert Command.objects.get().producer_timestamp >= before
    drain()
    node = Node.objects.get(certname=CERT)
    assert node.expires_facts is False and before <= node.expires_facts_updated <= timezone.now()


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"certname": CERT}, "missing field 'expire'"),
        ({"certname": CERT, "expire": {"facts": "no"}}, "'expire.facts' must be a boolean"),
        ({"certname": CERT, "expire": {}}, "'expire.facts' must be a boolean"),
        ({"certname": CERT, "expire": {"facts": False, "reports": True}}, "unknown field 'expire.reports'"),
        ({"certname": CERT, "expire": [False]}, "field 'expire' must be an object"),
        ({"certname": CERT, "expire": {"facts": True}, "producer_timestamp": "noon"}, "producer_timestamp"),
    ],
)
def test_configure_expiration_bad_input_is_a_400_naming_the_field(client, payload, needle):
    r = ing.post(client, "configure_expiration", 1, payload)
    assert r.status_code == 400 and needle in r.json()["error"], r.content
    assert not Command.objects.exists()


def test_expire_nodes_honours_the_expiration_setting():
    now = timezone.now()
    old = now - 10 * DAY

    def node(certname, **fields):
        n = Node.objects.create(certname=certname, facts_timestamp=old, **fields)
        Node.objects.filter(pk=n.pk).update(created=old)
        return n

    stale = node("stale.example")
    pinned = node("pinned.example", expires_facts=False, expires_facts_updated=old)
    # Configuring expiration counts as activity (PuppetDB: like receiving a factset).
    configured = node("configured.example", expires_facts=True, expires_facts_updated=now - DAY)
    with_inputs = node("inputs.example")
    CatalogInputs.objects.create(node=with_inputs, producer_timestamp=now - DAY, received=now, inputs=[["hiera", "x"]])
    old_inputs = node("old-inputs.example")
    CatalogInputs.objects.create(node=old_inputs, producer_timestamp=old, received=old, inputs=[["hiera", "x"]])
    assert retention.expire_nodes(7 * DAY, now=now).count == 2
    expired = set(Node.objects.filter(expired__isnull=False).values_list("certname", flat=True))
    assert expired == {stale.certname, old_inputs.certname}
    assert pinned.certname not in expired and configured.certname not in expired
    assert with_inputs.certname not in expired


def test_pinned_node_survives_expiry_and_purge_end_to_end(client):
    """A node whose facts never expire is neither expired nor, therefore, purged; the same node
    without the setting is expired and then purged."""
    long_ago = timezone.now() - 30 * DAY
    for certname in ("pinned.example", "plain.example"):
        ing.post(client, "replace_facts", 5, ing.facts(certname=certname, when=long_ago))
    ing.post(client, "configure_expiration", 1, expiration(False, long_ago, certname="pinned.example"))
    drain()
    Node.objects.update(facts_timestamp=long_ago, created=long_ago)
    assert retention.expire_nodes(7 * DAY).count == 1
    assert retention.purge_nodes(dt.timedelta(0)).count == 0  # disabled
    Node.objects.filter(certname="plain.example").update(expired=long_ago)
    assert retention.purge_nodes(14 * DAY).count == 1
    assert list(Node.objects.values_list("certname", flat=True)) == ["pinned.example"]


def test_replace_catalog_inputs_semantics(client):
    ing.post(client, "replace catalog inputs", 1, inputs(["ntp::servers"]))
    assert drain()["stored"] == 1
    # The same producer_timestamp again is stale (PuppetDB replaces only with a newer one).
    ing.post(client, "replace catalog inputs", 1, inputs(["apache::port"]))
    assert drain()["stale"] == 1
    assert CatalogInputs.objects.get().inputs == [["hiera", "ntp::servers"]]
    # Empty inputs change nothing (PuppetDB skips the command).
    ing.post(client, "replace catalog inputs", 1, inputs([], T0 + dt.timedelta(minutes=5), uuid="c-2"))
    assert drain()["unchanged"] == 1
    assert CatalogInputs.objects.get().catalog_uuid == "c-1"
    # No producer_timestamp: the received time stands in (newer than T0 here).
    assert ing.post(client, "replace catalog inputs", 1, inputs(["apache::port"], None, uuid="c-3")).status_code == 200
    drain()
    ci = CatalogInputs.objects.get()
    assert (ci.catalog_uuid, ci.inputs) == ("c-3", [["hiera", "apache::port"]])
    assert ci.producer_timestamp > T0
    r = client.get("/pdb/query/v4/catalog-inputs")
    assert [(x["certname"], x["catalog_uuid"]) for x in r.json()] == [(CERT, "c-3")]


def test_replace_catalog_inputs_reactivates_a_node_deactivated_before_them(client):
    ing.post(client, "replace_facts", 5, ing.facts(when=T0))
    ing.post(client, "deactivate_node", 3, {"certname": CERT, "producer_timestamp": ing.ts(T0 + dt.timedelta(hours=1))})
    ing.post(client, "replace catalog inputs", 1, inputs(["a"], T0 + dt.timedelta(minutes=30)))
    drain()
    assert Node.objects.get().deactivated is not None
    assert client.get("/pdb/query/v4/catalog-inputs").json() == []  # inactive node
    ing.post(client, "replace catalog inputs", 1, inputs(["b"], T0 + dt.timedelta(hours=2)))
    drain()
    assert Node.objects.get().deactivated is None
    assert [x["inputs"] for x in client.get("/pdb/query/v4/catalog-inputs").json()] == [[["hiera", "b"]]]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"certname": CERT, "inputs": "hiera"}, "field 'inputs' must be an array"),
        ({"certname": CERT, "inputs": [["hiera", 5]]}, "inputs[0] must be a [type, name] pair of strings"),
        ({"certname": CERT}, "missing field 'inputs'"),
        ({"certname": CERT, "inputs": [], "catalog_uuid": 7}, "field 'catalog_uuid' must be a string"),
        ({"certname": CERT, "inputs": [], "producer_timestamp": "later"}, "producer_timestamp"),
    ],
)
def test_replace_catalog_inputs_bad_input(client, payload, needle):
    r = ing.post(client, "replace_catalog_inputs", 1, payload)
    assert r.status_code == 400 and needle in r.json()["error"], r.content
    assert not Command.objects.exists()
