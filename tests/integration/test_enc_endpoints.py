"""The ENC endpoints (``/enc/v1/nodes/<certname>``, ``.../explain``) in-process: YAML/JSON
answers, POSTed facts (stored when newer), request-time conflicts, authentication, the
version-keyed cache after a change, bad input."""

from datetime import UTC, datetime

import orjson
import pytest
import yaml
from django.test import override_settings

from enc import service
from inventory.models import Factset, Node
from tests.integration.enc_fixtures import ROOT, make_node, token

pytestmark = [pytest.mark.django_db, pytest.mark.urls("config.urls.enc")]


@pytest.fixture(params=["enc", "web"])
def client(request, settings):
    """The enc process's middleware (no common middleware; the classify view checks tokens), and the web
    process's (the plain access policy) — the views must be right behind both."""
    from django.test import Client

    from config.settings import enc as enc_settings

    if request.param == "enc":
        settings.MIDDLEWARE = enc_settings.MIDDLEWARE
    return Client()


DEBIAN = ["=", ["fact", "os", "family"], "Debian"]


@pytest.fixture
def auth():
    raw, _ = token(["classify"], "puppetserver")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def groups():
    service.create_group(
        {"name": "debian", "parent": ROOT, "rule": DEBIAN, "classes": {"ntp": {"servers": ["0.debian"]}}},
        actor="t",
    )
    service.create_group(
        {
            "name": "production",
            "parent": ROOT,
            "rule": ["~", "name", "."],
            "environment": "production",
            "environment_trumps": True,
        },
        actor="t",
    )
    service.create_group(
        {
            "name": "db",
            "parent": ROOT,
            "rule": ["=", ["trusted", "extensions", "pp_role"], "db"],
            "classes": {"postgresql::server": {"port": 5433}},
            "variables": {"tier": "data"},
        },
        actor="t",
    )


def get(client, path, auth, **kw):
    return client.get(path, **auth, **kw)


def test_get_classifies_with_stored_facts_as_plain_yaml(client, auth, groups):
    make_node(
        "deb1.example",
        {"os": {"family": "Debian"}},
        trusted={"certname": "deb1.example", "extensions": {"pp_role": "db"}},
    )
    response = get(client, "/enc/v1/nodes/deb1.example", auth)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/yaml")
    assert int(response["Content-Length"]) == len(response.content)
    text = response.content.decode()
    assert "!" not in text
    assert yaml.safe_load(text) == {
        "classes": {"ntp": {"servers": ["0.debian"]}, "postgresql::server": {"port": 5433}},
        "parameters": {"tier": "data"},
        "environment": "production",
    }
    as_json = get(client, "/enc/v1/nodes/deb1.example?format=json", auth)
    assert as_json["Content-Type"] == "application/json"
    assert orjson.loads(as_json.content) == yaml.safe_load(text)
    assert int(response["X-Stagehand-Classification-Version"]) >= 4


def test_unknown_node_still_gets_rules_that_need_no_facts(client, auth, groups):
    data = yaml.safe_load(get(client, "/enc/v1/nodes/new.example", auth).content)
    assert data == {"classes": {}, "parameters": {}, "environment": "production"}


def test_post_classifies_with_posted_facts_and_stores_newer_ones(client, auth, groups):
    make_node(
        "n1.example",
        {"os": {"family": "RedHat"}},
        trusted={"certname": "n1.example", "extensions": {"pp_role": "db"}},
        stamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    body = {
        "facts": {"os": {"family": "Debian"}, "fresh": 1},
        "producer_timestamp": "2026-02-01T00:00:00.000Z",
        "environment": "production",
    }
    response = client.post(
        "/enc/v1/nodes/n1.example?format=json", orjson.dumps(body), content_type="application/json", **auth
    )
    assert response.status_code == 200, response.content
    data = orjson.loads(response.content)
    # Posted facts decide; trusted facts absent from the post come from the stored ones.
    assert set(data["classes"]) == {"ntp", "postgresql::server"}
    node = Node.objects.get(certname="n1.example")
    assert node.facts_producer_timestamp == datetime(2026, 2, 1, tzinfo=UTC)
    assert node.facts_environment.name == "production"
    factset = Factset.objects.get(node=node)
    assert factset.facts["fresh"] == 1 and factset.facts["trusted"]["extensions"]["pp_role"] == "db"
    assert factset.volatile == {} and factset.hash and factset.producer_timestamp == node.facts_producer_timestamp
    # An older post classifies with its own facts but is not stored.
    old = {
        "facts": {"os": {"family": "RedHat"}},
        "trusted": {"extensions": {}},
        "producer_timestamp": "2025-01-01T00:00:00Z",
    }
    response = client.post(
        "/enc/v1/nodes/n1.example?format=json", orjson.dumps(old), content_type="application/json", **auth
    )
    assert orjson.loads(response.content)["classes"] == {}
    assert Factset.objects.get(node=node).facts["fresh"] == 1
    # A GET now classifies with the stored (newer) facts.
    assert "ntp" in yaml.safe_load(get(client, "/enc/v1/nodes/n1.example", auth).content)["classes"]


def test_post_for_a_new_node_creates_it(client, auth, groups):
    body = {"facts": {"os": {"family": "Debian"}}, "trusted": {"certname": "fresh.example", "extensions": {}}}
    response = client.post("/enc/v1/nodes/fresh.example", orjson.dumps(body), content_type="application/json", **auth)
    assert response.status_code == 200
    assert Node.objects.get(certname="fresh.example").factset.facts["trusted"]["certname"] == "fresh.example"


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{nope", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"facts": []}', '"facts" must be a JSON object'),
        (b'{"facts": {}, "trusted": 3}', '"trusted" must be a JSON object'),
        (b'{"facts": {}, "producer_timestamp": "yesterday"}', "not an ISO 8601 timestamp"),
        (b'{"facts": {}, "environment": "a b"}', '"environment" must be an environment name'),
    ],
)
def test_bad_posts_are_400_and_store_nothing(client, auth, groups, body, fragment):
    response = client.post("/enc/v1/nodes/bad.example", body, content_type="application/json", **auth)
    assert response.status_code == 400
    assert fragment in orjson.loads(response.content)["error"]
    assert not Node.objects.filter(certname="bad.example").exists()


def test_bad_certname_format_and_method(client, auth):
    assert get(client, "/enc/v1/nodes/bad%20name", auth).status_code == 400
    response = get(client, "/enc/v1/nodes/a.example?format=xml", auth)
    assert response.status_code == 400 and "format" in orjson.loads(response.content)["error"]
    assert client.delete("/enc/v1/nodes/a.example", **auth).status_code == 405


def test_authentication(client, settings):
    assert client.get("/enc/v1/nodes/a.example").status_code == 401
    # Authentication is checked before the body is judged.
    assert client.post("/enc/v1/nodes/a.example", b"{nope", content_type="application/json").status_code == 401
    assert client.get("/enc/v1/nodes/a.example", HTTP_AUTHORIZATION="Bearer sth_wrong").status_code == 401
    raw, tok = token(["read"], "reader")
    assert client.get("/enc/v1/nodes/a.example", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403
    admin_raw, _ = token(["admin"], "root")
    assert client.get("/enc/v1/nodes/a.example", HTTP_AUTHORIZATION=f"Bearer {admin_raw}").status_code == 200
    with override_settings(ENC_ALLOW_ANONYMOUS=True):
        assert client.get("/enc/v1/nodes/a.example").status_code == 200
        # A bad token is still refused, anonymous access or not; a read token gets classify too.
        assert client.get("/enc/v1/nodes/a.example", HTTP_AUTHORIZATION="Bearer sth_wrong").status_code == 401
        assert client.get("/enc/v1/nodes/a.example", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    # A Puppet server's client certificate, verified by a trusted front proxy.
    cert = {"HTTP_X_CLIENT_VERIFY": "SUCCESS", "HTTP_X_CLIENT_CERTNAME": "puppet.example"}
    with override_settings(TRUSTED_PROXIES=["127.0.0.1/32"], CERTNAME_SCOPES="puppet.example=classify"):
        assert client.get("/enc/v1/nodes/a.example", **cert).status_code == 200
        assert client.get("/enc/v1/nodes/a.example/explain", **cert).status_code == 200
        other = dict(cert, HTTP_X_CLIENT_CERTNAME="laptop.example")
        assert client.get("/enc/v1/nodes/a.example", **other).status_code == 403
    with override_settings(CERTNAME_SCOPES="puppet.example=classify"):  # proxy not trusted
        assert client.get("/enc/v1/nodes/a.example", **cert).status_code == 401
    # The enc process keeps the rest of the policy: /metrics needs `read` (opened on loopback in tests).
    with override_settings(OPEN_NETWORKS=[], PUPPETDB_API_ALLOW_ANONYMOUS=False):
        assert client.get("/metrics").status_code == 401


def test_request_time_conflict_names_both_groups(client, auth, groups):
    make_node("deb1.example", {"os": {"family": "Debian"}, "dc": "ams"})
    # Created directly (bypassing the save-time check) to reach the request-time path, as a
    # change made before a node's facts moved it into both groups would.
    from enc.models import ClassificationState, NodeGroup

    NodeGroup.objects.create(
        name="ams", parent_id=ROOT, rule=["=", ["fact", "dc"], "ams"], classes={"ntp": {"servers": ["ams"]}}
    )
    ClassificationState.objects.filter(id=1).update(version=999)
    response = get(client, "/enc/v1/nodes/deb1.example", auth)
    assert response.status_code == 409
    body = orjson.loads(response.content)
    assert body["kind"] == "classification-conflict"
    assert "'debian'" in body["error"] and "'ams'" in body["error"]
    assert {g["name"] for g in body["conflicts"][0]["groups"]} == {"debian", "ams"}


def test_a_change_is_seen_by_the_very_next_request(client, auth, groups):
    make_node("deb1.example", {"os": {"family": "Debian"}})
    first = yaml.safe_load(get(client, "/enc/v1/nodes/deb1.example", auth).content)
    assert first["classes"]["ntp"] == {"servers": ["0.debian"]}
    from enc.models import NodeGroup

    debian = NodeGroup.objects.get(name="debian")
    for i in range(5):
        service.update_group(debian.id, {"classes": {"ntp": {"servers": [f"v{i}"]}}}, actor="t")
        answer = yaml.safe_load(get(client, "/enc/v1/nodes/deb1.example", auth).content)
        assert answer["classes"]["ntp"] == {"servers": [f"v{i}"]}
    # A new rule reading a fact the cached groups never read is evaluated on the next request too.
    service.create_group(
        {"name": "big", "parent": ROOT, "rule": [">", ["fact", "cores"], 4], "classes": {"big": {}}}, actor="t"
    )
    Factset.objects.filter(node__certname="deb1.example").update(stable={"os": {"family": "Debian"}, "cores": 8})
    assert "big" in yaml.safe_load(get(client, "/enc/v1/nodes/deb1.example", auth).content)["classes"]


def test_explain(client, auth, groups):
    make_node("deb1.example", {"os": {"family": "Debian"}})
    response = get(client, "/enc/v1/nodes/deb1.example/explain", auth)
    assert response.status_code == 200
    body = orjson.loads(response.content)
    by_name = {g["name"]: g for g in body["groups"]}
    assert by_name["debian"]["matched"] and by_name["debian"]["reason"] == "rule matched"
    assert by_name["db"]["reason"] == "rule did not match"
    assert by_name["db"]["because"] == [["=", ["trusted", "extensions", "pp_role"], "db"]]
    assert by_name["db"]["rule_trace"]["missing"] is True
    assert body["classes"]["ntp"]["parameters"]["servers"]["groups"][0]["name"] == "debian"
    assert body["environment"]["groups"][0]["name"] == "production"
    assert body["known_node"] is True
    assert get(client, "/enc/v1/nodes/zzz/explain", auth).status_code == 200
    assert client.get("/enc/v1/nodes/deb1.example/explain").status_code == 401


def test_client_script_is_served(client):
    response = client.get("/enc/v1/client/stagehand-enc")
    assert response.status_code == 200 and response.content.startswith(b"#!/usr/bin/env python3")


@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_is_replaced_without_failing_the_request(client, auth, groups):
    import psycopg
    from django.db import connection

    from tests.support.stack import database_url

    assert get(client, "/enc/v1/nodes/a.example", auth).status_code == 200
    pid = connection.connection.info.backend_pid
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    response = get(client, "/enc/v1/nodes/a.example", auth)
    assert response.status_code == 200
    assert connection.connection.info.backend_pid != pid


def test_token_use_is_recorded(client):
    raw, tok = token(["classify"], "recorder")
    assert tok.last_used is None
    assert client.get("/enc/v1/nodes/a.example", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    tok.refresh_from_db()
    assert tok.last_used is not None


def test_a_change_of_stored_facts_is_seen_by_the_very_next_get(client, auth, groups):
    """The per-node answer is keyed by the stored fact row's version: any write (here the ORM, in
    the same transaction, the fixture's hash left as it was) is seen at once."""
    make_node("deb2.example", {"os": {"family": "Debian"}})
    first, second = (get(client, "/enc/v1/nodes/deb2.example", auth) for _ in range(2))
    assert first.content == second.content and "ntp" in yaml.safe_load(second.content)["classes"]
    assert (first["X-Stagehand-Answer-Cache"], second["X-Stagehand-Answer-Cache"]) == ("miss", "hit")
    for family, expected in [("RedHat", False), ("Debian", True), ("RedHat", False)]:
        Factset.objects.filter(node__certname="deb2.example").update(stable={"os": {"family": family}})
        classes = yaml.safe_load(get(client, "/enc/v1/nodes/deb2.example", auth).content)["classes"]
        assert ("ntp" in classes) is expected, family
    # Facts POSTed (newer, so stored) are what the next GET classifies with.
    body = {"facts": {"os": {"family": "Debian"}}, "producer_timestamp": "2026-03-01T00:00:00Z"}
    client.post("/enc/v1/nodes/deb2.example", orjson.dumps(body), content_type="application/json", **auth)
    assert "ntp" in yaml.safe_load(get(client, "/enc/v1/nodes/deb2.example", auth).content)["classes"]
    Factset.objects.filter(node__certname="deb2.example").delete()
    assert "ntp" not in yaml.safe_load(get(client, "/enc/v1/nodes/deb2.example", auth).content)["classes"]


def test_the_lookup_reads_the_fact_document_only_when_the_caller_lacks_it(groups):
    from enc import store

    make_node("deb3.example", {"os": {"family": "Debian"}, "other": "x" * 100})
    snapshot = store.cache.get(store.current_key())
    keys = store.snapshot_fact_keys(snapshot)
    first = store.lookup("deb3.example", keys)
    assert first.facts == {"os": {"family": "Debian"}, "trusted": {"certname": "deb3.example", "extensions": {}}}
    assert first.facts_identity and not first.facts_skipped and first.facts_hash == "x"
    again = store.lookup("deb3.example", keys, known=(first.key, first.facts_identity))
    assert again.facts_skipped and again.facts is None and again.facts_identity == first.facts_identity
    # Another version, or another row version of the facts: read again.
    assert not store.lookup(
        "deb3.example", keys, known=((first.key[0] - 1, first.key[1]), first.facts_identity)
    ).facts_skipped
    Factset.objects.filter(node__certname="deb3.example").update(stable={"os": {"family": "RedHat"}})
    changed = store.lookup("deb3.example", keys, known=(first.key, first.facts_identity))
    assert not changed.facts_skipped and changed.facts == {"os": {"family": "RedHat"}}
    assert changed.facts_identity != first.facts_identity
    unknown = store.lookup("nobody.example", keys, known=(first.key, None))
    assert unknown.facts is None and unknown.facts_identity is None and not unknown.facts_skipped


def test_posted_answers_are_reused_only_while_the_facts_the_rules_read_are_the_same(client, auth, groups):
    from enc import answers, store

    def post(facts, trusted=None):
        body = {"facts": facts, "trusted": trusted or {"extensions": {}}, "producer_timestamp": "2020-01-01T00:00:00Z"}
        response = client.post(
            "/enc/v1/nodes/p1.example?format=json", orjson.dumps(body), content_type="application/json", **auth
        )
        assert response.status_code == 200
        return set(orjson.loads(response.content)["classes"])

    assert post({"os": {"family": "Debian"}, "uptime": 1}) == {"ntp"}
    snapshot = store.cache.peek()
    cached = snapshot.posted["p1.example"]
    assert post({"os": {"family": "Debian"}, "uptime": 2}) == {"ntp"}
    assert store.cache.peek() is snapshot and snapshot.posted["p1.example"] is cached  # reused, not recomputed
    assert post({"os": {"family": "RedHat"}, "uptime": 3}) == set()
    assert post({"os": {"family": "Debian"}}, {"extensions": {"pp_role": "db"}}) == {"ntp", "postgresql::server"}
    # The digest covers exactly what rules can read: named top-level facts and trusted facts.
    digest = answers.posted_digest
    base = digest(snapshot, {"os": {"family": "Debian"}, "uptime": 1}, {})
    assert digest(snapshot, {"os": {"family": "Debian"}, "uptime": 9}, {}) == base
    assert digest(snapshot, {"os": {"family": "Debian", "x": 1}}, {}) != base
    assert digest(snapshot, {"os": None}, {}) != digest(snapshot, {}, {})
    assert digest(snapshot, {"os": {"family": "Debian"}}, {"extensions": {"pp_role": "db"}}) != base


def test_identical_newer_facts_only_move_the_timestamps(client, auth, groups):
    facts = {"os": {"family": "Debian"}, "uptime": 5}
    trusted = {"certname": "same.example", "extensions": {}}

    def post(stamp):
        body = {"facts": facts, "trusted": trusted, "producer_timestamp": stamp}
        response = client.post(
            "/enc/v1/nodes/same.example", orjson.dumps(body), content_type="application/json", **auth
        )
        assert response.status_code == 200

    post("2026-01-01T00:00:00Z")
    # Mark the stored document: a rewrite would reset paths_hash (the fact-paths refresh marker).
    Factset.objects.filter(node__certname="same.example").update(paths_hash="refreshed")
    post("2026-01-02T00:00:00Z")
    factset = Factset.objects.get(node__certname="same.example")
    assert factset.paths_hash == "refreshed" and factset.facts == {**facts, "trusted": trusted}
    assert factset.producer_timestamp == datetime(2026, 1, 2, tzinfo=UTC)
    assert Node.objects.get(certname="same.example").facts_producer_timestamp == datetime(2026, 1, 2, tzinfo=UTC)
    # Different facts are stored whole, and reactivate a deactivated node.
    Node.objects.filter(certname="same.example").update(deactivated=datetime(2026, 1, 2, 12, tzinfo=UTC))
    facts["uptime"] = 6
    post("2026-01-03T00:00:00Z")
    factset = Factset.objects.get(node__certname="same.example")
    assert factset.paths_hash == "" and factset.facts["uptime"] == 6 and factset.volatile == {}
    assert Node.objects.get(certname="same.example").deactivated is None


@pytest.mark.django_db(transaction=True)
def test_a_migration_changing_a_result_type_does_not_break_the_prepared_lookup(groups):
    """The enc prepares its lookup server-side; another connection's ALTER of a column the lookup
    returns makes PostgreSQL refuse the prepared plan once: the lookup prepares it again."""
    import psycopg
    from django.db import connection

    from enc import store
    from tests.support.stack import database_url

    make_node("deb4.example", {"os": {"family": "Debian"}})
    connection.ensure_connection()
    previous = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = 2**31 - 1  # as config.settings.enc does
    keys = store.snapshot_fact_keys(store.cache.get(store.current_key()))
    try:
        for _ in range(3):
            assert store.lookup("deb4.example", keys).facts["os"] == {"family": "Debian"}
        with psycopg.connect(database_url(), autocommit=True) as other:
            other.execute("ALTER TABLE inventory_factset ALTER COLUMN hash TYPE varchar(100)")
            try:
                found = store.lookup("deb4.example", keys)
                assert found.facts["os"] == {"family": "Debian"} and found.facts_hash == "x"
            finally:
                other.execute("ALTER TABLE inventory_factset ALTER COLUMN hash TYPE text")
    finally:
        if connection.connection is not None:
            connection.connection.prepare_threshold = previous
