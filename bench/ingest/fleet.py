"""A realistic synthetic fleet for ingest benchmarks (deterministic for a given seed).

* ``roles`` roles; every role has a base catalog of ``resources`` resources (packages, files,
  services, users, execs, classes) shared by all its nodes, plus ~2% per-node resources
  (host-specific files), so most resources are shared and every node's set is distinct.
* ~``facts`` facts per node: OS/hardware/network structure like facter's, mostly shared per
  role, some unique per node and a few (uptime, memory, load, timestamps) changing every run.
* a report per run with events for a handful of changed resources, logs and full metrics.

Each run of a node yields three PuppetDB commands (replace facts v5, replace catalog v9, store
report v8), as a ``puppet agent`` run with the ``puppetdb`` terminus does.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

TYPES = [("Package", 0.35), ("File", 0.35), ("Service", 0.08), ("User", 0.05), ("Exec", 0.07), ("Class", 0.10)]


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _params(rng: random.Random, rtype: str, i: int) -> dict:
    if rtype == "Package":
        return {"ensure": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}-1", "provider": "apt"}
    if rtype == "File":
        return {
            "ensure": "file",
            "owner": "root",
            "group": "root",
            "mode": "0644",
            "content": "# managed by puppet\n" + "".join(f"setting_{j} = {rng.randint(0, 10**6)}\n" for j in range(6)),
        }
    if rtype == "Service":
        return {"ensure": "running", "enable": True, "hasrestart": True}
    if rtype == "User":
        return {"ensure": "present", "uid": 1000 + i, "shell": "/bin/bash", "groups": ["users", "adm"]}
    if rtype == "Exec":
        return {"command": f"/usr/local/bin/setup-{i} --apply", "refreshonly": True, "path": ["/usr/bin", "/bin"]}
    return {}


class Fleet:
    def __init__(self, nodes: int, roles: int = 5, resources: int = 1000, facts: int = 500, seed: int = 42):
        self.rng = random.Random(seed)
        self.nodes = [f"node-{i:05d}.bench.example.com" for i in range(nodes)]
        self.role_of = {n: i % roles for i, n in enumerate(self.nodes)}
        self.facts_n = facts
        self.base_catalogs = [self._role_catalog(r, resources) for r in range(roles)]
        self.base_facts = [self._role_facts(r) for r in range(roles)]
        self.run_index: dict[str, int] = {}

    # --- catalogs -----------------------------------------------------------------------
    def _role_catalog(self, role: int, n: int) -> list[dict]:
        rng = random.Random(1000 + role)
        out = []
        classes = [f"role::r{role}"] + [f"profile::p{role}_{k}" for k in range(8)] + [f"base::m{k}" for k in range(12)]
        for i in range(n):
            roll, acc = rng.random(), 0.0
            rtype = "Class"
            for t, share in TYPES:
                acc += share
                if roll < acc:
                    rtype = t
                    break
            cls = classes[i % len(classes)]
            shared = i % 3 != 0  # a third of each role's resources come from role-specific code
            title = (
                f"/etc/app/{'common' if shared else f'r{role}'}/conf-{i}.conf"
                if rtype == "File"
                else (f"pkg-{'c' if shared else role}-{i}" if rtype != "Class" else f"{cls}::c{i}")
            )
            tags = sorted({rtype.lower(), "class", *cls.split("::"), cls})
            out.append(
                {
                    "type": rtype,
                    "title": title,
                    "exported": False,
                    "file": f"/etc/puppetlabs/code/environments/production/modules/{cls.split('::')[0]}/manifests/init.pp",
                    "line": 10 + i % 400,
                    "tags": tags,
                    "parameters": _params(random.Random(i if shared else 10_000 * role + i), rtype, i),
                }
            )
        return out

    def catalog(self, certname: str, when: dt.datetime, change: bool) -> dict:
        role = self.role_of[certname]
        resources = list(self.base_catalogs[role])
        idx = int(certname[5:10])
        for k in range(max(len(resources) // 50, 1)):  # ~2% per-node resources
            resources.append(
                {
                    "type": "File",
                    "title": f"/etc/host.d/{certname}-{k}.conf",
                    "exported": False,
                    "file": "/etc/puppetlabs/code/environments/production/manifests/site.pp",
                    "line": 5 + k,
                    "tags": ["file", "class", "node"],
                    "parameters": {"ensure": "file", "content": f"host {certname} slot {k}\n"},
                }
            )
        if change:  # a code change on this node: one resource differs
            r = dict(resources[idx % len(resources)])
            r["parameters"] = dict(r["parameters"], note=f"changed {when.isoformat()}")
            resources[idx % len(resources)] = r
        edges = [
            {
                "source": {"type": "Class", "title": f"role::r{role}"},
                "target": {"type": r["type"], "title": r["title"]},
                "relationship": "contains",
            }
            for r in resources[:200]
            if r["type"] != "Class"
        ]
        resources = resources + [
            {
                "type": "Class",
                "title": f"role::r{role}",
                "exported": False,
                "file": None,
                "line": None,
                "tags": ["class", "role", f"r{role}"],
                "parameters": {},
            }
        ]
        txn = str(uuid.UUID(int=self.rng.getrandbits(128)))
        return {
            "certname": certname,
            "version": str(int(when.timestamp())),
            "environment": "production",
            "transaction_uuid": txn,
            "catalog_uuid": txn,
            "code_id": None,
            "job_id": None,
            "producer_timestamp": _ts(when),
            "producer": "puppet.bench.example.com",
            "resources": resources,
            "edges": edges,
        }

    # --- facts --------------------------------------------------------------------------
    def _role_facts(self, role: int) -> dict:
        rng = random.Random(2000 + role)
        facts: dict = {
            "os": {
                "family": "Debian",
                "name": "Debian",
                "release": {"full": "12.5", "major": "12", "minor": "5"},
                "architecture": "amd64",
                "selinux": {"enabled": False},
            },
            "kernel": "Linux",
            "kernelrelease": "6.1.0-18-amd64",
            "kernelversion": "6.1.0",
            "processors": {"count": 4, "models": ["Intel(R) Xeon(R) CPU"] * 4, "physicalcount": 1},
            "ruby": {"platform": "x86_64-linux-gnu", "version": "3.1.2"},
            "puppetversion": "7.23.0",
            "facterversion": "4.5.2",
            "role": f"r{role}",
        }
        while len(facts) < self.facts_n - 40:
            k = len(facts)
            facts[f"custom_fact_{k}"] = rng.choice([f"value-{rng.randint(0, 1000)}", rng.randint(0, 10**6), True])
        return facts

    def facts(self, certname: str, when: dt.datetime, run: int) -> dict:
        role = self.role_of[certname]
        idx = int(certname[5:10])
        values = dict(self.base_facts[role])
        values.update(
            {
                "networking": {
                    "hostname": certname.split(".")[0],
                    "fqdn": certname,
                    "domain": "bench.example.com",
                    "ip": f"10.{idx // 65536}.{idx // 256 % 256}.{idx % 256}",
                    "mac": f"52:54:00:{idx // 65536:02x}:{idx // 256 % 256:02x}:{idx % 256:02x}",
                    "interfaces": {"eth0": {"ip": f"10.0.{idx // 256 % 256}.{idx % 256}", "mtu": 1500}},
                },
                "hostname": certname.split(".")[0],
                "fqdn": certname,
                "clientcert": certname,
                "dmi": {"product": {"serial_number": f"SN{idx:08d}", "uuid": str(uuid.UUID(int=idx))}},
                "trusted": {
                    "authenticated": "remote",
                    "certname": certname,
                    "domain": "bench.example.com",
                    "extensions": {},
                    "hostname": certname.split(".")[0],
                },
            }
        )
        for k in range(30):
            values[f"host_fact_{k}"] = f"{certname}-{k}"
        # Facts that change on every run.
        values["uptime_seconds"] = 3600 * 24 * 3 + run * 1800 + idx
        values["system_uptime"] = {"seconds": values["uptime_seconds"], "uptime": f"{run} runs"}
        values["memory"] = {"system": {"available_bytes": 2**30 + run * 4096 + idx, "used_bytes": 2**29 + run}}
        values["load_averages"] = {"1m": round(0.1 * (run % 7), 2), "5m": 0.2, "15m": 0.3}
        values["last_run"] = _ts(when)
        return {
            "certname": certname,
            "environment": "production",
            "producer_timestamp": _ts(when),
            "producer": "puppet.bench.example.com",
            "values": values,
        }

    # --- reports ------------------------------------------------------------------------
    def report(self, certname: str, when: dt.datetime, catalog: dict, run: int) -> dict:
        rng = random.Random(hash((certname, run)))
        changed = rng.sample(catalog["resources"][:-1], k=min(5, len(catalog["resources"]) - 1)) if run % 3 == 0 else []
        start = when + dt.timedelta(seconds=2)
        resources = []
        for r in changed:
            resources.append(
                {
                    "resource_type": r["type"],
                    "resource_title": r["title"],
                    "timestamp": _ts(start),
                    "skipped": False,
                    "file": r["file"],
                    "line": r["line"],
                    "containment_path": ["Stage[main]", "Role::R0", f"{r['type']}[{r['title']}]"],
                    "corrective_change": False,
                    "events": [
                        {
                            "status": "success",
                            "timestamp": _ts(start),
                            "property": "ensure",
                            "name": "changed",
                            "old_value": "absent",
                            "new_value": "present",
                            "message": "ensure changed",
                            "corrective_change": False,
                        }
                    ],
                }
            )
        metrics = [
            {"category": "resources", "name": n, "value": v}
            for n, v in (
                ("total", len(catalog["resources"])),
                ("changed", len(changed)),
                ("failed", 0),
                ("skipped", 0),
                ("out_of_sync", len(changed)),
                ("scheduled", 0),
                ("restarted", 0),
                ("corrective_change", 0),
            )
        ]
        metrics += [
            {"category": "time", "name": n, "value": round(rng.random() * 3, 3)}
            for n in (
                "catalog_application",
                "config_retrieval",
                "fact_generation",
                "file",
                "package",
                "service",
                "total",
            )
        ]
        metrics += [
            {"category": "events", "name": n, "value": v}
            for n, v in (("success", len(changed)), ("failure", 0), ("noop", 0), ("total", len(changed)))
        ]
        metrics += [{"category": "changes", "name": "total", "value": len(changed)}]
        logs = [
            {
                "file": None,
                "line": None,
                "level": "info",
                "message": f"Applying configuration version '{catalog['version']}'",
                "source": "Puppet",
                "tags": ["info"],
                "time": _ts(start),
            }
        ]
        logs += [
            {
                "file": r["file"],
                "line": r["line"],
                "level": "notice",
                "message": "ensure changed",
                "source": f"/Stage[main]/{r['type']}[{r['title']}]/ensure",
                "tags": ["notice"],
                "time": _ts(start),
            }
            for r in changed
        ]
        return {
            "certname": certname,
            "environment": "production",
            "puppet_version": "7.23.0",
            "report_format": 12,
            "configuration_version": catalog["version"],
            "start_time": _ts(start),
            "end_time": _ts(start + dt.timedelta(seconds=20)),
            "producer_timestamp": _ts(start + dt.timedelta(seconds=21)),
            "producer": "puppet.bench.example.com",
            "transaction_uuid": catalog["transaction_uuid"],
            "catalog_uuid": catalog["catalog_uuid"],
            "code_id": None,
            "job_id": None,
            "cached_catalog_status": "not_used",
            "status": "changed" if changed else "unchanged",
            "noop": False,
            "noop_pending": False,
            "corrective_change": False,
            "type": "agent",
            "metrics": metrics,
            "logs": logs,
            "resources": resources,
        }

    def run_commands(self, run: int, start: dt.datetime, catalog_change_share: float = 0.1):
        """[(command, version, certname, payload)] for one run of every node."""
        out = []
        for i, certname in enumerate(self.nodes):
            when = start + dt.timedelta(milliseconds=i * 10)
            change = run > 0 and (i % int(1 / catalog_change_share) == run % int(1 / catalog_change_share))
            cat = self.catalog(certname, when, change)
            out.append(("replace_facts", 5, certname, self.facts(certname, when, run)))
            out.append(("replace_catalog", 9, certname, cat))
            out.append(("store_report", 8, certname, self.report(certname, when, cat, run)))
        return out
