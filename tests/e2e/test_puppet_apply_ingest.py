"""A real ``puppet apply`` (Debian puppet-agent with the puppetdb terminus) writes facts, catalog
and report to a running Stagehand web process over HTTPS with client certificates, then sends a
report through the built-in ``http`` report processor; a real Celery worker stores it all."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ingest.models import Command
from inventory.models import Catalog, Factset, Node, Resource
from reports.models import Report, ResourceEvent
from tests.support.pki import make_pki
from tests.support.puppet import PUPPET, run_puppet
from tests.support.stack import running, service_env, start_service, start_worker

CERTNAME = "e2e-node.example.com"

pytestmark = [
    pytest.mark.puppet,
    pytest.mark.stack,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(PUPPET).exists(), reason="puppet-agent is not installed"),
]


def _puppet_dirs(tmp: Path, pki: dict, url: str) -> dict:
    conf, var, code = tmp / "conf", tmp / "var", tmp / "code"
    ssl = tmp / "ssl"
    for d in (conf, var, code, ssl / "certs", ssl / "private_keys"):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copy(pki["ca"], ssl / "certs" / "ca.pem")
    shutil.copy(pki["client_cert"], ssl / "certs" / f"{CERTNAME}.pem")
    shutil.copy(pki["client_key"], ssl / "private_keys" / f"{CERTNAME}.pem")
    (conf / "puppetdb.conf").write_text(f"[main]\nserver_urls = {url}\nsoft_write_failure = false\n")
    (conf / "routes.yaml").write_text(
        "---\napply:\n  catalog:\n    terminus: compiler\n    cache: puppetdb\n"
        "  facts:\n    terminus: facter\n    cache: puppetdb_apply\n"
    )
    managed = tmp / "managed.txt"
    (tmp / "site.pp").write_text(
        f"file {{ '{managed}': ensure => file, content => \"stagehand e2e\\n\" }}\n"
        "notify { 'stagehand-e2e': message => 'hello from puppet apply' }\n"
        "@@file { '/srv/exported-by-e2e': ensure => file, content => 'exported', tag => ['stagehand'] }\n"
    )
    return {"conf": conf, "var": var, "code": code, "ssl": ssl, "managed": managed}


def _puppet_apply(tmp: Path, dirs: dict, reports: str, extra_conf: str = "") -> subprocess.CompletedProcess:
    (dirs["conf"] / "puppet.conf").write_text(
        "[main]\n"
        f"certname = {CERTNAME}\n"
        f"ssldir = {dirs['ssl']}\n"
        "certificate_revocation = false\n"
        "storeconfigs = true\n"
        "storeconfigs_backend = puppetdb\n"
        "report = true\n"
        f"reports = {reports}\n" + extra_conf
    )
    return run_puppet(
        ["apply", "--detailed-exitcodes", str(tmp / "site.pp")],
        conf=dirs["conf"],
        var=dirs["var"],
        code=dirs["code"],
        log=dirs["var"] / "log",
        run=dirs["var"] / "run",
        timeout=300,
    )


def _drained(timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Command.objects.filter(state="pending").exists():
            return
        time.sleep(0.3)
    raise AssertionError("commands still pending")


def _save_payloads(directory: Path) -> None:
    """Keep the payloads the real terminus / processor sent (used to refresh the fixtures)."""
    directory.mkdir(parents=True, exist_ok=True)
    for cmd in Command.objects.order_by("id"):
        body = bytes(cmd.payload)
        if cmd.payload_encoding == "gzip":
            body = gzip.decompress(body)
        ext = "yaml" if cmd.payload_format == "yaml" else "json"
        (directory / f"{cmd.id:03d}-{cmd.source}-{cmd.command}-v{cmd.version}.{ext}").write_bytes(body)


def test_puppet_apply_writes_to_stagehand(tmp_path, artifacts_dir):
    pki = make_pki(tmp_path / "pki", CERTNAME)
    env = service_env(tmp_path)
    with running(
        start_service("web", env, artifacts_dir, tls=pki, name="web-tls"), start_worker(env, artifacts_dir)
    ) as (web, _worker):
        dirs = _puppet_dirs(tmp_path, pki, web.url)
        first = _puppet_apply(tmp_path, dirs, "puppetdb")
        (artifacts_dir / "puppet-apply-1.log").write_text(first.stdout + first.stderr)
        assert first.returncode in (0, 2), first.stdout + first.stderr
        _drained()
        _save_payloads(artifacts_dir / "payloads")
        assert set(Command.objects.values_list("command", "version", "state")) == {
            ("replace_facts", 5, "done"),
            ("replace_catalog", 9, "done"),
            ("store_report", 8, "done"),
        }
        node = Node.objects.get(certname=CERTNAME)
        facts = Factset.objects.get(node=node).facts
        assert facts["trusted"]["authenticated"] == "local" and "os" in facts and "networking" in facts
        cat = Catalog.objects.get(node=node)
        assert cat.valid_to is None and cat.catalog_uuid and node.latest_catalog_id == cat.id
        resources = {(r.type, r.title): r for r in Resource.objects.filter(id__in=cat.resource_set.resource_ids)}
        assert resources[("File", str(dirs["managed"]))].parameters["content"] == "stagehand e2e\n"
        assert resources[("Notify", "stagehand-e2e")].parameters["message"] == "hello from puppet apply"
        host = resources[("File", "/srv/exported-by-e2e")]
        assert host.exported is True and "stagehand" in host.tags
        report = Report.objects.get(certname=CERTNAME)
        assert report.source == "puppetdb" and report.status == "changed"
        assert report.catalog_uuid == cat.catalog_uuid and report.transaction_uuid
        titles = set(ResourceEvent.objects.filter(report_id=report.id).values_list("resource_title", flat=True))
        assert {str(dirs["managed"]), "stagehand-e2e"} <= titles
        assert node.latest_report_id == report.id and node.latest_report_status == "changed"

        # Second run: the report goes through Puppet's built-in http report processor.
        second = _puppet_apply(tmp_path, dirs, "http", f"reporturl = {web.url}/reports/upload\n")
        (artifacts_dir / "puppet-apply-2.log").write_text(second.stdout + second.stderr)
        assert second.returncode in (0, 2), second.stdout + second.stderr
        _drained()
        http_report = Report.objects.get(certname=CERTNAME, source="http")
        assert http_report.report_format == 12 and http_report.status == "changed"
        assert ResourceEvent.objects.filter(report_id=http_report.id, resource_title="stagehand-e2e").exists()
        assert Catalog.objects.get(node=node, valid_to__isnull=True).compiles == 2
        node.refresh_from_db()
        assert node.latest_report_id == http_report.id
        _save_payloads(artifacts_dir / "payloads")
        assert (
            json.loads((artifacts_dir / "payloads").glob("*replace_facts*").__next__().read_text())["certname"]
            == CERTNAME
        )
