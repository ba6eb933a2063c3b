"""Bad input on the write endpoints: a clear 4xx naming the problem, and nothing stored."""

from __future__ import annotations

import gzip
import json

import pytest

from ingest.models import Command
from tests.support import ingest as ing

pytestmark = pytest.mark.django_db


def _post(client, query: str, body: bytes, content_type="application/json", **headers):
    return client.post(f"/pdb/cmd/v1?{query}", data=body, content_type=content_type, **headers)


def _expect(resp, status: int, *words: str):
    assert resp.status_code == status, resp.content
    error = resp.json()["error"]
    for word in words:
        assert word in error, error
    assert Command.objects.count() == 0


FACTS_Q = "command=replace_facts&version=5&certname=node1.example.com"


def test_malformed_json(client):
    _expect(_post(client, FACTS_Q, b'{"certname": '), 400, "malformed JSON")


def test_payload_not_an_object(client):
    _expect(_post(client, FACTS_Q, b"[1, 2]"), 400, "JSON object")


def test_wrong_type(client):
    doc = ing.facts()
    doc["values"] = "not a hash"
    _expect(_post(client, FACTS_Q, json.dumps(doc).encode()), 400, "values", "object")


def test_missing_required_field(client):
    doc = ing.facts()
    del doc["producer_timestamp"]
    _expect(_post(client, FACTS_Q, json.dumps(doc).encode()), 400, "producer_timestamp")


def test_bad_timestamp(client):
    doc = ing.facts()
    doc["producer_timestamp"] = "yesterday"
    _expect(_post(client, FACTS_Q, json.dumps(doc).encode()), 400, "producer_timestamp", "yesterday")


def test_certname_mismatch(client):
    doc = ing.facts(certname="other.example.com")
    _expect(_post(client, FACTS_Q, json.dumps(doc).encode()), 400, "certname", "other.example.com")


def test_invalid_tag(client):
    doc = ing.catalog()
    doc["resources"][0]["tags"].append("Bad Tag")
    q = "command=replace_catalog&version=9&certname=node1.example.com"
    _expect(_post(client, q, json.dumps(doc).encode()), 400, "invalid tag", "Bad Tag")


def test_edge_to_unknown_resource(client):
    doc = ing.catalog()
    doc["edges"][0]["target"]["title"] = "/nope"
    q = "command=replace_catalog&version=9&certname=node1.example.com"
    _expect(_post(client, q, json.dumps(doc).encode()), 400, "edges[0].target")


def test_unknown_command(client):
    _expect(_post(client, "command=frobnicate&version=1&certname=x", b"{}"), 400, "unknown command")


def test_retired_version(client):
    _expect(_post(client, "command=replace_catalog&version=4&certname=x", b"{}"), 400, "retired")


def test_version_not_integer(client):
    _expect(_post(client, "command=replace_catalog&version=nine&certname=x", b"{}"), 400, "integer")


def test_unknown_parameter(client):
    _expect(_post(client, FACTS_Q + "&colour=blue", json.dumps(ing.facts()).encode()), 400, "colour")


def test_missing_certname(client):
    _expect(_post(client, "command=replace_facts&version=5", json.dumps(ing.facts()).encode()), 400, "certname")


def test_bad_report_status(client):
    doc = ing.report()
    doc["status"] = "exploded"
    q = f"command=store_report&version=8&certname={doc['certname']}"
    _expect(_post(client, q, json.dumps(doc).encode()), 400, "status", "exploded")


def test_wrong_content_type(client):
    _expect(_post(client, FACTS_Q, json.dumps(ing.facts()).encode(), content_type="text/plain"), 415, "Content-Type")


def test_unsupported_encoding(client):
    resp = _post(client, FACTS_Q, json.dumps(ing.facts()).encode(), HTTP_CONTENT_ENCODING="br")
    _expect(resp, 415, "Content-Encoding")


def test_not_acceptable(client):
    _expect(_post(client, FACTS_Q, json.dumps(ing.facts()).encode(), HTTP_ACCEPT="text/html"), 406, "Accept")


def test_bad_gzip(client):
    _expect(_post(client, FACTS_Q, b"not gzip at all", HTTP_CONTENT_ENCODING="gzip"), 400, "gzip")


def test_body_too_large(client, settings):
    settings.MAX_COMMAND_BYTES = 2048
    doc = ing.facts()
    doc["values"]["big"] = "x" * 5000
    _expect(_post(client, FACTS_Q, json.dumps(doc).encode()), 413, "larger than the limit")


def test_gzip_bomb(client, settings):
    settings.MAX_COMMAND_BYTES = 1024 * 1024
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert len(bomb) < 200_000
    _expect(_post(client, FACTS_Q, bomb, HTTP_CONTENT_ENCODING="gzip"), 413, "decompressed")


def test_report_upload_malformed_yaml(client):
    resp = client.post(
        "/reports/upload",
        data=b"--- !ruby/object:Puppet::Transaction::Report\nhost: [",
        content_type="application/x-yaml",
    )
    _expect(resp, 400, "malformed YAML")


def test_report_upload_refuses_python_tags(client):
    body = b"--- !!python/object/apply:os.system ['touch /tmp/pwned']\n"
    _expect(client.post("/reports/upload", data=body, content_type="application/x-yaml"), 400, "python")


def test_report_upload_alias_bomb(client):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    body = ("--- !ruby/object:Puppet::Transaction::Report\n" + "\n".join(lines) + "\n").encode()
    _expect(client.post("/reports/upload", data=body, content_type="application/x-yaml"), 400, "aliases")


def test_report_upload_unsupported_format(client):
    body = (ing.FIXTURES / "ingest" / "report-format12-puppet-apply.yaml").read_text()
    body = body.replace("report_format: 12", "report_format: 3")
    _expect(
        client.post("/reports/upload", data=body.encode(), content_type="application/x-yaml"), 400, "report_format 3"
    )


def test_report_upload_without_host(client):
    body = (ing.FIXTURES / "ingest" / "report-format12-puppet-apply.yaml").read_text().replace("host: vm\n", "")
    _expect(client.post("/reports/upload", data=body.encode(), content_type="application/x-yaml"), 400, "host")


def test_get_is_not_allowed(client):
    assert client.get("/pdb/cmd/v1").status_code == 405
