"""PuppetDB export archives: import (through the inbox) and export, with an archive exported from
a real PuppetDB 7.12 (tests/fixtures/ops/puppetdb-7.12-export.tar.gz, made by
bench/ops/make_pdb_archive.py)."""

from __future__ import annotations

import datetime as dt
import io
import tarfile

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from api.models import ApiToken
from ingest.models import Command
from inventory import archive
from tests.conftest import FIXTURES
from tests.support import ops_factories as f

PDB_ARCHIVE = FIXTURES / "ops" / "puppetdb-7.12-export.tar.gz"


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def make_archive(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.django_db
def test_import_puppetdb_archive_puts_every_entry_in_the_inbox(capsys):
    files = members(PDB_ARCHIVE.read_bytes())
    call_command("import_puppetdb", str(PDB_ARCHIVE))
    out = orjson.loads(capsys.readouterr().out)
    assert out["imported"] == {"facts": 3, "catalogs": 2, "reports": 8}
    commands = list(Command.objects.order_by("id"))
    assert len(commands) == 13
    assert {c.source for c in commands} == {"import"}
    assert {c.state for c in commands} == {"pending"}
    assert {(c.command, c.version) for c in commands} == {
        ("replace_facts", 5),
        ("replace_catalog", 9),
        ("store_report", 8),
    }
    payloads = {bytes(c.payload) for c in commands}
    for name, data in files.items():
        if not name.endswith("export-metadata.json"):
            assert data in payloads, name  # stored exactly as exported
    pg1 = next(c for c in commands if c.certname == "pg1.vm")
    assert pg1.command == "replace_facts"
    body = orjson.loads(bytes(pg1.payload))
    assert pg1.producer_timestamp == dt.datetime.fromisoformat(body["producer_timestamp"].replace("Z", "+00:00"))


def good_metadata() -> bytes:
    return (FIXTURES / "puppetdb" / "archive-export-metadata.json").read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a tarball", "not a gzipped tar archive"),
        (make_archive({"puppetdb-bak/facts/a.json": b"{}"}), "export-metadata.json is missing"),
        (make_archive({"puppetdb-bak/export-metadata.json": b"[]"}), "command_versions"),
        (
            make_archive(
                {
                    "puppetdb-bak/export-metadata.json": good_metadata(),
                    "puppetdb-bak/facts/a.json": orjson.dumps({"certname": "a", "values": {}}),
                    "puppetdb-bak/facts/b.json": b"{not json",
                }
            ),
            "puppetdb-bak/facts/b.json: not valid JSON",
        ),
        (
            make_archive(
                {
                    "puppetdb-bak/export-metadata.json": good_metadata(),
                    "puppetdb-bak/facts/a.json": orjson.dumps({"certname": "a", "values": {}}),
                    "puppetdb-bak/reports/b.json": orjson.dumps({"status": "changed"}),
                }
            ),
            "puppetdb-bak/reports/b.json: certname is missing",
        ),
        (
            make_archive(
                {
                    "puppetdb-bak/export-metadata.json": good_metadata(),
                    "puppetdb-bak/widgets/a.json": orjson.dumps({"certname": "a"}),
                }
            ),
            "unknown directory 'widgets'",
        ),
        (
            make_archive(
                {
                    "puppetdb-bak/export-metadata.json": good_metadata(),
                    "puppetdb-bak/facts/a.json": orjson.dumps({"certname": "a", "producer_timestamp": "yesterday"}),
                }
            ),
            "not an ISO 8601 timestamp",
        ),
    ],
)
def test_bad_archives_are_refused_and_nothing_is_stored(client, admin_token, tmp_path, data, message):
    with pytest.raises(archive.ArchiveError, match=message):
        archive.import_archive(io.BytesIO(data))
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_puppetdb", str(path))
    response = client.post(
        "/pdb/admin/v1/archive",
        {"archive": io.BytesIO(data)},
        HTTP_AUTHORIZATION=f"Bearer {admin_token}",
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Command.objects.count() == 0


@pytest.fixture
def admin_token(db):
    user = get_user_model().objects.create_user("archive-admin")
    return ApiToken.issue(user=user, name="ops", scopes=["admin"])[1]


@pytest.mark.django_db
def test_post_archive_imports_and_needs_admin(client, admin_token):
    user = get_user_model().objects.create_user("archive-reader")
    _, reader = ApiToken.issue(user=user, name="r", scopes=["read", "write"])
    with PDB_ARCHIVE.open("rb") as handle:
        refused = client.post("/pdb/admin/v1/archive", {"archive": handle}, HTTP_AUTHORIZATION=f"Bearer {reader}")
    assert refused.status_code == 403
    assert Command.objects.count() == 0
    with PDB_ARCHIVE.open("rb") as handle:
        response = client.post("/pdb/admin/v1/archive", {"archive": handle}, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert response.status_code == 200, response.content
    assert response.json()["imported"] == {"facts": 3, "catalogs": 2, "reports": 8}
    assert Command.objects.filter(source="import").count() == 13
    missing = client.post("/pdb/admin/v1/archive", {}, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert missing.status_code == 400 and "archive" in missing.json()["error"]


@pytest.mark.django_db
def test_export_writes_puppetdb_wire_formats_from_our_tables(client, admin_token):
    now = timezone.now().replace(microsecond=123000)
    n = f.node("web1.example", expires_facts=False)
    f.facts(n, {"os": {"family": "Debian"}, "kernel": "Linux"})
    from inventory.models import Factset

    Factset.objects.filter(node=n).update(volatile={"uptime_seconds": 42})
    pkg = f.resource("Package", "openssl", {"ensure": "installed"})
    svc = f.resource("Service", "sshd", {"ensure": "running"})
    old = f.resource("File", "/etc/old", {})
    f.catalog(n, f.resource_set([old]), valid_from=now - dt.timedelta(days=2), valid_to=now - dt.timedelta(days=1))
    f.catalog(
        n,
        f.resource_set([pkg, svc]),
        valid_from=now - dt.timedelta(days=1),
        es=f.edge_set([["Package", "openssl", "before", "Service", "sshd"]]),
        transaction_uuid="t-1",
        catalog_uuid="c-1",
        code_id="abc",
    )
    f.report(n, now - dt.timedelta(hours=1), status="changed", events=2)
    f.report(n, now, status="unchanged")

    response = client.get("/pdb/admin/v1/archive", HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    data = b"".join(response.streaming_content)
    files = members(data)
    metadata = orjson.loads(files["puppetdb-bak/export-metadata.json"])
    assert metadata["command_versions"]["replace_catalog"] == 9
    facts = orjson.loads(files["puppetdb-bak/facts/web1.example.json"])
    assert facts["values"] == {"os": {"family": "Debian"}, "kernel": "Linux", "uptime_seconds": 42}
    assert facts["environment"] == "production"
    catalogs = [orjson.loads(v) for k, v in files.items() if k.startswith("puppetdb-bak/catalogs/")]
    assert len(catalogs) == 1  # only the current version, as PuppetDB exports
    cat = catalogs[0]
    assert [(r["type"], r["title"]) for r in cat["resources"]] == [("Package", "openssl"), ("Service", "sshd")]
    assert cat["resources"][0]["parameters"] == {"ensure": "installed"}
    assert cat["edges"] == [
        {
            "source": {"type": "Package", "title": "openssl"},
            "target": {"type": "Service", "title": "sshd"},
            "relationship": "before",
        }
    ]
    assert (cat["transaction_uuid"], cat["catalog_uuid"], cat["code_id"]) == ("t-1", "c-1", "abc")
    reports = sorted(
        (orjson.loads(v) for k, v in files.items() if k.startswith("puppetdb-bak/reports/")),
        key=lambda r: r["producer_timestamp"],
    )
    assert [r["status"] for r in reports] == ["changed", "unchanged"]
    changed = reports[0]
    assert changed["report_format"] == 12 and changed["puppet_version"] == "7.23.0"
    events = [(r["resource_title"], e["property"], e["new_value"]) for r in changed["resources"] for e in r["events"]]
    assert events == [("/tmp/0", "ensure", "file"), ("/tmp/1", "ensure", "file")]
    assert changed["producer_timestamp"].endswith("Z") and len(changed["producer_timestamp"]) == 24
    expiration = orjson.loads(files["puppetdb-bak/configure_expiration/web1.example.json"])
    assert expiration["expire"] == {"facts": False}

    # Our export is itself an importable archive.
    result = archive.import_archive(io.BytesIO(data))
    assert result.counts == {"facts": 1, "catalogs": 1, "reports": 2, "configure_expiration": 1}


@pytest.mark.django_db
def test_export_command(tmp_path, capsys):
    n = f.node("a.example")
    f.facts(n, {"a": 1})
    path = tmp_path / "out.tar.gz"
    call_command("export_puppetdb", str(path))
    assert orjson.loads(capsys.readouterr().out)["facts"] == 1
    assert "puppetdb-bak/facts/a.example.json" in members(path.read_bytes())


def _reports_by_run(files: dict) -> dict:
    """{(certname, transaction_uuid): [normalised report, ...]}"""
    out: dict = {}
    for name, data in files.items():
        if "/reports/" not in name:
            continue
        r = orjson.loads(data)
        events = sorted(
            (res["resource_type"], res["resource_title"], e["status"], e["property"], orjson.dumps(e["new_value"]))
            for res in r["resources"]
            for e in res["events"]
        )
        summary = (r["status"], r["configuration_version"], r["puppet_version"], r["report_format"], events)
        out.setdefault((r["certname"], r["transaction_uuid"]), []).append(summary)
    return out


@pytest.mark.django_db(transaction=True)
def test_round_trip_through_the_worker_reproduces_the_puppetdb_archive(tmp_path):
    """Import PuppetDB's archive, let a real worker apply it, export ours: the facts, catalogs
    and reports (with their events) are those PuppetDB exported."""
    from django.test import Client

    from ingest.models import CommandState
    from tests.support.stack import running, service_env, start_worker

    original = members(PDB_ARCHIVE.read_bytes())
    with running(start_worker(service_env(tmp_path), tmp_path / "logs", concurrency=1)):
        result = archive.import_archive(io.BytesIO(PDB_ARCHIVE.read_bytes()))
        import time

        deadline = time.monotonic() + 120
        while Command.objects.filter(id__in=result.command_ids, state=CommandState.PENDING).exists():
            assert time.monotonic() < deadline, "the worker did not apply the imported commands"
            time.sleep(0.5)
    states = set(Command.objects.filter(id__in=result.command_ids).values_list("state", flat=True))
    assert states <= {"done", "superseded"}, list(Command.objects.values_list("state", "last_error"))

    user = get_user_model().objects.create_user("roundtrip")
    _, token = ApiToken.issue(user=user, name="rt", scopes=["admin"])
    response = Client().get("/pdb/admin/v1/archive", HTTP_AUTHORIZATION=f"Bearer {token}")
    ours = members(b"".join(response.streaming_content))

    def by_kind(files, kind):
        return {orjson.loads(v)["certname"]: orjson.loads(v) for k, v in files.items() if f"/{kind}/" in k}

    theirs_facts, our_facts = by_kind(original, "facts"), by_kind(ours, "facts")
    assert set(our_facts) == set(theirs_facts)
    for certname, facts in theirs_facts.items():
        assert our_facts[certname]["values"] == facts["values"], certname
        assert our_facts[certname]["environment"] == facts["environment"]
        assert our_facts[certname]["producer_timestamp"] == facts["producer_timestamp"]

    theirs_cats, our_cats = by_kind(original, "catalogs"), by_kind(ours, "catalogs")
    assert set(our_cats) == set(theirs_cats)
    for certname, cat in theirs_cats.items():
        mine = our_cats[certname]
        key = lambda r: (r["type"], r["title"])  # noqa: E731
        assert sorted(({**r, "tags": sorted(r["tags"])} for r in mine["resources"]), key=key) == sorted(
            ({**r, "tags": sorted(r["tags"])} for r in cat["resources"]), key=key
        )
        assert sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in mine["edges"]) == sorted(
            orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in cat["edges"]
        )
        for field in ("version", "transaction_uuid", "catalog_uuid", "environment", "producer_timestamp", "producer"):
            assert mine[field] == cat[field], field

    # Stagehand keeps one report per run (certname + transaction_uuid: the terminus and the http
    # processor send the same run twice); the fixture re-sent runs with the same transaction_uuid
    # at other times, which PuppetDB kept as separate reports. Every run is there, as PuppetDB had it.
    theirs_runs, our_runs = _reports_by_run(original), _reports_by_run(ours)
    assert set(our_runs) == set(theirs_runs)
    for run, reports in our_runs.items():
        assert len(reports) == 1
        assert reports[0] in theirs_runs[run], run
    assert any(events for reports in our_runs.values() for (*_, events) in reports)  # events came through
