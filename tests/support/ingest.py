"""Helpers for ingest tests: build command bodies from the fixtures and post them."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> dict:
    path = FIXTURES / "puppetdb" / name if (FIXTURES / "puppetdb" / name).exists() else FIXTURES / "ingest" / name
    return json.loads(path.read_text())


def ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def facts(certname="node1.example.com", when=None, **values) -> dict:
    doc = load("facts-v5-baseline-agent-node.json")
    doc = copy.deepcopy(doc)
    doc["certname"] = certname
    doc["producer_timestamp"] = ts(when or dt.datetime.now(dt.UTC))
    doc["values"].update(values)
    return doc


def catalog(certname="node1.example.com", when=None, extra: int = 0, version="1") -> dict:
    doc = copy.deepcopy(load("catalog-tiny.json"))
    doc["certname"] = certname
    doc["producer_timestamp"] = ts(when or dt.datetime.now(dt.UTC))
    doc["producer"] = "puppet.example.com"
    doc["version"] = version
    doc["transaction_uuid"] = f"txn-{certname}-{doc['producer_timestamp']}"
    doc["catalog_uuid"] = doc["transaction_uuid"]
    for i in range(extra):
        doc["resources"].append(
            {
                "type": "File",
                "title": f"/etc/extra-{i}",
                "exported": False,
                "file": "/etc/puppet/site.pp",
                "line": i + 1,
                "tags": ["file", "class"],
                "parameters": {"ensure": "file", "content": f"extra {i}"},
            }
        )
    return doc


def report(name="report-v8-changed-with-events.json", certname="node1.example.com", when=None) -> dict:
    doc = copy.deepcopy(load(name))
    doc["certname"] = certname
    if when is not None:
        doc["producer_timestamp"] = ts(when)
    return doc


def post(client, command: str, version: int, payload, certname: str | None = None, gzip_body=False, **params):
    body = json.dumps(payload).encode()
    headers = {}
    if gzip_body:
        body = gzip.compress(body)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    query = {"command": command, "version": str(version), "certname": certname or payload.get("certname", "")}
    query.update(params)
    from urllib.parse import urlencode

    return client.post(f"/pdb/cmd/v1?{urlencode(query)}", data=body, content_type="application/json", **headers)
