"""A fixed fixture fleet for query tests: PuppetDB commands, and a loader that stores them.

``fleet_commands()`` returns the same list of PuppetDB commands (facts v5, catalog v9, report v8,
deactivate node v3) every time. ``load(commands)`` stores them into Stagehand's tables exactly as
the storage contract (``inventory/models.py``, ``reports/models.py``) describes: content-addressed
resources and resource sets, catalog history rows (a changed catalog closes the previous row),
stable/volatile factsets, fact paths, packages and day-partitioned reports and events. The same
commands can be POSTed to a real PuppetDB (``post_to_puppetdb``) to obtain its answers.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import uuid

import orjson

BASE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
PRODUCER = "puppet.example.com"
VOLATILE_FACTS = {"uptime_seconds", "memoryfree_mb", "load_averages"}


def iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _uuid(*parts) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "stagehand-fleet:" + ":".join(map(str, parts))))


# name, role, environment, os family, deactivated
NODES = [
    ("web-01.example.com", "web", "production", "Debian"),
    ("web-02.example.com", "web", "production", "Debian"),
    ("web-03.example.com", "web", "staging", "Debian"),
    ("db-01.example.com", "db", "production", "RedHat"),
    ("db-02.example.com", "db", "production", "RedHat"),
    ("db-03.example.com", "db", "staging", "RedHat"),
    ("cache-01.example.com", "cache", "production", "Debian"),
    ("cache-02.example.com", "cache", "staging", "Debian"),
    ("mon-01.example.com", "monitor", "production", "RedHat"),
    ("lb-01.example.com", "lb", "production", "Debian"),
    ("build-01.example.com", "build", "development", "Debian"),
    ("old-01.example.com", "web", "production", "Debian"),  # deactivated at the end
]
DEACTIVATED = {"old-01.example.com"}
# Latest report status per node (index); the previous run is always "changed".
STATUSES = ["changed", "unchanged", "failed", "unchanged", "changed", "unchanged", "failed", "unchanged",
            "changed", "unchanged", "unchanged", "changed"]  # fmt: skip
NOOP = {"lb-01.example.com"}


def facts_for(i: int, name: str, role: str, env: str, family: str) -> dict:
    short = name.split(".")[0]
    debian = family == "Debian"
    values = {
        "hostname": short,
        "fqdn": name,
        "domain": "example.com",
        "kernel": "Linux",
        "kernelrelease": "6.1.0-18-amd64" if debian else "5.14.0-362.el9.x86_64",
        "osfamily": family,
        "operatingsystem": "Debian" if debian else "RedHat",
        "os": {
            "family": family,
            "name": "Debian" if debian else "RedHat",
            "release": {"major": "12" if debian else "9", "full": "12.5" if debian else "9.3"},
            "architecture": "amd64" if debian else "x86_64",
        },
        "processors": {"count": 2 + (i % 4) * 2, "models": ["Intel Xeon"] * (1 + i % 2)},
        "memorysize_mb": 2048 * (1 + i % 3),
        "memoryfree_mb": 512.5 + i,
        "is_virtual": i % 3 != 0,
        "role": role,
        "networking": {
            "ip": f"10.0.{i // 10}.{10 + i}",
            "interfaces": {"eth0": {"ip": f"10.0.{i // 10}.{10 + i}", "mtu": 1500}},
        },
        "disks": [{"name": "sda", "size_bytes": 10_000_000 * (i + 1)}],
        "uptime_seconds": 1000 * (i + 1),
        "load_averages": {"1m": 0.1 * i, "5m": 0.05 * i},
        "puppetversion": "7.23.0",
        "datacenter": "dc1" if i % 2 == 0 else "dc2",
        "trusted": {
            "authenticated": "remote",
            "certname": name,
            "domain": "example.com",
            "hostname": short,
            "extensions": {"pp_role": role, "pp_environment": env},
        },
    }
    if role == "web":
        values["apache_version"] = "2.4.57"
    if role == "db":
        values["postgres_version"] = 15 if i % 2 else 14
    return values


def resources_for(i: int, name: str, role: str, env: str, generation: int) -> tuple[list, list]:
    """(resources, edges) of the node's catalog; generation 0 is the older catalog."""
    res = []

    def add(type_, title, params=None, tags=(), exported=False, file=None, line=None):
        res.append(
            {
                "type": type_,
                "title": title,
                "exported": exported,
                "file": file,
                "line": line,
                "tags": sorted({type_.lower(), *tags}),
                "parameters": params or {},
            }
        )

    add("Stage", "main", {"name": "main"}, tags=("stage",))
    add("Class", "Settings", tags=("class", "settings"))
    add("Class", "Main", {"name": "main"}, tags=("class",))
    add("Class", "Base", tags=("class", "base"), file="/etc/puppetlabs/code/modules/base/manifests/init.pp", line=1)
    add(
        "File",
        "/etc/motd",
        {"ensure": "file", "content": f"Welcome to {name}\n", "mode": "0644"},
        tags=("base", "class", "file"),
        file="/etc/puppetlabs/code/modules/base/manifests/init.pp",
        line=5,
    )
    add("Package", "openssh-server", {"ensure": "installed"}, tags=("base",), file="/m/base/init.pp", line=12)
    add("Service", "sshd", {"ensure": "running", "enable": True}, tags=("base",), file="/m/base/init.pp", line=15)
    add("User", "deploy", {"ensure": "present", "uid": 1000 + (i % 2), "groups": ["adm", "sudo"]}, tags=("base",))
    roleclass = {"web": "Apache" if generation else "Nginx", "db": "Postgresql", "cache": "Redis",
                 "monitor": "Nagios", "lb": "Haproxy", "build": "Jenkins"}[role]  # fmt: skip
    add("Class", roleclass, {"port": 80 if role in ("web", "lb") else 5432}, tags=("class", roleclass.lower()))
    add("Class", f"Role::{role.capitalize()}", tags=("class", "role", f"role::{role}"))
    if role == "web":
        pkg = "apache2" if generation else "nginx"
        add("Package", pkg, {"ensure": "2.4.57-2" if generation else "latest"}, tags=(roleclass.lower(),), line=3)
        add("Service", pkg, {"ensure": "running"}, tags=(roleclass.lower(),), line=8)
        add(
            "Nagios_host",
            name,
            {"address": f"10.0.0.{10 + i}", "use": "generic-host"},
            exported=True,
            tags=("monitoring",),
        )
    if role == "db":
        add("Package", "postgresql", {"ensure": "15" if i % 2 else "14"}, tags=("postgresql",), line=4)
        add("Service", "postgresql", {"ensure": "running", "enable": True}, tags=("postgresql",), line=9)
        add("Nagios_host", name, {"address": f"10.0.0.{10 + i}", "use": "db-host"}, exported=True, tags=("monitoring",))
    if generation and role in ("cache", "monitor"):
        add("File", "/etc/cron.d/backup", {"ensure": "file", "content": "0 3 * * * root /usr/local/bin/backup\n"})
    edges = []
    for r in res:
        if r["type"] == "Stage":
            continue
        container = (
            ("Stage", "main") if r["type"] == "Class" else ("Class", roleclass if r["type"] != "File" else "Base")
        )
        edges.append(
            {
                "source": {"type": container[0], "title": container[1]},
                "target": {"type": r["type"], "title": r["title"]},
                "relationship": "contains",
            }
        )
    if role == "web":
        pkg = "apache2" if generation else "nginx"
        edges.append({"source": {"type": "Package", "title": pkg}, "target": {"type": "Service", "title": pkg},
                      "relationship": "before"})  # fmt: skip
    return res, edges


def fleet_commands(base: dt.datetime = BASE) -> list[dict]:
    """The fixed fleet as a list of ``{"command", "version", "certname", "payload"}``."""
    commands = []
    for i, (name, role, env, family) in enumerate(NODES):
        facts = facts_for(i, name, role, env, family)
        packages = None
        if role in ("web", "db"):
            packages = [["openssh-server", "1:9.2p1-2", "apt" if family == "Debian" else "yum"],
                        ["bash", "5.2.15-2", "apt" if family == "Debian" else "yum"]]  # fmt: skip
            if role == "db":
                packages.append(["postgresql", "15.5" if i % 2 else "14.10", "yum"])
        for generation in (0, 1):
            t0 = base + dt.timedelta(hours=generation * 24, minutes=i)
            if generation == 1 or role in ("web", "cache", "monitor"):
                # Web/cache/monitor nodes changed their catalog between the two runs; other
                # nodes compiled the same catalog twice (a re-confirmation, not a new version).
                gen = generation
            else:
                gen = 1
            payload = {
                "certname": name,
                "environment": env,
                "producer_timestamp": iso(t0),
                "producer": PRODUCER,
                "values": dict(facts, uptime_seconds=facts["uptime_seconds"] + generation * 86400),
            }
            if packages:
                payload["package_inventory"] = packages
            commands.append({"command": "replace facts", "version": 5, "certname": name, "payload": payload})
            resources, edges = resources_for(i, name, role, env, gen)
            cat_uuid = _uuid(name, "catalog", generation)
            code_id = f"code-{'b' if gen else 'a'}{'1' if role != 'build' else '9'}"
            commands.append(
                {
                    "command": "replace catalog",
                    "version": 9,
                    "certname": name,
                    "payload": {
                        "certname": name,
                        "version": f"{1700000000 + generation * 86400 + i}",
                        "environment": env,
                        "transaction_uuid": _uuid(name, "txn", generation),
                        "catalog_uuid": cat_uuid,
                        "code_id": code_id,
                        "job_id": None,
                        "producer_timestamp": iso(t0 + dt.timedelta(seconds=5)),
                        "producer": PRODUCER,
                        "resources": resources,
                        "edges": edges,
                    },
                }
            )
            status = STATUSES[i] if generation == 1 else "changed"
            commands.append(
                {
                    "command": "store report",
                    "version": 8,
                    "certname": name,
                    "payload": report_for(i, name, role, env, generation, status, t0, cat_uuid, code_id, resources),
                }
            )
        if name in DEACTIVATED:
            commands.append(
                {
                    "command": "deactivate node",
                    "version": 3,
                    "certname": name,
                    "payload": {"certname": name, "producer_timestamp": iso(base + dt.timedelta(hours=25))},
                }
            )
    commands.extend(experimental_commands(base))
    return commands


# PuppetDB's experimental commands: catalog inputs recorded for three nodes' current catalogs
# (old-01's before its deactivation, so it stays inactive), and fact expiration configured on two
# nodes (build-01's facts never expire).
CATALOG_INPUTS = {
    "web-01.example.com": [["hiera", "apache::port"], ["hiera", "ntp::servers"], ["hiera", "profile::web::vhosts"]],
    "db-01.example.com": [["hiera", "postgresql::version"], ["hiera", "ntp::servers"]],
    "old-01.example.com": [["hiera", "ntp::servers"]],
}
FACTS_EXPIRE = {"build-01.example.com": False, "mon-01.example.com": True}


def experimental_commands(base: dt.datetime = BASE) -> list[dict]:
    index = {name: i for i, (name, *_rest) in enumerate(NODES)}
    commands = []
    for name, inputs in CATALOG_INPUTS.items():
        payload = {
            "certname": name,
            "producer_timestamp": iso(base + dt.timedelta(hours=24, minutes=index[name], seconds=6)),
            "catalog_uuid": _uuid(name, "catalog", 1),
            "inputs": inputs,
        }
        commands.append({"command": "replace catalog inputs", "version": 1, "certname": name, "payload": payload})
    for name, expire in FACTS_EXPIRE.items():
        payload = {
            "certname": name,
            "expire": {"facts": expire},
            "producer_timestamp": iso(base + dt.timedelta(hours=26, minutes=index[name])),
        }
        commands.append({"command": "configure expiration", "version": 1, "certname": name, "payload": payload})
    return commands


def report_for(i, name, role, env, generation, status, t0, cat_uuid, code_id, resources) -> dict:
    start = t0 + dt.timedelta(seconds=10)
    end = start + dt.timedelta(seconds=20 + i)
    noop = name in NOOP and generation == 1
    events_res = []
    if status in ("changed", "failed") or noop:
        motd = next(r for r in resources if r["type"] == "File" and r["title"] == "/etc/motd")
        ev_status = "noop" if noop else "success"
        events_res.append(
            {
                "resource_type": "File",
                "resource_title": "/etc/motd",
                "timestamp": iso(start + dt.timedelta(seconds=2)),
                "skipped": False,
                "file": motd["file"],
                "line": motd["line"],
                "containment_path": ["Stage[main]", "Base", "File[/etc/motd]"],
                "corrective_change": None,
                "events": [
                    {
                        "status": ev_status,
                        "timestamp": iso(start + dt.timedelta(seconds=2)),
                        "property": "content",
                        "name": "content_changed",
                        "old_value": "{md5}aaaa",
                        "new_value": "{md5}bbbb",
                        "message": "content changed '{md5}aaaa' to '{md5}bbbb'",
                        "corrective_change": None,
                    }
                ],
            }
        )
        if role == "web" and not noop:
            events_res.append(
                {
                    "resource_type": "Service",
                    "resource_title": "apache2" if generation else "nginx",
                    "timestamp": iso(start + dt.timedelta(seconds=3)),
                    "skipped": False,
                    "file": None,
                    "line": 8,
                    "containment_path": ["Stage[main]", "Apache" if generation else "Nginx", "Service[x]"],
                    "corrective_change": None,
                    "events": [
                        {
                            "status": "failure" if status == "failed" else "success",
                            "timestamp": iso(start + dt.timedelta(seconds=3)),
                            "property": "ensure",
                            "name": None,
                            "old_value": "stopped",
                            "new_value": "running",
                            "message": "change from 'stopped' to 'running' failed" if status == "failed" else "started",
                            "corrective_change": None,
                        }
                    ],
                }
            )
    if status == "failed" and role != "web":
        events_res.append(
            {
                "resource_type": "Package",
                "resource_title": "openssh-server",
                "timestamp": iso(start + dt.timedelta(seconds=4)),
                "skipped": False,
                "file": "/m/base/init.pp",
                "line": 12,
                "containment_path": ["Stage[main]", "Base", "Package[openssh-server]"],
                "corrective_change": None,
                "events": [
                    {
                        "status": "failure",
                        "timestamp": iso(start + dt.timedelta(seconds=4)),
                        "property": "ensure",
                        "name": None,
                        "old_value": "absent",
                        "new_value": "installed",
                        "message": "Could not install package",
                        "corrective_change": None,
                    }
                ],
            }
        )
        events_res.append(
            {
                "resource_type": "Service",
                "resource_title": "sshd",
                "timestamp": iso(start + dt.timedelta(seconds=5)),
                "skipped": True,
                "file": "/m/base/init.pp",
                "line": 15,
                "containment_path": ["Stage[main]", "Base", "Service[sshd]"],
                "corrective_change": None,
                "events": [
                    {
                        "status": "skipped",
                        "timestamp": iso(start + dt.timedelta(seconds=5)),
                        "property": None,
                        "name": None,
                        "old_value": None,
                        "new_value": None,
                        "message": "Skipped because of failed dependencies",
                        "corrective_change": None,
                    }
                ],
            }
        )
    n_events = sum(len(r["events"]) for r in events_res)
    failures = sum(1 for r in events_res for e in r["events"] if e["status"] == "failure")
    successes = sum(1 for r in events_res for e in r["events"] if e["status"] == "success")
    metrics = [
        {"category": "resources", "name": "total", "value": len(resources)},
        {"category": "resources", "name": "changed", "value": successes},
        {"category": "resources", "name": "failed", "value": failures},
        {"category": "resources", "name": "skipped", "value": sum(1 for r in events_res if r["skipped"])},
        {"category": "resources", "name": "out_of_sync", "value": len(events_res)},
        {"category": "events", "name": "total", "value": n_events},
        {"category": "events", "name": "success", "value": successes},
        {"category": "events", "name": "failure", "value": failures},
        {"category": "time", "name": "total", "value": 20.0 + i},
        {"category": "changes", "name": "total", "value": successes},
    ]
    logs = [
        {
            "file": None,
            "line": None,
            "level": "info",
            "message": f"Using environment '{env}'",
            "source": "Puppet",
            "tags": ["info"],
            "time": iso(start),
        },  # fmt: skip
        {
            "file": None,
            "line": None,
            "level": "notice",
            "message": "Applied catalog",
            "source": "Puppet",
            "tags": ["notice"],
            "time": iso(end),
        },  # fmt: skip
    ]
    if status == "failed":
        logs.insert(1, {"file": "/m/base/init.pp", "line": 12, "level": "err", "message": "Could not install package",
                        "source": "/Stage[main]/Base/Package[openssh-server]", "tags": ["err"], "time": iso(start)})  # fmt: skip
    return {
        "certname": name,
        "environment": env,
        "puppet_version": "7.23.0",
        "report_format": 12,
        "configuration_version": f"{1700000000 + generation * 86400 + i}",
        "start_time": iso(start),
        "end_time": iso(end),
        "producer_timestamp": iso(end + dt.timedelta(seconds=1)),
        "producer": PRODUCER,
        "transaction_uuid": _uuid(name, "txn", generation),
        "catalog_uuid": cat_uuid,
        "code_id": code_id,
        "job_id": None,
        "cached_catalog_status": "not_used",
        "status": status,
        "noop": noop,
        "noop_pending": noop,
        "corrective_change": None,
        "type": "agent",
        "resources": events_res,
        "metrics": metrics,
        "logs": logs,
    }


# --- storing ---------------------------------------------------------------------------------


def _sha1(data) -> str:
    return hashlib.sha1(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _paths(value, prefix=()):
    if isinstance(value, dict):
        if prefix:
            yield prefix, "hash"
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        yield prefix, "array"
        for idx, v in enumerate(value):
            yield from _paths(v, (*prefix, idx))
    else:
        kind = (
            "null" if value is None else "boolean" if isinstance(value, bool) else
            "integer" if isinstance(value, int) else "float" if isinstance(value, float) else "string"
        )  # fmt: skip
        yield prefix, kind


def load(commands: list[dict] | None = None, *, via: str = "ingest") -> None:
    """Store ``commands`` (default: the fixed fleet). ``via="ingest"`` (the default) runs each one
    through the real ingest pipeline's normalisation and storage functions (one transaction per
    command, "received" at its producer timestamp so the fleet is reproducible);
    ``via="builder"`` uses this module's own writer of the storage contract."""
    commands = commands if commands is not None else fleet_commands()
    if via == "ingest":
        return load_via_ingest(commands)
    for command in commands:
        kind = command["command"]
        payload = copy.deepcopy(command["payload"])
        if kind == "replace facts":
            store_facts(payload)
        elif kind == "replace catalog":
            store_catalog(payload)
        elif kind == "store report":
            store_report(payload)
        elif kind == "deactivate node":
            from inventory.models import Node

            Node.objects.filter(certname=payload["certname"]).update(deactivated=_parse(payload["producer_timestamp"]))
        else:  # the experimental commands: stored by the ingest storage functions
            load_via_ingest([command])


def load_via_ingest(commands: list[dict]) -> None:
    from django.db import connection, transaction

    from ingest.commands import normalise
    from ingest.processing import _store
    from inventory.storage import forget_caches

    forget_caches()
    for command in commands:
        name = command["command"].replace(" ", "_")
        cmd = normalise(name, command["version"], copy.deepcopy(command["payload"]), command["certname"])
        received = cmd.get("producer_timestamp") or BASE
        with transaction.atomic(), connection.cursor() as cursor:
            _store(cursor, name, cmd, received, "puppetdb")
    forget_caches()


def _node(certname):
    from inventory.models import Node

    node, _ = Node.objects.get_or_create(certname=certname)
    if node.deactivated or node.expired:
        node.deactivated = node.expired = None
    return node


def _env(name):
    from inventory.models import Environment

    return Environment.objects.get_or_create(name=name)[0]


def _producer(name):
    from inventory.models import Producer

    return Producer.objects.get_or_create(name=name)[0] if name else None


def store_facts(p: dict) -> None:
    from django.utils import timezone

    from inventory.models import FactPath, Factset, Package

    node = _node(p["certname"])
    env = _env(p["environment"])
    ts = _parse(p["producer_timestamp"])
    values = p["values"]
    stable = {k: v for k, v in values.items() if k not in VOLATILE_FACTS}
    volatile = {k: v for k, v in values.items() if k in VOLATILE_FACTS}
    package_ids = []
    for name, version, provider in p.get("package_inventory") or []:
        package_ids.append(Package.objects.get_or_create(name=name, version=version, provider=provider)[0].id)
    Factset.objects.update_or_create(
        node=node,
        defaults=dict(
            environment=env,
            producer=_producer(p.get("producer")),
            timestamp=ts,
            producer_timestamp=ts,
            hash=_sha1(values),
            stable=stable,
            volatile=volatile,
            package_ids=sorted(package_ids),
        ),
    )
    for path, kind in _paths(values):
        key = orjson.dumps(list(path)).decode()
        FactPath.objects.update_or_create(
            path_key=key,
            value_type=kind,
            defaults=dict(
                path=[str(x) for x in path], name=str(path[0]), depth=len(path) - 1, last_seen=timezone.now()
            ),
        )
    node.facts_timestamp = ts
    node.facts_producer_timestamp = ts
    node.facts_environment = env
    node.save()


def resource_identity_hash(r: dict) -> str:
    return _sha1({"type": r["type"], "title": r["title"], "parameters": r["parameters"]})


def store_catalog(p: dict) -> None:
    from inventory.models import Catalog, EdgeSet, Resource, ResourceSet

    node = _node(p["certname"])
    env = _env(p["environment"])
    ts = _parse(p["producer_timestamp"])
    ids = []
    hashes = []
    for r in p["resources"]:
        h = hashlib.sha1(
            orjson.dumps(
                [
                    r["type"],
                    r["title"],
                    r["parameters"],
                    sorted(r["tags"]),
                    r["exported"],
                    r.get("file"),
                    r.get("line"),
                ],
                option=orjson.OPT_SORT_KEYS,
            )
        ).digest()
        obj, _ = Resource.objects.get_or_create(
            hash=h,
            defaults=dict(
                resource_hash=resource_identity_hash(r),
                type=r["type"],
                title=r["title"],
                exported=r["exported"],
                file=r.get("file"),
                line=r.get("line"),
                tags=sorted(r["tags"]),
                parameters=r["parameters"],
            ),
        )
        ids.append(obj.id)
        hashes.append(h.hex())
    set_hash = hashlib.sha1("".join(sorted(hashes)).encode()).digest()
    rset, _ = ResourceSet.objects.get_or_create(hash=set_hash, defaults=dict(resource_ids=sorted(ids), size=len(ids)))
    edges = sorted(
        [e["source"]["type"], e["source"]["title"], e["relationship"], e["target"]["type"], e["target"]["title"]]
        for e in p["edges"]
    )
    edge_hash = hashlib.sha1(orjson.dumps(edges)).digest()
    eset, _ = EdgeSet.objects.get_or_create(hash=edge_hash, defaults=dict(edges=edges, size=len(edges)))
    content_hash = _sha1({"resources": sorted(hashes), "edges": edges})
    current = Catalog.objects.filter(node=node, valid_to__isnull=True).first()
    fields = dict(
        catalog_uuid=p.get("catalog_uuid"),
        transaction_uuid=p.get("transaction_uuid"),
        code_id=p.get("code_id"),
        job_id=p.get("job_id"),
        version=p["version"],
        environment=env,
        producer=_producer(p.get("producer")),
        producer_timestamp=ts,
        received=ts,
    )
    if current is not None and current.hash == content_hash and current.environment_id == env.id:
        for k, v in fields.items():
            setattr(current, k, v)
        current.compiles += 1
        current.save()
        catalog = current
    else:
        if current is not None:
            current.valid_to = ts
            current.save(update_fields=["valid_to"])
        catalog = Catalog.objects.create(
            node=node,
            hash=content_hash,
            first_producer_timestamp=ts,
            resource_set=rset,
            edge_set=eset,
            valid_from=ts,
            **fields,
        )
    node.catalog_timestamp = ts
    node.catalog_producer_timestamp = ts
    node.catalog_environment = env
    node.latest_catalog = catalog
    node.latest_catalog_code_id = p.get("code_id")
    node.save()


def store_report(p: dict) -> None:
    from reports import partitions
    from reports.models import Report, ResourceEvent

    node = _node(p["certname"])
    env = _env(p["environment"])
    pts = _parse(p["producer_timestamp"])
    partitions.ensure_for(pts)
    metrics = {(m["category"], m["name"]): m["value"] for m in p["metrics"]}
    report = Report.objects.create(
        hash=_sha1(
            {
                k: p[k]
                for k in (
                    "certname",
                    "puppet_version",
                    "report_format",
                    "configuration_version",
                    "start_time",
                    "end_time",
                    "producer_timestamp",
                    "transaction_uuid",
                )
            }  # fmt: skip
        ),
        node=node,
        certname=p["certname"],
        environment=env,
        producer=_producer(p.get("producer")),
        transaction_uuid=p.get("transaction_uuid"),
        catalog_uuid=p.get("catalog_uuid"),
        code_id=p.get("code_id"),
        job_id=p.get("job_id"),
        configuration_version=p["configuration_version"],
        puppet_version=p["puppet_version"],
        report_format=p["report_format"],
        start_time=_parse(p["start_time"]),
        end_time=_parse(p["end_time"]),
        producer_timestamp=pts,
        receive_time=pts,
        status=p["status"],
        noop=p["noop"],
        noop_pending=p.get("noop_pending"),
        corrective_change=p.get("corrective_change"),
        cached_catalog_status=p.get("cached_catalog_status"),
        type=p.get("type") or "agent",
        resources_total=metrics.get(("resources", "total")),
        resources_changed=metrics.get(("resources", "changed")),
        resources_failed=metrics.get(("resources", "failed")),
        resources_out_of_sync=metrics.get(("resources", "out_of_sync")),
        resources_skipped=metrics.get(("resources", "skipped")),
        events_success=metrics.get(("events", "success")),
        events_failure=metrics.get(("events", "failure")),
        run_duration=metrics.get(("time", "total")),
        metrics=p["metrics"],
        logs=p["logs"],
    )
    events = []
    for r in p["resources"]:
        path = r.get("containment_path") or []
        containing = next((c for c in reversed(path[:-1]) if "[" not in c or c.startswith("Class[")), None)
        if containing and containing.startswith("Class["):
            containing = containing[6:-1]
        for e in r["events"]:
            if r.get("skipped"):
                # PuppetDB records a skipped resource as one "skipped" event with no details
                # (ingest.commands._skipped_event: corrective_change too is null).
                e = {"status": "skipped", "timestamp": e["timestamp"], "corrective_change": None}
            events.append(
                ResourceEvent(
                    report=report,
                    report_timestamp=pts,
                    node=node,
                    certname=p["certname"],
                    environment=env,
                    status=e["status"],
                    timestamp=_parse(e["timestamp"]),
                    resource_type=r["resource_type"],
                    resource_title=r["resource_title"],
                    property=e.get("property"),
                    name=e.get("name"),
                    old_value=e.get("old_value"),
                    new_value=e.get("new_value"),
                    message=e.get("message"),
                    file=r.get("file"),
                    line=r.get("line"),
                    containment_path=path,
                    containing_class=containing,
                    corrective_change=e.get("corrective_change"),
                )
            )
    ResourceEvent.objects.bulk_create(events)
    if node.report_timestamp is None or report.end_time >= node.report_timestamp:
        node.report_timestamp = report.end_time  # PuppetDB's report_timestamp is the run's end_time
        node.report_environment = env
        node.latest_report_id = report.id
        node.latest_report_hash = report.hash
        node.latest_report_status = report.status
        node.latest_report_noop = report.noop
        node.latest_report_noop_pending = report.noop_pending
        node.latest_report_corrective_change = report.corrective_change
        node.latest_report_job_id = report.job_id
        node.latest_report_code_id = report.code_id
        node.latest_report_configuration_version = report.configuration_version
        node.latest_report_transaction_uuid = report.transaction_uuid
        node.cached_catalog_status = report.cached_catalog_status
    node.save()


def post_to_puppetdb(base_url: str, commands: list[dict] | None = None) -> None:
    """Submit the same commands to a real PuppetDB (waiting for each to be processed)."""
    import requests

    for command in commands if commands is not None else fleet_commands():
        response = requests.post(
            base_url + "/pdb/cmd/v1",
            params={
                "command": command["command"].replace(" ", "_"),
                "version": command["version"],
                "certname": command["certname"],
                "secondsToWaitForCompletion": 30,
            },
            data=orjson.dumps(command["payload"]),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        response.raise_for_status()


def clear() -> None:
    """Remove every inventory and report row, and the events storing them emitted (test teardown)."""
    from django.db import connection

    from inventory.storage import forget_caches
    from reports.orchestration.models import Event

    forget_caches()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reports_resourceevent, reports_report, inventory_catalog, inventory_cataloginputs, "
            "inventory_factset, "
            "inventory_factpath, inventory_package, inventory_resourceset, inventory_edgeset, inventory_resource, "
            f"inventory_node, inventory_environment, inventory_producer, {Event._meta.db_table} CASCADE"
        )
