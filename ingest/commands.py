"""PuppetDB command names, versions and payload normalisation (pure: no Django, no I/O).

``normalise(command, version, payload)`` checks a decoded payload and returns it in the newest
internal shape (facts v5, catalog v9, report v8, deactivate v3, configure expiration v1), with
timestamps parsed to aware datetimes. Every problem raises ``CommandError`` naming the field.
The HTTP receiver runs it before anything is stored; the worker runs it again on the raw bytes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from inventory.redaction import redact_event, redact_resource  # ops: sensitive values never stored

# command -> (oldest version accepted over HTTP, newest version)
COMMANDS: dict[str, tuple[int, int]] = {
    "replace_facts": (4, 5),
    "replace_catalog": (6, 9),
    "store_report": (5, 8),
    "deactivate_node": (3, 3),
    "configure_expiration": (1, 1),
    "replace_catalog_inputs": (1, 1),
}
# Versions PuppetDB knew once but no longer accepts over HTTP ("retired").
RETIRED: dict[str, int] = {"replace_facts": 2, "replace_catalog": 4, "store_report": 3, "deactivate_node": 1}

# Facts and catalogs are coalesced: only the newest producer_timestamp per certname matters.
COALESCED = {"replace_facts", "replace_catalog", "replace_catalog_inputs"}
# Commands whose producer_timestamp is optional and, as in PuppetDB, defaults to when the command
# was received (the receiver stores that time with the raw command).
RECEIVED_TIME_DEFAULT = {"configure_expiration", "replace_catalog_inputs"}

TAG_RE = re.compile(r"^[\w][\w:.\-]*$")
_FRACTION_RE = re.compile(r"(\.\d{6})\d+")


class CommandError(ValueError):
    """The command or its payload is invalid; the message names the problem."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def command_name(raw: str | None) -> str:
    if raw is None or not str(raw).strip():
        raise CommandError("missing parameter 'command'")
    name = str(raw).strip().lower().replace(" ", "_")
    if name not in COMMANDS:
        raise CommandError(f"unknown command {raw!r}")
    return name


def command_version(name: str, raw: Any) -> int:
    if raw is None or raw == "":
        raise CommandError("missing parameter 'version'")
    if isinstance(raw, bool):
        raise CommandError(f"'version' must be an integer, got {raw!r}")
    try:
        version = int(raw)
    except (TypeError, ValueError):
        raise CommandError(f"'version' must be an integer, got {raw!r}") from None
    low, high = COMMANDS[name]
    if version < low:
        raise CommandError(f"version {version} of command {name!r} is retired; send version {low} to {high}")
    if version > high:
        raise CommandError(f"unsupported version {version} of command {name!r} (newest is {high})")
    return version


def parse_time(value: Any, field: str, *, required: bool = True) -> dt.datetime | None:
    if value is None:
        if required:
            raise CommandError(f"missing field '{field}'")
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str):
        raise CommandError(f"'{field}' must be a timestamp string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _FRACTION_RE.sub(r"\1", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"'{field}' is not a valid timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _require(payload: dict, field: str, kind: type | tuple, *, nullable: bool = False, where: str = "") -> Any:
    label = f"{where}{field}"
    if field not in payload:
        if nullable:
            return None
        raise CommandError(f"missing field '{label}'")
    value = payload[field]
    if value is None:
        if nullable:
            return None
        raise CommandError(f"field '{label}' must not be null")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CommandError(f"field '{label}' must be {_article(names)}, got {type(value).__name__}")
    return value


def _article(names: str) -> str:
    mapping = {"str": "a string", "dict": "an object", "list": "an array", "bool": "a boolean", "int": "an integer"}
    return " or ".join(mapping.get(n, n) for n in names.split(" or "))


def _optional_str(payload: dict, field: str, where: str = "") -> str | None:
    return _require(payload, field, str, nullable=True, where=where)


def _certname(payload: dict, url_certname: str | None) -> str:
    certname = _require(payload, "certname", str)
    if not certname.strip():
        raise CommandError("field 'certname' must not be empty")
    if url_certname is not None and url_certname != certname:
        raise CommandError(f"certname in the URL ({url_certname!r}) differs from the payload's ({certname!r})")
    return certname


def normalise(name: str, version: int, payload: Any, url_certname: str | None = None) -> dict:
    """Validate ``payload`` (decoded JSON) and upgrade it to the newest shape of ``name``."""
    if not isinstance(payload, dict):
        raise CommandError(f"the payload must be a JSON object, got {type(payload).__name__}")
    handler = _NORMALISERS[name]
    return handler(version, payload, url_certname)


def _facts(version: int, p: dict, url_certname: str | None) -> dict:
    certname = _certname(p, url_certname)
    values = _require(p, "values", dict)
    inventory = p.get("package_inventory")
    if inventory is not None:
        if not isinstance(inventory, list):
            raise CommandError("field 'package_inventory' must be an array")
        for i, item in enumerate(inventory):
            if not (isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item)):
                raise CommandError(f"package_inventory[{i}] must be [name, version, provider] strings")
    return {
        "certname": certname,
        "environment": _require(p, "environment", str, nullable=True) or "production",
        "producer_timestamp": parse_time(p.get("producer_timestamp"), "producer_timestamp"),
        "producer": _optional_str(p, "producer") if version >= 5 else None,
        "values": values,
        "package_inventory": inventory,
    }


_VALID_TAGS: set[str] = set()


def _check_tags(tags: list, rtype: str, title: str, where: str) -> None:
    for tag in tags:
        if tag in _VALID_TAGS:
            continue
        if not isinstance(tag, str) or not TAG_RE.match(tag) or tag != tag.lower():
            raise CommandError(f"invalid tag {tag!r} on {rtype}[{title}] ({where}tags)")
        if len(_VALID_TAGS) > 100_000:
            _VALID_TAGS.clear()
        _VALID_TAGS.add(tag)


def _resource(i: int, r: Any) -> dict:
    if type(r) is dict:
        rtype, title, tags = r.get("type"), r.get("title"), r.get("tags")
        exported, line, file, params = r.get("exported"), r.get("line"), r.get("file"), r.get("parameters")
        if (
            type(rtype) is str
            and type(title) is str
            and type(tags) is list
            and type(exported) is bool
            and (line is None or type(line) is int)
            and (file is None or type(file) is str)
            and (params is None or type(params) is dict)
        ):
            _check_tags(tags, rtype, title, f"resources[{i}].")
            return {
                "type": rtype,
                "title": title,
                "exported": exported,
                "file": file,
                "line": line,
                "tags": sorted(set(tags)),
                "parameters": params if params is not None else {},
            }
    return _resource_checked(i, r)


def _resource_checked(i: int, r: Any) -> dict:
    """The slow path: find and name the problem."""
    where = f"resources[{i}]."
    if not isinstance(r, dict):
        raise CommandError(f"resources[{i}] must be an object")
    rtype = _require(r, "type", str, where=where)
    title = _require(r, "title", str, where=where)
    tags = _require(r, "tags", list, where=where)
    _check_tags(tags, rtype, title, where)
    exported = _require(r, "exported", bool, where=where)
    line = _require(r, "line", int, nullable=True, where=where)
    params = r.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise CommandError(f"field '{where}parameters' must be an object")
    return {
        "type": rtype,
        "title": title,
        "exported": exported,
        "file": _optional_str(r, "file", where),
        "line": line,
        "tags": sorted(set(tags)),
        "parameters": params,
    }


def _edge_end(e: dict, key: str, i: int) -> tuple[str, str]:
    end = e.get(key)
    if not isinstance(end, dict) or not isinstance(end.get("type"), str) or not isinstance(end.get("title"), str):
        raise CommandError(f"edges[{i}].{key} must be an object with string 'type' and 'title'")
    return end["type"], end["title"]


RELATIONSHIPS = {"contains", "before", "required-by", "notifies", "subscription-of"}


def _catalog(version: int, p: dict, url_certname: str | None) -> dict:
    certname = _certname(p, url_certname)
    resources = [redact_resource(r, _resource(i, r)) for i, r in enumerate(_require(p, "resources", list))]  # ops
    known = {(r["type"], r["title"]) for r in resources}
    edges = []
    for i, e in enumerate(_require(p, "edges", list, nullable=True) or []):
        if not isinstance(e, dict):
            raise CommandError(f"edges[{i}] must be an object")
        source, target = _edge_end(e, "source", i), _edge_end(e, "target", i)
        rel = e.get("relationship")
        if rel not in RELATIONSHIPS:
            raise CommandError(f"edges[{i}].relationship {rel!r} is not one of {sorted(RELATIONSHIPS)}")
        for end, label in ((source, "source"), (target, "target")):
            if end not in known:
                raise CommandError(f"edges[{i}].{label} {end[0]}[{end[1]}] is not a resource of this catalog")
        edges.append([source[0], source[1], rel, target[0], target[1]])
    version_field = p.get("version")
    if version_field is None:
        raise CommandError("missing field 'version'")
    transaction_uuid = _optional_str(p, "transaction_uuid")
    catalog_uuid = _optional_str(p, "catalog_uuid") if version >= 8 else None
    return {
        "certname": certname,
        "version": str(version_field),
        "environment": _require(p, "environment", str, nullable=True) or "production",
        "transaction_uuid": transaction_uuid,
        "catalog_uuid": catalog_uuid or transaction_uuid,
        "code_id": _optional_str(p, "code_id") if version >= 7 else None,
        "job_id": _optional_str(p, "job_id") if version >= 9 else None,
        "producer_timestamp": parse_time(p.get("producer_timestamp"), "producer_timestamp"),
        "producer": _optional_str(p, "producer") if version >= 9 else None,
        "resources": resources,
        "edges": edges,
    }


EVENT_STATUSES = {"success", "failure", "noop", "skipped"}
REPORT_STATUSES = {"changed", "unchanged", "failed"}
CACHED_CATALOG_STATUSES = {"not_used", "explicitly_requested", "on_failure"}


def _event(e: Any, where: str) -> dict:
    if not isinstance(e, dict):
        raise CommandError(f"{where} must be an object")
    status = e.get("status")
    if status not in EVENT_STATUSES:
        raise CommandError(f"{where}.status must be one of {sorted(EVENT_STATUSES)}, got {status!r}")
    return {
        "status": status,
        "timestamp": parse_time(e.get("timestamp"), f"{where}.timestamp"),
        "property": _optional_str(e, "property", where + "."),
        "name": _optional_str(e, "name", where + "."),
        "old_value": e.get("old_value"),
        "new_value": e.get("new_value"),
        "message": _optional_str(e, "message", where + "."),
        "corrective_change": e.get("corrective_change") if isinstance(e.get("corrective_change"), bool) else None,
    }


def _report_resource(i: int, r: Any) -> dict:
    where = f"resources[{i}]"
    if not isinstance(r, dict):
        raise CommandError(f"{where} must be an object")
    events = _require(r, "events", list, where=where + ".")
    path = r.get("containment_path")
    if path is not None and not (isinstance(path, list) and all(isinstance(x, str) for x in path)):
        raise CommandError(f"{where}.containment_path must be an array of strings")
    timestamp = parse_time(r.get("timestamp"), f"{where}.timestamp")
    skipped = bool(r.get("skipped", False))
    parsed = [redact_event(e, _event(e, f"{where}.events[{j}]")) for j, e in enumerate(events)]  # ops
    if skipped:
        # As PuppetDB stores it: a skipped resource is one "skipped" event at the resource's timestamp
        # carrying no details (no property, values or message) — whatever events the agent sent.
        parsed = [_skipped_event(timestamp)]
    return {
        "resource_type": _require(r, "resource_type", str, where=where + "."),
        "resource_title": _require(r, "resource_title", str, where=where + "."),
        "timestamp": timestamp,
        "skipped": skipped,
        "file": _optional_str(r, "file", where + "."),
        "line": _require(r, "line", int, nullable=True, where=where + "."),
        "containment_path": path,
        "corrective_change": r.get("corrective_change") if isinstance(r.get("corrective_change"), bool) else None,
        "events": parsed,
    }


def _skipped_event(timestamp: dt.datetime) -> dict:
    return {
        "status": "skipped",
        "timestamp": timestamp,
        "property": None,
        "name": None,
        "old_value": None,
        "new_value": None,
        "message": None,
        "corrective_change": None,
    }


def _v5_resources(events: list) -> list:
    """Report v5 sent a flat ``resource_events`` list; group it into v8 ``resources``."""
    grouped: dict[tuple, dict] = {}
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise CommandError(f"resource_events[{i}] must be an object")
        key = (e.get("resource_type"), e.get("resource_title"))
        res = grouped.setdefault(
            key,
            {
                "resource_type": e.get("resource_type"),
                "resource_title": e.get("resource_title"),
                "timestamp": e.get("timestamp"),
                "skipped": e.get("status") == "skipped",
                "file": e.get("file"),
                "line": e.get("line"),
                "containment_path": e.get("containment_path"),
                "events": [],
            },
        )
        if e.get("status") != "skipped":
            res["events"].append(e)
    return list(grouped.values())


def _report(version: int, p: dict, url_certname: str | None) -> dict:
    certname = _certname(p, url_certname)
    if version == 5:
        raw_resources = _v5_resources(_require(p, "resource_events", list))
    else:
        raw_resources = _require(p, "resources", list)
    status = p.get("status")
    if status not in REPORT_STATUSES:
        raise CommandError(f"field 'status' must be one of {sorted(REPORT_STATUSES)}, got {status!r}")
    cached = p.get("cached_catalog_status") if version >= 7 else None
    if cached is not None and cached not in CACHED_CATALOG_STATUSES:
        raise CommandError(f"field 'cached_catalog_status' must be one of {sorted(CACHED_CATALOG_STATUSES)}")
    report_type = p.get("type", "agent") if version >= 8 else "agent"
    if report_type not in ("agent", "plan"):
        raise CommandError(f"field 'type' must be 'agent' or 'plan', got {report_type!r}")
    metrics = _require(p, "metrics", list, nullable=True) or []
    for i, m in enumerate(metrics):
        if not (isinstance(m, dict) and isinstance(m.get("category"), str) and isinstance(m.get("name"), str)):
            raise CommandError(f"metrics[{i}] must be an object with string 'category' and 'name'")
    logs = _require(p, "logs", list, nullable=True) or []
    for i, log in enumerate(logs):
        if not isinstance(log, dict):
            raise CommandError(f"logs[{i}] must be an object")
    report_format = p.get("report_format")
    if not isinstance(report_format, int) or isinstance(report_format, bool):
        raise CommandError("field 'report_format' must be an integer")
    noop = p.get("noop", False)
    if not isinstance(noop, bool):
        raise CommandError("field 'noop' must be a boolean")
    start = parse_time(p.get("start_time"), "start_time")
    end = parse_time(p.get("end_time"), "end_time")
    return {
        "certname": certname,
        "environment": _require(p, "environment", str, nullable=True) or "production",
        "puppet_version": _require(p, "puppet_version", str),
        "report_format": report_format,
        "configuration_version": str(p.get("configuration_version") or ""),
        "start_time": start,
        "end_time": end,
        "producer_timestamp": parse_time(p.get("producer_timestamp"), "producer_timestamp", required=False) or end,
        "producer": _optional_str(p, "producer") if version >= 8 else None,
        "transaction_uuid": _optional_str(p, "transaction_uuid"),
        "catalog_uuid": _optional_str(p, "catalog_uuid") if version >= 7 else None,
        "code_id": _optional_str(p, "code_id") if version >= 7 else None,
        "job_id": _optional_str(p, "job_id") if version >= 8 else None,
        "cached_catalog_status": cached,
        "status": status,
        "noop": noop,
        "noop_pending": p.get("noop_pending") if version >= 8 and isinstance(p.get("noop_pending"), bool) else None,
        "corrective_change": p.get("corrective_change")
        if version >= 8 and isinstance(p.get("corrective_change"), bool)
        else None,
        "type": report_type,
        "metrics": metrics,
        "logs": logs,
        "resources": [_report_resource(i, r) for i, r in enumerate(raw_resources)],
    }


def _deactivate(version: int, p: dict, url_certname: str | None) -> dict:
    return {
        "certname": _certname(p, url_certname),
        "producer_timestamp": parse_time(p.get("producer_timestamp"), "producer_timestamp", required=False),
    }


def _expiration(version: int, p: dict, url_certname: str | None) -> dict:
    expire = _require(p, "expire", dict)
    facts = expire.get("facts")
    if not isinstance(facts, bool):
        raise CommandError("field 'expire.facts' must be a boolean")
    unknown = sorted(set(expire) - {"facts"})
    if unknown:
        raise CommandError(f"unknown field 'expire.{unknown[0]}' (only 'expire.facts' can be configured)")
    return {
        "certname": _certname(p, url_certname),
        "expire": {"facts": facts},
        "producer_timestamp": parse_time(p.get("producer_timestamp"), "producer_timestamp", required=False),
    }


def _catalog_inputs(version: int, p: dict, url_certname: str | None) -> dict:
    inputs = _require(p, "inputs", list)
    for i, item in enumerate(inputs):
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise CommandError(f"inputs[{i}] must be a [type, name] pair of strings")
    return {
        "certname": _certname(p, url_certname),
        "catalog_uuid": _optional_str(p, "catalog_uuid"),
        "producer_timestamp": parse_time(p.get("producer_timestamp"), "producer_timestamp", required=False),
        "inputs": sorted({(a, b) for a, b in inputs}),
    }


_NORMALISERS = {
    "replace_catalog_inputs": _catalog_inputs,
    "replace_facts": _facts,
    "replace_catalog": _catalog,
    "store_report": _report,
    "deactivate_node": _deactivate,
    "configure_expiration": _expiration,
}
