"""Side by side with a real PuppetDB: the same synthetic fleet (same shape and names as
``generate.py``: roles, 60 shared profiles, ~40 facts, unique per-node resources) as PuppetDB
commands, stored into Stagehand through the ingest storage functions and POSTed to PuppetDB.
Then run ``run.py --puppetdb URL`` against the Stagehand database.

    DATABASE_URL=postgresql://.../stagehand_query_sbs .venv/bin/python bench/query/side_by_side.py \
        --nodes 2000 --puppetdb http://127.0.0.1:8086

``--target stagehand|puppetdb`` loads one side only; give both processes the same ``--now`` (the
fleet's timestamps derive from it) and the two loads run at the same time (bench/query/README.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

ROLES, RESOURCES = 20, 150


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def role_resources(r: int) -> list[dict]:
    out = []
    for j in range(9):
        p = (r * 7 + j) % 60
        out.append({"type": "Class", "title": f"Profile::P{p}", "exported": False,
                    "file": f"/etc/puppetlabs/code/modules/profile/manifests/p{p}.pp", "line": 1,
                    "tags": ["class", "profile", f"profile::p{p}"], "parameters": {"level": p % 5}})  # fmt: skip
    for k in range(RESOURCES):
        rtype = "Class" if k == 0 else ["Service", "Package", "File", "User"][k % 4]
        title = f"Role::R{r}" if k == 0 else (f"/etc/role{r}/file{k}" if k % 4 == 2 else f"res-{r}-{k}")
        out.append({"type": rtype, "title": title, "exported": False,
                    "file": f"/etc/puppetlabs/code/modules/role/manifests/r{r}.pp", "line": k,
                    "tags": ["class", "role", f"role::r{r}"],
                    "parameters": {"ensure": f"1.{k % 7}" if k % 4 == 1 else "present", "k": k, "role": r}})  # fmt: skip
    return out


def commands(n_nodes: int, now: dt.datetime, first: int = 1) -> list[dict]:
    """Commands for nodes ``first`` .. ``n_nodes``; a node's data depends only on its number and ``now``."""
    out = []
    roles = {r: role_resources(r) for r in range(ROLES)}
    for i in range(first, n_nodes + 1):
        r = i % ROLES
        cert = f"node-{i:06d}.bench.example.com"
        env = "production" if i % 20 < 16 else ("staging" if i % 20 < 19 else "development")
        redhat = r % 3 == 0
        ip = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        t = now - dt.timedelta(seconds=i % 1800, minutes=5)
        facts = {
            "hostname": cert.split(".")[0], "fqdn": cert, "domain": "bench.example.com", "kernel": "Linux",
            "role": f"r{r}", "datacenter": f"dc{i % 4}", "osfamily": "RedHat" if redhat else "Debian",
            "os": {"family": "RedHat" if redhat else "Debian", "name": "Rocky" if redhat else "Debian",
                   "release": {"major": "9" if redhat else "12", "full": f"9.{i % 4}" if redhat else f"12.{i % 6}"}},
            "processors": {"count": 2 + (i % 8) * 2, "models": ["Xeon"]}, "memorysize_mb": 2048 * (1 + i % 8),
            "is_virtual": i % 5 != 0,
            "networking": {"ip": ip, "interfaces": {"eth0": {"ip": ip, "mtu": 1500}}},
            "disks": {"sda": {"size_bytes": 10737418240 * (1 + i % 4)}},
            "trusted": {"certname": cert, "authenticated": "remote", "extensions": {"pp_role": f"r{r}"}},
            "uptime_seconds": 1000 + i, "memoryfree_mb": 100 + i % 1000, "load_averages": {"1m": (i % 100) / 10},
        }  # fmt: skip
        facts.update({f"fact_{k}": f"value-{(i + k) % 50}" for k in range(1, 26)})
        out.append({"command": "replace facts", "version": 5, "certname": cert, "payload": {
            "certname": cert, "environment": env, "producer_timestamp": iso(t), "producer": "puppet.bench",
            "values": facts}})  # fmt: skip
        resources = [*roles[r],
                     {"type": "File", "title": "/etc/hostname", "exported": False, "file": None, "line": None,
                      "tags": ["node"], "parameters": {"content": cert}},
                     {"type": "Nagios_host", "title": cert, "exported": True, "file": None, "line": None,
                      "tags": ["node"], "parameters": {"address": ip}}]  # fmt: skip
        edges = [{"source": {"type": "Class", "title": f"Role::R{r}"}, "target": {"type": x["type"], "title": x["title"]},
                  "relationship": "contains"} for x in resources if x["title"] != f"Role::R{r}"]  # fmt: skip
        cat_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cat:{i}"))
        txn = str(uuid.uuid5(uuid.NAMESPACE_URL, f"txn:{i}"))
        out.append({"command": "replace catalog", "version": 9, "certname": cert, "payload": {
            "certname": cert, "version": "1700086400", "environment": env, "transaction_uuid": txn,
            "catalog_uuid": cat_uuid, "code_id": f"code-{i % 3}", "job_id": None,
            "producer_timestamp": iso(t + dt.timedelta(seconds=5)), "producer": "puppet.bench",
            "resources": resources, "edges": edges}})  # fmt: skip
        status = "failed" if i % 20 == 3 else ("changed" if i % 5 == 1 else "unchanged")
        start = t + dt.timedelta(seconds=10)
        res_events = []
        if status != "unchanged":
            res_events = [
                {"resource_type": "File", "resource_title": "/etc/motd", "timestamp": iso(start), "skipped": False,
                 "file": None, "line": None, "containment_path": ["Stage[main]", "Profile::P1", "File[/etc/motd]"],
                 "corrective_change": None,
                 "events": [{"status": "success", "timestamp": iso(start), "property": "content", "name": None,
                             "old_value": "old", "new_value": "new", "message": "changed", "corrective_change": None}]},
                {"resource_type": "Service", "resource_title": "app", "timestamp": iso(start), "skipped": False,
                 "file": None, "line": None, "containment_path": ["Stage[main]", "Profile::P1", "Service[app]"],
                 "corrective_change": None,
                 "events": [{"status": "failure" if status == "failed" else "success", "timestamp": iso(start),
                             "property": "ensure", "name": None, "old_value": "stopped", "new_value": "running",
                             "message": "changed", "corrective_change": None}]},
            ]  # fmt: skip
        out.append({"command": "store report", "version": 8, "certname": cert, "payload": {
            "certname": cert, "environment": env, "puppet_version": "7.23.0", "report_format": 12,
            "configuration_version": "1700086400", "start_time": iso(start),
            "end_time": iso(start + dt.timedelta(seconds=39)), "producer_timestamp": iso(start + dt.timedelta(seconds=40)),
            "producer": "puppet.bench", "transaction_uuid": txn, "catalog_uuid": cat_uuid, "code_id": f"code-{i % 3}",
            "job_id": None, "cached_catalog_status": "not_used", "status": status, "noop": i % 50 == 7,
            "noop_pending": i % 50 == 7, "corrective_change": None, "type": "agent", "resources": res_events,
            "metrics": [{"category": "time", "name": "total", "value": 39.0}],
            "logs": [{"level": "notice", "message": "Applied catalog", "source": "Puppet", "tags": ["notice"],
                      "time": iso(start), "file": None, "line": None}]}})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument(
        "--first",
        type=int,
        default=1,
        help="load nodes FIRST..NODES only, into a database already holding nodes 1..FIRST-1 (same --now): "
        "grows a loaded fleet, e.g. a copy of the 10,000-node databases to 50,000",
    )
    parser.add_argument("--puppetdb", default=None)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--now",
        default=None,
        help="timestamp the fleet is built around (ISO 8601, UTC); pass the same value when each side "
        "is loaded by its own process, so both hold identical data",
    )
    parser.add_argument(
        "--target",
        choices=["both", "stagehand", "puppetdb"],
        default="both",
        help="which side to load (default both, one after the other)",
    )
    args = parser.parse_args()
    if args.target != "stagehand" and not args.puppetdb:
        parser.error("--puppetdb URL is needed unless --target stagehand")

    import django

    django.setup()
    import orjson
    import requests
    from django.core.management import call_command

    from tests.support import fleet

    if args.now:
        now = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(dt.UTC).replace(microsecond=0)
    else:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    print(f"fleet of nodes {args.first}..{args.nodes} around --now {now:%Y-%m-%dT%H:%M:%SZ}", flush=True)
    cmds = commands(args.nodes, now, args.first)
    if args.target in ("both", "stagehand"):
        call_command("migrate", verbosity=0)
        started = time.monotonic()
        if args.first == 1:
            fleet.clear()
        fleet.load(cmds)
        print(
            f"stagehand: stored {len(cmds)} commands through the ingest storage in {time.monotonic() - started:.0f}s",
            flush=True,
        )
    if args.target in ("both", "puppetdb"):
        session = requests.Session()

        def post(c):
            r = session.post(
                args.puppetdb + "/pdb/cmd/v1",
                params={"command": c["command"].replace(" ", "_"), "version": c["version"], "certname": c["certname"]},
                data=orjson.dumps(c["payload"]),
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
            r.raise_for_status()

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(post, cmds))
        print(f"puppetdb: {len(cmds)} commands posted in {time.monotonic() - started:.0f}s", flush=True)
        # wait for PuppetDB's queue to drain, reporting the rate it applies commands at
        last = time.monotonic()
        while True:
            depth = (
                session.get(args.puppetdb + "/status/v1/services/puppetdb-status", timeout=30).json().get("status")
                or {}
            ).get("queue_depth")
            if depth == 0:
                break
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                done = len(cmds) - (depth or 0)
                elapsed = last - started
                print(f"puppetdb: {done}/{len(cmds)} applied after {elapsed:.0f}s ({done / elapsed:.1f}/s)", flush=True)
            time.sleep(2)
        elapsed = time.monotonic() - started
        print(f"puppetdb: {len(cmds)} commands processed in {elapsed:.0f}s ({len(cmds) / elapsed:.1f}/s)", flush=True)


if __name__ == "__main__":
    main()
