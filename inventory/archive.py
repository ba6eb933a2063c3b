"""PuppetDB export archives: read one into the command inbox, and write Stagehand's data as one.

Format (what ``puppet db export`` and ``GET /pdb/admin/v1/archive`` produce): a gzipped tar with
``puppetdb-bak/export-metadata.json`` (``{"timestamp", "command_versions": {...}}``) and one JSON
wire-format payload per file under ``puppetdb-bak/facts/`` (replace facts v5),
``puppetdb-bak/catalogs/`` (replace catalog v9), ``puppetdb-bak/reports/`` (store report v8) and
``puppetdb-bak/configure_expiration/`` (configure expiration v1).

Import does not parse the data itself: every entry becomes a pending ``ingest.models.Command``
(source ``import``), all in one transaction — a bad archive stores nothing — and the normal
pipeline parses and stores them (so an import obeys exactly the same rules as live commands:
newest producer timestamp wins, duplicate reports skipped).

Export builds the same wire formats from the tables: every node's factset, its current catalog,
its reports (with their resource events) and, for nodes whose facts do not expire, a
configure-expiration payload.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from django.db import transaction
from django.utils import timezone

from ingest.models import Command

PREFIX = "puppetdb-bak"
METADATA = f"{PREFIX}/export-metadata.json"
# Directory in the archive → (command name in the inbox, version we write on export).
KINDS = {
    "facts": ("replace_facts", 5),
    "catalogs": ("replace_catalog", 9),
    "reports": ("store_report", 8),
    "configure_expiration": ("configure_expiration", 1),
}
EXPORT_COMMAND_VERSIONS = {
    "replace_catalog": 9,
    "store_report": 8,
    "replace_facts": 5,
    "configure_expiration": 1,
}
# Archive directories PuppetDB may write that Stagehand has no command for (skipped, counted).
IGNORED_KINDS = {"catalog_inputs"}
MAX_ENTRY_BYTES = 256 * 1024 * 1024


class ArchiveError(ValueError):
    """The archive cannot be imported; the message names the entry and the problem."""


@dataclass
class Entry:
    kind: str
    command: str
    version: int
    certname: str
    payload: bytes
    producer_timestamp: dt.datetime | None
    name: str


@dataclass
class ImportResult:
    counts: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    command_ids: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"imported": self.counts, "skipped": self.skipped, "commands": len(self.command_ids)}


def _parse_timestamp(value, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArchiveError(f"{name}: producer_timestamp must be a string, got {type(value).__name__}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ArchiveError(f"{name}: producer_timestamp {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def read_archive(fileobj) -> tuple[dict, Iterator[Entry], dict]:
    """Open an export archive; returns its metadata, an iterator over its entries and a dict
    that collects skipped directories as the iterator runs. Raises :class:`ArchiveError`."""
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r:gz")
        members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"not a gzipped tar archive ({exc})") from None
    by_name = {m.name.lstrip("./"): m for m in members if m.isfile()}
    if METADATA not in by_name:
        raise ArchiveError(f"not a PuppetDB export archive: {METADATA} is missing")
    try:
        metadata = orjson.loads(tar.extractfile(by_name[METADATA]).read())
        versions = metadata["command_versions"]
        if not isinstance(versions, dict):
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ArchiveError(f"{METADATA}: expected a JSON object with a command_versions object") from None
    skipped: dict = defaultdict(int)

    def entries() -> Iterator[Entry]:
        for name, member in by_name.items():
            if name == METADATA:
                continue
            parts = name.split("/")
            if len(parts) != 3 or parts[0] != PREFIX or not parts[2].endswith(".json"):
                raise ArchiveError(f"{name}: unexpected file in a PuppetDB export archive")
            kind = parts[1]
            if kind in IGNORED_KINDS:
                skipped[kind] += 1
                continue
            if kind not in KINDS:
                raise ArchiveError(f"{name}: unknown directory {kind!r} (known: {sorted(KINDS)})")
            command, _ = KINDS[kind]
            version = versions.get(command)
            if not isinstance(version, int):
                raise ArchiveError(f"{METADATA}: no version for {command} (needed by {name})")
            if member.size > MAX_ENTRY_BYTES:
                raise ArchiveError(f"{name}: {member.size} bytes is larger than {MAX_ENTRY_BYTES}")
            raw = tar.extractfile(member).read()
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ArchiveError(f"{name}: not valid JSON ({exc})") from None
            if not isinstance(payload, dict):
                raise ArchiveError(f"{name}: expected a JSON object")
            certname = payload.get("certname")
            if not isinstance(certname, str) or not certname:
                raise ArchiveError(f"{name}: certname is missing or not a string")
            yield Entry(
                kind=kind,
                command=command,
                version=version,
                certname=certname,
                payload=raw,
                producer_timestamp=_parse_timestamp(payload.get("producer_timestamp"), name),
                name=name,
            )

    return metadata, entries(), skipped


def import_archive(fileobj, *, request_id: str = "", batch_size: int = 500) -> ImportResult:
    """Put every entry of the archive into the inbox as a pending command (source ``import``),
    in one transaction, and queue them for the workers after commit."""
    _, entries, skipped = read_archive(fileobj)
    result = ImportResult()
    counts: dict = defaultdict(int)
    with transaction.atomic():
        batch: list[Command] = []
        for entry in entries:
            counts[entry.kind] += 1
            batch.append(
                Command(
                    command=entry.command,
                    version=entry.version,
                    certname=entry.certname,
                    producer_timestamp=entry.producer_timestamp,
                    payload=entry.payload,
                    payload_encoding="identity",
                    payload_format="json",
                    source="import",
                    request_id=request_id,
                )
            )
            if len(batch) >= batch_size:
                result.command_ids.extend(c.id for c in Command.objects.bulk_create(batch))
                batch = []
        if batch:
            result.command_ids.extend(c.id for c in Command.objects.bulk_create(batch))
        ids = list(result.command_ids)
        transaction.on_commit(lambda: _enqueue(ids))
    result.counts = dict(counts)
    result.skipped = dict(skipped)
    return result


def _enqueue(ids: list[int], chunk: int = 100) -> None:
    """Hand the imported commands to the ingest workers (``ingest.inbox.enqueue``); a message
    that cannot be published is recovered by the inbox's re-queue job."""
    from ingest.inbox import enqueue

    for start in range(0, len(ids), chunk):
        enqueue(ids[start : start + chunk])


# --- export ------------------------------------------------------------------------------------


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _dumps(payload: dict) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2)


def facts_payloads() -> Iterator[tuple[str, dict]]:
    from inventory.models import Factset

    for fs in (
        Factset.objects.select_related("node", "environment", "producer")
        .order_by("node__certname")
        .iterator(chunk_size=500)
    ):
        yield (
            f"{fs.node.certname}.json",
            {
                "certname": fs.node.certname,
                "environment": fs.environment.name if fs.environment else None,
                "producer_timestamp": _ts(fs.producer_timestamp),
                "producer": fs.producer.name if fs.producer else None,
                "values": {**fs.stable, **fs.volatile},
                **({"package_inventory": _packages(fs.package_ids)} if fs.package_ids else {}),
            },
        )


def _packages(ids: list[int]) -> list[list[str]]:
    from inventory.models import Package

    return [
        [p.name, p.version, p.provider]
        for p in Package.objects.filter(id__in=ids).order_by("name", "version", "provider")
    ]


def catalog_payloads() -> Iterator[tuple[str, dict]]:
    from inventory.models import Catalog, Resource

    current = (
        Catalog.objects.filter(valid_to__isnull=True)
        .select_related("node", "environment", "producer", "resource_set", "edge_set")
        .order_by("node__certname")
    )
    for cat in current.iterator(chunk_size=100):
        resources = Resource.objects.filter(id__in=cat.resource_set.resource_ids).order_by("type", "title")
        edges = cat.edge_set.edges if cat.edge_set else []
        yield (
            f"{cat.node.certname}-{cat.hash}.json",
            {
                "certname": cat.node.certname,
                "version": cat.version,
                "environment": cat.environment.name,
                "transaction_uuid": cat.transaction_uuid,
                "catalog_uuid": cat.catalog_uuid,
                "code_id": cat.code_id,
                "job_id": cat.job_id,
                "producer_timestamp": _ts(cat.producer_timestamp),
                "producer": cat.producer.name if cat.producer else None,
                "resources": [
                    {
                        "type": r.type,
                        "title": r.title,
                        "tags": list(r.tags),
                        "exported": r.exported,
                        **({"file": r.file} if r.file is not None else {}),
                        **({"line": r.line} if r.line is not None else {}),
                        "parameters": r.parameters,
                    }
                    for r in resources
                ],
                "edges": [
                    {
                        "source": {"type": e[0], "title": e[1]},
                        "target": {"type": e[3], "title": e[4]},
                        "relationship": e[2],
                    }
                    for e in edges
                ],
            },
        )


def report_payloads() -> Iterator[tuple[str, dict]]:
    from reports.models import Report, ResourceEvent

    reports = Report.objects.select_related("environment", "producer").order_by("certname", "producer_timestamp")
    for rep in reports.iterator(chunk_size=200):
        events = defaultdict(list)
        for ev in ResourceEvent.objects.filter(report_id=rep.id, report_timestamp=rep.producer_timestamp).order_by(
            "id"
        ):
            events[(ev.resource_type, ev.resource_title)].append(ev)
        yield (f"{rep.certname}-{rep.hash}.json", _report_wire(rep, events))


def _report_wire(rep, events: dict) -> dict:
    resources = []
    seen = set()
    for res in rep.resources or []:
        key = (res.get("resource_type"), res.get("resource_title"))
        seen.add(key)
        resources.append({**res, "events": [_event_wire(ev) for ev in events.get(key, [])]})
    for key, evs in events.items():
        if key in seen:
            continue
        first = evs[0]
        resources.append(
            {
                "resource_type": key[0],
                "resource_title": key[1],
                "skipped": any(ev.status == "skipped" for ev in evs),
                "timestamp": _ts(first.timestamp),
                "file": first.file,
                "line": first.line,
                "containment_path": list(first.containment_path) if first.containment_path is not None else None,
                "corrective_change": first.corrective_change,
                "events": [_event_wire(ev) for ev in evs if ev.status != "skipped"],
            }
        )
    return {
        "certname": rep.certname,
        "environment": rep.environment.name,
        "puppet_version": rep.puppet_version,
        "report_format": rep.report_format,
        "configuration_version": rep.configuration_version,
        "start_time": _ts(rep.start_time),
        "end_time": _ts(rep.end_time),
        "producer_timestamp": _ts(rep.producer_timestamp),
        "producer": rep.producer.name if rep.producer else None,
        "transaction_uuid": rep.transaction_uuid,
        "catalog_uuid": rep.catalog_uuid,
        "code_id": rep.code_id,
        "job_id": rep.job_id,
        "cached_catalog_status": rep.cached_catalog_status,
        "status": rep.status,
        "noop": rep.noop,
        "noop_pending": rep.noop_pending,
        "corrective_change": rep.corrective_change,
        "type": rep.type,
        "metrics": rep.metrics,
        "logs": rep.logs,
        "resources": resources,
    }


def _event_wire(ev) -> dict:
    return {
        "status": ev.status,
        "timestamp": _ts(ev.timestamp),
        "property": ev.property,
        "name": ev.name,
        "new_value": ev.new_value,
        "old_value": ev.old_value,
        "message": ev.message,
        "corrective_change": ev.corrective_change,
    }


def expiration_payloads() -> Iterator[tuple[str, dict]]:
    from inventory.models import Node

    for node in Node.objects.filter(expires_facts=False).order_by("certname").iterator(chunk_size=500):
        yield (
            f"{node.certname}.json",
            {
                "certname": node.certname,
                "expire": {"facts": False},
                "producer_timestamp": _ts(node.expires_facts_updated or timezone.now()),
            },
        )


def export_archive(fileobj) -> dict:
    """Write a PuppetDB export archive of Stagehand's data to ``fileobj``; returns the counts."""
    counts = {}
    with tarfile.open(fileobj=fileobj, mode="w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(timezone.now().timestamp())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        metadata = {"timestamp": _ts(timezone.now()), "command_versions": EXPORT_COMMAND_VERSIONS}
        add(METADATA, _dumps(metadata))
        for kind, payloads in (
            ("facts", facts_payloads()),
            ("catalogs", catalog_payloads()),
            ("reports", report_payloads()),
            ("configure_expiration", expiration_payloads()),
        ):
            counts[kind] = 0
            for filename, payload in payloads:
                add(f"{PREFIX}/{kind}/{filename}", _dumps(payload))
                counts[kind] += 1
    return counts
