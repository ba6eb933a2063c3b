"""Load a real PuppetDB with real commands and export its archive (the import test fixture).

    PUPPETDB_PORT=8087 PUPPETDB_DB=puppetdb_ops bench/puppetdb/pdb.sh start
    .venv/bin/python bench/ops/make_pdb_archive.py http://127.0.0.1:8087 tests/fixtures/ops/puppetdb-7.12-export.tar.gz
    PUPPETDB_PORT=8087 PUPPETDB_DB=puppetdb_ops bench/puppetdb/pdb.sh stop

Posts, for two agents, the facts / catalog / two reports from tests/fixtures/puppetdb/ (times
shifted to the last hour, so PuppetDB's report-ttl keeps them and their events), plus facts with a
package inventory for a third node, then saves ``GET /pdb/admin/v1/archive``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.request
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "puppetdb"


def ts(minutes_ago: float) -> str:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def post(base: str, command: str, version: int, certname: str, body: dict) -> None:
    url = f"{base}/pdb/cmd/v1?command={command}&version={version}&certname={certname}&secondsToWaitForCompletion=30"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    answer = json.loads(urllib.request.urlopen(request).read())
    assert answer.get("processed"), answer
    print(command, certname, answer["uuid"])


def shift_report(report: dict, minutes_ago: float) -> dict:
    report = json.loads(json.dumps(report))
    report["start_time"] = ts(minutes_ago + 1)
    report["end_time"] = ts(minutes_ago)
    report["producer_timestamp"] = ts(minutes_ago)
    for resource in report.get("resources", []):
        resource["timestamp"] = ts(minutes_ago + 0.5)
        for event in resource.get("events", []):
            event["timestamp"] = ts(minutes_ago + 0.5)
    for log in report.get("logs", []):
        log["time"] = ts(minutes_ago + 0.5)
    return report


def main(base: str, out: str) -> int:
    load = lambda name: json.loads((FIXTURES / name).read_text())  # noqa: E731
    facts, packages = load("facts-v5-baseline-agent-node.json"), load("facts-v5-with-package-inventory-pg1.vm.json")
    catalog = load("catalog-tiny.json")
    changed, unchanged = load("report-v8-changed-with-events.json"), load("report-v8-unchanged.json")
    for i, certname in enumerate(["agent1.example.com", "agent2.example.com"]):
        producer = {"producer": "puppet.example.com"}
        post(
            base,
            "replace_facts",
            5,
            certname,
            {**facts, **producer, "certname": certname, "producer_timestamp": ts(30)},
        )
        post(
            base,
            "replace_catalog",
            9,
            certname,
            {**catalog, **producer, "certname": certname, "producer_timestamp": ts(30)},
        )
        post(base, "store_report", 8, certname, {**shift_report(changed, 20 + i), **producer, "certname": certname})
        post(base, "store_report", 8, certname, {**shift_report(unchanged, 10 + i), **producer, "certname": certname})
    post(
        base,
        "replace_facts",
        5,
        packages["certname"],
        {**packages, "producer": "puppet.example.com", "producer_timestamp": ts(5)},
    )
    data = urllib.request.urlopen(f"{base}/pdb/admin/v1/archive").read()
    Path(out).write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
